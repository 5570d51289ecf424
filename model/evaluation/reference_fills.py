"""Fills of known quality, to check that a metric ranks them the way the eye does before trusting it.

:func:`reference_fills` fills the hole of ground-truth frames five ways, from best to worst to the eye:

1. ``truth``: the ground truth itself (distance 0).
2. ``shifted``: the truth moved by ``shift`` pixels (default 6 right and 6 down, 8.5 px) inside the hole: sharp,
   plausible texture in the wrong place. PSNR punishes it hard.
3. ``blur``: the truth blurred with a Gaussian of sigma 6 px (OpenCV, reflected borders): the right colours, no
   detail. PSNR likes it best after the truth.
4. ``telea``: per-frame OpenCV Telea (radius 5) from the known pixels only: a smooth guess.
5. ``flat``: each frame's mean colour of the truth over its hole: the smear that minimises the MSE among constant
   fills.

Outside the hole every fill keeps the truth. ``tests/test_feature_distance.py`` checks the order with the
deep-feature distance on the demo clip.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

RANKING = ("truth", "shifted", "blur", "telea", "flat")
"""The order a metric of visual difference should give (best first)."""


def centred_rectangle(num_frames: int, height: int, width: int, fraction: float = 0.5) -> torch.Tensor:
    """A centred rectangle of ``fraction`` of each side on every frame -> hole ``[T,1,H,W]`` (0/1)."""
    hole = torch.zeros(num_frames, 1, height, width)
    rh, rw = round(fraction * height), round(fraction * width)
    top, left = (height - rh) // 2, (width - rw) // 2
    hole[..., top:top + rh, left:left + rw] = 1.0
    return hole


def _to_uint8(frame: torch.Tensor) -> np.ndarray:
    return (frame.permute(1, 2, 0).clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8)


def _from_uint8(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255.0


def reference_fills(target: torch.Tensor, hole: torch.Tensor, shift: tuple[int, int] = (6, 6),
                    sigma: float = 6.0) -> dict[str, torch.Tensor]:
    """The five fills of :data:`RANKING` for ``target`` ``[T,3,H,W]`` in [0,1] and ``hole`` ``[T|1,1,H,W]`` ->
    name -> ``[T,3,H,W]``. ``shift`` = (dx, dy): a hole pixel (x, y) takes the truth at (x + dx, y + dy) (clamped
    to the frame)."""
    t_len, _, h, w = target.shape
    mask = (hole >= 0.5).expand(t_len, 1, h, w)
    dx, dy = shift
    ys = (torch.arange(h) + dy).clamp(0, h - 1)
    xs = (torch.arange(w) + dx).clamp(0, w - 1)
    shifted = target[:, :, ys][..., xs]
    blurred, telea, flat = [], [], []
    for t in range(t_len):
        frame = _to_uint8(target[t])
        hole_u8 = mask[t, 0].numpy().astype(np.uint8) * 255
        blurred.append(_from_uint8(cv2.GaussianBlur(frame, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)))
        telea.append(_from_uint8(cv2.inpaint(np.where(hole_u8[..., None] > 0, 128, frame).astype(np.uint8),
                                             hole_u8, 5, cv2.INPAINT_TELEA)))
        inside = mask[t, 0]
        colour = target[t][:, inside].mean(1) if inside.any() else torch.zeros(3)
        flat.append(colour.view(3, 1, 1).expand(3, h, w))
    fills = {"truth": target, "shifted": shifted, "blur": torch.stack(blurred), "telea": torch.stack(telea),
             "flat": torch.stack(flat)}
    return {name: torch.where(mask, fill, target) for name, fill in fills.items()}
