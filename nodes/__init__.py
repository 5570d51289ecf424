"""ComfyUI node registry of the pack. Keys are class names used in saved workflows: never rename them."""
from .pipeline_nodes import ConvLSTMRefine, FlowBlend, FrameInpaint, RobustFlow
from .utility_nodes import FlowVisualize, HoleComposite, HoleGrowFeather

NODE_CLASS_MAPPINGS = {
    "FRVI_FrameInpaint": FrameInpaint,
    "FRVI_RobustFlow": RobustFlow,
    "FRVI_FlowBlend": FlowBlend,
    "FRVI_ConvLSTMRefine": ConvLSTMRefine,
    "FRVI_HoleGrowFeather": HoleGrowFeather,
    "FRVI_FlowVisualize": FlowVisualize,
    "FRVI_HoleComposite": HoleComposite,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "FRVI_FrameInpaint": "Frame Inpaint",
    "FRVI_RobustFlow": "Robust Flow",
    "FRVI_FlowBlend": "Flow Blend",
    "FRVI_ConvLSTMRefine": "ConvLSTM Refine",
    "FRVI_HoleGrowFeather": "Hole Grow & Feather",
    "FRVI_FlowVisualize": "Flow Visualize",
    "FRVI_HoleComposite": "Hole Composite",
}
