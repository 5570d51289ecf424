"""Stage 2, Robust Flow: F^P on the inpainted frames and F^I completed inside the hole."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..harmonic import harmonic_fill
from ..masks import grow_hole
from ..native import DIS_PRESETS, dis_flow
from ..resample import resize_flow, resize_image, shrink_hole
from ..resample import working_size as working_size_of
from ..warp import warp

FLOW_WORKING_SIZE = 640
"""The flow working size: default long side (pixels) at which flow is estimated, by Robust Flow (its
``working_size``), Flow Propagate (``flow_max_side``) and the CLI (``--flow-working-size``). On the shared
480p-720p clips the pipeline scored the same at 640 px as at full resolution, 3x faster at 720p."""

FLOW_MIN_SIDE = 64
"""Smallest long side (pixels) a flow working size may shrink frames to; smaller requests are raised to it
(flow on fewer pixels than this carries no useful motion, and DIS needs 32+ pixels a side, see model/native.py)."""


def flow_long_side(requested: int) -> int:
    """The long side flow is computed at for a ``requested`` working size (0 = full resolution): at least
    :data:`FLOW_MIN_SIDE`."""
    return max(int(requested), FLOW_MIN_SIDE) if requested else 0


FLOW_STORAGE_DTYPE = torch.float16
"""Precision in which a :class:`FlowField` stores flow and confidence between nodes: 10 mantissa bits keep
vectors under 32 px to 1/64 px and under 256 px to 1/8 px, at half the memory of float32."""


@dataclass
class FlowField:
    """A video's backward flow with a per-pixel confidence, stored compactly.

    Attributes:
        flow: ``[T,2,h,w]`` pixels *of the stored size*, ``flow[t]`` maps frame t to frame t-1 (x, y);
            float32, or :data:`FLOW_STORAGE_DTYPE` between ComfyUI nodes.
        confidence: ``[T,1,h,w]`` in [0,1]; 0 where the flow is a guess, 1 where measured and
            photometrically consistent. ``flow[0]`` has confidence 0 unless a previous chunk was given.
        size: ``(H, W)`` of the frames the flow belongs to (None: the stored size). Robust Flow stores
            its flows at its working size (e.g. 640 px long side); :meth:`at` brings one frame's flow
            to ``size`` (vectors rescaled, bilinear) when a stage uses it.
    """

    flow: torch.Tensor
    confidence: torch.Tensor
    size: tuple[int, int] | None = None

    def __post_init__(self):
        self.size = tuple(self.flow.shape[-2:]) if self.size is None else tuple(int(v) for v in self.size)

    @classmethod
    def empty(cls, frames: int, size: tuple[int, int], stored: tuple[int, int] | None = None,
              dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> "FlowField":
        """Zero flow, confidence 0, for ``frames`` frames of ``size`` ``(H, W)``, stored at ``stored`` in ``dtype``."""
        stored = tuple(size) if stored is None else tuple(stored)
        return cls(torch.zeros(frames, 2, *stored, dtype=dtype, device=device),
                   torch.zeros(frames, 1, *stored, dtype=dtype, device=device), size)

    def __len__(self) -> int:
        return self.flow.shape[0]

    @property
    def stored_size(self) -> tuple[int, int]:
        """``(h, w)`` at which the flow is held."""
        return tuple(self.flow.shape[-2:])

    def at(self, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(flow [1,2,H,W], confidence [1,1,H,W])`` of frame ``t`` at the frame size, float32."""
        flow, confidence = self.flow[t:t + 1].float(), self.confidence[t:t + 1].float()
        if self.stored_size != self.size:
            flow, confidence = resize_flow(flow, self.size), resize_image(confidence, self.size).clamp(0.0, 1.0)
        return flow, confidence

    def put(self, t: int, flow: torch.Tensor, confidence: torch.Tensor) -> None:
        """Store frame ``t``: ``flow`` ``[1,2,h',w']`` (pixels of its own size) and ``confidence`` ``[1,1,h',w']``,
        resized to the stored size (area mean when shrinking) and cast to the stored precision."""
        if tuple(flow.shape[-2:]) != self.stored_size:
            flow, confidence = resize_flow(flow, self.stored_size), resize_image(confidence, self.stored_size)
        self.flow[t] = flow[0].to(self.flow.device, self.flow.dtype)
        self.confidence[t] = confidence[0].to(self.confidence.device, self.confidence.dtype)


class DISFlowEstimator:
    """OpenCV DIS optical flow (no weights), on grey uint8 images.

    A fresh DIS object serves every call: a reused one carries state between calls (the same
    pair gave flows up to 3 px apart), which would make chunked runs differ from one run.
    """

    def __init__(self, preset: str):
        if preset not in DIS_PRESETS:
            raise ValueError(f"Robust Flow: unknown estimator {preset!r}; choose one of {sorted(DIS_PRESETS)}.")
        self.preset = preset

    def __call__(self, target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """Backward flow from ``target`` ``[1,3,H,W]`` to ``source`` ``[1,3,H,W]`` (both [0,1]) -> ``[1,2,H,W]``.

        ``warp(source, flow)`` approximates ``target``.
        """
        grey = [cv2.cvtColor(_uint8(x), cv2.COLOR_RGB2GRAY) for x in (target, source)]
        flow = dis_flow(grey[0], grey[1], self.preset)  # guarded: frames of any size, no native crash
        return torch.from_numpy(flow).permute(2, 0, 1)[None].to(target.device, torch.float32)


def _uint8(frame: torch.Tensor) -> np.ndarray:
    scaled = frame[0].detach().float().cpu().clamp(0, 1) * 255 + 0.5
    return scaled.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def photometric_confidence(target: torch.Tensor, source: torch.Tensor, flow: torch.Tensor,
                           tolerance: float = 0.08) -> torch.Tensor:
    """How well ``warp(source, flow)`` matches ``target`` (``[1,3,H,W]`` each) -> ``[1,1,H,W]`` in [0,1].

    ``exp(-(error / tolerance)^2)`` with the mean absolute colour error; 0 outside the image.
    """
    warped, valid = warp(source, flow)
    error = (warped - target).abs().mean(1, keepdim=True)
    return torch.exp(-(error / tolerance) ** 2) * valid


class LaplacianFlowCompleter:
    """Complete flow inside a hole by harmonic interpolation of the flow on its border."""

    def __call__(self, flow: torch.Tensor, unknown: torch.Tensor) -> torch.Tensor:
        """Fill ``flow`` ``[1,2,H,W]`` inside ``unknown`` ``[1,1,H,W]`` (0/1) -> ``[1,2,H,W]``."""
        return harmonic_fill(flow, unknown > 0.5, iterations=20)


def flow_storage_size(height: int, width: int, working_size: int = 0, min_side: int = 1) -> tuple[int, int]:
    """``(h, w)`` at which flows of ``height x width`` frames are computed (and stored) for a flow working size
    (0 = full resolution; raised to :data:`FLOW_MIN_SIDE`): Robust Flow's and Flow Propagate's one rule.
    ``min_side``: the fewest pixels a side may have.

    >>> flow_storage_size(720, 1280, 640), flow_storage_size(720, 1280, 0), flow_storage_size(240, 432, 16)
    ((360, 640), (720, 1280), (36, 64))
    """
    if not working_size:
        return height, width
    return working_size_of(height, width, 1.0, flow_long_side(working_size), min_side=min_side)


def robust_flow_pair(frame: torch.Tensor, prev_frame: torch.Tensor, hole: torch.Tensor, prev_hole: torch.Tensor,
                     inpainted: torch.Tensor, prev_inpainted: torch.Tensor, estimator, completer,
                     hole_dilation: int = 8, working_size: int = 0, keep_working_size: bool = False
                     ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Both flows of the paper for one pair of frames (t, t-1).

    F^P is estimated on the inpainted frames P_t, P_{t-1}. F^I is the flow of the corrupted
    frames: the same estimate is trusted only outside the union of both holes grown by
    ``hole_dilation`` pixels (where it saw real pixels) and completed inside by ``completer``.
    The corrupted frames are the inpainted ones outside their holes, so one flow estimate
    serves both. F^I inside the hole is as trusted as the measured flow on the border it was
    interpolated from; F^P inside the hole gets half its photometric confidence, because flow
    measured on a fill tends to follow the hole rather than the scene.

    Args:
        frame, prev_frame: ``[1,3,H,W]`` corrupted frames in [0,1] (used only for sizes and device).
        hole, prev_hole: ``[1,1,H,W]`` binary holes of t and t-1.
        inpainted, prev_inpainted: ``[1,3,H,W]`` P_t and P_{t-1}.
        estimator: callable ``(target, source) -> flow [1,2,H,W]``.
        completer: callable ``(flow, unknown) -> flow``.
        working_size: long side in pixels at which both flows are computed (0 = full resolution;
            values under :data:`FLOW_MIN_SIDE` are raised to it); larger frames are reduced to it
            (area mean, a reduced pixel is hole if any of its
            pixels is, ``hole_dilation`` scaled) and the flows (vectors rescaled) and confidences
            are brought back to the frame size, bilinearly.
        keep_working_size: return the flows at the working size (pixels of that size; see
            :func:`flow_storage_size`) instead of bringing them back.
    Returns:
        ``((F^P, confidence), (F^I, confidence))``, flows ``[1,2,H,W]``, confidences ``[1,1,H,W]``.
    """
    if not isinstance(working_size, int) or working_size < 0:
        raise ValueError(f"Robust Flow: working_size must be 0 (full resolution) or a positive number of pixels, "
                         f"got {working_size!r}.")
    size = tuple(inpainted.shape[-2:])
    small = flow_storage_size(*size, working_size)
    if small != size:
        reduced = [resize_image(x, small) for x in (inpainted, prev_inpainted)]
        holes = [shrink_hole(x, small) for x in (hole, prev_hole)]
        dilation = math.ceil(hole_dilation * small[1] / size[1])
        pairs = robust_flow_pair(reduced[0], reduced[1], holes[0], holes[1], reduced[0], reduced[1], estimator,
                                 completer, dilation)
        if keep_working_size:
            return pairs
        return tuple((resize_flow(flow, size), resize_image(conf, size).clamp(0.0, 1.0)) for flow, conf in pairs)
    raw = estimator(inpainted, prev_inpainted)
    measured = photometric_confidence(inpainted, prev_inpainted, raw)
    unknown = grow_hole(torch.maximum(hole, prev_hole), hole_dilation)
    flow_p_conf = measured * (1.0 - 0.5 * hole)  # inside the hole F^P follows the fill, not the scene
    flow_i = completer(raw, unknown)
    flow_i_conf = harmonic_fill(measured, unknown > 0.5, iterations=4)  # as trusted as the border it came from
    return (raw, flow_p_conf), (flow_i, flow_i_conf)
