"""Unit tests of model/: warp, harmonic fill, masks, and the streaming engine against the stage loops."""
from __future__ import annotations

import torch

from clips import synthetic_clip
from model import stages
from model.pipeline.engine import StreamingInpainter, blend_flow_fields, inpaint_frames, refine_frames, robust_flow
from model.harmonic import harmonic_fill
from model.masks import feather, grow_hole
from model.warp import warp


def test_warp_follows_the_backward_flow_convention(device):
    image = torch.rand(1, 3, 10, 12, device=device)
    flow = torch.zeros(1, 2, 10, 12, device=device)
    flow[:, 0], flow[:, 1] = 2.0, -1.0  # every pixel looks 2 px right, 1 px up in the source
    warped, valid = warp(image, flow)
    assert torch.allclose(warped[:, :, 1:, :-2], image[:, :, :-1, 2:], atol=1e-5)
    assert valid[0, 0, 0].sum() == 0 and valid[0, 0, 1:, -2:].sum() == 0 and valid[0, 0, 1:, :-2].all()


def test_warp_of_zero_flow_is_identity(device):
    image = torch.rand(2, 5, 7, 9, device=device)
    warped, valid = warp(image, torch.zeros(2, 2, 7, 9, device=device))
    assert torch.allclose(warped, image, atol=1e-6) and valid.all()


def test_harmonic_fill_reproduces_a_linear_field_and_keeps_known_values():
    yy, xx = torch.meshgrid(torch.arange(60.0), torch.arange(80.0), indexing="ij")
    field = torch.stack((0.1 * xx + 2, -0.05 * yy))[None]
    unknown = torch.zeros(1, 1, 60, 80, dtype=torch.bool)
    unknown[..., 20:40, 25:55] = True
    corrupted = torch.where(unknown, torch.full_like(field, 50.0), field)
    filled = harmonic_fill(corrupted, unknown, iterations=40)
    assert torch.equal(filled[~unknown.expand_as(field)], field[~unknown.expand_as(field)])
    assert (filled - field).abs().max() < 0.1


def test_grow_and_feather():
    hole = torch.zeros(1, 1, 21, 21)
    hole[..., 10, 10] = 1
    grown = grow_hole(hole, 3)
    assert grown[0, 0, 10, 7] == 1 and grown[0, 0, 10, 6] == 0 and grown[0, 0, 7, 7] == 0  # a disk, not a square
    assert torch.equal(grow_hole(grown, -3), hole)
    soft = feather(grown, 4)
    assert soft.max() < 1 and soft.sum() > 0 and torch.equal(feather(grown, 0), grown)


def _classical():
    return (stages.frame_inpainter("telea", 5), stages.flow_estimator("dis_medium"), stages.flow_completer(),
            stages.flow_blender("confidence"), stages.refiner("temporal_blend", 0.6))


def test_streaming_engine_matches_the_stage_by_stage_graph():
    clip = synthetic_clip(t=5)
    frames, hole = clip.frames, clip.hole
    inpainter, estimator, completer, blender, refiner = _classical()
    with torch.inference_mode():
        inpainted = inpaint_frames(frames, hole, inpainter)
        flow_p, flow_i = robust_flow(frames, hole, inpainted, estimator, completer)
        flow = blend_flow_fields(flow_p, flow_i, blender)
        staged, _ = refine_frames(frames, hole, inpainted, flow, refiner)
    engine = StreamingInpainter(*_classical())
    streamed = torch.cat([engine.step(frames[t:t + 1], hole[t:t + 1]) for t in range(5)])
    assert torch.allclose(streamed, staged, atol=1e-6)


def test_streaming_engine_timer_sees_every_stage_and_changes_no_pixel():
    from contextlib import contextmanager
    clip = synthetic_clip(t=3)
    frames, hole = clip.frames, clip.hole
    entered = []

    @contextmanager
    def timer(stage):
        entered.append(stage)
        yield

    plain, timed = StreamingInpainter(*_classical()), StreamingInpainter(*_classical(), timer=timer)
    for t in range(3):
        assert torch.equal(plain.step(frames[t:t + 1], hole[t:t + 1]), timed.step(frames[t:t + 1], hole[t:t + 1]))
    assert entered == ["frame_inpaint", "refine"] + ["frame_inpaint", "robust_flow", "flow_blend", "refine"] * 2


def test_progress_callback_sees_every_frame_in_order():
    clip = synthetic_clip(t=4)
    seen = []
    inpaint_frames(clip.frames, clip.hole, stages.frame_inpainter(), on_frame=seen.append)
    assert seen == [0, 1, 2, 3]
