"""Flow Propagate: fill each hole pixel with what another frame saw there, traced along completed flow.

Weight-free, bidirectional and placed before Frame Inpaint: pixels that some frame within
``max_distance`` saw are copied in; what no frame saw stays in the returned (remaining) hole.

1. Flow between neighbours, at a working resolution (longest side ``flow_max_side``): both
   frames of a pair are filled (harmonic membrane) over the union of their holes grown by
   ``hole_dilation``, so the flow does not follow a moving fill; DIS forward and backward; the
   flow inside that region is completed with the camera's motion fitted around it (``completion``,
   :mod:`model.stages.camera_flow`) or from its border (Laplacian).
2. Two recurrent passes, one from the past (t = 0..T-1) and one from the future (backwards).
   Each carries a *source map* of the frame before: for every pixel, the coordinates of the
   point it shows in its source frame, how many frames away that frame is (its age), and
   whether it has a source. Known pixels are their own source (age 0). A hole pixel of frame t
   follows its flow into the neighbour frame and, if the forward-backward check passes there,
   inherits that frame's source map at the point it lands on (bilinear where the four pixels
   share one source frame, nearest otherwise), one frame older. So every pixel carries the end
   of its chain of flows, and colour is sampled once, from the source frame at full resolution
   (re-sampling colour at every step would blur it).
3. Where both passes found a source, the two colours are weighted by temporal distance (the
   nearer frame counts more). Seams between pixels copied from different frames, and the border
   with the known pixels, are smoothed in the gradient domain (:func:`model.propagate.poisson.poisson_blend`, guided by
   the colour differences each pixel's own source frame shows around its source point).

Memory: frames and the output stay where the caller keeps them (host memory for the nodes);
the flows of every neighbour pair are kept in host memory at the flow resolution in half
precision (``8 * h * w`` bytes per frame, e.g. 0.8 MB at 432x240, 1.8 MB at 640x360), and so are
the results of the first pass for the hole pixels (16 bytes per hole pixel, 48 with Poisson
seams: colour and age in float32, the seam guides in half precision); the compute device
holds a few frames' worth of tensors (mostly on the hole's bounding box) at a time, whatever
the clip length.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ..checks import check_video, hole_at
from ..stages import flow_completer
from ..stages.robust_flow import FLOW_WORKING_SIZE, flow_storage_size
from ..harmonic import harmonic_fill
from ..masks import Box, box_index, box_of, grow_hole
from .poisson import neighbour, poisson_blend
from ..resample import resize_flow, resize_image, shrink_hole
from .references import MARGIN, NO_LIMIT, ReferenceVideo, check_references, reference_patch
from .trace import OFFSETS, TensorVideo, Tracer

SEAM_METHODS = ("poisson", "none")
PROPAGATE_COMPLETIONS = ("camera", "laplacian")
"""How Flow Propagate completes a pair's flow inside the holes (:func:`model.stages.flow_completer`; Robust Flow's
third choice, its network, is not offered here). The first is the default."""
PREFILL_ITERATIONS = 4  # Jacobi steps per pyramid level of the colour fill the flow is estimated on
FILL_MARGIN = 16  # known pixels kept around a region when it is filled on its bounding box
COMPLETION_CONTEXT = 0.25
"""A completer with ``wide_context`` (the camera's) completes the flow inside a pair's holes on their box plus this
share of the frame's longer side of known flow around it, and fits the camera's motion there. Measured (432x240, 12
clips, 24 frames, hole pixels that move with the camera, against the truth's DIS flow): with a 16 px ring the completed
flow was 1.35 px off on davis_blackswan's rectangle and 2.6 px on tennis's object masks (the ring's flow is dragged by
the static fill beside it); with a quarter of the frame, 0.26 and 0.13 px; a whole-frame fit was no better, and worse
where a large subject fills the frame. Where a hole covers the subject the camera follows, the ring's standstill
happened to match it: on the validation clips' object masks hole PSNR fell 0.2 dB, while E_warp on the camera's pixels
fell (docs/results/eval_camera_fit_432x240.md)."""

PairFlows = Callable[[int], tuple[torch.Tensor, torch.Tensor]]
OnFrame = Optional[Callable[[int], None]]


@dataclass
class PropagateConfig:
    """Settings of Flow Propagate.

    Attributes:
        max_distance: frames to look forward and backward; 0 = the whole clip.
        consistency: forward-backward tolerance in pixels of the flow resolution: a step whose
            forward and backward flows disagree by more (plus about 10 % of their length) is treated as
            an occlusion and not followed.
        hole_dilation: pixels around the union of a pair's holes whose flow is completed
            rather than measured (measured on real clips: 0-1 px is best, 8 px costs ~0.6 dB;
            raise it when the mask is tight around an object whose halo moves with it).
        flow_max_side: longest side of the flow resolution; frames are downscaled for flow
            only, colour always comes from the full-resolution frames.
        seam: ``"poisson"`` (gradient-domain blending) or ``"none"``.
        completion: how the flow inside the holes is guessed, see :data:`PROPAGATE_COMPLETIONS`: ``"camera"`` (the
            motion of the camera, one homography fitted around the hole; :mod:`model.stages.camera_flow`) or
            ``"laplacian"`` (interpolated from the hole's border). Camera measured better on all four mask
            kinds of the validation clips (deep-feature distance; hole PSNR 18.85 -> 19.03 dB).
    """

    max_distance: int = 12
    consistency: float = 1.0
    hole_dilation: int = 1
    flow_max_side: int = FLOW_WORKING_SIZE
    seam: str = "poisson"
    completion: str = PROPAGATE_COMPLETIONS[0]

    def validate(self) -> None:
        """Raise ValueError for settings a user could get wrong."""
        if self.seam not in SEAM_METHODS:
            raise ValueError(f"Flow Propagate: unknown seam blending {self.seam!r}; "
                             f"choose one of {list(SEAM_METHODS)}.")
        if self.completion not in PROPAGATE_COMPLETIONS:
            raise ValueError(f"Flow Propagate: unknown completion {self.completion!r}; "
                             f"choose one of {list(PROPAGATE_COMPLETIONS)}.")
        if self.max_distance < 0:
            raise ValueError(f"Flow Propagate: max_distance is {self.max_distance}; use 0 (whole clip) or more.")
        if self.consistency <= 0:
            raise ValueError(f"Flow Propagate: consistency is {self.consistency}; use a tolerance above 0 pixels.")
        if self.hole_dilation < 0:
            raise ValueError(f"Flow Propagate: hole_dilation is {self.hole_dilation}; use 0 or more pixels.")
        if self.flow_max_side < 16:
            raise ValueError(f"Flow Propagate: flow_max_side is {self.flow_max_side}; use at least 16 pixels.")


def flow_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """``(h, w)`` of the flow resolution: :func:`model.stages.robust_flow.flow_storage_size` for ``max_side``,
    at least 2 pixels a side (a one-pixel side has no neighbours to trace)."""
    return flow_storage_size(height, width, max_side, min_side=2)


def downscale(frame: torch.Tensor, hole: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``frame`` ``[1,3,H,W]`` and binary ``hole`` ``[1,1,H,W]`` at ``size``.

    A small pixel is a hole if any of the pixels it covers is (:func:`model.resample.shrink_hole`).
    """
    if tuple(frame.shape[-2:]) == tuple(size):
        return frame, hole
    return resize_image(frame, size), shrink_hole(hole, size)


def pair_flow(frame_a: torch.Tensor, frame_b: torch.Tensor, hole_a: torch.Tensor, hole_b: torch.Tensor,
              estimator, completer, hole_dilation: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward (a -> b) and backward (b -> a) flow of neighbouring frames, completed inside their holes.

    Both frames are filled over the same region, the union of both holes grown by
    ``hole_dilation``, before estimating: filling each over its own hole makes the flow follow
    the moving fill (measured: ~1 px/frame of drift, ~0.1 px with a shared region).

    Args:
        frame_a, frame_b: ``[1,3,h,w]`` in [0,1].
        hole_a, hole_b: ``[1,1,h,w]`` binary holes.
        estimator: ``(target, source) -> flow [1,2,h,w]`` mapping target pixels into source.
        completer: ``(flow, unknown [1,1,h,w]) -> flow`` filling the flow inside ``unknown``; it is given the
            region's box plus :data:`FILL_MARGIN` pixels, or plus :data:`COMPLETION_CONTEXT` of the frame when it has
            a true ``wide_context`` attribute.
    Returns:
        ``(forward, backward)``, each ``[1,2,h,w]`` float32 pixels (x, y).
    """
    region = grow_hole(torch.maximum(hole_a, hole_b), hole_dilation).to(frame_a.device)
    unknown = region > 0.5
    if not unknown.any():
        return estimator(frame_a, frame_b), estimator(frame_b, frame_a)
    box, size = box_of(unknown[0, 0]), tuple(frame_a.shape[-2:])
    crop = box_index(box, FILL_MARGIN, size)  # membrane fills depend only on the region's border
    both = torch.cat((frame_a, frame_b), 1)
    both[crop] = harmonic_fill(both[crop], unknown[crop], iterations=PREFILL_ITERATIONS)
    forward, backward = estimator(both[:, :3], both[:, 3:]), estimator(both[:, 3:], both[:, :3])
    looks_around = getattr(completer, "wide_context", False)  # fits the motion around the hole, checks the frames
    margin = max(FILL_MARGIN, round(COMPLETION_CONTEXT * max(size))) if looks_around else FILL_MARGIN
    context = box_index(box, margin, size)  # (the Laplacian fill depends only on the region's border)
    if looks_around:
        a, b, a_hole, b_hole = frame_a[context], frame_b[context], hole_a[context], hole_b[context]
        forward[context] = completer(forward[context].contiguous(), region[context], (a, b, b_hole))
        backward[context] = completer(backward[context].contiguous(), region[context], (b, a, a_hole))
    else:
        forward[context] = completer(forward[context].contiguous(), region[context])
        backward[context] = completer(backward[context].contiguous(), region[context])
    return forward, backward


def _combine(past: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge the two passes' samples ``[1,CHANNELS,H,W]``; the nearer source weighs more.

    Returns ``(colour [1,3,H,W], has_source [1,1,H,W] bool, differences [1,4*len(OFFSETS),H,W])``:
    per offset, the weighted mean difference (3) of the passes where it is valid and its
    validity (1).
    """
    age_p, age_f = past[:, 3:4], future[:, 3:4]
    has_p, has_f = age_p > 0, age_f > 0
    weight_p = torch.where(has_p & has_f, age_f / (age_p + age_f).clamp_min(1), has_p.float())
    colour = weight_p * past[:, :3] + (1 - weight_p) * future[:, :3]
    n = len(OFFSETS)
    differences, valid = [], []
    for k in range(n):
        value, ok = slice(4 + 3 * k, 7 + 3 * k), slice(4 + 3 * n + k, 5 + 3 * n + k)
        w_p, w_f = weight_p * past[:, ok], (1 - weight_p) * future[:, ok]
        total = w_p + w_f
        differences.append((w_p * past[:, value] + w_f * future[:, value]) / total.clamp_min(1e-6))
        valid.append(total > 0)
    return colour, has_p | has_f, torch.cat(differences + [v.float() for v in valid], 1)


def _edge_guides(differences: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Wanted forward differences from :func:`_combine` -> ``(guide_x, guide_y, ok_x, ok_y)``.

    ``guide_x = f[x+1] - f[x]`` ``[1,3,H,W]`` (``guide_y`` likewise) and where it is measured
    (``[1,1,H,W]`` bool): the edge ``(a, a+e)`` takes the difference measured in a's source,
    else the one measured (backwards) in the source of ``a+e``.
    """
    n = len(OFFSETS)
    guides, valid = [], []
    for ahead, behind in ((0, 2), (1, 3)):  # +x with -x, +y with -y
        dy, dx = OFFSETS[ahead]
        value = differences[:, 3 * ahead:3 * ahead + 3]
        value_ok = differences[:, 3 * n + ahead:3 * n + ahead + 1] > 0.5
        other = -neighbour(differences[:, 3 * behind:3 * behind + 3], dy, dx)
        other_ok = neighbour(differences[:, 3 * n + behind:3 * n + behind + 1], dy, dx) > 0.5
        guides.append(torch.where(value_ok, value, other))
        valid.append(value_ok | other_ok)
    return guides[0], guides[1], valid[0], valid[1]


def unpack_past(past: tuple[torch.Tensor, ...], area: torch.Tensor, like: torch.Tensor,
                device: torch.device | str) -> torch.Tensor:
    """The past pass's samples of a frame, packed to its ``area`` by :func:`hold_past`, back on the box: ``[1,CHANNELS,
    h,w]`` shaped as ``like`` (the future pass's samples), zero (no source) outside ``area``."""
    unpacked = torch.zeros_like(like)
    packed = torch.cat([part.to(device, unpacked.dtype) for part in past])
    unpacked[0, :packed.shape[0]][:, area[0, 0]] = packed
    return unpacked


def fill_from_passes(video: TensorVideo, t: int, box: Box, past: torch.Tensor, future: torch.Tensor,
                     gradients: bool, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Frame t's hole box filled from both passes: ``(patch [1,3,h,w], region [1,1,h,w] bool)`` or None.

    Args:
        video: the frames (:class:`model.propagate.trace.TensorVideo` or alike); box: frame t's hole box.
        past, future: each pass's samples of frame t ``[1,CHANNELS,h,w]`` on ``box`` (:func:`unpack_past` brings
            back those :func:`hold_past` kept).
    Returns:
        ``patch``: the frame on ``box`` with the propagated colours (clamped to [0,1], seams
        blended with ``gradients``) inside ``region``, the hole pixels some frame saw; every other
        pixel bit-exact. None when no hole pixel of frame t found a source.
    """
    colour, has_source, differences = _combine(past, future)
    hole_box = video.hole(t, box).to(device) > 0.5
    region = hole_box & has_source
    if not region.any():
        return None
    frame = video.frame(t, box).to(device)
    if gradients:
        guide_x, guide_y, ok_x, ok_y = _edge_guides(differences)
        colour = poisson_blend(colour, guide_x, guide_y, frame, region, ~hole_box, ok_x, ok_y)
    return torch.where(region, colour.clamp(0.0, 1.0), frame), region


HELD_DTYPE = torch.float16  # what waits in host memory between the passes: flows and the past pass's samples


def hold_past(samples: torch.Tensor, area: torch.Tensor, gradients: bool) -> tuple[torch.Tensor, ...]:
    """The past pass's samples ``[1,CHANNELS,h,w]`` of a frame, packed to its ``area`` for the future pass,
    in host memory: ``(colour and age [4, n] float32,)`` and with ``gradients`` the source differences that
    guide seam blending ``[16, n]`` in half precision (they only steer the blend).
    """
    where = area[0, 0]
    exact = samples[0, :4][:, where].cpu()  # indexing copies: nothing else of the frame stays alive
    return (exact, samples[0, 4:][:, where].to("cpu", HELD_DTYPE)) if gradients else (exact,)


def hold_flows(flows: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Flows ``[1,2,h,w]`` to keep in host memory until a pass needs them: half precision, as Robust Flow's
    FRVI_FLOW (at the flow resolution: about 0.03 px off for 64 px of motion)."""
    return tuple(f.detach().to("cpu", HELD_DTYPE) for f in flows)


def held_flows_at(flows: tuple[torch.Tensor, ...], size: tuple[int, int],
                  device: torch.device | str) -> tuple[torch.Tensor, ...]:
    """:func:`hold_flows`' flows brought to the frames' ``size`` ``(H, W)`` on ``device``, float32 pixels."""
    return tuple(resize_flow(f.to(device, torch.float32), size) for f in flows)


def propagate_video(frames: torch.Tensor, hole: torch.Tensor, pair_flows: PairFlows, max_distance: int = 12,
                    consistency: float = 1.0, seam: str = "poisson", device: torch.device | str = "cpu",
                    on_frame: OnFrame = None, references: dict[int, torch.Tensor] | None = None,
                    keyframe_fill=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Copy into each hole what the nearest frames saw there, following ``pair_flows``.

    Args:
        frames: ``[T,3,H,W]`` float32 in [0,1] (any device; host memory for the nodes).
        hole: ``[T|1,1,H,W]`` in [0,1], 1 = missing, thresholded at 0.5.
        pair_flows: ``i -> (forward i -> i+1, backward i+1 -> i)``, each ``[1,2,h,w]`` pixels at
            any resolution with the frames' aspect (upsampled here); called at most once per pair,
            only for pairs next to a frame with a hole.
        max_distance: frames to look each way; 0 = the whole clip.
        consistency: forward-backward tolerance in pixels of the frames.
        seam: ``"poisson"`` or ``"none"``, see :data:`SEAM_METHODS`.
        device: where the per-frame work runs.
        on_frame: called after each frame of each pass (``2 T`` calls, ``4 T`` with references), e.g.
            progress/cancel.
        references: ``{frame index: [1,3,H,W]}`` frames whose hole is already filled (checked with
            :func:`model.propagate.references.check_references`): what no frame within ``max_distance``
            saw is then carried from them, however far (see :mod:`model.propagate.references`).
        keyframe_fill: ``(frame [1,3,H,W], hole [1,1,H,W]) -> [1,3,H,W]``: with it, what is still left is filled
            once on automatic keyframes and carried forward (:mod:`model.propagate.keyframes`; ``T`` more
            ``on_frame`` calls).
    Returns:
        ``(frames [T,3,H,W], remaining [T,1,H,W])`` on the device of ``frames``: propagated
        pixels filled in (every other pixel bit-exact), and the hole where no frame (and no
        reference) saw the scene (the input mask's values there, 0 where filled).
    """
    check_video(frames, hole)
    if seam not in SEAM_METHODS:
        raise ValueError(f"Flow Propagate: unknown seam blending {seam!r}; choose one of {list(SEAM_METHODS)}.")
    t_len, _, h, w = frames.shape
    limit = max_distance if max_distance > 0 else t_len
    gradients = seam == "poisson"
    video = TensorVideo(frames, hole)
    out = frames.clone()
    remaining = torch.empty(t_len, 1, h, w, dtype=hole.dtype, device=hole.device)
    pairs: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # host memory, flow resolution (hold_flows)
    past: list[tuple[torch.Tensor, ...] | None] = []  # host memory: past-pass samples packed to the hole (hold_past)

    def pair(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if i not in pairs:
            pairs[i] = hold_flows(pair_flows(i))
        return held_flows_at(pairs[i], (h, w), device)

    def to_past(t: int) -> tuple[torch.Tensor, torch.Tensor]:
        forward, backward = pair(t - 1)
        return backward, forward

    from_past = Tracer(video, to_past, -1, limit, consistency, gradients, device)
    for t in range(t_len):
        box, samples, area = from_past(t)
        past.append(None if box is None else hold_past(samples, area, gradients))
        if on_frame is not None:
            on_frame(t)

    from_future = Tracer(video, pair, 1, limit, consistency, gradients, device)
    for t in range(t_len - 1, -1, -1):
        box, samples, area = from_future(t)
        mask = hole[t if hole.shape[0] > 1 else 0]
        remaining[t] = mask
        filled = None if box is None else fill_from_passes(video, t, box, unpack_past(past[t], area, samples, device),
                                                           samples, gradients, device)
        if filled is not None:
            (y0, y1, x0, x1), (patch, region) = box, filled
            out[t, :, y0:y1, x0:x1] = patch[0].to(out.device)
            remaining[t, :, y0:y1, x0:x1] = mask[:, y0:y1, x0:x1] * (~region[0]).to(mask.device, mask.dtype)
        past[t] = None
        if on_frame is not None:
            on_frame(t)
    if references:
        carry_references(video, references, out, remaining, to_past, pair, consistency, gradients, device, on_frame)
    if keyframe_fill is not None:
        from .keyframes import KeyframeCarrier  # keyframes imports this module
        carrier = KeyframeCarrier((h, w), to_past, keyframe_fill, consistency, gradients, device=device)
        for t in range(t_len):
            filled, left = carrier.step(t, out[t:t + 1], hole_at(hole, t), remaining[t:t + 1])
            out[t] = filled[0].to(out.device)
            remaining[t] = left[0].to(remaining.device)
            if on_frame is not None:
                on_frame(t)
    return out, remaining


def carry_references(video: TensorVideo, references: dict[int, torch.Tensor], out: torch.Tensor,
                     remaining: torch.Tensor, to_past, to_future, tolerance: float, gradients: bool,
                     device: torch.device | str, on_frame: OnFrame = None) -> None:
    """Fill, in place, the pixels of ``remaining`` (and ``out``) that a reference shows, traced through the holes of
    any number of frames (the passes of :func:`propagate_video` with only the references as sources).

    ``to_past`` / ``to_future``: ``t -> (flow to the neighbour, flow back)`` as the real passes use them.
    A reference frame's own remaining hole takes the reference's pixels as they are.
    """
    t_len = out.shape[0]
    sources = ReferenceVideo(video, references)
    from_past = Tracer(sources, to_past, -1, NO_LIMIT, tolerance, gradients, device, sources.is_reference, MARGIN,
                       sharp=True)
    past = []
    for t in range(t_len):
        box, samples, area = from_past(t)
        past.append(None if box is None else hold_past(samples, area, gradients))
        if on_frame is not None:
            on_frame(t)
    filled_so_far = TensorVideo(out, remaining)
    from_future = Tracer(sources, to_future, 1, NO_LIMIT, tolerance, gradients, device, sources.is_reference, MARGIN,
                         sharp=True)
    for t in range(t_len - 1, -1, -1):
        box, samples, area = from_future(t)
        filled = reference_patch(filled_so_far, t, None, references.get(t), box, past[t], samples, area, gradients,
                                 device)
        if filled is not None:
            (y0, y1, x0, x1), patch, region = filled
            out[t, :, y0:y1, x0:x1] = patch[0].to(out.device)
            remaining[t, :, y0:y1, x0:x1] *= (~region[0]).to(remaining.device, remaining.dtype)
        past[t] = None
        if on_frame is not None:
            on_frame(t)


def flow_propagate(frames: torch.Tensor, hole: torch.Tensor, estimator, config: PropagateConfig | None = None,
                   device: torch.device | str = "cpu", on_frame: OnFrame = None,
                   references: dict[int, torch.Tensor] | None = None,
                   keyframe_fill=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Flow Propagate over a video: estimate and complete the flows, then :func:`propagate_video`.

    Args:
        frames: ``[T,3,H,W]`` float32 in [0,1]; hole: ``[T|1,1,H,W]`` in [0,1], 1 = missing.
        estimator: ``(target, source) -> flow`` (e.g. ``model.stages.flow_estimator("dis_medium")``).
        config: :class:`PropagateConfig` (the flows are completed as its ``completion`` says).
        device: where the work runs; on_frame: ``2 T`` calls (``4 T`` with references).
        references: ``{frame index: image [1,3,h,w]}`` with the hole filled, checked and fitted here
        (:func:`model.propagate.references.check_references`); keyframe_fill: see :func:`propagate_video`.
    Returns:
        ``(frames [T,3,H,W] in [0,1], remaining hole [T,1,H,W])``, see :func:`propagate_video`.
    """
    config = config or PropagateConfig()
    config.validate()
    check_video(frames, hole)
    height, width = frames.shape[-2:]
    size = flow_size(height, width, config.flow_max_side)
    completer = flow_completer(config.completion)

    def small(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return downscale(frames[i:i + 1].to(device), hole_at(hole, i).to(device), size)

    def pair_flows(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        (frame_a, hole_a), (frame_b, hole_b) = small(i), small(i + 1)
        return pair_flow(frame_a, frame_b, hole_a, hole_b, estimator, completer, config.hole_dilation)

    if references:
        references = check_references(references, frames, hole)
    return propagate_video(frames, hole, pair_flows, config.max_distance, config.consistency * width / size[1],
                           config.seam, device, on_frame, references, keyframe_fill)
