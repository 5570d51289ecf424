"""Loss terms of the staged training, each a function of tensors with stated shapes.

Spatial terms (the frame network in stage 1, and the refiner's outputs in stage 3):

* :func:`masked_l1`: L1 over a region, the paper's hole and valid terms.
* :func:`structure_loss`: in place of the paper's VGG perceptual loss, which needs pretrained
  VGG weights this project cannot download: ``1 - SSIM`` (7x7 window) plus the L1 of image
  gradients, both inside the (slightly grown) hole. SSIM compares local means, contrasts and
  correlations, so a flat mean-colour fill that L1 rewards scores badly; the gradient term asks
  edges to continue into the hole. Both are cheap on a CPU.
* :func:`total_variation`: smoothness of the fill at the hole, against checkerboard noise.

Flow terms: :func:`flow_l1` (per-sample normalised L1 inside the hole) and
:func:`end_point_error`.

Temporal terms (the recurrent stage): :func:`warping_loss` compares an output with an earlier
output carried along the true flow (the paper's short-term term between consecutive frames and
long-term term against the window's first frame, whose flow :func:`compose_flow` chains);
:func:`consistent_region` keeps only pixels the flow really connects (occluded or
disoccluded pixels, whose colour changes along the flow in the clean frames, are left out).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from kornia.filters import spatial_gradient
from kornia.metrics import ssim as ssim_map

from model.networks.flow_complete_net import normalise_flow
from model.warp import warp


def masked_l1(output: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over ``region``: ``output``/``target`` ``[B,C,H,W]``, ``region`` ``[B,1,H,W]`` in [0,1].

    ``sum(|output - target| * region) / (C * sum(region))``; 0 when the region is empty.

    >>> masked_l1(torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), torch.tensor([[[[1., 0.], [0., 0.]]]]))
    tensor(1.)
    """
    weight = region.expand_as(output)
    return ((output - target).abs() * weight).sum() / weight.sum().clamp_min(1.0)


def structure_loss(output: torch.Tensor, target: torch.Tensor, region: torch.Tensor,
                   window: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    """``(1 - SSIM, gradient L1)`` over ``region``; images ``[B,3,H,W]`` in [0,1], ``region`` ``[B,1,H,W]``.

    Both are 0 for ``output == target``.
    """
    similarity = ssim_map(output, target, window, padding="same")
    dissimilarity = masked_l1(similarity, torch.ones_like(similarity), region)
    gradient = masked_l1(spatial_gradient(output).flatten(1, 2), spatial_gradient(target).flatten(1, 2), region)
    return dissimilarity, gradient


def total_variation(image: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels where either lies in ``region``.

    ``image`` ``[B,C,H,W]``, ``region`` ``[B,1,H,W]`` in [0,1]; 0 for a constant image.
    """
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs()
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs()
    rx = torch.maximum(region[..., :, 1:], region[..., :, :-1])
    ry = torch.maximum(region[..., 1:, :], region[..., :-1, :])
    return masked_l1(dx, torch.zeros_like(dx), rx) + masked_l1(dy, torch.zeros_like(dy), ry)


def grow(region: torch.Tensor, pixels: int) -> torch.Tensor:
    """Dilate a 0/1 ``[B,1,H,W]`` region by a square of ``2 * pixels + 1`` (differentiable-free, on any device)."""
    return F.max_pool2d(region, 2 * pixels + 1, 1, pixels) if pixels > 0 else region


def flow_scale(flow: torch.Tensor, known: torch.Tensor, floor: float = 1.0) -> torch.Tensor:
    """Per-sample scale of a flow ``[B,2,H,W]`` over ``known`` ``[B,1,H,W]``: std of the vectors, at least ``floor``.

    Returns ``[B,1,1,1]``; dividing errors by it makes fast and slow motion count alike.
    """
    return normalise_flow(flow, known, floor)[2]  # the flow network's own per-instance scale


def flow_l1(output: torch.Tensor, target: torch.Tensor, region: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """L1 of flows ``[B,2,H,W]`` over ``region`` ``[B,1,H,W]``, each sample divided by its ``scale`` ``[B,1,1,1]``."""
    return masked_l1(output / scale, target / scale, region)


def end_point_error(output: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance (pixels) between flows ``[B,2,H,W]`` over ``region`` ``[B,1,H,W]``.

    >>> end_point_error(torch.zeros(1, 2, 1, 1), torch.tensor([[[[3.]], [[4.]]]]), torch.ones(1, 1, 1, 1))
    tensor(5.)
    """
    distance = (output - target).norm(dim=1, keepdim=True)
    return (distance * region).sum() / region.sum().clamp_min(1.0)


def consistent_region(target: torch.Tensor, source: torch.Tensor, flow: torch.Tensor,
                      tolerance: float = 0.06) -> torch.Tensor:
    """Where ``flow`` connects the clean frames: ``[B,1,H,W]`` 1.0 where ``warp(source, flow)`` matches ``target``.

    ``target``/``source`` ``[B,3,H,W]`` in [0,1], ``flow`` ``[B,2,H,W]`` (target -> source, pixels).
    A pixel counts when its mean absolute colour error is under ``tolerance`` and its source
    point lies inside the frame: occluded pixels fail the colour test.
    """
    warped, valid = warp(source, flow)
    return ((warped - target).abs().mean(1, keepdim=True) < tolerance).to(target.dtype) * valid


def warping_loss(output: torch.Tensor, earlier: torch.Tensor, flow: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """L1 between ``output`` and ``earlier`` carried to it along ``flow``, over ``region`` (where the warp is valid).

    ``output``/``earlier`` ``[B,3,H,W]``, ``flow`` ``[B,2,H,W]`` (output's frame -> earlier's frame,
    pixels), ``region`` ``[B,1,H,W]`` in [0,1]. 0 for a static scene with ``flow = 0``.

    >>> frame = torch.arange(8.).view(1, 1, 1, 8).expand(1, 3, 4, 8) / 8
    >>> round(float(warping_loss(frame, frame, torch.zeros(1, 2, 4, 8), torch.ones(1, 1, 4, 8))), 6)
    0.0
    """
    carried, valid = warp(earlier, flow)
    return masked_l1(output, carried, region * valid)


def compose_flow(flow: torch.Tensor, earlier_flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Chain backward flows: frame t -> t-1 (``flow``) and t-1 -> s (``earlier_flow``) give t -> s.

    Both ``[B,2,H,W]`` pixels; returns ``(flow t -> s [B,2,H,W], valid [B,1,H,W])``, valid 0
    where the chain leaves the frame.

    >>> shift = torch.ones(1, 2, 4, 4)
    >>> compose_flow(shift, shift)[0][0, :, 1, 1].tolist()
    [2.0, 2.0]
    """
    carried, valid = warp(earlier_flow, flow)
    return flow + carried, valid


@dataclass
class WeightedLoss:
    """A weighted sum of named terms: ``terms`` maps a name to ``(weight, fn(batch, outputs) -> scalar)``."""

    terms: dict[str, tuple[float, Callable[[dict, dict], torch.Tensor]]]

    def __call__(self, batch: dict, outputs: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """``(total, {name: value})``; terms of weight 0 are skipped."""
        total, values = 0.0, {}
        for name, (weight, fn) in self.terms.items():
            if weight:
                value = fn(batch, outputs)
                total = total + weight * value
                values[name] = float(value.detach())
        return total, values
