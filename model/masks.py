"""Mask operations: fitting a mask to the frames, binary grow/shrink and Gaussian feathering, frame by frame."""
from __future__ import annotations

import warnings

import cv2
import numpy as np
import torch
from kornia.filters import gaussian_blur2d

from .checks import HOLE_THRESHOLD
from .native import resize

Box = tuple[int, int, int, int]  # y0, y1, x0, x1 (end exclusive)
ASPECT_TOLERANCE = 0.02  # masks whose width/height is within 2 % of the frames' count as the same aspect ratio


def mask_needs_resize(mask_size: tuple[int, int], frame_size: tuple[int, int], name: str = "hole",
                      what: str = "mask") -> bool:
    """Whether a mask of ``mask_size`` ``(w, h)`` must be resized to frames of ``frame_size`` ``(W, H)``.

    False at the frame size, True at another size of the same aspect ratio (within
    :data:`ASPECT_TOLERANCE`); raises ValueError naming both sizes for another aspect ratio.

    >>> mask_needs_resize((32, 24), (64, 48))
    True
    """
    (w, h), (width, height) = mask_size, frame_size
    if (w, h) == (width, height):
        return False
    if min(w, h) < 1 or abs(w / h - width / height) > ASPECT_TOLERANCE * width / height:
        raise ValueError(f"{name}: {what} is {w}x{h} but frames are {width}x{height}, another aspect ratio; make the "
                         f"{what} at the frame size (a {what} of the frames' aspect ratio is resized to them).")
    return True


def fit_hole(hole: torch.Tensor, height: int, width: int, name: str = "hole", warn: bool = True) -> torch.Tensor:
    """A hole ``[T,1,h,w]`` (T >= 0, values as given) brought to the frames' ``H x W``.

    At the frame size the tensor is returned as it is. At another size of the same aspect ratio
    every mask is resized by nearest neighbour (values copied, not blended, so the 0.5 threshold
    later sees the mask's own values) with one warning unless ``warn`` is False. Another aspect
    ratio raises ValueError naming both sizes (:func:`mask_needs_resize`).

    >>> fit_hole(torch.ones(2, 1, 24, 32), 48, 64, warn=False).shape  # a half-size mask
    torch.Size([2, 1, 48, 64])
    """
    h, w = hole.shape[-2:]
    if hole.shape[0] == 0 or min(height, width) < 1 or not mask_needs_resize((w, h), (width, height), name):
        return hole  # empty batches and frames are refused later, by model.checks
    if warn:
        warnings.warn(f"{name}: mask is {w}x{h}, frames are {width}x{height}; resizing the mask (nearest "
                      "neighbour).", stacklevel=3)
    masks = hole.detach().to("cpu", torch.float32).numpy()[:, 0]
    resized = np.stack([resize(mask, (width, height), cv2.INTER_NEAREST) for mask in masks])
    return torch.from_numpy(resized)[:, None].to(device=hole.device, dtype=hole.dtype)


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


def box_of(mask: torch.Tensor) -> Box:
    """Bounding box ``(y0, y1, x0, x1)`` of the True pixels of a ``[H,W]`` bool mask (not empty)."""
    rows, cols = torch.nonzero(mask.any(1)), torch.nonzero(mask.any(0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def grow_box(box: Box, margin: int, size: tuple[int, int]) -> Box:
    """``box`` ``(y0, y1, x0, x1)`` grown by ``margin`` pixels each side, clipped to a frame of ``size`` ``(H, W)``."""
    y0, y1, x0, x1 = box
    height, width = size
    return max(y0 - margin, 0), min(y1 + margin, height), max(x0 - margin, 0), min(x1 + margin, width)


def box_index(box: Box, margin: int, size: tuple[int, int]) -> tuple:
    """The index on ``[...,H,W]`` tensors of ``box`` grown by ``margin`` pixels (:func:`grow_box`)."""
    y0, y1, x0, x1 = grow_box(box, margin, size)
    return Ellipsis, slice(y0, y1), slice(x0, x1)
