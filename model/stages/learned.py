"""Adapters that plug the networks into the streaming engine (``model/pipeline/engine.py``) unchanged.

Each adapter has the call signature of the classical stage it replaces, works on one frame
(``[1,...]`` tensors), runs its network on the frame's device, channels-last (oneDNN's and
cuDNN's fast layout) and, on CUDA, under fp16/bf16 autocast where that is safe. It never moves
or re-lays the module it was given (in ComfyUI the model manager owns it): a module already on
that device and layout is used as it is, any other is copied there once:
the frame and refiner networks use it, the flow networks stay float32 (flow vectors in pixels
need the precision). Outputs are always float32.
"""
from __future__ import annotations

import contextlib
import copy

import torch

from .convlstm_refine import RecurrentState
from ..networks.base import Network, memory_format_of

# kind -> (network in words, node, the classical choice to suggest, loader node, node input)
LABELS = {
    "frame_inpaint": ("frame inpainting", "Frame Inpaint", "method=telea or ns", "Load Frame Inpaint Network",
                      "model"),
    "flow_complete": ("flow completion", "Robust Flow", "completion=laplacian", "Load Flow Completion Network",
                      "completion_model"),
    "flow_blend": ("flow blending (H_f)", "Flow Blend", "method=average or confidence", "Load Flow Blend Network",
                   "model"),
    "convlstm_refine": ("ConvLSTM refiner", "ConvLSTM Refine", "method=temporal_blend",
                        "Load ConvLSTM Refine Network", "model"),
}


def require_network(network, kind: str) -> Network:
    """Return ``network`` if it is a loaded network of ``kind``; raise a ValueError that says what to do otherwise.

    The learned path never runs on random weights: without a weights file it refuses.
    """
    label, stage, classical, loader, socket = LABELS[kind]
    if network is None:
        raise ValueError(f"{stage}: no trained weights for the {label} network; use {classical}, "
                         f"or load a weights file with the '{loader}' node and connect it to the {socket} input.")
    if not isinstance(network, torch.nn.Module) or getattr(network, "KIND", None) != kind:
        got = getattr(network, "KIND", type(network).__name__)
        raise ValueError(f"{stage}: the connected model is a {got!r} network, not a {kind!r} one; "
                         f"connect a '{loader}' node to the {socket} input.")
    return network


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Reduced precision for ``device``: bf16 (or fp16) on CUDA, None (float32) elsewhere."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class _Runner:
    """Holds a network, moves it to the input's device on first use, and picks the precision.

    ``working_size``: long side in pixels the network runs at (0 = the size in its config), see
    :meth:`model.networks.base.Network.with_working_size`.
    """

    KIND = ""
    AUTOCAST = False

    def __init__(self, network, working_size: int = 0):
        self.network = require_network(network, self.KIND).with_working_size(working_size)
        self._device: torch.device | None = None
        self._active: Network | None = None

    def _ready(self, device: torch.device) -> Network:
        """The network in eval mode, channels-last, on ``device``: the given module when it already is, else
        a copy made on first use (the given module is never moved)."""
        if self._device != device:
            self._active = self.network if _placed(self.network, device) else self._copy_to(device)
            self._device = device
        return self._active

    def _copy_to(self, device: torch.device) -> Network:
        with torch.inference_mode(False):  # keep the parameters ordinary tensors (trainable later)
            return copy.deepcopy(self.network).eval().to(device=device, memory_format=torch.channels_last)

    def _precision(self, device: torch.device):
        dtype = autocast_dtype(device) if self.AUTOCAST else None
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=dtype)


def _placed(network: Network, device: torch.device) -> bool:
    """Whether every parameter of ``network`` is on ``device`` and its convolutions are channels-last."""
    same = all(p.device.type == device.type and (device.index is None or p.device.index == device.index)
               for p in network.parameters())
    return same and not network.training and memory_format_of(network) == torch.channels_last


class NetworkInpainter(_Runner):
    """Frame inpainting stage: ``(frame [1,3,H,W] in [0,1], hole [1,1,H,W] 0/1) -> [1,3,H,W] in [0,1]``."""

    KIND, AUTOCAST = "frame_inpaint", True

    def __call__(self, frame: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        net = self._ready(frame.device)
        with self._precision(frame.device):
            return net(frame.float(), hole.float()).float()


class NetworkFlowCompleter(_Runner):
    """Flow completion stage: ``(flow [1,2,H,W] pixels, unknown [1,1,H,W] 0/1) -> [1,2,H,W]`` (float32)."""

    KIND = "flow_complete"

    def __call__(self, flow: torch.Tensor, unknown: torch.Tensor) -> torch.Tensor:
        return self._ready(flow.device)(flow.float(), unknown.float())


class NetworkFlowBlender(_Runner):
    """Flow blending stage: ``(flow_p, conf_p, flow_i, conf_i) -> (flow, conf)``.

    Flows ``[1,2,H,W]`` in pixels, confidences ``[1,1,H,W]`` in [0,1].

    ``flow = ½(F^P + F^I + H_f(F^P, F^I))``; ``conf = ½(conf_p + conf_i)``, the confidence of
    the mean the network corrects.
    """

    KIND = "flow_blend"

    def __call__(self, flow_p: torch.Tensor, conf_p: torch.Tensor, flow_i: torch.Tensor,
                 conf_i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        net = self._ready(flow_p.device)
        flow = net(flow_p.float(), flow_i.float(), conf_p.float(), conf_i.float())
        return flow, 0.5 * (conf_p + conf_i)


class NetworkRefiner(_Runner):
    """ConvLSTM refinement stage, the engine's refiner interface:

    ``(frame, hole, inpainted, flow, confidence, state) -> (output [1,3,H,W], memory {"h", "c"})``.
    The memory goes into :class:`~model.stages.convlstm_refine.RecurrentState` and comes back with the next
    frame's state; a state from another refiner (no memory) starts the ConvLSTM from zero.
    """

    KIND, AUTOCAST = "convlstm_refine", True

    def __call__(self, frame: torch.Tensor, hole: torch.Tensor, inpainted: torch.Tensor, flow: torch.Tensor,
                 confidence: torch.Tensor, state: RecurrentState | None) -> tuple[torch.Tensor, dict]:
        net = self._ready(frame.device)
        prev_output = None if state is None else state.output.to(frame.device)
        prev_hole = None if state is None else state.hole.to(frame.device)
        memory = {k: v.to(frame.device) for k, v in state.memory.items()} if state is not None else None
        with self._precision(frame.device):
            return net(frame.float(), hole.float(), inpainted.float(), flow.float(), confidence.float(),
                       prev_output, memory or None, prev_hole)
