"""The pack's custom socket types (namespaced, so they never clash with other packs) and its menu category.

Each is a V3 ``io.Custom`` type: ``Flow.Input("flow")`` / ``Flow.Output("flow")`` in a schema. The type
names (``"FRVI_FLOW"``, ...) are what saved workflows and links store: never rename them.
"""
from comfy_api.latest import io

Flow = io.Custom("FRVI_FLOW")  # model.stages.robust_flow.FlowField: [T,2,H,W] backward flow + [T,1,H,W] confidence
# model.stages.convlstm_refine.RecurrentState: last frame, hole, P, output, ConvLSTM memory
State = io.Custom("FRVI_STATE")
# Loaded networks (model.networks.*), made by the loader nodes, one type per stage so sockets only fit their stage.
FrameInpaintNet = io.Custom("FRVI_FRAME_INPAINT_NET")  # FrameInpaintNet
FlowCompleteNet = io.Custom("FRVI_FLOW_COMPLETE_NET")  # FlowCompleteNet
FlowBlendNet = io.Custom("FRVI_FLOW_BLEND_NET")  # FlowBlendNet (H_f)
RefineNet = io.Custom("FRVI_CONVLSTM_REFINE_NET")  # ConvLSTMRefineNet
# Core ComfyUI's optical flow model (Load Optical Flow Model: a ModelPatcher around RAFT-large), declared the way
# core declares it (comfy_extras/nodes_void.py), so its output connects to Robust Flow's optical_flow input.
OpticalFlow = io.Custom("OPTICAL_FLOW")

CATEGORY = "video inpainting/frame-recurrent"
