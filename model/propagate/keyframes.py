"""Automatic keyframes: what no frame saw is filled once, on a keyframe, and carried forward along the motion.

After Flow Propagate's real passes (and any reference fills), a frame may still hold a hole that no frame
within ``max_distance`` saw: a person who stands still, the centre of a large hole. Filled anew on every
frame by the frame-fill stage, that part is a new guess each frame. :class:`KeyframeCarrier` walks the
frames in order instead:

1. it carries into the frame's remaining hole what earlier keyframes show, along the completed flow,
   through the holes of any number of frames, sampling colour once from the keyframe (as reference fills
   are carried, :mod:`model.propagate.references`);
2. when what is still left is large (at least ``share`` of the frame's hole and ``min_pixels``), the frame
   becomes a keyframe: ``fill`` (a frame-fill stage) fills what is left once, and that fill is carried on
   to the next frames. A region that stays in the hole for the whole shot gets one fill for the whole shot.

What is left below the threshold (thin slivers along a moving edge) stays in ``remaining`` for the stages.
Only the past direction is used, so a stream keeps its bounded window. Keyframes that no chain of the
current frame reaches any more are dropped, so memory holds only the keyframes still in use (8-bit).
"""
from __future__ import annotations

from typing import Callable

import torch

from .. import stages
from ..checks import hole_at
from ..stages.frame_inpaint import patch_inpainter
from .references import MARGIN, NO_LIMIT
from .compact import compact, expand
from ..masks import Box, box_of
from .trace import Tracer
from .whole_clip import fill_from_passes

FrameFill = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (frame [1,3,H,W], hole [1,1,H,W]) -> [1,3,H,W]
FlowsToPast = Callable[[int], tuple[torch.Tensor, torch.Tensor]]  # t -> (flow t -> t-1, flow t-1 -> t), [1,2,H,W]

SHARE = 0.1  # a frame becomes a keyframe when at least this share of its hole is still unfilled ...
MIN_PIXELS = 64  # ... and at least this many pixels
# The keyframe pass checks the flow (forward-backward) where it was measured, not in the frame's hole, where both flows
# are completed guesses the check cannot judge. Measured (432x240, a centred 120x216 rectangle, 24 frames): checked
# everywhere, tennis made 19 keyframes (a new fill almost every frame), checked outside the hole 3; dog_walk 1 and
# davis_camel 4 -> 1; bmx-trees with object masks: 18.72 dB hole PSNR checked everywhere, 18.10 outside the hole,
# 17.93 not checked at all (chains then cross real occlusions too).


def keyframe_inpainter(method: str, radius: int = 5, network=None, structure: FrameFill | None = None) -> FrameFill:
    """:func:`model.stages.frame_inpainter` for keyframes; its ValueError (exemplar without OpenCV contrib, network
    without one) then names the keyframes setting that asked for it.

    ``method="textured"``: the patch-based completion (:mod:`model.stages.patch_fill`, no OpenCV contrib), which
    continues the texture around the hole with copies of the frame's known pixels, started from the colours of
    ``structure`` (default: ``network``'s fill, or Telea's without one).
    """
    try:
        if method == "textured":
            if structure is None:
                structure = stages.frame_inpainter("network" if network is not None else "telea", radius,
                                                   network=network)
            return patch_inpainter(structure)
        return stages.frame_inpainter(method, radius, network=network)
    except ValueError as error:
        raise ValueError(f"keyframes {method!r} (Flow Propagate's keyframe fill): {error}") from None


class _Sources:
    """What the keyframe pass reads, like :class:`model.propagate.trace.TensorVideo`: the keyframes (no hole,
    their pixels the only sources) and the current frame's hole."""

    def __init__(self, size: tuple[int, int]):
        self.size = size
        self.keyframes: dict[int, torch.Tensor] = {}  # compact [1,3,H,W]
        self.current: tuple[int, torch.Tensor] | None = None  # (t, hole [1,1,H,W] 0/1)

    def frame(self, t: int, box: Box) -> torch.Tensor:
        y0, y1, x0, x1 = box
        return expand(self.keyframes[t][..., y0:y1, x0:x1])

    def hole(self, t: int, box: Box | None = None) -> torch.Tensor:
        y0, y1, x0, x1 = box or (0, self.size[0], 0, self.size[1])
        if t in self.keyframes or self.current is None or self.current[0] != t:
            return torch.zeros(1, 1, y1 - y0, x1 - x0)
        return self.current[1][..., y0:y1, x0:x1]

    def is_keyframe(self, t: int) -> bool:
        return t in self.keyframes


class _Frame:
    """Frame t after the earlier passes, read like a video by :func:`fill_from_passes`."""

    def __init__(self, frame: torch.Tensor, remaining: torch.Tensor):
        self.frame_image, self.remaining = frame, remaining

    def frame(self, t: int, box: Box) -> torch.Tensor:
        y0, y1, x0, x1 = box
        return self.frame_image[..., y0:y1, x0:x1]

    def hole(self, t: int, box: Box | None = None) -> torch.Tensor:
        y0, y1, x0, x1 = box or (0, self.remaining.shape[-2], 0, self.remaining.shape[-1])
        return self.remaining[..., y0:y1, x0:x1]


class KeyframeCarrier:
    """Fill each frame's remaining hole from automatic keyframes, one frame at a time, in order.

    >>> from model import stages
    >>> carrier = KeyframeCarrier((48, 64), lambda t: (torch.zeros(1, 2, 48, 64),) * 2,
    ...                           stages.frame_inpainter("telea"))
    >>> hole = torch.zeros(1, 1, 48, 64); hole[..., 16:32, 20:40] = 1
    >>> _, left = carrier.step(0, torch.rand(1, 3, 48, 64), hole, hole)  # frame 0 becomes a keyframe
    >>> _, left_1 = carrier.step(1, torch.rand(1, 3, 48, 64), hole, hole)  # frame 1 takes its fill
    >>> carrier.keyframes, int(left.sum()), int(left_1.sum())
    ([0], 0, 0)

    Args:
        size: ``(H, W)`` of the frames.
        flows_to_past: ``t -> (flow t -> t-1, flow t-1 -> t)`` ``[1,2,H,W]`` (the completed flows Flow Propagate
            traced with); called for frames with a hole after the first.
        fill: ``(frame [1,3,H,W], hole [1,1,H,W]) -> [1,3,H,W]`` in [0,1], the fill of a keyframe's hole.
        tolerance: forward-backward tolerance in pixels, checked outside the holes only (see the comment above
            :class:`_Sources`); gradients: blend the seams (Poisson), as Flow Propagate.
        share, min_pixels: when a frame becomes a keyframe (see the module doc).
        device: where the tracing runs.
        keyframes: the list the keyframes are recorded in (default: a new one), e.g. one a caller already holds.
    Attributes:
        keyframes: the frames made keyframes so far, in order.
    """

    def __init__(self, size: tuple[int, int], flows_to_past: FlowsToPast, fill: FrameFill, tolerance: float = 1.0,
                 gradients: bool = True, share: float = SHARE, min_pixels: int = MIN_PIXELS,
                 device: torch.device | str = "cpu", keyframes: list[int] | None = None):
        if not 0.0 < share <= 1.0:
            raise ValueError(f"keyframes: share must lie in (0, 1], got {share}.")
        self.sources = _Sources(tuple(size))
        self.fill, self.gradients, self.device = fill, gradients, device
        self.share, self.min_pixels = share, min_pixels
        self.tracer = Tracer(self.sources, flows_to_past, -1, NO_LIMIT, tolerance, gradients, device,
                             self.sources.is_keyframe, MARGIN, check_hole=False, sharp=True)
        self.keyframes = keyframes if keyframes is not None else []

    @torch.inference_mode()
    def step(self, t: int, frame: torch.Tensor, hole: torch.Tensor,
             remaining: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame ``t`` (the next one) -> ``(filled [1,3,H,W], remaining [1,1,H,W])``.

        Args:
            frame: ``[1,3,H,W]`` in [0,1], the frame after the earlier passes (their fill in its hole).
            hole: ``[1,1,H,W]`` the frame's own hole (what the chains cross); remaining: ``[1,1,H,W]`` what the
                earlier passes left (its values are kept where it stays a hole, 0 where filled here).
        Returns:
            The frame with the keyframes' pixels (and, on a new keyframe, ``fill``'s) in its remaining hole,
            every other pixel bit-exact, and what is left for the stages.
        """
        binary = hole_at(hole, 0).cpu()
        self.sources.current = (t, binary)
        box, samples, _ = self.tracer(t)
        left = hole_at(remaining, 0) > 0.5
        if not left.any():
            self._forget(t)
            return frame, remaining
        if box is not None and self.sources.keyframes:
            filled = fill_from_passes(_Frame(frame.to(self.device), left.to(self.device).float()), t, box,
                                      samples, torch.zeros_like(samples), self.gradients, self.device)
            if filled is not None:
                (y0, y1, x0, x1), (patch, region) = box, filled
                frame = frame.clone()
                frame[..., y0:y1, x0:x1] = patch.to(frame.device, frame.dtype)
                left = left.clone()
                left[..., y0:y1, x0:x1] &= ~region.to(left.device)
        count, hole_pixels = int(left.sum()), int((binary > 0.5).sum())
        if count >= max(self.min_pixels, self.share * hole_pixels):
            frame = self.fill(frame.to(self.device), left.to(self.device).float()).to(frame.device, frame.dtype)
            self.sources.keyframes[t] = compact((frame.detach().cpu() * 255.0).round_() / 255.0)  # 8-bit in memory
            self.keyframes.append(t)
            self.tracer(t)  # again, now as a keyframe: its pixels are the next frames' sources
            left = torch.zeros_like(left)
        self._forget(t)
        return frame, remaining * left.to(remaining.device, remaining.dtype)

    def _forget(self, t: int) -> None:
        """Drop the keyframes that no chain through frame t reaches (the next frames can only reach those)."""
        reached = {t} if t in self.sources.keyframes else set()
        values = self.tracer.neighbour_map.values
        if values is not None:
            ages = values[0, 2][values[0, 4] > 0.5]
            reached |= {t - int(a) for a in torch.unique(ages.round()).tolist()}
        for k in [k for k in self.sources.keyframes if k not in reached]:
            del self.sources.keyframes[k]


def patch_of(hole: torch.Tensor, filled: torch.Tensor,
             remaining: torch.Tensor) -> tuple[Box, torch.Tensor, torch.Tensor] | None:
    """The fill of a frame as a compact patch ``(box, colour [1,3,h,w], region [1,1,h,w] bool)`` on the box of its
    ``hole`` (None when the hole is empty): ``region`` = the hole pixels that are no longer in ``remaining``."""
    inside = hole_at(hole, 0)[0, 0] > 0.5
    if not inside.any():
        return None
    y0, y1, x0, x1 = box_of(inside)
    crop = (Ellipsis, slice(y0, y1), slice(x0, x1))
    region = (hole_at(hole, 0)[crop] > 0.5) & ~(hole_at(remaining, 0)[crop] > 0.5)
    return (y0, y1, x0, x1), filled[crop].cpu(), region.cpu()
