"""Mask operations: binary grow/shrink and Gaussian feathering, frame by frame."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from kornia.filters import gaussian_blur2d

from .checks import HOLE_THRESHOLD


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def grow_hole(hole: torch.Tensor, pixels: int) -> torch.Tensor:
    """Dilate (``pixels > 0``) or erode (``pixels < 0``) a hole by a disk of ``|pixels|``.

    Args:
        hole: ``[B,1,H,W]`` in [0,1]; thresholded at 0.5 first.
        pixels: radius in pixels; 0 returns the thresholded mask.
    Returns:
        ``[B,1,H,W]`` float32 of 0/1 on the device of ``hole``.
    """
    binary = (hole >= HOLE_THRESHOLD)
    if pixels == 0:
        return binary.to(torch.float32)
    kernel = _disk(abs(pixels))
    op = cv2.dilate if pixels > 0 else cv2.erode
    out = [torch.from_numpy(op(m[0].cpu().numpy().astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE))
           for m in binary]
    return torch.stack(out)[:, None].to(device=hole.device, dtype=torch.float32)


def feather(mask: torch.Tensor, radius: float) -> torch.Tensor:
    """Soften mask edges with a Gaussian of sigma ``radius / 2``; ``[B,1,H,W]`` in [0,1] -> same.

    ``radius <= 0`` returns the mask unchanged.
    """
    if radius <= 0:
        return mask
    sigma = radius / 2.0
    size = 2 * int(np.ceil(2 * sigma)) + 1
    return gaussian_blur2d(mask, (size, size), (sigma, sigma), border_type="replicate").clamp(0.0, 1.0)


def hole_radius(hole: torch.Tensor) -> float:
    """Radius (pixels) of the largest disk inside a hole ``[1,H,W]`` or ``[H,W]`` (>= 0.5 = hole): its half-thickness.

    0 for an empty hole; the distance from the widest hole pixel to the nearest known pixel
    (the frame's border does not count as known).
    """
    binary = (hole.detach().reshape(hole.shape[-2:]) >= HOLE_THRESHOLD).cpu().numpy().astype(np.uint8)
    if not binary.any():
        return 0.0
    if binary.all():
        return float(max(binary.shape))
    padded = cv2.copyMakeBorder(binary, 1, 1, 1, 1, cv2.BORDER_REPLICATE)  # the border is not a known pixel
    return float(cv2.distanceTransform(padded, cv2.DIST_L2, 5).max())
