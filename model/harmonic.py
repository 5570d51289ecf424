"""Membrane (harmonic / Laplacian) interpolation of values inside a region from its border."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _relax(values: torch.Tensor, unknown: torch.Tensor, iterations: int) -> torch.Tensor:
    """Jacobi steps of the discrete Laplace equation inside ``unknown``; known values stay fixed."""
    for _ in range(iterations):
        padded = F.pad(values, (1, 1, 1, 1), mode="replicate")
        mean4 = 0.25 * (padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1] + padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:])
        values = torch.where(unknown, mean4, values)
    return values


def harmonic_fill(values: torch.Tensor, unknown: torch.Tensor, iterations: int = 12) -> torch.Tensor:
    """Fill ``values`` inside ``unknown`` so that the result is smooth and meets the border.

    Coarse to fine: the known values are averaged down a pyramid until the hole vanishes, then
    each level is upsampled as the starting guess and relaxed with a few Jacobi steps of the
    Laplace equation. Known values are returned unchanged.

    Args:
        values: ``[B,C,H,W]`` float (e.g. a flow field in pixels).
        unknown: ``[B,1,H,W]`` bool or 0/1, True where values must be filled.
        iterations: Jacobi steps per pyramid level.
    Returns:
        ``[B,C,H,W]`` float, equal to ``values`` where ``unknown`` is False. Where no value is
        known at all the result is 0.
    """
    unknown = unknown > 0.5 if unknown.dtype != torch.bool else unknown
    if not unknown.any():
        return values
    known = (~unknown).to(values.dtype)
    if known.sum() == 0:
        return torch.zeros_like(values)
    h, w = values.shape[-2:]
    if min(h, w) <= 4:
        mean = (values * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp_min(1e-6)
        guess = torch.where(unknown, mean.expand_as(values), values)
        return _relax(guess, unknown, iterations)
    weight = F.avg_pool2d(known, 2, ceil_mode=True)
    coarse = F.avg_pool2d(values * known, 2, ceil_mode=True) / weight.clamp_min(1e-6)
    coarse = harmonic_fill(coarse, weight <= 0, iterations)
    guess = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return _relax(torch.where(unknown, guess, values), unknown, iterations)
