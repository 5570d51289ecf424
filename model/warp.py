"""The one warp function of the pack: backward warping along a flow field."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.geometry import create_meshgrid

from .checks import check_shape


def warp(image: torch.Tensor, flow: torch.Tensor, padding: str = "border",
         mode: str = "bilinear") -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``image`` at ``x + flow(x)`` with bilinear (or bicubic) interpolation.

    Args:
        image: ``[B,C,H,W]`` any float values (frames, hidden state, masks).
        flow: ``[B,2,H,W]`` float32 pixels; channel 0 = x, 1 = y. With the pack's backward
            convention (``flow[t]``: frame t -> frame t-1), ``warp(frame[t-1], flow[t])``
            is frame t as seen from frame t-1.
        padding: ``"border"`` repeats edge pixels, ``"zeros"`` fills outside with 0.
        mode: ``"bilinear"``, or ``"bicubic"`` (sharper: a 4x4 footprint, values may overshoot the image's range).

    Returns:
        ``(warped [B,C,H,W], valid [B,1,H,W])``; ``valid`` is 1.0 where the sample point lies
        inside the image and 0.0 where it fell outside.

    >>> warp(torch.rand(1, 3, 4, 5), torch.zeros(1, 2, 4, 5))[0].shape
    torch.Size([1, 3, 4, 5])
    """
    sizes = check_shape(image, "B C H W", "warp: image", "an image")
    check_shape(flow, "B 2 H W", "warp: flow", "a flow of the image's batch and size", bound=sizes)
    _, _, h, w = image.shape
    grid = create_meshgrid(h, w, normalized_coordinates=False, device=flow.device, dtype=flow.dtype)
    points = grid + flow.permute(0, 2, 3, 1)  # [B,H,W,2] absolute (x, y)
    x, y = points[..., 0], points[..., 1]
    valid = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).unsqueeze(1).to(image.dtype)
    normalised = torch.stack((2.0 * x / max(w - 1, 1) - 1.0, 2.0 * y / max(h - 1, 1) - 1.0), dim=-1)
    warped = F.grid_sample(image, normalised.to(image.dtype), mode=mode, padding_mode=padding,
                           align_corners=True)
    return warped, valid
