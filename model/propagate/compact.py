"""Frames kept in host memory as 8-bit codes when that loses nothing (Flow Propagate's held frames, keyframes)."""
from __future__ import annotations

import torch


def compact(x: torch.Tensor) -> torch.Tensor:
    """``x`` in [0,1] as uint8 codes when ``codes / 255`` gives ``x`` back exactly (8-bit frames, 0/1 holes),
    else a copy of ``x``; :func:`expand` undoes it."""
    codes = (x * 255.0).round_()
    return codes.to(torch.uint8) if torch.equal(codes / 255.0, x) else x.clone()


def expand(stored: torch.Tensor) -> torch.Tensor:
    """The float32 values a :func:`compact` tensor (or a crop of one) stands for, as a new tensor in its
    memory layout (both functions keep the layout a frame came in)."""
    return stored.to(torch.float32) / 255.0 if stored.dtype == torch.uint8 else stored.clone()
