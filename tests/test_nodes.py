"""Node contracts: declared sockets, shapes, dtypes, ranges and the behaviour artists rely on."""
from __future__ import annotations

import pytest
import torch

from clips import read_clip, real_clips, synthetic_clip

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


def test_pack_exposes_the_four_pipeline_nodes_with_their_display_names(pack):
    for key, name in PIPELINE.items():
        assert key in pack.NODE_CLASS_MAPPINGS
        assert pack.NODE_DISPLAY_NAME_MAPPINGS[key] == name


def test_every_node_declares_a_valid_contract(pack):
    for key, cls in pack.NODE_CLASS_MAPPINGS.items():
        spec = cls.INPUT_TYPES()
        assert set(spec) <= {"required", "optional", "hidden"}, key
        for section in ("required", "optional"):
            for name, declaration in spec.get(section, {}).items():
                kind = declaration[0]
                assert isinstance(kind, (str, list)), (key, name)
                if isinstance(kind, list):  # a choice: its default must be one of the choices
                    default = declaration[1].get("default", kind[0]) if len(declaration) > 1 else kind[0]
                    assert default in kind, (key, name)
        assert isinstance(cls.RETURN_TYPES, tuple) and cls.RETURN_TYPES, key
        assert len(getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)) == len(cls.RETURN_TYPES), key
        assert callable(getattr(cls, cls.FUNCTION)), key
        assert cls.CATEGORY.startswith("video inpainting"), key
        assert cls.__doc__ and getattr(cls, "DESCRIPTION", ""), key


def test_saved_workflow_names_are_stable(pack):
    """Class keys and input names are a public API (saved workflows name them): this table may only grow,
    and every node the pack registers must be in it."""
    loader = {"weights", "working_size"}
    stable = {
        "FRVI_FlowPropagate": {"frames", "hole", "estimator", "hole_dilation", "max_distance", "consistency", "seam",
                               "flow_max_side", "context_before", "context_after"},
        "FRVI_FrameInpaint": {"frames", "hole", "method", "radius", "model", "working_size"},
        "FRVI_RobustFlow": {"frames", "hole", "inpainted", "estimator", "completion", "hole_dilation", "state",
                            "completion_model", "optical_flow", "raft_iterations", "working_size"},
        "FRVI_FlowBlend": {"flow_p", "flow_i", "method", "model"},
        "FRVI_ConvLSTMRefine": {"frames", "hole", "inpainted", "flow", "method", "strength", "state", "model"},
        "FRVI_HoleGrowFeather": {"hole", "grow", "feather"},
        "FRVI_FlowVisualize": {"flow", "max_magnitude"},
        "FRVI_HoleComposite": {"original", "inpainted", "hole", "feather"},
        "FRVI_LoadFrameInpaintNetwork": loader,
        "FRVI_LoadFlowCompletionNetwork": loader,
        "FRVI_LoadFlowBlendNetwork": loader,
        "FRVI_LoadConvLSTMRefineNetwork": loader,
    }
    assert set(pack.NODE_CLASS_MAPPINGS) == set(stable), "a node was added or removed: add it to this table"
    for key, names in stable.items():
        spec = pack.NODE_CLASS_MAPPINGS[key].INPUT_TYPES()
        declared = set(spec.get("required", {})) | set(spec.get("optional", {}))
        assert names <= declared, (key, names - declared)


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
