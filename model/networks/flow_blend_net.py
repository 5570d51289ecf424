"""The flow blending network H_f: F = ½(F^P + F^I + H_f(F^P, F^I))."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..resample import pad_to_multiple, resize_flow, resize_image, working_size
from .base import Network, memory_format_of
from .config import NetworkConfig, check_widths, check_working_size


@dataclass(frozen=True)
class FlowBlendConfig(NetworkConfig):
    """Hyper-parameters of :class:`FlowBlendNet`.

    Attributes:
        widths: channels of the three encoder convs (full, 1/2, 1/4 of the working size).
        use_confidence: also feed the two flows' confidences (6 input channels instead of 4).
        scale, max_side: working size (fraction of the flow size, long-side cap; 0 = none).
        min_std: floor (working-size pixels) of the per-instance flow scale.
    """

    widths: tuple[int, int, int] = (16, 32, 64)
    use_confidence: bool = True
    scale: float = 0.25
    max_side: int = 0
    min_std: float = 1.0

    def __post_init__(self):
        check_widths(self.widths)
        if len(self.widths) != 3:
            raise ValueError(f"widths must have 3 entries (the 6-conv U-Net), got {self.widths!r}.")
        check_working_size(self.scale, self.max_side)
        if not self.min_std > 0:
            raise ValueError(f"min_std must be > 0, got {self.min_std!r}.")


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, 1)


class FlowBlendNet(Network):
    """H_f: a 6-convolution U-Net predicting a residual for the mean of the two flows.

    Convs: ``enc1`` (stride 1), ``enc2``, ``enc3`` (stride 2 each), ``dec2``, ``dec1``
    (nearest x2 + skip concatenation), ``head`` (to 2 channels, no activation). Flows are
    normalised per instance by the mean and spread of ½(F^P + F^I), so the network sees the
    same numbers for slow and fast motion; its residual is scaled back to pixels.
    """

    ARCHITECTURE = "frvi.flow_blend.unet6"
    VERSION = 1
    KIND = "flow_blend"
    Config = FlowBlendConfig

    def __init__(self, config: FlowBlendConfig | None = None):
        super().__init__(config)
        c1, c2, c3 = self.config.widths
        self.enc1 = _conv(6 if self.config.use_confidence else 4, c1)
        self.enc2 = _conv(c1, c2, stride=2)
        self.enc3 = _conv(c2, c3, stride=2)
        self.dec2 = _conv(c3 + c2, c2)
        self.dec1 = _conv(c2 + c1, c1)
        self.head = _conv(c1, 2)
        with torch.no_grad():  # H_f starts near 0: the blend starts as the plain average ½(F^P + F^I)
            self.head.weight.mul_(0.01)
            self.head.bias.zero_()

    def residual(self, flow_p: torch.Tensor, flow_i: torch.Tensor, conf_p: torch.Tensor | None = None,
                 conf_i: torch.Tensor | None = None) -> torch.Tensor:
        """H_f(F^P, F^I) at the size of the inputs: flows ``[B,2,h,w]`` pixels, confidences
        ``[B,1,h,w]`` in [0,1] (needed when ``use_confidence``) -> residual ``[B,2,h,w]`` pixels."""
        mean_flow = 0.5 * (flow_p + flow_i)
        centre = mean_flow.mean((2, 3), keepdim=True)
        std = mean_flow.sub(centre).square().mean((1, 2, 3), keepdim=True).sqrt().clamp_min(self.config.min_std)
        inputs = [(flow_p - centre) / std, (flow_i - centre) / std]
        if self.config.use_confidence:
            if conf_p is None or conf_i is None:
                raise ValueError("FlowBlendNet: this network was built with use_confidence=True; "
                                 "pass conf_p and conf_i.")
            inputs += [conf_p, conf_i]
        x, (h, w) = pad_to_multiple(torch.cat(inputs, 1), 4)
        x = x.contiguous(memory_format=memory_format_of(self))
        e1 = F.relu(self.enc1(x))
        e2 = F.relu(self.enc2(e1))
        e3 = F.relu(self.enc3(e2))
        d2 = F.relu(self.dec2(torch.cat((F.interpolate(e3, scale_factor=2.0, mode="nearest"), e2), 1)))
        d1 = F.relu(self.dec1(torch.cat((F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1), 1)))
        return self.head(d1)[..., :h, :w] * std

    def forward(self, flow_p: torch.Tensor, flow_i: torch.Tensor, conf_p: torch.Tensor | None = None,
                conf_i: torch.Tensor | None = None) -> torch.Tensor:
        """F = ½(F^P + F^I + H_f(F^P, F^I)) for flows ``[B,2,H,W]`` (pixels) and confidences
        ``[B,1,H,W]`` in [0,1] -> ``[B,2,H,W]`` pixels.

        H_f runs at the working size; its residual is upsampled (vectors rescaled) to the
        flow size, so F^P and F^I enter the sum at full resolution.
        """
        size = tuple(flow_p.shape[-2:])
        small = working_size(*size, self.config.scale, self.config.max_side)
        confs = (None, None) if conf_p is None or conf_i is None else \
            (resize_image(conf_p, small), resize_image(conf_i, small))
        residual = self.residual(resize_flow(flow_p, small), resize_flow(flow_i, small), *confs)
        return (flow_p + flow_i).add_(resize_flow(residual, size)).mul_(0.5)
