"""ComfyUI node registry of the pack, on ComfyUI's V3 node schema (``comfy_api.latest``).

ComfyUI calls :func:`comfy_entrypoint` and registers each class of :data:`NODES` under its schema's
``node_id``. Node ids, input names and widget order are used in saved workflows: never change them.
"""
from comfy_api.latest import ComfyExtension, io

from .demo_inputs import copy_demo_inputs
from .loader_nodes import (LoadConvLSTMRefineNetwork, LoadFlowBlendNetwork, LoadFlowCompletionNetwork,
                           LoadFrameInpaintNetwork)
from .pipeline_nodes import ConvLSTMRefine, FlowBlend, FrameInpaint, RobustFlow
from .propagate_node import FlowPropagate
from .stream_node import VideoInpaintStream
from .utility_nodes import FlowVisualize, HoleComposite, HoleGrowFeather

# Every node of the pack, one line each (id, display name and inputs are in each class's define_schema).
NODES: list[type[io.ComfyNode]] = [
    FlowPropagate,
    FrameInpaint,
    RobustFlow,
    FlowBlend,
    ConvLSTMRefine,
    HoleGrowFeather,
    FlowVisualize,
    HoleComposite,
    LoadFrameInpaintNetwork,
    LoadFlowCompletionNetwork,
    LoadFlowBlendNetwork,
    LoadConvLSTMRefineNetwork,
    VideoInpaintStream,
]


class FrameRecurrentExtension(ComfyExtension):
    """The pack as a ComfyUI extension: its node list."""

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> FrameRecurrentExtension:
    """What ComfyUI calls when it loads the pack (a pack without ``NODE_CLASS_MAPPINGS``)."""
    return FrameRecurrentExtension()


copy_demo_inputs()  # the templates' input files into ComfyUI's input folder, where absent
