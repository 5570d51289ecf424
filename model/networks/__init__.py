"""The paper's four learned networks (pure torch) and their weight files (``weights``: safetensors only,
found and loaded by one rule). The adapters that run them as stages are in :mod:`model.stages.learned`.

=================  ======================  ==========================================
kind               network                 role in the paper
=================  ======================  ==========================================
frame_inpaint      FrameInpaintNet         P_t: partial-conv U-Net fill of one frame
flow_complete      FlowCompleteNet         F^I: partial-conv U-Net completion of flow
flow_blend         FlowBlendNet            H_f: F = ½(F^P + F^I + H_f(F^P, F^I))
convlstm_refine    ConvLSTMRefineNet       recurrent refinement of P_t along F
=================  ======================  ==========================================
"""
from __future__ import annotations

from .base import KINDS, Network
from .convlstm import ConvLSTMCell, ConvLSTMRefineConfig, ConvLSTMRefineNet
from .flow_blend_net import FlowBlendConfig, FlowBlendNet
from .flow_complete_net import FlowCompleteConfig, FlowCompleteNet
from .frame_inpaint_net import FrameInpaintConfig, FrameInpaintNet
from .partial_conv import PartialConv2d, PConvUNet

NETWORKS: dict[str, type[Network]] = {net.KIND: net for net in
                                      (FrameInpaintNet, FlowCompleteNet, FlowBlendNet, ConvLSTMRefineNet)}
"""The default network class of each kind."""

ARCHITECTURES: dict[str, type[Network]] = {net.ARCHITECTURE: net for net in NETWORKS.values()}
"""Every architecture a weights file may name."""

__all__ = ["ARCHITECTURES", "KINDS", "NETWORKS", "ConvLSTMCell", "ConvLSTMRefineConfig", "ConvLSTMRefineNet",
           "FlowBlendConfig", "FlowBlendNet", "FlowCompleteConfig", "FlowCompleteNet", "FrameInpaintConfig",
           "FrameInpaintNet", "Network", "PConvUNet", "PartialConv2d"]
