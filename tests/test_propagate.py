"""Flow Propagate: pixels other frames saw are copied in exactly; what nobody saw stays in the hole."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from clips import hole_mask, synthetic_clip
from conftest import node_info
from model import stages
from model.propagate.poisson import poisson_blend
from model.propagate.whole_clip import PropagateConfig, flow_propagate, propagate_video


SIZE = dict(h=40, w=56)  # the frames of most tests here: synthetic_clip(**SIZE, pan=...) pans ``pan`` px per frame


def translation_flows(h: int, w: int, shift: float):
    """Exact flows of a :func:`~clips.synthetic_clip` panning ``shift`` px per frame:
    ``i -> (forward i -> i+1, backward i+1 -> i)``."""
    def pair_flows(_i: int):
        forward, backward = torch.zeros(1, 2, h, w), torch.zeros(1, 2, h, w)
        forward[:, 0], backward[:, 0] = -shift, shift
        return forward, backward
    return pair_flows


def known_unchanged(out: torch.Tensor, frames: torch.Tensor, hole: torch.Tensor) -> bool:
    known = (hole < 0.5).expand_as(frames)
    return torch.equal(out[known], frames[known])


@pytest.mark.parametrize("seam", ["none", "poisson"])
@pytest.mark.parametrize("speed", [0, 1])
def test_pure_translation_restores_the_hole_exactly(seam, speed):
    clip = synthetic_clip(**SIZE, hole=(12, 18, 16, 10), hole_motion=speed)
    frames, hole = clip.frames, clip.hole
    h, w = frames.shape[-2:]
    out, remaining = propagate_video(frames, hole, translation_flows(h, w, 2.0), seam=seam)
    assert (remaining == 0).all()  # every hole pixel was visible in another frame
    assert (out - frames).abs().max() < 1e-4
    assert known_unchanged(out, frames, hole)


def waves(t: int, h: int, w: int, shift: float) -> torch.Tensor:
    """``[t,3,h,w]`` 4-pixel waves (a fine texture) panning ``shift`` px per frame (as :func:`translation_flows`)."""
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return torch.stack([0.5 + 0.2 * torch.sin(2 * torch.pi * (x + shift * i) / 4) * torch.cos(2 * torch.pi * y / 16)
                        for i in range(t)])[:, None].expand(t, 3, h, w).float().contiguous()


@pytest.mark.parametrize("sharp", [False, True])
def test_a_carried_reference_keeps_a_fine_texture_sharp(sharp, monkeypatch):
    """A reference carried half a pixel a frame: its samples lie halfway between pixels, where a bilinear sample
    keeps 71 % of the waves' contrast and a bicubic one 97 %. Fills carried over a shot (references, keyframes) are
    sampled bicubically; the real passes, whose sources change from frame to frame, bilinearly."""
    from model.propagate import trace
    h, w, shift = 32, 48, 0.5
    frames = waves(3, h, w, shift)
    hole = torch.zeros(3, 1, h, w)
    hole[:, :, 10:22, 12:36] = 1.0  # the same box in every frame: the real passes see only its edges
    if not sharp:
        gather = trace.gather
        monkeypatch.setattr(trace, "gather", lambda *args: gather(*args[:7], False))
    out, remaining = propagate_video(frames, hole, translation_flows(h, w, shift), seam="none",
                                     references={0: frames[:1]})
    assert (remaining == 0).all()

    inside = (slice(1, None), slice(None), slice(12, 20), slice(16, 32))

    def contrast(video):
        return (video[inside] - 0.5).abs().mean()
    assert (contrast(out) > 0.9 * contrast(frames)) == sharp
    if sharp:
        assert (out - frames)[inside].abs().max() < 0.02
    assert known_unchanged(out, frames, hole)


@pytest.mark.parametrize("gradients", [False, True])
def test_what_lies_in_a_source_frames_hole_never_reaches_a_sharp_sample(gradients):
    """Bicubic samples at fractions of a pixel beside a source frame's hole: the same whatever the hole holds (the
    4x4 footprint is wider than the bilinear one; where it touches the hole the sample falls back to bilinear)."""
    from model.propagate.trace import TensorVideo, gather
    h, w = 24, 32
    frames = waves(2, h, w, 0.0)
    hole = torch.zeros(2, 1, h, w)
    hole[0, :, 8:16, 10:20] = 1.0
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    positions = torch.stack((x + 0.37, y + 0.61))[None]  # every point off the pixel grid
    age, wanted = torch.ones(1, 1, h, w), torch.ones(1, 1, h, w, dtype=torch.bool)
    samples = [gather(TensorVideo(torch.where(hole > 0.5, torch.full_like(frames, inside), frames), hole), 1, -1,
                      positions, age, wanted, gradients, sharp=True) for inside in (0.0, 1.0)]
    assert torch.equal(samples[0], samples[1])
    taken = samples[0][:, 3:4] > 0
    assert taken.sum() > 0.6 * h * w and not taken[..., 8:16, 10:20].any()
    sharp_colour = samples[0][:, :3]
    blurred = gather(TensorVideo(frames, hole), 1, -1, positions, age, wanted, gradients)[:, :3]
    far = (slice(None), slice(None), slice(0, 5), slice(2, 28))  # clear of the hole: bicubic there
    assert (sharp_colour[far] - 0.5).abs().mean() > 1.1 * (blurred[far] - 0.5).abs().mean()


def test_translation_with_estimated_flow_restores_the_hole_within_interpolation_error():
    clip = synthetic_clip(t=8, h=48, w=64, hole=(16, 24, 16, 12), hole_motion=1)
    frames, hole = clip.frames, clip.hole
    t = frames.shape[0]
    out, remaining = flow_propagate(frames, hole, stages.flow_estimator("dis_medium"), PropagateConfig(seam="none"))
    inside = hole > 0.5
    filled = inside & (remaining < 0.5)
    assert filled.sum() >= 0.9 * inside.sum()
    error = (out - frames).abs()[filled.expand_as(frames)]
    telea = stages.frame_inpainter("telea")
    baseline = torch.cat([telea(frames[i:i + 1] * (1 - hole[i:i + 1]), hole[i:i + 1]) for i in range(t)])
    assert error.mean() < 0.02  # sub-pixel flow error on a sharp texture; Telea is ~0.18
    assert error.mean() < 0.25 * (baseline - frames).abs()[filled.expand_as(frames)].mean()
    assert known_unchanged(out, frames, hole)


def test_pixels_no_frame_saw_stay_in_the_remaining_hole():
    frames = synthetic_clip(**SIZE).frames
    t, _, h, w = frames.shape
    # left box: static on screen, so the panning background shows what is behind it in other frames;
    # right box: moves with the scene (2 px/frame), so the same scene points are hidden in every frame
    seen = hole_mask(t, h, w, (10, 6, 10, 8), motion=0)
    unseen = hole_mask(t, h, w, (24, 44, 10, 8), motion=-2)
    hole = torch.maximum(seen, unseen)
    out, remaining = propagate_video(frames, hole, translation_flows(h, w, 2.0), max_distance=0)
    assert torch.equal(remaining, unseen)
    assert torch.equal(out[(unseen > 0.5).expand_as(out)], frames[(unseen > 0.5).expand_as(out)])
    assert (out - frames).abs()[(seen > 0.5).expand_as(out)].max() < 1e-4


def test_static_camera_and_static_hole_leave_everything_to_frame_inpaint():
    clip = synthetic_clip(**SIZE, pan=0, hole=(10, 20, 20, 12), hole_motion=0)
    frames, hole = clip.frames, clip.hole[:1]  # one mask for every frame
    t, _, h, w = frames.shape
    out, remaining = propagate_video(frames, hole, translation_flows(h, w, 0.0))
    assert torch.equal(remaining, hole.expand(t, -1, -1, -1))
    assert torch.equal(out, frames)


def test_occluded_pixels_fail_the_consistency_check_and_are_not_copied():
    frames = synthetic_clip(t=2, **SIZE).frames
    _, _, h, w = frames.shape
    hole = torch.zeros(2, 1, h, w)
    hole[1, :, 10:30, 20:36] = 1.0  # frame 1 only: its hole must come from frame 0

    def pair_flows(_i):
        forward, backward = translation_flows(h, w, 2.0)(0)
        forward[:, :, 10:30, 22:30] = 0.0  # in frame 0 these points disagree with the backward flow
        return forward, backward

    out, remaining = propagate_video(frames, hole, pair_flows, consistency=0.5, seam="none")
    occluded = torch.zeros_like(hole, dtype=torch.bool)
    occluded[1, :, 10:30, 20:28] = True  # frame-1 pixels that land in the disagreeing patch (x + 2)
    assert torch.equal(remaining > 0.5, occluded)
    assert torch.equal(out[occluded.expand_as(out)], frames[occluded.expand_as(out)])  # left untouched
    copied = (hole > 0.5) & ~occluded
    assert (out - frames).abs()[copied.expand_as(out)].max() < 1e-4


def dragged_flows(h: int, w: int, shift: float, hole: tuple[int, int, int, int], ring: int, scale: float):
    """:func:`translation_flows` whose known pixels within ``ring`` px left and right of a static ``hole`` (top, left,
    height, width) measure ``scale`` times the motion: DIS beside a hole whose fill stands still (``scale`` between 0
    and 1: dragged towards it; 0: a thing that stands still there)."""
    top, left, height, width = hole

    def pair_flows(i: int):
        forward, backward = translation_flows(h, w, shift)(i)
        for flow in (forward, backward):
            flow[..., top:top + height, left - ring:left] *= scale
            flow[..., top:top + height, left + width:left + width + ring] *= scale
        return forward, backward
    return pair_flows


def test_flow_dragged_beside_the_hole_does_not_stop_the_copies(monkeypatch):
    """A step that lands where DIS dragged the flow towards the hole's fill passes the check; one that lands on a
    thing standing still beside the hole still fails it (model.propagate.trace.DRAG_RING)."""
    box, h, w, shift = (12, 200, 24, 30), 48, 432, 5.0
    clip = synthetic_clip(t=10, h=h, w=w, pan=int(shift), hole=box, hole_motion=0)
    frames, hole = clip.frames, clip.hole

    def run(scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        return propagate_video(frames, hole, dragged_flows(h, w, shift, box, 6, scale), max_distance=0, seam="none")

    exact_out, exact_left = run(1.0)
    out, left = run(0.4)
    assert torch.equal(left, exact_left) and (out - exact_out).abs().max() < 1e-6
    filled = (hole > 0.5) & (left < 0.5)
    assert filled.sum() > 0.8 * (hole > 0.5).sum() and (out - frames).abs()[filled.expand_as(out)].max() < 1e-4
    _, still_left = run(0.0)
    monkeypatch.setattr("model.propagate.trace.DRAG_RING", 0.0)
    assert run(0.4)[1].sum() > left.sum() + 100  # without the ring: strips the check refused
    assert torch.equal(run(0.0)[1], still_left)  # a still thing beside the hole: refused either way
    assert still_left.sum() > left.sum() + 100


def test_both_directions_are_weighted_by_temporal_distance():
    # a static camera whose brightness changes: frame t is flat grey 0.1 * (t + 1)
    t, h, w = 4, 12, 16
    frames = torch.stack([torch.full((3, h, w), 0.1 * (i + 1)) for i in range(t)])
    hole = torch.zeros(t, 1, h, w)
    hole[1:3, :, 4:8, 4:10] = 1.0  # frames 1 and 2: sources are frame 0 and frame 3
    out, remaining = propagate_video(frames, hole, translation_flows(h, w, 0.0), seam="none")
    assert (remaining == 0).all()
    # frame 1: frame 0 is 1 away, frame 3 is 2 away -> weights 2/3 and 1/3
    assert torch.allclose(out[1, :, 5, 5], torch.full((3,), (2 * 0.1 + 1 * 0.4) / 3), atol=1e-6)
    assert torch.allclose(out[2, :, 5, 5], torch.full((3,), (1 * 0.1 + 2 * 0.4) / 3), atol=1e-6)


def test_max_distance_limits_how_far_a_source_may_be():
    frames = synthetic_clip(t=8, **SIZE, pan=1).frames
    t, _, h, w = frames.shape
    hole = hole_mask(1, h, w, (10, 20, 20, 12))  # 12 px wide, camera moves 1 px/frame
    _, near = propagate_video(frames, hole, translation_flows(h, w, 1.0), max_distance=2)
    _, far = propagate_video(frames, hole, translation_flows(h, w, 1.0), max_distance=0)
    assert near.sum() > far.sum()
    assert torch.equal(far > 0.5, (far > 0.5) & (near > 0.5))  # what a far look misses, a near one misses too


def test_remaining_hole_keeps_soft_mask_values_where_nothing_was_copied():
    frames = synthetic_clip(**SIZE, pan=0).frames
    t, _, h, w = frames.shape
    hole = torch.zeros(t, 1, h, w)
    hole[:, :, 10:20, 10:20] = 0.7
    hole[:, :, 0:4, 0:4] = 0.3  # below the threshold: known, returned unchanged
    out, remaining = propagate_video(frames, hole, translation_flows(h, w, 0.0))
    assert torch.equal(remaining, hole)
    assert torch.equal(out, frames)


def test_poisson_blend_removes_a_colour_step_but_keeps_the_texture():
    frames = synthetic_clip(t=1, **SIZE).frames
    _, _, h, w = frames.shape
    frame = frames[:1]
    region = torch.zeros(1, 1, h, w, dtype=torch.bool)
    region[..., 10:30, 15:40] = True
    guide_x = F.pad(frame[..., :, 1:] - frame[..., :, :-1], (0, 1))
    guide_y = F.pad(frame[..., 1:, :] - frame[..., :-1, :], (0, 0, 0, 1))
    fill = frame + 0.2 * region  # right texture, wrong exposure
    out = poisson_blend(fill, guide_x, guide_y, frame, region, ~region)
    assert (out - frame).abs()[region.expand_as(out)].max() < 0.01
    assert torch.equal(out[(~region).expand_as(out)], fill[(~region).expand_as(out)])


def test_progress_is_reported_twice_per_frame():
    clip = synthetic_clip(t=3, **SIZE, hole=(5, 5, 5, 5), hole_motion=0)
    h, w = clip.frames.shape[-2:]
    calls = []
    propagate_video(clip.frames, clip.hole, translation_flows(h, w, 2.0),
                    on_frame=calls.append)
    assert sorted(calls) == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("bad", [dict(seam="median"), dict(completion="network"), dict(max_distance=-1),
                                 dict(consistency=0.0), dict(hole_dilation=-2), dict(flow_max_side=4)])
def test_bad_settings_raise_a_value_error_that_names_them(bad):
    frames = synthetic_clip(t=2, **SIZE).frames
    config = PropagateConfig(**bad)
    with pytest.raises(ValueError, match="Flow Propagate"):
        flow_propagate(frames, torch.zeros(1, 1, *frames.shape[-2:]), stages.flow_estimator("dis_fast"), config)


# ---- node contract -------------------------------------------------------------------------------------------

NODE_ARGS = dict(estimator="dis_fast", hole_dilation=4, max_distance=12, consistency=1.0, seam="poisson",
                 flow_max_side=640)


def test_node_is_registered_with_its_display_name(classes):
    assert classes["FRVI_FlowPropagate"].__name__ == "FlowPropagate"
    assert node_info(classes["FRVI_FlowPropagate"])["display_name"] == "Flow Propagate"


def test_node_declares_its_sockets(classes):
    info = node_info(classes["FRVI_FlowPropagate"])
    spec = info["input"]["required"]
    assert list(spec) == ["frames", "hole", *NODE_ARGS]
    assert spec["frames"][0] == "IMAGE" and spec["hole"][0] == "MASK"
    assert info["output"] == ["IMAGE", "MASK"]
    for name, value in NODE_ARGS.items():
        kind, options = spec[name]
        assert options["default"] is not None
        assert value in options["options"] if kind == "COMBO" else kind in ("INT", "FLOAT")


def test_node_outputs_feed_frame_inpaint_unchanged(nodes):
    frames, hole = synthetic_clip(t=4, **SIZE, hole=(12, 18, 16, 10), hole_motion=1).comfy()
    t, h, w, _ = frames.shape
    out, remaining = nodes["FRVI_FlowPropagate"].run(frames, hole, **NODE_ARGS)
    assert out.shape == frames.shape and out.dtype == torch.float32
    assert remaining.shape == (t, h, w) and remaining.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1 and 0 <= remaining.min() and remaining.max() <= 1
    assert torch.equal(out[hole < 0.5], frames[hole < 0.5])
    assert remaining.sum() < hole.sum()  # something was propagated
    (inpainted,) = nodes["FRVI_FrameInpaint"].run(out, remaining, "telea", 5)
    assert inpainted.shape == frames.shape


def test_node_with_one_frame_has_nothing_to_propagate(nodes):
    frames, hole = synthetic_clip(t=1, **SIZE, hole=(5, 5, 15, 10)).comfy()
    out, remaining = nodes["FRVI_FlowPropagate"].run(frames, hole, **NODE_ARGS)
    assert torch.equal(out, frames)
    assert torch.equal(remaining, hole)


def test_node_handles_odd_sizes_and_a_single_mask_for_all_frames(nodes):
    frames, _ = synthetic_clip(t=3, h=239, w=431, pan=3).comfy()
    hole = torch.zeros(1, 239, 431)
    hole[:, 100:140, 200:260] = 1.0
    out, remaining = nodes["FRVI_FlowPropagate"].run(frames, hole, **{**NODE_ARGS, "flow_max_side": 216})
    assert out.shape == frames.shape and remaining.shape == (3, 239, 431)
    assert torch.equal(out[(hole < 0.5).expand(3, -1, -1)], frames[(hole < 0.5).expand(3, -1, -1)])
    assert remaining.sum() < 3 * hole.sum()
