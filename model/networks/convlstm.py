"""The ConvLSTM refiner: recurrent, flow-warped refinement of P_t, one frame at a time.

State warping (the paper leaves it open). The ConvLSTM runs at the deepest encoder level,
``2 ** len(widths)`` times below the working size. Before frame t, the hidden state h and the
cell state c of frame t-1 are warped to frame t with the pack's one warp function
(:func:`model.warp.warp`, bilinear), along F_t reduced to that grid (area average, vectors
divided by the same factor). Memory whose source point falls outside the frame is reset to 0,
the state of a ConvLSTM that has seen nothing.

Resolution. The network runs at a reduced working size (config ``scale``, default ½) to fit
the CPU budget, but the previous *output* is warped at full resolution and the network's
gate chooses per pixel how much of it to copy, so sharp detail carried along the flow
survives: output = P_t + a·(W(O_{t-1}) − P_t), with the gate a predicted at the working size
and upsampled.

Residual. The paper's refiner predicts a residual over P_t. With ``correction=True`` the network
also predicts a colour correction r (output + r). Measured with weights trained that way (723
steps of stage 3, two validation clips, every mask kind): r gave the fills a colour cast on
unseen footage (a blue tint on white and sand), and setting r to 0 raised hole PSNR by 0.1-0.8 dB
on every mask kind. The shipped refiner is gate-only (``correction=False``): it never invents a
colour, it chooses per pixel between P_t and what the flow carries from the previous output.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checks import keep_known
from ..resample import pad_to_multiple, resize_flow, resize_image, working_size
from ..warp import warp
from .base import Network, memory_format_of
from .config import NetworkConfig, check_widths, check_working_size


@dataclass(frozen=True)
class ConvLSTMRefineConfig(NetworkConfig):
    """Hyper-parameters of :class:`ConvLSTMRefineNet`.

    Attributes:
        widths: channels of the stride-2 encoder convs; the ConvLSTM runs after the last one.
        hidden: channels of the ConvLSTM's hidden and cell states.
        kernel_size: window of the ConvLSTM's gate convolution.
        scale, max_side: working size (fraction of the frame size, long-side cap; 0 = none);
            the gate (and correction) are upsampled to the frame size.
        correction: also predict an additive colour correction r (the paper's residual; see the
            module docstring for why the default is off).
    """

    widths: tuple[int, ...] = (16, 32, 64)
    hidden: int = 32
    kernel_size: int = 3
    scale: float = 0.5
    max_side: int = 0
    correction: bool = False

    def __post_init__(self):
        check_widths(self.widths)
        check_working_size(self.scale, self.max_side)
        if not isinstance(self.hidden, int) or self.hidden < 1:
            raise ValueError(f"hidden must be a positive integer, got {self.hidden!r}.")
        if self.kernel_size % 2 != 1 or self.kernel_size < 1:
            raise ValueError(f"kernel_size must be a positive odd integer, got {self.kernel_size!r}.")


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM cell (Shi et al. 2015): one convolution computes all four gates.

    Args:
        input_channels: channels of x_t.
        hidden_channels: channels of h and c.
        kernel_size: odd window of the gate convolution.
    """

    def __init__(self, input_channels: int, hidden_channels: int, kernel_size: int = 3):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.gates = nn.Conv2d(input_channels + hidden_channels, 4 * hidden_channels, kernel_size,
                               padding=kernel_size // 2)
        with torch.no_grad():  # forget gate open at the start of training
            self.gates.bias[hidden_channels:2 * hidden_channels].fill_(1.0)

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``[B,C_in,H,W]``, ``h``/``c`` ``[B,C_h,H,W]`` of the previous step -> new ``(h, c)``."""
        i, f, o, g = self.gates(torch.cat((x, h), 1)).chunk(4, 1)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)  # input, forget, output gates
        g = torch.tanh(g)  # candidate cell content
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, c


def _fp32(device: torch.device):
    """Context in which autocast is off: flow and warps stay float32."""
    return torch.autocast(device_type=device.type, enabled=False)


class ConvLSTMRefineNet(Network):
    """Encoder -> ConvLSTM -> decoder, predicting a residual added to P_t.

    Input at frame t (9 channels, at the working size): P_t - 0.5 (3), the hole (1), the
    previous output warped by F_t, W(O_{t-1}), minus 0.5 (3), the trust in that warp
    (1: the warp's validity times the flow confidence), and the warped previous hole (1:
    whether the carried pixel was itself a fill or a real pixel seen at t-1). Encoder: stride-2
    3x3 convs with ReLU. The ConvLSTM cell takes the deepest features and the warped (h, c) of
    frame t-1. Decoder: nearest x2, concatenation with the encoder input of that level, 3x3 conv,
    LeakyReLU(0.2); the last conv gives the gate logit (and, with ``correction``, r). Output, at
    full resolution: ``P_t + a·(W(O_{t-1}) − P_t) [+ r]`` (a = sigmoid(gate)) inside the hole,
    the frame bit-exact outside.
    """

    ARCHITECTURE = "frvi.convlstm_refine.unet_convlstm"
    VERSION = 3  # 2: the warped previous hole is an input; 3: the colour correction is optional (off)
    KIND = "convlstm_refine"
    Config = ConvLSTMRefineConfig
    INPUT_CHANNELS = 9

    def __init__(self, config: ConvLSTMRefineConfig | None = None):
        super().__init__(config)
        widths = self.config.widths
        self.multiple = 2 ** len(widths)
        ins = (self.INPUT_CHANNELS,) + tuple(widths[:-1])
        self.encoder = nn.ModuleList(nn.Conv2d(c_in, c_out, 3, 2, 1) for c_in, c_out in zip(ins, widths))
        self.cell = ConvLSTMCell(widths[-1], self.config.hidden, self.config.kernel_size)
        skips = ins[::-1]
        deep = (self.config.hidden,) + skips[:-1]
        outs = skips[:-1] + (4 if self.config.correction else 1,)  # gate logit (+ 3-channel correction)
        self.decoder = nn.ModuleList(nn.Conv2d(c_deep + c_skip, c_out, 3, 1, 1)
                                     for c_deep, c_skip, c_out in zip(deep, skips, outs))
        with torch.no_grad():  # start near "P_t + ½ (W(O_{t-1}) - P_t)", a small correction
            self.decoder[-1].weight.mul_(0.01)
            self.decoder[-1].bias.zero_()

    def memory_size(self, height: int, width: int) -> tuple[int, int]:
        """``(h, w)`` of the ConvLSTM state for ``height x width`` frames."""
        h, w = working_size(height, width, self.config.scale, self.config.max_side)
        return -(-h // self.multiple), -(-w // self.multiple)

    def initial_memory(self, frame: torch.Tensor) -> dict[str, torch.Tensor]:
        """Zero ``h`` and ``c`` ``[B,hidden,h,w]`` for ``frame`` ``[B,3,H,W]`` (the first frame of a video)."""
        zeros = frame.new_zeros(frame.shape[0], self.config.hidden, *self.memory_size(*frame.shape[-2:]))
        return {"h": zeros, "c": zeros.clone()}

    def warp_memory(self, memory: dict[str, torch.Tensor], flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Warp ``memory`` (``h``, ``c`` ``[B,hidden,h,w]``) of frame t-1 to frame t along ``flow`` ``[B,2,H,W]``.

        See the module docstring: flow reduced to the memory grid, one bilinear warp, memory
        from outside the frame reset to 0.
        """
        h_prev, c_prev = memory["h"], memory["c"]
        expected = (flow.shape[0], self.config.hidden, *self.memory_size(*flow.shape[-2:]))
        if tuple(h_prev.shape) != expected or tuple(c_prev.shape) != expected:
            raise ValueError(f"state: ConvLSTM memory is {tuple(h_prev.shape)} but this refiner needs {expected}; "
                             "connect the state made by the same refiner network and frame size.")
        with _fp32(flow.device):
            work = working_size(*flow.shape[-2:], self.config.scale, self.config.max_side)
            if work[0] % self.multiple == 0 and work[1] % self.multiple == 0:  # no padding: one area mean
                memory_flow = resize_flow(flow.float(), expected[2:])
            else:
                padded_flow, _ = pad_to_multiple(resize_flow(flow.float(), work), self.multiple, mode="replicate")
                memory_flow = resize_flow(padded_flow, expected[2:])
            warped, valid = warp(torch.cat((h_prev, c_prev), 1).float(), memory_flow)
        warped = warped * valid
        return warped[:, :self.config.hidden], warped[:, self.config.hidden:]

    def forward(self, frame: torch.Tensor, hole: torch.Tensor, inpainted: torch.Tensor, flow: torch.Tensor,
                confidence: torch.Tensor, prev_output: torch.Tensor | None = None,
                memory: dict[str, torch.Tensor] | None = None,
                prev_hole: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One time step.

        Args:
            frame: ``[B,3,H,W]`` corrupted frame t in [0,1].
            hole: ``[B,1,H,W]`` binary, 1 = missing.
            inpainted: ``[B,3,H,W]`` P_t in [0,1].
            flow: ``[B,2,H,W]`` F_t, backward (frame t -> t-1), pixels.
            confidence: ``[B,1,H,W]`` in [0,1], trust in F_t.
            prev_output: ``[B,3,H,W]`` output of frame t-1, or None at the first frame.
            memory: ``{"h", "c"}`` of frame t-1 (see :meth:`initial_memory`), or None/empty.
            prev_hole: ``[B,1,H,W]`` hole of frame t-1 (None: treated as all filled, the cautious
                reading).
        Returns:
            ``(output [B,3,H,W] in [0,1], memory {"h", "c"} [B,hidden,h,w] float32)``; the
            output equals ``frame`` bit-exact outside the hole.
        """
        size = tuple(frame.shape[-2:])
        with _fp32(frame.device):
            if prev_output is None:
                warped_prev, trust, was_filled = inpainted, torch.zeros_like(hole), torch.ones_like(hole)
            else:
                previous_hole = torch.ones_like(hole) if prev_hole is None else prev_hole.float()
                warped, valid = warp(torch.cat((prev_output.float(), previous_hole), 1), flow.float())
                warped_prev, was_filled = warped[:, :3], warped[:, 3:] + (1.0 - valid)
                trust = valid * confidence.clamp(0.0, 1.0)
            h_prev, c_prev = (self.warp_memory(memory, flow) if memory else
                              tuple(self.initial_memory(frame).values()))
        work = working_size(*size, self.config.scale, self.config.max_side)
        # at the working size: cheaper than at full size
        small = [resize_image(t, work) for t in (inpainted, hole, warped_prev, trust, was_filled)]
        x = torch.cat((small[0] - 0.5, small[1], small[2] - 0.5, small[3], small[4].clamp(0.0, 1.0)), 1)
        x, (h, w) = pad_to_multiple(x, self.multiple)
        layout = memory_format_of(self)
        x = x.contiguous(memory_format=layout)
        skips = []
        for conv in self.encoder:
            skips.append(x)
            x = F.relu(conv(x))
        h_new, c_new = self.cell(x, h_prev.to(x.dtype).contiguous(memory_format=layout),
                                 c_prev.to(x.dtype).contiguous(memory_format=layout))
        y = h_new
        for level, conv in enumerate(self.decoder):
            y = conv(torch.cat((F.interpolate(y, scale_factor=2.0, mode="nearest"), skips.pop()), 1))
            if level < len(self.decoder) - 1:
                y = F.leaky_relu(y, 0.2)
        y = resize_image(y[..., :h, :w].float().contiguous(), size)
        gate = torch.sigmoid(y[:, :1])
        base = inpainted + y[:, 1:] if self.config.correction else inpainted
        output = keep_known(torch.addcmul(base, gate, warped_prev - inpainted), frame, hole)
        return output, {"h": h_new.float(), "c": c_new.float()}
