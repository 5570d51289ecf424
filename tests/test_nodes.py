"""Node contracts: declared sockets, shapes, dtypes, ranges and the behaviour artists rely on."""
from __future__ import annotations

import inspect

import pytest
import torch

from clips import read_clip, real_clips, synthetic_clip
from conftest import declared_inputs, node_classes, node_info

PIPELINE = {
    "FRVI_FrameInpaint": "Frame Inpaint",
    "FRVI_RobustFlow": "Robust Flow",
    "FRVI_FlowBlend": "Flow Blend",
    "FRVI_ConvLSTMRefine": "ConvLSTM Refine",
}


def run_graph(nodes, frames, hole, state=None, blend="confidence"):
    """The four pipeline nodes wired as in the README; returns (output, state, P, flow)."""
    (inpainted,) = nodes["FRVI_FrameInpaint"].run(frames, hole, "telea", 5)
    flow_p, flow_i = nodes["FRVI_RobustFlow"].run(frames, hole, inpainted, "dis_medium", "laplacian", 8, state=state)
    (flow,) = nodes["FRVI_FlowBlend"].run(flow_p, flow_i, blend)
    out, new_state = nodes["FRVI_ConvLSTMRefine"].run(frames, hole, inpainted, flow, "temporal_blend", 0.6,
                                                       state=state)
    return out, new_state, inpainted, flow


def test_pack_exposes_the_four_pipeline_nodes_with_their_display_names(classes):
    for key, name in PIPELINE.items():
        assert key in classes
        assert node_info(classes[key])["display_name"] == name


def test_the_pack_loads_through_the_v3_entrypoint_only(pack):
    """ComfyUI takes NODE_CLASS_MAPPINGS (V1) before comfy_entrypoint (V3): the pack must not export it."""
    assert callable(pack.comfy_entrypoint)
    assert not hasattr(pack, "NODE_CLASS_MAPPINGS") and not hasattr(pack, "NODE_DISPLAY_NAME_MAPPINGS")
    assert list(node_classes(pack).values()) == list(pack.nodes.NODES)


def test_every_node_declares_a_valid_contract(classes):
    """Each schema as ComfyUI checks and serves it, and an ``execute`` whose parameters are the inputs in widget
    order (required first), optional ones defaulting to the widget's default (None for a socket)."""
    for key, cls in classes.items():
        schema = cls.GET_SCHEMA()  # what ComfyUI calls when it registers the node: validates the schema
        assert schema.node_id == key and schema.display_name, key
        info = node_info(cls)
        spec = info["input"]
        assert set(spec) <= {"required", "optional"}, key
        assert info["input_order"] == {section: list(inputs) for section, inputs in spec.items()}, key
        for section in ("required", "optional"):
            for name, (kind, options) in spec.get(section, {}).items():
                assert isinstance(kind, str) and kind, (key, name)
                if kind == "COMBO":  # a choice: its default must be one of the choices
                    assert options["default"] in options["options"], (key, name)
                elif kind in ("INT", "FLOAT"):
                    assert options["min"] <= options["default"] <= options["max"], (key, name)
        assert info["output"] and len(info["output_name"]) == len(info["output"]), key
        assert not any(info["output_is_list"]) and not info["output_node"] and not info["is_input_list"], key
        assert info["category"].startswith("video inpainting"), key
        assert cls.__doc__ and info["description"], key
        parameters = list(inspect.signature(cls.execute).parameters.values())
        assert [p.name for p in parameters] == list(declared_inputs(cls)), key
        for p in parameters:
            kind, options = declared_inputs(cls)[p.name]
            if p.name in spec.get("optional", {}):
                assert p.default == options.get("default"), (key, p.name, p.default)
            else:
                assert p.default is inspect.Parameter.empty, (key, p.name)


# Node id -> display name, required inputs, optional inputs ("name:TYPE", in widget order) and output types.
# A public API: saved workflows name the ids and inputs, and UI workflows store widget values by position.
LOADER = ("weights:COMBO", "working_size:INT")
STABLE = {
    "FRVI_FlowPropagate": (
        "Flow Propagate",
        "frames:IMAGE hole:MASK estimator:COMBO hole_dilation:INT max_distance:INT consistency:FLOAT seam:COMBO "
        "flow_max_side:INT",
        "context_before:INT context_after:INT reference:IMAGE reference_frames:STRING keyframes:COMBO "
        "keyframe_model:FRVI_FRAME_INPAINT_NET completion:COMBO",
        "IMAGE MASK"),
    "FRVI_FrameInpaint": (
        "Frame Inpaint", "frames:IMAGE hole:MASK method:COMBO radius:INT",
        "model:FRVI_FRAME_INPAINT_NET working_size:INT", "IMAGE"),
    "FRVI_RobustFlow": (
        "Robust Flow",
        "frames:IMAGE hole:MASK inpainted:IMAGE estimator:COMBO completion:COMBO hole_dilation:INT",
        "state:FRVI_STATE completion_model:FRVI_FLOW_COMPLETE_NET optical_flow:OPTICAL_FLOW raft_iterations:INT "
        "working_size:INT",
        "FRVI_FLOW FRVI_FLOW"),
    "FRVI_FlowBlend": ("Flow Blend", "flow_p:FRVI_FLOW flow_i:FRVI_FLOW method:COMBO", "model:FRVI_FLOW_BLEND_NET",
                       "FRVI_FLOW"),
    "FRVI_ConvLSTMRefine": (
        "ConvLSTM Refine", "frames:IMAGE hole:MASK inpainted:IMAGE flow:FRVI_FLOW method:COMBO strength:FLOAT",
        "state:FRVI_STATE model:FRVI_CONVLSTM_REFINE_NET", "IMAGE FRVI_STATE"),
    "FRVI_HoleGrowFeather": ("Hole Grow & Feather", "hole:MASK grow:INT feather:FLOAT", "", "MASK"),
    "FRVI_FlowVisualize": ("Flow Visualize", "flow:FRVI_FLOW max_magnitude:FLOAT", "", "IMAGE"),
    "FRVI_HoleComposite": ("Hole Composite", "original:IMAGE inpainted:IMAGE hole:MASK feather:FLOAT", "", "IMAGE"),
    "FRVI_LoadFrameInpaintNetwork": ("Load Frame Inpaint Network", *LOADER, "FRVI_FRAME_INPAINT_NET"),
    "FRVI_LoadFlowCompletionNetwork": ("Load Flow Completion Network", *LOADER, "FRVI_FLOW_COMPLETE_NET"),
    "FRVI_LoadFlowBlendNetwork": ("Load Flow Blend Network", *LOADER, "FRVI_FLOW_BLEND_NET"),
    "FRVI_LoadConvLSTMRefineNetwork": ("Load ConvLSTM Refine Network", *LOADER, "FRVI_CONVLSTM_REFINE_NET"),
    "FRVI_VideoInpaintStream": (
        "Video Inpaint (streaming)",
        "video:VIDEO hole:VIDEO,MASK propagate:BOOLEAN max_distance:INT learned:BOOLEAN frame_method:COMBO grow:INT "
        "invert_hole:BOOLEAN codec:COMBO",
        "estimator:COMBO frame_model:FRVI_FRAME_INPAINT_NET completion_model:FRVI_FLOW_COMPLETE_NET "
        "blend_model:FRVI_FLOW_BLEND_NET refine_model:FRVI_CONVLSTM_REFINE_NET reference:IMAGE "
        "reference_frames:STRING keyframes:COMBO",
        "VIDEO"),
}


def test_saved_workflow_names_are_stable(classes):
    """Node ids, display names, input names, types and order, and output types are a public API (saved workflows
    name them; UI workflows store widget values by position): this table may only grow. A new node is a new row;
    a new input goes at the end of the optional ones (and here). Every node the pack registers must be in it."""
    assert set(classes) == set(STABLE), "a node was added or removed: add it to this table"
    for key, (display_name, required, optional, outputs) in STABLE.items():
        info = node_info(classes[key])
        declared = {section: " ".join(f"{name}:{kind}" for name, (kind, _) in info["input"].get(section, {}).items())
                    for section in ("required", "optional")}
        assert (info["display_name"], declared["required"], declared["optional"], " ".join(info["output"])) == \
            (display_name, required, optional, outputs), key


def test_full_graph_shapes_dtypes_and_ranges(nodes):
    frames, hole = synthetic_clip().comfy()
    out, state, inpainted, flow = run_graph(nodes, frames, hole)
    for image in (out, inpainted):
        assert image.shape == frames.shape and image.dtype == torch.float32
        assert image.min() >= 0 and image.max() <= 1
    assert flow.flow.shape == (6, 2, 48, 64) and flow.confidence.shape == (6, 1, 48, 64)
    assert torch.all(flow.flow[0] == 0), "F_0 is zero when no previous chunk is given"
    assert state.output.shape == (1, 3, 48, 64)


def test_known_pixels_are_returned_unchanged(nodes):
    frames, hole = synthetic_clip().comfy()
    out, _, inpainted, _ = run_graph(nodes, frames, hole)
    known = (hole < 0.5)[..., None].expand_as(frames)
    assert torch.equal(out[known], frames[known])
    assert torch.equal(inpainted[known], frames[known])
    assert not torch.equal(out[~known], frames[~known]), "the hole must be filled"


def test_empty_mask_returns_the_input(nodes):
    frames, hole = synthetic_clip().comfy()
    out, _, inpainted, _ = run_graph(nodes, frames, torch.zeros_like(hole))
    assert torch.equal(out, frames) and torch.equal(inpainted, frames)


def test_single_mask_is_used_for_every_frame(nodes):
    frames, hole = synthetic_clip().comfy()
    single = hole[:1]
    out_single, *_ = run_graph(nodes, frames, single)
    out_repeated, *_ = run_graph(nodes, frames, single.expand_as(hole).contiguous())
    assert torch.equal(out_single, out_repeated)


def test_soft_masks_are_thresholded_at_one_half(nodes):
    frames, hole = synthetic_clip().comfy()
    soft = hole * 0.7 + (1 - hole) * 0.3  # 0.3 outside the hole: still known
    out, *_ = run_graph(nodes, frames, soft)
    known = (hole < 0.5)[..., None].expand_as(frames)
    assert torch.equal(out[known], frames[known])


def test_single_frame_works(nodes):
    frames, hole = synthetic_clip(t=1).comfy()
    out, state, _, flow = run_graph(nodes, frames, hole)
    assert out.shape == frames.shape and len(flow) == 1


def test_odd_size_comes_back_at_the_same_size(nodes):
    frames, hole = synthetic_clip(t=3, h=239, w=431).comfy()
    out, _, inpainted, flow = run_graph(nodes, frames, hole)
    assert out.shape == (3, 239, 431, 3) and inpainted.shape == out.shape
    assert flow.flow.shape == (3, 2, 239, 431)


def test_chunked_run_with_state_equals_one_run(nodes):
    frames, hole = synthetic_clip(t=8).comfy()
    whole, *_ = run_graph(nodes, frames, hole)
    first, state, *_ = run_graph(nodes, frames[:5], hole[:5])
    second, *_ = run_graph(nodes, frames[5:], hole[5:], state=state)
    assert torch.allclose(torch.cat((first, second)), whole, atol=1e-6)


def test_state_from_another_size_is_rejected(nodes):
    frames, hole = synthetic_clip(t=2).comfy()
    _, state, *_ = run_graph(nodes, frames, hole)
    small_frames, small_hole = synthetic_clip(t=2, h=32, w=40).comfy()
    with pytest.raises(ValueError, match="state"):
        run_graph(nodes, small_frames, small_hole, state=state)


def test_temporal_blend_carries_background_seen_before(nodes):
    """A hole moving over a static scene: hole pixels that an earlier frame saw come back almost exactly."""
    frames, _ = synthetic_clip(t=6).comfy()
    static = frames[:1].expand_as(frames).contiguous()
    hole = torch.zeros(6, 48, 64)
    for i in range(6):
        hole[i, 12:28, 6 + 8 * i:22 + 8 * i] = 1.0  # moves 8 px per frame
    out, _, inpainted, _ = run_graph(nodes, static, hole)
    seen_before = torch.zeros_like(hole, dtype=torch.bool)
    for i in range(1, 6):
        seen_before[i] = (hole[i] > 0.5) & (hole[:i] < 0.5).any(0)
    mask = seen_before[..., None].expand_as(static)
    err_refined = (out - static).abs()[mask].mean()
    err_telea = (inpainted - static).abs()[mask].mean()
    assert err_refined < 0.5 * err_telea, (err_refined, err_telea)


def test_hole_grow_feather(nodes):
    hole = torch.zeros(2, 32, 32)
    hole[:, 12:20, 12:20] = 1
    (grown,) = nodes["FRVI_HoleGrowFeather"].run(hole, 2, 0.0)
    (shrunk,) = nodes["FRVI_HoleGrowFeather"].run(hole, -2, 0.0)
    assert grown.sum() > hole.sum() > shrunk.sum() > 0
    assert grown[0, 10, 16] == 1 and shrunk[0, 12, 16] == 0
    (soft,) = nodes["FRVI_HoleGrowFeather"].run(hole, 0, 4.0)
    assert 0 < soft[0, 11, 16] < 1 and soft.min() >= 0 and soft.max() <= 1


def test_flow_visualize_colours_motion(nodes):
    frames, hole = synthetic_clip(t=3).comfy()
    _, _, _, flow = run_graph(nodes, frames, hole)
    (image,) = nodes["FRVI_FlowVisualize"].run(flow, 0.0)
    assert image.shape == (3, 48, 64, 3) and image.min() >= 0 and image.max() <= 1
    assert torch.allclose(image[0], torch.ones_like(image[0])), "zero flow is white"
    assert image[2].std() > 0.01


def test_hole_composite_touches_only_the_hole(nodes):
    frames, hole = synthetic_clip(t=2).comfy()
    other = torch.zeros_like(frames)
    (hard,) = nodes["FRVI_HoleComposite"].run(frames, other, hole, 0.0)
    (soft,) = nodes["FRVI_HoleComposite"].run(frames, other, hole, 6.0)
    known = (hole < 0.5)[..., None].expand_as(frames)
    assert torch.equal(hard[known], frames[known]) and torch.equal(soft[known], frames[known])
    assert torch.all(hard[~known] == 0)
    inside = ~known
    assert (soft[inside] - frames[inside]).abs().sum() < (hard[inside] - frames[inside]).abs().sum()


@pytest.mark.slow
@pytest.mark.parametrize("clip", real_clips("dogs_jump", "davis_camel", "tennis"))  # or the demo clip
def test_real_clip_through_the_full_graph(nodes, clip):
    frames, hole = read_clip(clip, 10, size=(432, 240))
    out, _, inpainted, flow = run_graph(nodes, frames, hole)
    known = (hole < 0.5)[..., None].expand_as(frames)
    assert torch.equal(out[known], frames[known])
    assert torch.isfinite(flow.flow).all() and flow.flow[1:].abs().max() < 100
    # the refiner keeps the fill close to the per-frame fill, never wild
    assert (out - inpainted).abs()[~known].mean() < 0.1


def test_a_half_size_mask_is_resized_with_a_warning_like_the_full_size_mask_resized_by_hand(nodes):
    frames, hole = synthetic_clip(t=4).comfy()
    soft = 0.3 + 0.5 * hole[:, ::2, ::2]  # a segmenter's soft mask at half the frame size: 0.3 / 0.8
    by_hand = soft.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)  # nearest neighbour, 48x64
    with pytest.warns(UserWarning, match="mask is 32x24, frames are 64x48; resizing the mask"):
        resized, *_ = run_graph(nodes, frames, soft)
    expected, *_ = run_graph(nodes, frames, by_hand)
    assert torch.equal(resized, expected)
    with pytest.warns(UserWarning, match="resizing the mask"):
        propagated = nodes["FRVI_FlowPropagate"].run(frames, soft[:1], "dis_fast", 1, 2, 1.0, "none", 640)
    assert all(torch.equal(a, b) for a, b in zip(
        propagated, nodes["FRVI_FlowPropagate"].run(frames, by_hand[:1], "dis_fast", 1, 2, 1.0, "none", 640)))
    with pytest.warns(UserWarning, match="resizing the mask"):
        (composite,) = nodes["FRVI_HoleComposite"].run(frames, torch.zeros_like(frames), soft, 0.0)
    assert torch.equal(composite, nodes["FRVI_HoleComposite"].run(frames, torch.zeros_like(frames), by_hand, 0.0)[0])


def test_a_mask_of_another_aspect_ratio_raises_naming_both_sizes(nodes):
    frames, _ = synthetic_clip(t=2).comfy()
    for key, args in (("FRVI_FrameInpaint", ("telea", 5)),
                      ("FRVI_FlowPropagate", ("dis_fast", 1, 2, 1.0, "none", 640))):
        with pytest.raises(ValueError, match="mask is 48x48 but frames are 64x48, another aspect ratio"):
            nodes[key].run(frames, torch.ones(2, 48, 48), *args)
