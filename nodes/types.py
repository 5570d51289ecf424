"""Names of the pack's custom socket types (namespaced, so they never clash with other packs)."""
FLOW = "FRVI_FLOW"  # model.flow.FlowField: [T,2,H,W] backward flow + [T,1,H,W] confidence
STATE = "FRVI_STATE"  # model.refine.RecurrentState: last frame, hole, P, output, ConvLSTM memory
CATEGORY = "video inpainting/frame-recurrent"
