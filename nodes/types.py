"""Names of the pack's custom socket types (namespaced, so they never clash with other packs)."""
FLOW = "FRVI_FLOW"  # model.stages.robust_flow.FlowField: [T,2,H,W] backward flow + [T,1,H,W] confidence
STATE = "FRVI_STATE"  # model.stages.convlstm_refine.RecurrentState: last frame, hole, P, output, ConvLSTM memory
CATEGORY = "video inpainting/frame-recurrent"
# Loaded networks (model.networks.*), made by the loader nodes, one type per stage so sockets only fit their stage.
FRAME_NET = "FRVI_FRAME_INPAINT_NET"  # FrameInpaintNet
FLOW_COMPLETE_NET = "FRVI_FLOW_COMPLETE_NET"  # FlowCompleteNet
FLOW_BLEND_NET = "FRVI_FLOW_BLEND_NET"  # FlowBlendNet (H_f)
REFINE_NET = "FRVI_CONVLSTM_REFINE_NET"  # ConvLSTMRefineNet
