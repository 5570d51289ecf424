"""The paper's four networks: partial convolutions, shapes at odd sizes, exact known pixels,
streaming the ConvLSTM in chunks, gradients, and the learned path refusing to run without weights."""
from __future__ import annotations

import pytest
import torch

from clips import synthetic_clip
from model import stages
from model.pipeline.engine import StreamingInpainter, refine_frames
from model.stages.robust_flow import FlowField
from model.networks import (ConvLSTMRefineConfig, ConvLSTMRefineNet, FlowBlendConfig, FlowBlendNet,
                            FlowCompleteConfig, FlowCompleteNet, FrameInpaintConfig, FrameInpaintNet,
                            PartialConv2d)
from model.stages.learned import NetworkFlowBlender, NetworkFlowCompleter, NetworkInpainter, NetworkRefiner

TINY = {
    "frame_inpaint": lambda **kw: FrameInpaintNet(FrameInpaintConfig(widths=(4, 8, 8), first_kernel=3, **kw)),
    "flow_complete": lambda **kw: FlowCompleteNet(FlowCompleteConfig(widths=(4, 8, 8), first_kernel=3, **kw)),
    "flow_blend": lambda **kw: FlowBlendNet(FlowBlendConfig(widths=(4, 8, 8), **kw)),
    "convlstm_refine": lambda **kw: ConvLSTMRefineNet(ConvLSTMRefineConfig(widths=(4, 8), hidden=8, **kw)),
}


def box_hole(h: int, w: int, batch: int = 1) -> torch.Tensor:
    hole = torch.zeros(batch, 1, h, w)
    hole[..., h // 4:h // 4 + max(1, h // 3), w // 3:w // 3 + max(1, w // 4)] = 1.0
    return hole


def _partial_conv_with_ones_kernel() -> PartialConv2d:
    conv = PartialConv2d(1, 1, kernel_size=3)
    with torch.no_grad():
        conv.conv.weight.fill_(1.0)
    return conv


def test_partial_conv_renormalises_by_the_valid_fraction_hand_checked():
    conv = _partial_conv_with_ones_kernel()
    x = torch.arange(16.0).view(1, 1, 4, 4)
    mask = torch.ones(1, 1, 4, 4)
    mask[0, 0, 1, 1] = 0.0  # one hole pixel (value 5)
    out, new_mask = conv(x, mask)
    # corner (0,0): valid 0, 1, 4 -> sum 5 over 3 valid of 9 -> 5 * 9/3
    assert out[0, 0, 0, 0].item() == pytest.approx(15.0)
    # centre (1,1): the 3x3 block 0..10 sums to 45, minus the hole's 5, over 8 valid -> 40 * 9/8
    assert out[0, 0, 1, 1].item() == pytest.approx(45.0)
    # corner (3,3): 10, 11, 14, 15 over 4 valid (the rest is padding) -> 50 * 9/4
    assert out[0, 0, 3, 3].item() == pytest.approx(112.5)
    expected = torch.zeros(4, 4)
    for i in range(4):
        for j in range(4):
            window = [(r, c) for r in range(i - 1, i + 2) for c in range(j - 1, j + 2)
                      if 0 <= r < 4 and 0 <= c < 4 and mask[0, 0, r, c] > 0]
            expected[i, j] = sum(x[0, 0, r, c] for r, c in window) * 9.0 / len(window)
    assert torch.allclose(out[0, 0], expected)
    assert torch.equal(new_mask, torch.ones(1, 1, 4, 4)), "every window saw a valid pixel"


def test_partial_conv_mask_update_shrinks_the_hole_by_the_window():
    conv = _partial_conv_with_ones_kernel()
    with torch.no_grad():
        conv.bias.fill_(0.5)
    mask = torch.ones(1, 1, 5, 5)
    mask[0, 0, 1:4, 1:4] = 0.0  # a 3x3 hole: only its centre's window is all hole
    out, new_mask = conv(torch.ones(1, 1, 5, 5), mask)
    expected_mask = torch.ones(1, 1, 5, 5)
    expected_mask[0, 0, 2, 2] = 0.0
    assert torch.equal(new_mask, expected_mask)
    assert out[0, 0, 2, 2].item() == 0.0, "no valid pixel: output 0, bias not added"
    assert torch.allclose(out[new_mask > 0], torch.full_like(out[new_mask > 0], 9.5)), "ones renormalise to 9, + bias"


def test_partial_conv_stride_two_halves_the_size_and_pools_the_mask():
    conv = PartialConv2d(3, 5, kernel_size=5, stride=2)
    valid = 1.0 - box_hole(9, 14, batch=2)
    valid[1] = 0.0
    valid[1, :, 0, 0] = 1.0  # sample 1: one valid pixel in the corner
    out, new_mask = conv(torch.rand(2, 3, 9, 14), valid)
    assert out.shape == (2, 5, 5, 7) and new_mask.shape == (2, 1, 5, 7)
    # an output pixel is valid when its 5x5 window (stride 2, padding 2) saw a valid pixel: a max-pool
    assert torch.equal(new_mask, torch.nn.functional.max_pool2d(valid, 5, 2, 2))
    assert new_mask[1].sum() == 4  # the corner pixel lies in the windows of outputs (0,0), (0,1), (1,0), (1,1)


def _run(kind: str, net, h: int, w: int, seed: int = 0, device: torch.device | str = "cpu"):
    g = torch.Generator().manual_seed(seed)
    frame, hole = torch.rand(1, 3, h, w, generator=g).to(device), box_hole(h, w).to(device)
    flow = 3.0 * torch.randn(1, 2, h, w, generator=g).to(device)
    conf = torch.rand(1, 1, h, w, generator=g).to(device)
    net = net.to(device)
    if kind == "frame_inpaint":
        return net(frame, hole), frame, hole
    if kind == "flow_complete":
        return net(flow, hole), flow, hole
    if kind == "flow_blend":
        return net(flow, flow.flip(1), conf, conf), flow, None
    out, memory = net(frame, hole, frame * 0.5, flow, conf, None, None)
    out, memory = net(frame, hole, frame * 0.5, flow, conf, out, memory)
    return out, frame, hole


@pytest.mark.parametrize("size", [(37, 53), (239, 431)])
@pytest.mark.parametrize("kind", list(TINY))
@pytest.mark.parametrize("working", [{}, {"scale": 0.5}, {"max_side": 24}])
def test_networks_keep_shape_dtype_and_known_pixels_at_odd_sizes(kind, size, working, device):
    net = TINY[kind](**working).eval()
    with torch.no_grad():
        out, source, hole = _run(kind, net, *size, device=device)
    channels = 2 if kind.startswith("flow") else 3
    assert out.shape == (1, channels, *size) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    if channels == 3:
        assert out.min() >= 0 and out.max() <= 1
    if hole is not None:
        known = (hole < 0.5).expand_as(out)
        assert torch.equal(out[known], source[known]), "known pixels must come back bit-exact"
        assert not torch.equal(out[~known], source[~known]), "the hole must be filled"


def test_flow_completion_is_equivariant_to_the_flow_scale_and_offset():
    """Per-instance normalisation: the network sees the same numbers for a*flow + b."""
    net = TINY["flow_complete"](min_std=1e-3).eval()
    flow, hole = 3.0 * torch.randn(1, 2, 40, 48), box_hole(40, 48)
    offset = torch.tensor([5.0, -2.0]).view(1, 2, 1, 1)
    with torch.no_grad():
        base = net(flow, hole)
        moved = net(4.0 * flow + offset, hole)
    assert torch.allclose(moved, 4.0 * base + offset, atol=1e-4)


def test_flow_blend_is_half_the_sum_plus_the_learned_residual():
    net = TINY["flow_blend"](scale=1.0, min_std=1e-3).eval()
    flow_p, flow_i, conf = torch.randn(1, 2, 21, 30), torch.randn(1, 2, 21, 30), torch.rand(1, 1, 21, 30)
    with torch.no_grad():
        blended = net(flow_p, flow_i, conf, conf)
        residual = net.residual(flow_p, flow_i, conf, conf)
        moved = net(2.0 * flow_p + 1.0, 2.0 * flow_i + 1.0, conf, conf)
    assert residual.abs().max() > 0
    assert torch.allclose(blended, 0.5 * (flow_p + flow_i + residual), atol=1e-6)
    assert torch.allclose(moved, 2.0 * blended + 1.0, atol=1e-4), "normalised per instance"


def test_refiner_memory_is_warped_along_the_downsampled_flow():
    net = TINY["convlstm_refine"](scale=1.0).eval()
    step = net.multiple  # one memory cell in frame pixels (working size = frame size)
    memory = {"h": torch.rand(1, 8, 5, 6), "c": torch.rand(1, 8, 5, 6)}
    still = torch.zeros(1, 2, 20, 24)
    h, c = net.warp_memory(memory, still)
    assert torch.allclose(h, memory["h"], atol=1e-6) and torch.allclose(c, memory["c"], atol=1e-6)
    shift = still.clone()
    shift[:, 0] = float(step)  # every pixel of frame t came from one cell to the right in t-1
    h, c = net.warp_memory(memory, shift)
    assert torch.allclose(h[..., :-1], memory["h"][..., 1:], atol=1e-5)
    assert torch.all(h[..., -1] == 0) and torch.all(c[..., -1] == 0), "memory from outside the frame resets to 0"
    with pytest.raises(ValueError, match="memory"):
        net.warp_memory(memory, torch.zeros(1, 2, 40, 24))


def test_refiner_in_chunks_equals_one_run():
    torch.manual_seed(0)
    refiner = NetworkRefiner(TINY["convlstm_refine"]())
    t, h, w = 6, 23, 37
    frames = torch.rand(t, 3, h, w)
    hole = box_hole(h, w, batch=t)
    inpainted = torch.where(hole > 0.5, torch.rand(t, 3, h, w), frames)
    flow = FlowField(2.0 * torch.randn(t, 2, h, w), torch.rand(t, 1, h, w))
    with torch.inference_mode():
        whole, state_whole = refine_frames(frames, hole, inpainted, flow, refiner)
        first, state = refine_frames(frames[:3], hole[:3], inpainted[:3], FlowField(flow.flow[:3], flow.confidence[:3]),
                                     refiner)
        assert set(state.memory) == {"h", "c"}
        second, state_end = refine_frames(frames[3:], hole[3:], inpainted[3:],
                                          FlowField(flow.flow[3:], flow.confidence[3:]), refiner, state)
    assert torch.allclose(torch.cat((first, second)), whole, atol=1e-5)
    assert torch.allclose(state_end.memory["c"], state_whole.memory["c"], atol=1e-5)
    fresh, _ = refine_frames(frames[3:], hole[3:], inpainted[3:], FlowField(flow.flow[3:], flow.confidence[3:]),
                             refiner)
    assert not torch.allclose(fresh, second, atol=1e-5), "the carried state must matter"


@pytest.mark.parametrize("kind", list(TINY))
def test_gradients_reach_every_parameter(kind):
    torch.manual_seed(0)
    net = TINY[kind](scale=0.5) if kind != "frame_inpaint" else TINY[kind]()
    out, _, hole = _run(kind, net.train(), 24, 36)
    loss = (out * (hole if hole is not None else 1.0)).square().sum()
    loss.backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, f"{kind}: no gradient for {name}"


def test_networks_run_unchanged_inside_the_streaming_engine(device):
    """The runners on every device (on CUDA the frame network and refiner autocast to bf16/fp16)."""
    clip = synthetic_clip(t=4, h=30, w=44)
    frames, hole = clip.frames.to(device), clip.hole.to(device)
    engine = StreamingInpainter(NetworkInpainter(TINY["frame_inpaint"]()), stages.flow_estimator("dis_ultrafast"),
                                NetworkFlowCompleter(TINY["flow_complete"]()), NetworkFlowBlender(TINY["flow_blend"]()),
                                NetworkRefiner(TINY["convlstm_refine"]()))
    outputs = list(engine.run((frames[t:t + 1], hole[t:t + 1]) for t in range(4)))
    assert set(engine.state.memory) == {"h", "c"}
    for t, out in enumerate(outputs):
        known = (hole[t:t + 1] < 0.5).expand_as(out)
        assert out.shape == (1, 3, 30, 44) and out.dtype == torch.float32 and out.device.type == device.type
        assert torch.equal(out[known], frames[t:t + 1][known])


@pytest.mark.parametrize("factory, method", [
    (stages.frame_inpainter, "network"), (stages.flow_completer, "network"),
    (stages.flow_blender, "network"), (stages.refiner, "network")])
def test_learned_path_refuses_without_weights(factory, method):
    with pytest.raises(ValueError, match=r"no trained weights .*; use (method|completion)=\w+.*load a weights file"):
        factory(method)


def test_learned_path_refuses_a_network_of_another_stage():
    with pytest.raises(ValueError, match="'flow_blend' network, not a 'frame_inpaint'"):
        stages.frame_inpainter("network", network=TINY["flow_blend"]())


def test_configs_reject_bad_values_with_a_clear_message():
    with pytest.raises(ValueError, match="widths"):
        FrameInpaintConfig(widths=())
    with pytest.raises(ValueError, match="scale"):
        FlowCompleteConfig(scale=1.5)
    with pytest.raises(ValueError, match="3 entries"):
        FlowBlendConfig(widths=(4, 8))
    with pytest.raises(ValueError, match="unknown config fields"):
        ConvLSTMRefineConfig.from_dict({"hidden": 8, "depth": 3})
    config = ConvLSTMRefineConfig(widths=(4, 8), hidden=8)
    assert ConvLSTMRefineConfig.from_json(config.to_json()) == config


def test_image_networks_run_under_reduced_precision_autocast():
    """The CUDA path autocasts the frame network and the refiner; CPU bf16 autocast exercises the same code."""
    frame_net, refiner = TINY["frame_inpaint"]().eval(), TINY["convlstm_refine"]().eval()
    frame, hole = torch.rand(1, 3, 37, 53), box_hole(37, 53)
    flow, conf = torch.randn(1, 2, 37, 53), torch.rand(1, 1, 37, 53)
    with torch.no_grad(), torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        filled = frame_net(frame, hole)
        out, memory = refiner(frame, hole, filled.float(), flow, conf, None, None)
        out, memory = refiner(frame, hole, filled.float(), flow, conf, out, memory)
    known = (hole < 0.5).expand_as(frame)
    for image in (filled, out):
        assert image.dtype == torch.float32 and torch.equal(image[known], frame[known])
    assert memory["h"].dtype == torch.float32


def test_frame_network_fills_thin_holes_at_a_larger_working_size_than_large_ones():
    net = TINY["frame_inpaint"](scale=0.25, thin_radius=4.0).eval()
    thin, large = torch.zeros(1, 1, 120, 160), torch.zeros(1, 1, 120, 160)
    thin[..., 60:64, 20:140] = 1.0  # 4 rows: radius 2 px
    large[..., 20:100, 30:130] = 1.0  # radius 40 px
    assert net.working_size_for(large) == (30, 40)  # the configured quarter size
    assert net.working_size_for(thin) == (120, 160)  # radius 2 -> factor 2, capped at the frame size
    assert net.working_size_for(torch.zeros(1, 1, 120, 160)) == (30, 40)
    assert net.with_working_size(80).working_size_for(thin) == (60, 80)  # an explicit size wins
    frame = torch.rand(1, 3, 120, 160)
    with torch.no_grad():
        out = net(frame, thin)
    assert torch.equal(out[(thin < 0.5).expand_as(out)], frame[(thin < 0.5).expand_as(frame)])


def test_hole_radius_is_the_half_thickness_of_the_hole():
    from model.masks import hole_radius
    hole = torch.zeros(1, 40, 60)
    hole[0, 10:30, 10:50] = 1.0
    assert hole_radius(hole) == pytest.approx(10.0, abs=0.5)
    assert hole_radius(torch.zeros(1, 8, 8)) == 0.0


def test_gate_only_refiner_mixes_the_fill_and_the_carried_output_without_inventing_colour():
    """Default refiner (no colour correction): inside the hole every value lies between P_t and the previous
    output warped to t; with ``correction=True`` the paper's residual r can leave that range."""
    torch.manual_seed(0)
    frame, hole = torch.rand(1, 3, 24, 32), box_hole(24, 32)
    inpainted, previous = torch.rand(1, 3, 24, 32), torch.rand(1, 3, 24, 32)
    flow, confidence = torch.zeros(1, 2, 24, 32), torch.ones(1, 1, 24, 32)
    for correction in (False, True):
        net = TINY["convlstm_refine"](correction=correction).eval()
        assert net.decoder[-1].out_channels == (4 if correction else 1)
        with torch.no_grad():
            torch.nn.init.normal_(net.decoder[-1].weight, std=0.5)  # a gate (and r) far from its start
            out, _ = net(frame, hole, inpainted, flow, confidence, previous, None, hole)
        inside = hole.expand_as(out) > 0.5
        low, high = torch.minimum(inpainted, previous)[inside], torch.maximum(inpainted, previous)[inside]
        between = ((out[inside] >= low - 1e-6) & (out[inside] <= high + 1e-6)).all()
        assert bool(between) == (not correction)
