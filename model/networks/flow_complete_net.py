"""The flow completion network: a partial-convolution U-Net that fills flow inside a hole (F^I)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..harmonic import harmonic_fill
from ..resample import rescale_vectors, resize_flow, shrink_known, working_size
from .base import Network
from .config import NetworkConfig, check_kernel, check_widths, check_working_size
from .partial_conv import PConvUNet


@dataclass(frozen=True)
class FlowCompleteConfig(NetworkConfig):
    """Hyper-parameters of :class:`FlowCompleteNet`.

    Attributes:
        widths, first_kernel: as in the frame network's :class:`PConvUNet`.
        scale, max_side: working size (fraction of the flow size, long-side cap; 0 = none).
        min_std: floor (working-size pixels) of the per-instance flow scale, so a nearly
            still flow is not blown up into noise.
    """

    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    first_kernel: int = 5
    scale: float = 0.25
    max_side: int = 0
    min_std: float = 1.0

    def __post_init__(self):
        check_widths(self.widths)
        check_working_size(self.scale, self.max_side)
        check_kernel(self.first_kernel)
        if not self.min_std > 0:
            raise ValueError(f"min_std must be > 0, got {self.min_std!r}.")


def normalise_flow(flow: torch.Tensor, known: torch.Tensor,
                   min_std: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-instance flow normalisation over the known pixels.

    Args:
        flow: ``[B,2,H,W]`` pixels.
        known: ``[B,1,H,W]`` binary, 1 where the flow is trusted.
        min_std: floor of the scale.
    Returns:
        ``(normalised [B,2,H,W], mean [B,2,1,1], std [B,1,1,1])`` with
        ``normalised = (flow - mean) / std``; ``mean`` is per channel, ``std`` is one scale
        for both channels (directions are kept), both over known pixels only.
    """
    count = known.sum((2, 3), keepdim=True).clamp_min(1.0)
    mean = (flow * known).sum((2, 3), keepdim=True) / count
    var = (((flow - mean) ** 2) * known).sum((1, 2, 3), keepdim=True) / (2.0 * count)
    std = var.sqrt().clamp_min(min_std)
    return (flow - mean) / std, mean, std


class FlowCompleteNet(Network):
    """Complete a flow field inside a hole with a :class:`PConvUNet` at the working size.

    The flow is reduced to the working size (vectors rescaled) and normalised per instance
    (:func:`normalise_flow`); the U-Net input is the two normalised channels plus their mean
    as a third channel, with the known mask, as in the paper. Its prediction, de-normalised and
    brought back to the source size, is a correction added to the harmonic (Laplacian) fill of
    the hole from its border at the source size (:func:`model.harmonic.harmonic_fill`, the
    classical completion): smooth motion, which the harmonic fill already gets right to a
    fraction of a pixel, costs the network nothing, and it learns where the motion is not
    smooth. The result is used inside ``unknown`` only: known flow is returned exactly. An
    untrained network (last layer scaled by 0.01) gives nearly the harmonic fill.
    """

    ARCHITECTURE = "frvi.flow_complete.pconv_unet"
    VERSION = 2  # 2: the U-Net's output corrects the harmonic fill (1: it was the flow itself)
    KIND = "flow_complete"
    Config = FlowCompleteConfig

    def __init__(self, config: FlowCompleteConfig | None = None):
        super().__init__(config)
        self.unet = PConvUNet(3, 2, self.config.widths, self.config.first_kernel)
        last = self.unet.decoder[-1]
        with torch.no_grad():  # start near the harmonic fill: a small correction (0 would stop the gradients)
            last.conv.weight.mul_(0.01)
            if last.bias is not None:
                last.bias.zero_()

    def forward(self, flow: torch.Tensor, unknown: torch.Tensor) -> torch.Tensor:
        """``flow`` ``[B,2,H,W]`` pixels, ``unknown`` ``[B,1,H,W]`` binary -> completed ``[B,2,H,W]`` pixels.

        Equal to ``flow`` (exactly) where ``unknown`` is 0.
        """
        size = working_size(*flow.shape[-2:], self.config.scale, self.config.max_side)
        small, small_unknown = shrink_known(flow, unknown, size)
        small = rescale_vectors(small, tuple(flow.shape[-2:]), size)
        known = 1.0 - small_unknown
        normalised, mean, std = normalise_flow(small, known, self.config.min_std)
        x = torch.cat((normalised, normalised.mean(1, keepdim=True)), 1)
        correction = resize_flow(self.unet(x, known) * std, tuple(flow.shape[-2:]))
        guess = harmonic_fill(flow, unknown > 0.5, iterations=20)  # at the source size: the Laplacian completion
        return torch.where(unknown > 0.5, guess + correction, flow)
