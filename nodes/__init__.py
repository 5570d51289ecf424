"""ComfyUI node registry of the pack. Keys are class names used in saved workflows: never rename them."""
from .demo_inputs import copy_demo_inputs
from .loader_nodes import (LoadConvLSTMRefineNetwork, LoadFlowBlendNetwork, LoadFlowCompletionNetwork,
                           LoadFrameInpaintNetwork)
from .pipeline_nodes import ConvLSTMRefine, FlowBlend, FrameInpaint, RobustFlow
from .propagate_node import FlowPropagate
from .utility_nodes import FlowVisualize, HoleComposite, HoleGrowFeather

# (class key in saved workflows, node class, display name): one declaration per node
NODES = (
    ("FRVI_FlowPropagate", FlowPropagate, "Flow Propagate"),
    ("FRVI_FrameInpaint", FrameInpaint, "Frame Inpaint"),
    ("FRVI_RobustFlow", RobustFlow, "Robust Flow"),
    ("FRVI_FlowBlend", FlowBlend, "Flow Blend"),
    ("FRVI_ConvLSTMRefine", ConvLSTMRefine, "ConvLSTM Refine"),
    ("FRVI_HoleGrowFeather", HoleGrowFeather, "Hole Grow & Feather"),
    ("FRVI_FlowVisualize", FlowVisualize, "Flow Visualize"),
    ("FRVI_HoleComposite", HoleComposite, "Hole Composite"),
    ("FRVI_LoadFrameInpaintNetwork", LoadFrameInpaintNetwork, "Load Frame Inpaint Network"),
    ("FRVI_LoadFlowCompletionNetwork", LoadFlowCompletionNetwork, "Load Flow Completion Network"),
    ("FRVI_LoadFlowBlendNetwork", LoadFlowBlendNetwork, "Load Flow Blend Network"),
    ("FRVI_LoadConvLSTMRefineNetwork", LoadConvLSTMRefineNetwork, "Load ConvLSTM Refine Network"),
)

NODE_CLASS_MAPPINGS = {key: cls for key, cls, _ in NODES}
NODE_DISPLAY_NAME_MAPPINGS = {key: name for key, _, name in NODES}

copy_demo_inputs()  # the templates' input files into ComfyUI's input folder, where absent
