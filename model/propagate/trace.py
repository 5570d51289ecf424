"""Trace hole pixels through time along flow, carrying source coordinates; sample colour once.

One recurrent pass over a video (used twice by :mod:`model.propagate.whole_clip`: from the past and from
the future). Each frame leaves a *source map* for the next: for every pixel, the point it shows
in its source frame (x, y, full-resolution pixels), how many frames away that source is (age)
and whether it has one. Known pixels are their own source (age 0). A hole pixel follows its
flow into the neighbour frame and, where the forward-backward check passes, inherits the
neighbour's source map at the point it lands on: bilinearly where the four pixels there share
one source frame (so sub-pixel positions survive a chain of steps), from the nearest pixel
otherwise. Colour is then sampled once from the source frame, never re-sampled step by step (bicubically, where the
footprint is clear of the source's hole, in the passes that carry references and keyframes over a whole shot).

All work is done on the bounding box of each frame's hole: sampling goes through
:func:`model.warp.warp` on a window of the frame just large enough to hold the sample points,
so the cost follows the hole's size, not the frame's.
"""
from __future__ import annotations

import math
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from kornia.geometry import create_meshgrid

from ..checks import hole_at
from ..masks import Box, box_of, grow_box
from .poisson import neighbour
from ..warp import warp

RELATIVE_TOLERANCE = 0.01  # the squared forward-backward error may also reach 1 % of the squared flow lengths
OFFSETS = ((0, 1), (1, 0), (0, -1), (-1, 0))  # (dy, dx) of the neighbours whose differences guide seam blending
CHANNELS = 4 + 4 * len(OFFSETS)  # colour (3), age (1), a difference per offset (3 each), its validity (1 each)
MARGIN = 2  # pixels around the sample points that a window keeps (bilinear footprint + differences)
DRAG_RING = 0.0185  # of the frame's longer side (8 px at 432x240): how far beside a hole DIS drags the flow
"""Beside a hole DIS drags the measured flow towards the still fill it was given there: on a pan of 7.5 px a frame,
1-4 px within a few pixels of the hole (davis_car-roundabout). A hole pixel whose step lands there failed the
forward-backward check while one landing further out passed, so real copies and soft fill alternated in strips a pan
apart. A landing within this ring of the neighbour's hole whose back flow points along the step, only shorter
(:func:`dragged_along`), now passes. Measured on the 12 validation clips (432x240, Flow Propagate + the full learned
graph, four mask kinds): hole PSNR 19.08 -> 19.27 dB, feature distance 0.833 -> 0.801 (lower on every kind), E_warp
3.57 -> 3.81 (docs/results/eval_dragged_ring_432x240.md)."""

WindowImage = Callable[[int, int, int, int], torch.Tensor]  # (y0, y1, x0, x1) -> [1,C,y1-y0,x1-x0]


def pixel_grid(box: Box, device: torch.device | str) -> torch.Tensor:
    """Absolute pixel coordinates ``[1,2,h,w]`` (x, y) of a box."""
    y0, y1, x0, x1 = box
    grid = create_meshgrid(y1 - y0, x1 - x0, normalized_coordinates=False, device=device).permute(0, 3, 1, 2)
    return grid + torch.tensor([x0, y0], device=device, dtype=grid.dtype).view(1, 2, 1, 1)


def sample_window(window_image: WindowImage, positions: torch.Tensor, where: torch.Tensor,
                  size: tuple[int, int], bicubic: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear samples of a frame-sized image at absolute ``positions``, through :func:`warp` on a window.

    Args:
        window_image: builds the image's window ``[1,C,y1-y0,x1-x0]`` for a box of the frame, so
            only the part that is sampled is ever computed or moved.
        positions: ``[B,2,h,w]`` absolute (x, y) points in the frame.
        where: ``[1,1,h,w]`` bool, the points that matter (the window is chosen to hold them).
        size: ``(H, W)`` of the frame.
        bicubic: channels also sampled bicubically, appended after the ``C`` bilinear ones.
    Returns:
        ``(samples [B,C(+len(bicubic)),h,w], inside [B,1,h,w] bool)``: for the points of ``where``, ``inside``
        is True when the point lies in the frame, exactly as a full-frame warp would say.
    """
    height, width = size
    b, _, h, w = positions.shape
    chosen = where[:, 0].expand(b, h, w)
    xs, ys = positions[:, 0][chosen], positions[:, 1][chosen]
    if xs.numel() == 0:
        xs = ys = torch.zeros(1, device=positions.device)
    y0 = min(max(int(torch.floor(ys.min())) - MARGIN, 0), height - 1)
    y1 = max(min(int(torch.ceil(ys.max())) + 1 + MARGIN, height), y0 + 1)
    x0 = min(max(int(torch.floor(xs.min())) - MARGIN, 0), width - 1)
    x1 = max(min(int(torch.ceil(xs.max())) + 1 + MARGIN, width), x0 + 1)
    wh, ww = max(h, y1 - y0), max(w, x1 - x0)  # warp wants the image and the flow the same size
    y0, x0 = max(0, min(y0, height - wh)), max(0, min(x0, width - ww))
    image = window_image(y0, y0 + wh, x0, x0 + ww)
    flow = F.pad(positions, (0, ww - w, 0, wh - h)) - pixel_grid((y0, y0 + wh, x0, x0 + ww), positions.device)
    samples, inside = warp(image.expand(b, -1, -1, -1), flow)
    if bicubic:
        samples = torch.cat((samples, warp(image[:, bicubic].expand(b, -1, -1, -1), flow, mode="bicubic")[0]), 1)
    return samples[..., :h, :w], inside[..., :h, :w] > 0.5


def own_sources(grid: torch.Tensor, has: float = 1.0) -> torch.Tensor:
    """Source map of known pixels ``[1,5,h,w]``: (x, y, age, age², has) = (own position, 0, 0, ``has``).

    ``has = 0`` for a frame whose known pixels may not serve as sources (a pass that only carries references).
    """
    zero = torch.zeros_like(grid[:, :1])
    return torch.cat((grid, zero, zero, torch.full_like(zero, has)), 1)


class SourceMap:
    """A frame's source map, stored on the box of its hole; pixels outside the box are known.

    Args:
        device: where the map lives.
        values: ``[1,5,h,w]`` (x, y, age, age², has) on ``box``, or None when the frame has no hole.
        box: ``(y0, y1, x0, x1)`` of ``values`` in the frame.
        known: whether the known pixels outside ``box`` are their own sources (False: they have none).
    """

    def __init__(self, device: torch.device | str, values: torch.Tensor | None = None, box: Box | None = None,
                 known: bool = True):
        self.device, self.values, self.box, self.known = device, values, box, known

    def window(self, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        """The map on a box of the frame ``[1,5,y1-y0,x1-x0]``."""
        out = own_sources(pixel_grid((y0, y1, x0, x1), self.device), float(self.known))
        if self.values is not None:
            by0, by1, bx0, bx1 = self.box
            oy0, oy1, ox0, ox1 = max(y0, by0), min(y1, by1), max(x0, bx0), min(x1, bx1)
            if oy0 < oy1 and ox0 < ox1:
                out[..., oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0] = \
                    self.values[..., oy0 - by0:oy1 - by0, ox0 - bx0:ox1 - bx0]
        return out


def dragged_along(flow: torch.Tensor, back: torch.Tensor, tolerance: float) -> torch.Tensor:
    """Where ``back`` ``[1,2,h,w]`` points along ``-flow`` but is no longer (within the check's ``tolerance``): the
    flow DIS measures beside a hole, dragged towards the still fill there (:data:`DRAG_RING`). ``[1,1,h,w]`` bool."""
    length = flow.square().sum(1, keepdim=True)
    share = -(flow * back).sum(1, keepdim=True) / length.clamp_min(1e-6)  # how much of -flow back covers
    off = (back + share * flow).square().sum(1, keepdim=True)  # what back has across it
    # share above 0.1: a back flow of nothing is a thing that stands still beside the hole (a walker the camera
    # follows), which the check must still stop
    return (share > 0.1) & (share < 1.1) & (off <= tolerance ** 2 + RELATIVE_TOLERANCE * length)


def follow(neighbour_map: SourceMap, flow: torch.Tensor, back_flow: torch.Tensor, grid: torch.Tensor,
           where: torch.Tensor, tolerance: float, size: tuple[int, int], unchecked: torch.Tensor | None = None,
           beside_hole: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step along the flow: the sources the pixels of a box see through the neighbour frame.

    Args:
        neighbour_map: source map of the neighbour frame.
        flow: ``[1,2,h,w]`` this frame -> neighbour, on the box; back_flow: ``[1,2,H,W]``
            neighbour -> this frame, whole frame.
        grid: ``[1,2,h,w]`` absolute coordinates of the box; where: ``[1,1,h,w]`` bool pixels to trace.
        tolerance: forward-backward tolerance in pixels (plus :data:`RELATIVE_TOLERANCE`).
        size: ``(H, W)`` of the frame.
        unchecked: ``[1,1,h,w]`` bool or None: pixels that skip the forward-backward check.
        beside_hole: ``[1,1,h,w]`` bool or None: pixels whose step lands within :data:`DRAG_RING` of the
            neighbour's hole, where a back flow :func:`dragged_along` the step also passes the check.
    Returns:
        ``(positions [1,2,h,w], age [1,1,h,w], ok [1,1,h,w] bool)``: the source point, the
        source frame's distance, and where the step is inside the frame, consistent, and lands
        on pixels that have a source.
    """
    landing = grid + flow
    points = torch.cat((landing, torch.round(landing)))  # bilinear, nearest

    def window(y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        return torch.cat((neighbour_map.window(y0, y1, x0, x1), back_flow[..., y0:y1, x0:x1]), 1)

    samples, inside = sample_window(window, points, where, size)
    bilinear, nearest = samples[:1], samples[1:, :5]
    back = bilinear[:, 5:7]
    error = (flow + back).square().sum(1, keepdim=True)
    length = flow.square().sum(1, keepdim=True) + back.square().sum(1, keepdim=True)
    consistent = error <= tolerance ** 2 + RELATIVE_TOLERANCE * length
    if beside_hole is not None:
        consistent = consistent | (beside_hole & dragged_along(flow, back, tolerance))
    if unchecked is not None:
        consistent = consistent | unchecked
    age, age_sq, has = bilinear[:, 2:3], bilinear[:, 3:4], bilinear[:, 4:5]
    # bilinear only where all four pixels have a source in one frame (their ages agree)
    coherent = (has > 1 - 1e-4) & (age_sq - age * age < 1e-3 + 1e-6 * age_sq)
    chosen = torch.where(coherent, bilinear[:, :5], nearest)
    lands = torch.where(coherent, inside[:1], inside[1:] & (nearest[:, 4:5] > 0.5))
    return chosen[:, :2], chosen[:, 2:3].round() + 1, consistent & lands


def source_stack(frame: torch.Tensor, hole: torch.Tensor, gradients: bool) -> torch.Tensor:
    """What a source frame offers, ``[1,4(+16),h,w]``: colour, hole, then per offset of :data:`OFFSETS`
    the colour difference to that neighbour (3) and a flag (1) that is 1 if either pixel is missing.

    Bilinear sampling is linear, so sampling a difference image at a point gives exactly the
    difference of two bilinear samples one pixel apart: one warp serves all five samples.
    """
    parts = [frame, hole]
    if gradients:
        for dy, dx in OFFSETS:
            parts += [neighbour(frame, dy, dx) - frame, torch.maximum(hole, neighbour(hole, dy, dx, outside=1.0))]
    return torch.cat(parts, 1)


class TensorVideo:
    """Frames and holes held as tensors, read the way the passes read a video.

    Args:
        frames: ``[T,3,H,W]`` float32 in [0,1] (any device); hole: ``[T|1,1,H,W]`` in [0,1].
    Attributes:
        size: ``(H, W)`` of the frames.
    """

    def __init__(self, frames: torch.Tensor, hole: torch.Tensor):
        self.frames, self.holes, self.size = frames, hole, tuple(frames.shape[-2:])

    def frame(self, t: int, box: Box) -> torch.Tensor:
        """Frame ``t`` ``[1,3,h,w]`` on ``box``, on the frames' device."""
        y0, y1, x0, x1 = box
        return self.frames[t:t + 1, :, y0:y1, x0:x1]

    def hole(self, t: int, box: Box | None = None) -> torch.Tensor:
        """Binary hole ``[1,1,h,w]`` (float 0/1) of frame ``t`` on ``box`` (default: whole)."""
        y0, y1, x0, x1 = box or (0, self.size[0], 0, self.size[1])
        return hole_at(self.holes, t)[..., y0:y1, x0:x1]


def gather(video: TensorVideo, t: int, step: int, positions: torch.Tensor, age: torch.Tensor,
           wanted: torch.Tensor, gradients: bool, sharp: bool = False) -> torch.Tensor:
    """Sample each ``wanted`` pixel of frame t once, from frame ``t + step * age`` at ``positions``.

    Args:
        video: a :class:`TensorVideo` (or any object with its ``size``, ``frame`` and ``hole``).
        positions: ``[1,2,h,w]``, age: ``[1,1,h,w]``, wanted: ``[1,1,h,w]`` bool, on a box of frame t.
    Returns:
        ``[1,CHANNELS,h,w]``: colour (3), age (1, 0 = no source), then with ``gradients``, for
        each of :data:`OFFSETS`, the source's difference ``S(position + offset) - S(position)``
        (3 each) and where it is valid (1 each). A sample whose bilinear footprint touches a
        hole pixel of its source frame is refused (age 0). With ``sharp``, colour and differences are sampled
        bicubically where the sample's 4x4 footprint is clear of the source's hole (a bilinear sample half a pixel
        off keeps 71 % of a fine texture's contrast, a bicubic one 97 %; about 3x the sampling time), bilinearly
        elsewhere.
    """
    device = positions.device
    result = torch.zeros(1, CHANNELS, *positions.shape[-2:], device=device)
    stacked = 4 + 4 * len(OFFSETS) if gradients else 4  # source_stack's channels; the wide flags follow
    bicubic = [0, 1, 2] + ([4 + 4 * k + c for k in range(len(OFFSETS)) for c in range(3)] if gradients else [])
    bicubic_at = stacked + 1 + (len(OFFSETS) if gradients else 0)
    for a in torch.unique(age[wanted]).tolist():
        s = t + step * int(a)
        y0, y1, x0, x1 = box_of((wanted & (age == a))[0, 0])  # the pixels of this source, on their own box
        box = (Ellipsis, slice(y0, y1), slice(x0, x1))
        of_age = wanted[box] & (age[box] == a)

        def window(y0: int, y1: int, x0: int, x1: int, s: int = s) -> torch.Tensor:  # s bound now: called at once
            hole = video.hole(s, (y0, y1, x0, x1)).to(device)
            stack = source_stack(video.frame(s, (y0, y1, x0, x1)).to(device), hole, gradients)
            return torch.cat((stack, wide_flags(hole, gradients)), 1) if sharp else stack

        sampled, inside = sample_window(window, positions[box], of_age, video.size, bicubic if sharp else None)
        use = of_age & inside & (sampled[:, 3:4] <= 1e-3)
        if not use.any():
            continue
        colour = sampled[:, :3]
        differences = [sampled[:, 4 + 4 * k:7 + 4 * k] for k in range(len(OFFSETS))] if gradients else []
        if sharp:  # the bicubic values where their footprint is clear (the wide flags are 0)
            crisp = sampled[:, stacked:bicubic_at] <= 1e-3
            colour = torch.where(crisp[:, :1], sampled[:, bicubic_at:bicubic_at + 3].clamp(0.0, 1.0), colour)
            if gradients:
                at = [bicubic_at + 3 + 3 * k for k in range(len(OFFSETS))]
                differences = [torch.where(crisp[:, 1 + k:2 + k], sampled[:, at[k]:at[k] + 3], value)
                               for k, value in enumerate(differences)]
        parts = [colour, torch.full_like(age[box], float(a))]
        if gradients:
            clean = [sampled[:, 7 + 4 * k:8 + 4 * k] <= 1e-3 for k in range(len(OFFSETS))]
            parts += [value * c for value, c in zip(differences, clean)]
            parts += [c.float() for c in clean]
        values = torch.cat(parts, 1)
        target = result[box][:, :values.shape[1]]
        target.copy_(torch.where(use, values, target))
    return result


def wide_flags(hole: torch.Tensor, gradients: bool) -> torch.Tensor:
    """The hole ``[1,1,h,w]`` grown by a pixel, then (with ``gradients``) per offset of :data:`OFFSETS` whether either
    pixel of the pair is in it: ``[1,1(+4),h,w]``. A bilinear sample of these is 0 exactly where the bicubic
    footprint (4x4) of the matching :func:`source_stack` channels is clear of the hole."""
    grown = F.max_pool2d(hole, 3, stride=1, padding=1)
    flags = [grown]
    if gradients:
        flags += [torch.maximum(grown, neighbour(grown, dy, dx, outside=1.0)) for dy, dx in OFFSETS]
    return torch.cat(flags, 1)


class Tracer:
    """One recurrent pass, a frame at a time: ``tracer(t) -> (box, samples [1,CHANNELS,h,w], area [1,1,h,w] bool)``.

    ``area`` is the hole of frame t on its bounding box ``box`` and, with ``gradients``, a
    one-pixel ring of known pixels around it (their source differences guide seam blending);
    ``samples`` are :func:`gather`'s channels there. A frame without a hole gives ``box = None``.
    Frames must come one after the other in the pass's direction; the first one has no
    neighbour to look into.

    Args:
        video: a :class:`TensorVideo` (or any object with its ``size``, ``frame`` and ``hole``).
        flows_to_neighbour: ``t -> (flow t -> t+step, flow t+step -> t)``, ``[1,2,H,W]``; called
            only for frames with a hole after the first.
        step: -1 (sources in the past, times ascending) or +1 (future, descending).
        limit: the most frames a source may be away; tolerance: forward-backward tolerance (pixels).
        gradients: also gather the source differences that guide seam blending.
        device: where the work runs.
        known_sources: ``t -> bool``, whether frame t's known pixels are sources (default: always). A pass
            that carries only reference fills answers True for the reference frames alone.
        margin: 0, or pixels around the hole whose known pixels are traced too (a reference pass: its chains
            must cross frames where the point is visible, as only the references are sources); ``area`` is
            then the whole box.
        check_hole: False to skip the forward-backward check in the frame's hole, where both flows are
            completed guesses the check cannot judge (it still applies to the known pixels a margin traces).
        sharp: sample colour bicubically where it can (:func:`gather`): for fills carried over a whole shot
            (references, keyframes), whose sources are few and seen in every frame.
    """

    def __init__(self, video: TensorVideo, flows_to_neighbour, step: int, limit: int, tolerance: float,
                 gradients: bool, device: torch.device | str, known_sources: Callable[[int], bool] | None = None,
                 margin: int = 0, check_hole: bool = True, sharp: bool = False):
        self.video, self.flows_to_neighbour, self.step, self.limit = video, flows_to_neighbour, step, limit
        self.tolerance, self.gradients, self.device = tolerance, gradients, device
        self.known_sources, self.margin = known_sources or (lambda t: True), margin
        self.check_hole, self.sharp = check_hole, sharp
        self.neighbour_map = SourceMap(device)
        self.first = True

    def __call__(self, t: int) -> tuple[Box | None, torch.Tensor, torch.Tensor]:
        device, first = self.device, self.first
        self.first = False
        hole_t = self.video.hole(t).to(device) > 0.5
        known = self.known_sources(t)
        if not hole_t.any():
            self.neighbour_map = SourceMap(device, known=known)
            empty = torch.zeros(1, CHANNELS, 0, 0, device=device)
            return None, empty, empty[:, :1] > 0
        y0, y1, x0, x1 = box_of(hole_t[0, 0])
        grow = self.margin or int(self.gradients)  # the box of the hole and its one-pixel ring, or a margin
        if grow:
            y0, y1, x0, x1 = grow_box((y0, y1, x0, x1), grow, self.video.size)
        box = (y0, y1, x0, x1)
        hole_box = hole_t[..., y0:y1, x0:x1]
        if self.margin:
            area = torch.ones_like(hole_box)
        else:  # every pixel outside the box is known, so pooling on the box alone gives the same ring
            area = F.max_pool2d(hole_box.float(), 3, 1, 1) > 0.5 if self.gradients else hole_box
        grid = pixel_grid(box, device)
        samples = torch.zeros(1, CHANNELS, y1 - y0, x1 - x0, device=device)
        positions, age = grid, torch.zeros_like(grid[:, :1])
        if not first:
            flow, back_flow = self.flows_to_neighbour(t)
            flow = flow[..., y0:y1, x0:x1]
            beside = hole_box & self.beside_neighbour_hole(t, grid + flow) if self.check_hole else None
            positions, age, ok = follow(self.neighbour_map, flow, back_flow, grid, area, self.tolerance,
                                        self.video.size, None if self.check_hole else hole_box, beside)
            samples = gather(self.video, t, self.step, positions, age, area & ok & (age <= self.limit),
                             self.gradients, self.sharp)
        has = (samples[:, 3:4] > 0).float()
        traced = torch.cat((positions, samples[:, 3:4], samples[:, 3:4] ** 2, has), 1)
        traced_here = area if self.margin else hole_box
        self.neighbour_map = SourceMap(device, torch.where(traced_here, traced, own_sources(grid, float(known))), box,
                                       known)
        return box, samples, area

    def beside_neighbour_hole(self, t: int, landing: torch.Tensor) -> torch.Tensor:
        """Where ``landing`` ``[1,2,h,w]`` (absolute points in the neighbour frame) lies within :data:`DRAG_RING` of
        that frame's hole (or in it): ``[1,1,h,w]`` bool. Works on a window around the points."""
        height, width = self.video.size
        ring = math.ceil(DRAG_RING * max(height, width))
        xs = landing[:, 0].round().clamp(0, width - 1).long()
        ys = landing[:, 1].round().clamp(0, height - 1).long()
        y0, y1, x0, x1 = grow_box((int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1), ring,
                                  self.video.size)
        hole = self.video.hole(t + self.step, (y0, y1, x0, x1))[0, 0].cpu().numpy() > 0.5
        square = np.ones((2 * ring + 1, 2 * ring + 1), np.uint8)  # OpenCV dilates by a rectangle in O(1) a pixel
        near = torch.from_numpy(cv2.dilate(hole.astype(np.uint8), square)).to(landing.device)
        return (near[ys - y0, xs - x0] > 0)[:, None]
