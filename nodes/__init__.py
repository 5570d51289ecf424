"""ComfyUI node registry of the pack. Keys are class names used in saved workflows: never rename them."""
from .loader_nodes import (LoadConvLSTMRefineNetwork, LoadFlowBlendNetwork, LoadFlowCompletionNetwork,
                           LoadFrameInpaintNetwork)
from .pipeline_nodes import ConvLSTMRefine, FlowBlend, FrameInpaint, RobustFlow
from .propagate_node import FlowPropagate
from .utility_nodes import FlowVisualize, HoleComposite, HoleGrowFeather

NODE_CLASS_MAPPINGS = {
    "FRVI_FlowPropagate": FlowPropagate,
    "FRVI_FrameInpaint": FrameInpaint,
    "FRVI_RobustFlow": RobustFlow,
    "FRVI_FlowBlend": FlowBlend,
    "FRVI_ConvLSTMRefine": ConvLSTMRefine,
    "FRVI_HoleGrowFeather": HoleGrowFeather,
    "FRVI_FlowVisualize": FlowVisualize,
    "FRVI_HoleComposite": HoleComposite,
    "FRVI_LoadFrameInpaintNetwork": LoadFrameInpaintNetwork,
    "FRVI_LoadFlowCompletionNetwork": LoadFlowCompletionNetwork,
    "FRVI_LoadFlowBlendNetwork": LoadFlowBlendNetwork,
    "FRVI_LoadConvLSTMRefineNetwork": LoadConvLSTMRefineNetwork,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "FRVI_FlowPropagate": "Flow Propagate",
    "FRVI_FrameInpaint": "Frame Inpaint",
    "FRVI_RobustFlow": "Robust Flow",
    "FRVI_FlowBlend": "Flow Blend",
    "FRVI_ConvLSTMRefine": "ConvLSTM Refine",
    "FRVI_HoleGrowFeather": "Hole Grow & Feather",
    "FRVI_FlowVisualize": "Flow Visualize",
    "FRVI_HoleComposite": "Hole Composite",
    "FRVI_LoadFrameInpaintNetwork": "Load Frame Inpaint Network",
    "FRVI_LoadFlowCompletionNetwork": "Load Flow Completion Network",
    "FRVI_LoadFlowBlendNetwork": "Load Flow Blend Network",
    "FRVI_LoadConvLSTMRefineNetwork": "Load ConvLSTM Refine Network",
}
