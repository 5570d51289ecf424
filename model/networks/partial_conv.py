"""Partial convolutions (Liu et al. 2018) and the U-Net built from them.

A partial convolution sees only valid pixels: with ``M`` the binary validity mask
(1 = valid) under a ``k x k`` window,

    x' = W^T (X ⊙ M) · sum(1) / sum(M) + b    if sum(M) > 0, else 0
    m' = 1                                    if sum(M) > 0, else 0

so the response is renormalised by the valid fraction of the window, and the mask grows
layer by layer until the hole is gone. Masks here are single-channel (one mask shared by all
feature channels); zero padding at the image border counts as invalid.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..resample import pad_to_multiple
from .base import memory_format_of


class PartialConv2d(nn.Module):
    """Mask-aware 2-D convolution with a single-channel mask (see module docstring).

    Args:
        in_channels, out_channels: feature channels.
        kernel_size: odd window size ``k``; padding is ``k // 2``.
        stride: 1 or 2.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 bias: bool = True):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"PartialConv2d: kernel_size must be odd, got {kernel_size}.")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, kernel_size // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, self.padding, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor,
                masked_input: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``[B,C,H,W]``, binary ``mask`` ``[B,1,H,W]`` (1 = valid) -> ``(x' [B,C',H',W'], m' [B,1,H',W'])``.

        ``H' = ceil(H / stride)`` for even padding; ``x'`` is 0 where ``m'`` is 0.
        ``masked_input=True`` promises that ``x`` is already 0 where ``mask`` is 0 (true inside
        :class:`PConvUNet` after its first layer) and skips the product ``X ⊙ M``.
        """
        with torch.no_grad():
            valid = F.avg_pool2d(mask, self.kernel_size, self.stride, self.padding,
                                 count_include_pad=True, divisor_override=1)  # sum(M): a whole count per window
            new_mask = valid.clamp(max=1.0)  # 1 where the window saw a valid pixel, else 0
            ratio = ((self.kernel_size ** 2) / valid).nan_to_num_(posinf=0.0)  # sum(1) / sum(M), 0 where no valid
            # skipping "* new_mask" where every window saw a valid pixel saves a pass on the CPU; on a GPU the
            # check would wait for the device every layer, and multiplying by an all-ones mask changes nothing
            all_new_valid = mask.device.type == "cpu" and valid.min().item() > 0.5
        out = self.conv(x if masked_input else x * mask)
        if self.bias is None:
            return out * ratio, new_mask
        out = torch.addcmul(self.bias.view(1, -1, 1, 1), out, ratio)  # W^T(X⊙M)·sum(1)/sum(M) + b
        return (out if all_new_valid else out * new_mask), new_mask


class PConvUNet(nn.Module):
    """U-Net of partial convolutions (the paper's frame and flow inpainting networks).

    Encoder: ``len(widths)`` stride-2 partial convs (``first_kernel`` for the first, 3x3 after),
    ReLU. Decoder, deepest first: nearest x2 upsampling of features and mask, concatenation
    with the encoder features of that level (mask = union of both masks), a 3x3 partial conv
    and LeakyReLU(0.2). The last layer concatenates the network input and maps to
    ``out_channels`` with no activation. Any size: the input is zero-padded (as invalid pixels)
    to a multiple of ``2 ** len(widths)`` and the output cropped back.

    Args:
        in_channels: channels of the (masked) input.
        out_channels: channels of the output.
        widths: encoder widths, one per level (also the decoder widths, mirrored).
        first_kernel: window of the first encoder layer.
    """

    def __init__(self, in_channels: int, out_channels: int, widths: tuple[int, ...], first_kernel: int = 5):
        super().__init__()
        self.multiple = 2 ** len(widths)
        ins = (in_channels,) + tuple(widths[:-1])
        self.encoder = nn.ModuleList(
            PartialConv2d(c_in, c_out, first_kernel if level == 0 else 3, stride=2)
            for level, (c_in, c_out) in enumerate(zip(ins, widths)))
        skips = ins[::-1]  # encoder input of each level, deepest first
        deep = tuple(widths[::-1])
        outs = skips[:-1] + (out_channels,)
        self.decoder = nn.ModuleList(
            PartialConv2d(c_deep + c_skip, c_out, 3) for c_deep, c_skip, c_out in zip(deep, skips, outs))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B,C_in,H,W]`` (values at invalid pixels are ignored), ``mask`` ``[B,1,H,W]``
        (1 = valid) -> ``[B,C_out,H,W]``, a prediction at every pixel."""
        x, (h, w) = pad_to_multiple(x * mask, self.multiple)
        x = x.contiguous(memory_format=memory_format_of(self))
        mask, _ = pad_to_multiple(mask, self.multiple)
        skips = []
        for conv in self.encoder:
            skips.append((x, mask))
            x, mask = conv(x, mask, masked_input=True)  # the input was masked above; outputs are 0 where invalid
            x = F.relu(x)
        for level, conv in enumerate(self.decoder):
            skip_x, skip_mask = skips.pop()
            x = torch.cat((F.interpolate(x, scale_factor=2.0, mode="nearest"), skip_x), 1)
            mask = torch.maximum(F.interpolate(mask, scale_factor=2.0, mode="nearest"), skip_mask)
            x, mask = conv(x, mask, masked_input=True)  # both halves are 0 outside their own masks
            if level < len(self.decoder) - 1:
                x = F.leaky_relu(x, 0.2)
        return x[..., :h, :w]
