"""Stage 1, Frame Inpaint: fill each frame's hole on its own (P_t in the paper)."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from .checks import keep_known

CLASSICAL_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


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
        if method not in CLASSICAL_METHODS:
            raise ValueError(f"Frame Inpaint: unknown method {method!r}; choose one of {sorted(CLASSICAL_METHODS)}.")
        self.flag = CLASSICAL_METHODS[method]
        self.radius = int(radius)

    def __call__(self, frame: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Fill ``frame`` ``[1,3,H,W]`` in [0,1] inside ``hole`` ``[1,1,H,W]`` (0/1) -> ``[1,3,H,W]``.

        Pixels outside the hole are returned bit-exact.
        """
        mask = to_uint8_mask(hole)
        if not mask.any():
            return frame
        filled = cv2.inpaint(to_uint8_image(frame), mask, self.radius, self.flag)
        result = torch.from_numpy(filled).permute(2, 0, 1)[None].to(frame.device, frame.dtype) / 255.0
        return keep_known(result, frame, hole)
