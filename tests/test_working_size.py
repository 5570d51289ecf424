"""Working resolution: per-frame fills and networks run at a size the user picks, results come back
at the source size with known pixels exact (Frame Inpaint, loader nodes, CLI, evaluation harness)."""
from __future__ import annotations

import sys

import pytest
import torch

from clips import synthetic_clip
from conftest import declared_inputs, load_script
from model import stages
from model.stages.frame_inpaint import ClassicalFrameInpainter, WorkingSizeInpainter
from model.networks import ConvLSTMRefineConfig, ConvLSTMRefineNet, FrameInpaintConfig, FrameInpaintNet
from model.networks.weights import save_network
from model.pipeline.config import DEFAULTS


def two_colour_frame(h: int = 90, w: int = 160) -> torch.Tensor:
    """``[1,3,h,w]``: red on the left half, blue on the right half."""
    frame = torch.zeros(1, 3, h, w)
    frame[:, 0, :, : w // 2] = 0.9
    frame[:, 2, :, w // 2:] = 0.8
    return frame


def test_fill_at_a_working_size_comes_back_at_the_source_size_with_known_pixels_exact():
    frame = two_colour_frame()
    hole = torch.zeros(1, 1, 90, 160)
    hole[..., 30:60, 10:50] = 1.0  # inside the red half, far from the colour edge
    calls = []

    def spy(small, small_hole):
        calls.append(tuple(small.shape[-2:]))
        return ClassicalFrameInpainter("telea")(small, small_hole)

    out = WorkingSizeInpainter(spy, 40)(frame, hole)
    assert calls == [(22, 40)]  # long side 160 -> 40, aspect kept
    assert out.shape == frame.shape
    known = (hole < 0.5).expand_as(frame)
    assert torch.equal(out[known], frame[known])
    inside = out[..., 30:60, 10:50]
    assert (inside - frame[..., 30:60, 10:50]).abs().max() < 0.02  # the fill is red, not grey or blue


def test_frames_within_the_working_size_go_to_the_inpainter_unchanged():
    frame, hole = two_colour_frame(), torch.zeros(1, 1, 90, 160)
    hole[..., 20:40, 100:130] = 1.0
    telea = ClassicalFrameInpainter("telea")
    assert torch.equal(WorkingSizeInpainter(telea, 160)(frame, hole), telea(frame, hole))
    assert torch.equal(WorkingSizeInpainter(telea, 4000)(frame, hole), telea(frame, hole))
    empty = torch.zeros_like(hole)
    assert WorkingSizeInpainter(telea, 40)(frame, empty) is frame


@pytest.mark.parametrize("bad", [-1, 0, 2.5])
def test_working_size_rejects_non_positive_or_fractional_sizes(bad):
    with pytest.raises(ValueError, match="working_size"):
        WorkingSizeInpainter(ClassicalFrameInpainter("telea"), bad)


def test_stage_factory_keeps_full_resolution_by_default_and_rejects_negative_sizes():
    assert isinstance(stages.frame_inpainter("telea"), ClassicalFrameInpainter)
    assert isinstance(stages.frame_inpainter("ns", working_size=64), WorkingSizeInpainter)
    with pytest.raises(ValueError, match="working_size"):
        stages.frame_inpainter("telea", working_size=-8)


def test_network_at_a_working_size_shares_its_weights_and_runs_at_that_size():
    torch.manual_seed(0)
    net = FrameInpaintNet(FrameInpaintConfig(widths=(4, 8, 8), first_kernel=3))
    assert net.with_working_size(0) is net
    with pytest.raises(ValueError, match="working_size"):
        net.with_working_size(-1)
    moved = net.with_working_size(32)  # the stored config runs this 96 px frame at 48
    assert (moved.config.scale, moved.config.max_side) == (1.0, 32)
    assert (net.config.scale, net.config.max_side) == (0.5, 256)  # the original is untouched
    assert all(a is b for a, b in zip(net.parameters(), moved.parameters()))
    reference = FrameInpaintNet(FrameInpaintConfig(widths=(4, 8, 8), first_kernel=3, scale=1.0, max_side=32))
    reference.load_state_dict(net.state_dict())
    frame, hole = torch.rand(1, 3, 60, 96), torch.zeros(1, 1, 60, 96)
    hole[..., 10:40, 20:60] = 1.0
    with torch.no_grad():
        out = moved(frame, hole)
        assert torch.equal(out, reference(frame, hole))
        assert not torch.allclose(out, net(frame, hole))  # another working size, another fill


def test_refiner_memory_follows_its_working_size():
    net = ConvLSTMRefineNet(ConvLSTMRefineConfig(widths=(4, 8), hidden=8))
    assert net.memory_size(240, 432) == (30, 54)  # scale 1/2, then /4 by the encoder
    assert net.with_working_size(108).memory_size(240, 432) == (15, 27)


def test_frame_inpaint_node_fills_at_the_working_size(nodes):
    frames, hole = synthetic_clip(t=3, h=48, w=64).comfy()
    (full,) = nodes["FRVI_FrameInpaint"].run(frames, hole, "telea", 5)
    (default,) = nodes["FRVI_FrameInpaint"].run(frames, hole, "telea", 5, working_size=0)
    (small,) = nodes["FRVI_FrameInpaint"].run(frames, hole, "telea", 5, working_size=32)
    assert torch.equal(full, default)
    known = (hole < 0.5)[..., None].expand_as(frames)
    assert small.shape == frames.shape and torch.equal(small[known], frames[known])
    assert not torch.equal(small, full)
    assert (small[~known] - full[~known]).abs().mean() < 0.1  # the same fill, only coarser


def test_frame_inpaint_node_overrides_the_network_working_size(nodes):
    torch.manual_seed(0)
    net = FrameInpaintNet(FrameInpaintConfig(widths=(4, 8, 8), first_kernel=3))
    frames, hole = synthetic_clip(t=2, h=48, w=64).comfy()
    (out,) = nodes["FRVI_FrameInpaint"].run(frames, hole, "network", 5, model=net, working_size=40)
    direct = net.with_working_size(40)
    with torch.no_grad():
        expected = direct(frames[:1].permute(0, 3, 1, 2), hole[:1, None])
    assert torch.allclose(out[:1].permute(0, 3, 1, 2), expected, atol=1e-6)
    assert net.config.max_side == 256  # the connected model itself is unchanged


def test_loader_node_sets_the_working_size(pack, classes, nodes, tmp_path, monkeypatch):
    loader = sys.modules[f"{pack.__name__}.nodes.loader_nodes"]
    monkeypatch.setattr(loader, "PACK_WEIGHTS", tmp_path)
    monkeypatch.setattr(loader, "folder_paths", None)
    save_network(ConvLSTMRefineNet(ConvLSTMRefineConfig(widths=(4, 8), hidden=8)), tmp_path / "refine.safetensors")
    assert declared_inputs(classes["FRVI_LoadConvLSTMRefineNetwork"])["working_size"][1]["default"] == 0
    (stored,) = nodes["FRVI_LoadConvLSTMRefineNetwork"].load("refine.safetensors")
    (resized,) = nodes["FRVI_LoadConvLSTMRefineNetwork"].load("refine.safetensors", working_size=320)
    assert (stored.config.scale, stored.config.max_side) == (0.5, 0)
    assert (resized.config.scale, resized.config.max_side) == (1.0, 320)


def test_evaluation_rows_at_a_working_size_are_named_and_built():
    evaluate = load_script("evaluate")
    assert evaluate.config_working_sizes("telea,telea@320, classical@96,propagate") == {320, 96}
    rows = evaluate.classical_configs(32)
    assert "telea@32" in rows and "propagate@32" in rows and "32 px" in rows["telea@32"].description
    clip = synthetic_clip(t=2, h=48, w=64)
    video, mask = clip.frames, clip.hole
    small, full = rows["telea@32"].make()(video, mask), evaluate.CLASSICAL_CONFIGS["telea"].make()(video, mask)
    assert small.shape == full.shape and not torch.equal(small, full)


def test_robust_flow_at_a_working_size_comes_back_at_the_frame_size_in_frame_pixels():
    from model.stages.robust_flow import DISFlowEstimator, LaplacianFlowCompleter, robust_flow_pair
    prev, frame = synthetic_clip(t=2, h=120, w=216, pan=4, seed=3, cell=8).frames[:, None]  # backward flow: +4 px
    hole = torch.zeros(1, 1, 120, 216)
    hole[..., 40:80, 80:140] = 1.0
    args = (frame, prev, hole, hole, frame, prev, DISFlowEstimator(DEFAULTS.estimator), LaplacianFlowCompleter(), 8)
    full = robust_flow_pair(*args)
    small = robust_flow_pair(*args, working_size=108)
    for (flow_full, conf_full), (flow_small, conf_small) in zip(full, small):
        assert flow_small.shape == flow_full.shape and conf_small.shape == conf_full.shape
        assert 0.0 <= conf_small.min() and conf_small.max() <= 1.0
        inner = (slice(None), slice(None), slice(10, 110), slice(10, 206))  # away from the frame border
        assert (flow_small[inner][:, 0] - 4.0).abs().median() < 0.25  # vectors rescaled to frame pixels
        assert flow_small[inner][:, 1].abs().median() < 0.25
    assert robust_flow_pair(*args, working_size=216)[0][0].equal(full[0][0])  # not reduced: the same flow
    with pytest.raises(ValueError, match="working_size"):
        robust_flow_pair(*args, working_size=-1)


def test_robust_flow_node_at_a_working_size_runs_in_chunks_like_one_run(nodes):
    frames, hole = synthetic_clip(t=6, h=48, w=128).comfy()
    (p,) = nodes["FRVI_FrameInpaint"].run(frames, hole, "telea", 5)

    def graph(f, h, q, state=None):
        flow_p, flow_i = nodes["FRVI_RobustFlow"].run(f, h, q, "dis_medium", "laplacian", 4, state=state,
                                                      working_size=64)
        (flow,) = nodes["FRVI_FlowBlend"].run(flow_p, flow_i, "confidence")
        return nodes["FRVI_ConvLSTMRefine"].run(f, h, q, flow, "temporal_blend", 0.6, state=state)

    whole, _ = graph(frames, hole, p)
    first, mid = graph(frames[:3], hole[:3], p[:3])
    second, _ = graph(frames[3:], hole[3:], p[3:], mid)
    assert torch.equal(torch.cat((first, second)), whole)
    flow_p, _ = nodes["FRVI_RobustFlow"].run(frames, hole, p, "dis_medium", "laplacian", 4, working_size=64)
    full_p, _ = nodes["FRVI_RobustFlow"].run(frames, hole, p, "dis_medium", "laplacian", 4)
    assert flow_p.stored_size == (24, 64) and full_p.stored_size == flow_p.size == full_p.size == (48, 128)
    assert flow_p.flow.dtype == torch.float16  # held compactly between nodes: working size, half precision
    assert flow_p.at(1)[0].shape == full_p.at(1)[0].shape and not torch.equal(flow_p.at(1)[0], full_p.at(1)[0])


def test_flows_held_at_the_working_size_in_half_precision_change_the_output_by_under_1_255():
    """Robust Flow's fields are held at its working size in float16 (a quarter of the pixels at 640 px from
    1280 px, half the bytes); the refined output stays within 1/255 of full-size float32 fields."""
    from model.checks import hole_at
    from model.pipeline.engine import blend_flow_fields, inpaint_frames, refine_frames, robust_flow
    from model.stages.robust_flow import FLOW_STORAGE_DTYPE, FlowField, robust_flow_pair
    clip = synthetic_clip(t=6, h=96, w=128)
    frames, hole = clip.frames, clip.hole
    estimator, completer = stages.flow_estimator("dis_medium"), stages.flow_completer("laplacian")
    with torch.inference_mode():
        p = inpaint_frames(frames, hole, stages.frame_inpainter("telea"))
        small = robust_flow(frames, hole, p, estimator, completer, 4, working_size=64, storage_dtype=FLOW_STORAGE_DTYPE)
        full = [FlowField.empty(6, (96, 128)) for _ in range(2)]  # today's fields: per frame at the frame size
        for t in range(1, 6):
            pair = robust_flow_pair(frames[t:t + 1], frames[t - 1:t], hole_at(hole, t), hole_at(hole, t - 1),
                                    p[t:t + 1], p[t - 1:t], estimator, completer, 4, 64)
            for field, (flow, confidence) in zip(full, pair):
                field.put(t, flow, confidence)
        outputs = [refine_frames(frames, hole, p, blend_flow_fields(*fields, stages.flow_blender("confidence")),
                                 stages.refiner())[0] for fields in (small, full)]
    assert small[0].flow.dtype == torch.float16 and small[0].stored_size == (48, 64)
    assert small[0].flow.numel() * 4 == full[0].flow.numel()  # a quarter of the pixels, in half the bytes each
    assert small[0].flow.element_size() * 2 == full[0].flow.element_size()
    inside = hole.expand_as(frames) > 0.5
    assert torch.equal(outputs[0][~inside], frames[~inside]) and torch.equal(outputs[1][~inside], frames[~inside])
    difference = (outputs[0] - outputs[1]).abs()[inside] * 255
    print(f"mean {difference.mean():.4f}/255, max {difference.max():.2f}/255, over 1/255: "
          f"{(difference > 1).float().mean():.4%}")
    assert difference.mean() < 1.0 and (difference > 1).float().mean() < 0.005
