"""Stage 1, Frame Inpaint: fill each frame's hole on its own (P_t in the paper)."""
from __future__ import annotations

import numpy as np
import torch

from ..checks import keep_known
from ..native import EXEMPLAR_MAX_SIDE, check_exemplar_available, check_inpaint_args, exemplar_inpaint, inpaint
from ..resample import resize_image, shrink_known, working_size
from .detail_copy import copy_at_source_size
from .patch_fill import PatchTexture


def to_uint8_image(frame: torch.Tensor) -> np.ndarray:
    """``[1,3,H,W]`` or ``[3,H,W]`` float in [0,1] -> ``H x W x 3`` uint8 RGB array."""
    frame = frame.reshape(3, *frame.shape[-2:])
    return (frame.detach().float().cpu().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()


def to_uint8_mask(hole: torch.Tensor) -> np.ndarray:
    """``[1,1,H,W]`` binary float -> ``H x W`` uint8 (255 = hole)."""
    return (hole.reshape(hole.shape[-2:]).detach().cpu() > 0.5).to(torch.uint8).numpy() * 255


class ClassicalFrameInpainter:
    """Fill a hole with OpenCV's Telea or Navier-Stokes diffusion (no weights).

    Args:
        method: ``"telea"`` or ``"ns"``.
        radius: neighbourhood radius in pixels that the fill looks at (OpenCV's inpaintRadius).
    """

    def __init__(self, method: str = "telea", radius: int = 5):
        check_inpaint_args(method, radius)  # at construction, before any frame
        self.method = method
        self.radius = int(radius)

    def __call__(self, frame: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Fill ``frame`` ``[1,3,H,W]`` in [0,1] inside ``hole`` ``[1,1,H,W]`` (0/1) -> ``[1,3,H,W]``.

        Pixels outside the hole are returned bit-exact.
        """
        mask = to_uint8_mask(hole)
        if not mask.any():
            return frame
        filled = inpaint(to_uint8_image(frame), mask, self.radius, self.method)
        result = torch.from_numpy(filled).permute(2, 0, 1)[None].to(frame.device, frame.dtype) / 255.0
        return keep_known(result, frame, hole)


EXEMPLAR_WORKING_SIZE = 432
"""Long side at which ``"exemplar"`` fills when no working size is given: 1.3-6 s a frame there (2 shared CPU cores)."""


class ExemplarFrameInpainter:
    """Fill a hole with real texture copied from the frame: OpenCV contrib's shift-map (no weights).

    Diffusion (Telea, NS) and the networks average the surroundings into a smooth fill; the shift-map
    copies whole patches along the frame's dominant self-similar offsets, so regular texture (hedge,
    pavement, stripes) continues sharply into the hole. On a large hole it may paste whole objects of
    the frame, and it takes seconds a frame: a fill for keyframes at a working size
    (:data:`EXEMPLAR_WORKING_SIZE`, see :func:`model.stages.frame_inpainter`). Frames with no known
    pixel or a side under 32 pixels get Telea's fill (:func:`model.native.exemplar_inpaint`).

    Args:
        radius: Telea's radius for what the shift-map cannot fill.
    Raises ValueError at construction when OpenCV lacks the contrib module ``xphoto``.
    """

    def __init__(self, radius: int = 5):
        check_exemplar_available()  # at construction, before any frame
        check_inpaint_args("telea", radius)
        self.radius = int(radius)

    def __call__(self, frame: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Fill ``frame`` ``[1,3,H,W]`` in [0,1] inside ``hole`` ``[1,1,H,W]`` (0/1) -> ``[1,3,H,W]``.

        Pixels outside the hole are returned bit-exact; a long side over ``EXEMPLAR_MAX_SIDE`` (800) is
        refused (ValueError): wrap it in a :class:`WorkingSizeInpainter`.
        """
        mask = to_uint8_mask(hole)
        if not mask.any():
            return frame
        filled = exemplar_inpaint(to_uint8_image(frame), mask, self.radius)
        result = torch.from_numpy(filled).permute(2, 0, 1)[None].to(frame.device, frame.dtype) / 255.0
        return keep_known(result, frame, hole)


def exemplar_inpainter(radius: int = 5, long_side: int = 0) -> "WorkingSizeInpainter":
    """The exemplar fill at a working size of ``long_side`` pixels: 0 = :data:`EXEMPLAR_WORKING_SIZE`, and
    sizes over ``EXEMPLAR_MAX_SIDE`` (800, where OpenCV's shift-map is not safe) are reduced to it. On larger
    frames its copies are redone from the source-size frame (``copy_detail``, :mod:`model.stages.detail_copy`)."""
    if isinstance(long_side, int) and long_side >= 0:  # anything else: WorkingSizeInpainter's ValueError
        long_side = min(long_side or EXEMPLAR_WORKING_SIZE, EXEMPLAR_MAX_SIDE)
    return WorkingSizeInpainter(ExemplarFrameInpainter(radius), long_side, copy_detail=True)


def patch_inpainter(guide, long_side: int = 0) -> "WorkingSizeInpainter":
    """The patch-based completion (:mod:`model.stages.patch_fill`, no OpenCV contrib) started from ``guide`` (a
    per-frame inpainter), at a working size of ``long_side`` pixels (0 = :data:`EXEMPLAR_WORKING_SIZE`), its copies
    redone from the source-size frame (``copy_detail``)."""
    return WorkingSizeInpainter(PatchTexture(guide), long_side or EXEMPLAR_WORKING_SIZE, copy_detail=True)


class WorkingSizeInpainter:
    """Run a per-frame inpainter at a reduced working size and bring its fill back to the source size.

    The frame is reduced so its long side is ``long_side`` pixels (never enlarged), the hole
    grows to cover every small pixel that touches it, the wrapped inpainter fills it there, the
    fill is upsampled (bilinear) and every known pixel of the source frame is kept bit-exact.
    Frames already within ``long_side`` go to the wrapped inpainter unchanged.

    Args:
        inpainter: ``(frame [1,3,h,w] in [0,1], hole [1,1,h,w] 0/1) -> [1,3,h,w]``.
        long_side: working size's long side in pixels (> 0).
        copy_detail: the wrapped inpainter copies known pixels into the hole (the exemplar fill): each copy is
            found again and redone from the source-size frame (:mod:`model.stages.detail_copy`), so the fill keeps
            the source's fine texture instead of the upsampled one.
    """

    def __init__(self, inpainter, long_side: int, copy_detail: bool = False):
        if not isinstance(long_side, int) or long_side <= 0:
            raise ValueError(f"Frame Inpaint: working_size must be a positive number of pixels, got {long_side!r}.")
        self.inpainter = inpainter
        self.long_side = long_side
        self.copy_detail = copy_detail

    def __call__(self, frame: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Fill ``frame`` ``[1,3,H,W]`` in [0,1] inside ``hole`` ``[1,1,H,W]`` (0/1) -> ``[1,3,H,W]``."""
        size = working_size(*frame.shape[-2:], 1.0, self.long_side)
        if size == tuple(frame.shape[-2:]):
            return self.inpainter(frame, hole)
        if not bool((hole > 0.5).any()):
            return frame
        small, small_hole = shrink_known(frame, (hole > 0.5).to(frame.dtype), size)
        small_fill = self.inpainter(small, small_hole)
        fill = keep_known(resize_image(small_fill, tuple(frame.shape[-2:])).clamp(0.0, 1.0), frame, hole)
        if self.copy_detail:
            fill = copy_at_source_size(frame, hole, small_fill, small_hole, fill)
        return fill
