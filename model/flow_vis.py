"""Colour-wheel picture of a flow field (hue = direction, saturation = speed, white = still)."""
from __future__ import annotations

import math

import torch
from kornia.color import hsv_to_rgb


def flow_to_rgb(flow: torch.Tensor, max_magnitude: float = 0.0) -> torch.Tensor:
    """``flow [B,2,H,W]`` pixels -> ``[B,3,H,W]`` RGB in [0,1].

    ``max_magnitude`` (pixels) maps to full saturation; 0 uses the largest speed in each frame.
    """
    dx, dy = flow[:, 0], flow[:, 1]
    magnitude = torch.sqrt(dx * dx + dy * dy)
    scale = torch.full_like(magnitude[:, :1, :1], float(max_magnitude)) if max_magnitude > 0 else \
        magnitude.flatten(1).amax(1).view(-1, 1, 1)
    saturation = (magnitude / scale.clamp_min(1e-6)).clamp(0, 1)
    hue = torch.atan2(-dy, -dx) + math.pi  # [0, 2*pi]
    hsv = torch.stack((hue, saturation, torch.ones_like(hue)), 1)
    return hsv_to_rgb(hsv).clamp(0, 1)
