"""Windowed Flow Propagate on a stream: the same pixels as one whole-clip run, in bounded memory."""
from __future__ import annotations

import math

import pytest
import torch

from clips import synthetic_clip
from model import stages
from model.propagate.whole_clip import PropagateConfig, flow_propagate
from model.propagate.stream import StreamingPropagator, compact, expand


def wobbling_video(t: int, h: int = 40, w: int = 56, seed: int = 0,
                   moving: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """A :func:`~clips.synthetic_clip` whose camera pans right and back (0-4 px/frame), and a box hole that
    slides left and right (or, not ``moving``, stays put) -> ``(frames [T,3,H,W], hole [T,1,H,W])``.

    The camera path makes the sources of a hole pixel lie both before and after it; behind the
    static box they lie up to 6 frames away, so with a short ``max_distance`` some of the hole
    stays, and a window one frame short of context changes which.
    """
    pan = [round(12 + 10 * math.sin(i / 3.0)) for i in range(t)]
    slide = [(i * 3) % 14 if moving else 4 for i in range(t)]
    clip = synthetic_clip(t, h, w, pan=pan, seed=seed, hole=(12, 16, 16, 12), hole_motion=slide)
    hole = clip.hole.clone()
    hole[t // 2] = 0.0  # a frame without a hole breaks the chains; the windows must agree on it too
    return clip.frames, hole


class TranslationEstimator:
    """Exact flow of :func:`wobbling_video`: the whole-pixel horizontal shift that best matches the two frames.

    With whole-pixel flow every trace step lands on a pixel, so no bilinear mix of sources occurs.
    """

    def __call__(self, target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        m = 6
        w = target.shape[-1]
        errors = {d: (target[..., m:w - m] - source[..., m + d:w - m + d]).abs().mean().item() for d in range(-5, 6)}
        flow = torch.zeros(1, 2, *target.shape[2:])
        flow[:, 0] = float(min(errors, key=errors.get))
        return flow


def stream(frames: torch.Tensor, hole: torch.Tensor, config: PropagateConfig, chunk: int, context: int = 0,
           estimator=None):
    propagator = StreamingPropagator(estimator or stages.flow_estimator("dis_medium"), config, chunk, context)
    items = list(propagator.run((frames[i:i + 1], hole[i:i + 1]) for i in range(frames.shape[0])))
    return propagator, items


def whole_clip(frames: torch.Tensor, hole: torch.Tensor, config: PropagateConfig, estimator=None):
    return flow_propagate(frames, hole, estimator or stages.flow_estimator("dis_medium"), config)


@pytest.mark.parametrize("seam", ["poisson", "none"])
@pytest.mark.parametrize("distance,chunk", [(2, 1), (3, 4), (2, 0)])
def test_windowed_propagation_equals_the_whole_clip_run_bit_for_bit_with_whole_pixel_flow(seam, distance, chunk):
    frames, hole = wobbling_video(17, moving=False)
    config = PropagateConfig(max_distance=distance, seam=seam)
    whole, whole_remaining = whole_clip(frames, hole, config, TranslationEstimator())
    _, items = stream(frames, hole, config, chunk, estimator=TranslationEstimator())
    assert len(items) == frames.shape[0]
    filled = torch.cat([item.filled for item in items])
    remaining = torch.cat([item.remaining for item in items])
    assert 0.2 * hole.sum() < remaining.sum() < 0.6 * hole.sum()  # filled a good part, left some to Frame Inpaint
    assert torch.equal(filled, whole)
    assert torch.equal(remaining, whole_remaining)
    assert torch.equal(torch.cat([item.frame for item in items]), frames)
    assert torch.equal(torch.cat([item.hole for item in items]), hole)


@pytest.mark.parametrize("distance,chunk", [(2, 1), (3, 4)])
def test_windowed_propagation_with_estimated_flow_matches_the_whole_clip_within_rounding(distance, chunk):
    # With sub-pixel flow, model/propagate/trace.py mixes four neighbours' sources when they agree to within a
    # tolerance (has > 1 - 1e-4, age spread < 1e-3): a neighbour whose source lies before the window
    # can then add a tiny weight in the whole-clip run only. The remaining hole stays identical and
    # colours stay far below one 8-bit level; twice the context makes the windows agree to float noise.
    frames, hole = wobbling_video(17)
    config = PropagateConfig(max_distance=distance)
    whole, whole_remaining = whole_clip(frames, hole, config)
    for context, tolerance in ((distance, 1 / 255), (2 * distance, 1e-5)):
        _, items = stream(frames, hole, config, chunk, context)
        filled = torch.cat([item.filled for item in items])
        assert torch.equal(torch.cat([item.remaining for item in items]), whole_remaining)
        known = (hole < 0.5).expand_as(frames)
        assert torch.equal(filled[known], frames[known])
        assert (filled - whole).abs().max() < tolerance


def test_a_stream_shorter_than_one_window_is_one_whole_clip_run():
    frames, hole = wobbling_video(5)
    config = PropagateConfig(max_distance=3)
    whole, whole_remaining = whole_clip(frames, hole, config)
    _, items = stream(frames, hole, config, chunk=4)
    assert torch.equal(torch.cat([item.filled for item in items]), whole)
    assert torch.equal(torch.cat([item.remaining for item in items]), whole_remaining)


def test_frames_held_stay_constant_whatever_the_stream_length():
    config = PropagateConfig(max_distance=2, seam="none")
    peaks = []
    for length in (12, 40):
        frames, hole = wobbling_video(length, h=16, w=24)
        propagator, items = stream(frames, hole, config, chunk=3)
        assert len(items) == length
        peaks.append(propagator.peak_frames)
    assert peaks == [3 + 2] * 2


def test_outputs_come_out_while_the_stream_is_still_being_read():
    frames, hole = wobbling_video(20, h=16, w=24)
    read = []

    def video():
        for i in range(frames.shape[0]):
            read.append(i)
            yield frames[i:i + 1], hole[i:i + 1]

    propagator = StreamingPropagator(stages.flow_estimator("dis_medium"), PropagateConfig(max_distance=2, seam="none"),
                                     chunk=3)
    first = next(iter(propagator.run(video())))
    assert torch.equal(first.frame, frames[:1])
    assert len(read) == 3 // 2 + 2  # the first (half) chunk and its context after it, nothing more


def test_settings_a_stream_cannot_use_are_refused():
    estimator = stages.flow_estimator("dis_medium")
    with pytest.raises(ValueError, match="max_distance is 0"):
        StreamingPropagator(estimator, PropagateConfig(max_distance=0))
    with pytest.raises(ValueError, match="chunk"):
        StreamingPropagator(estimator, PropagateConfig(), chunk=-1)
    with pytest.raises(ValueError, match="context"):
        StreamingPropagator(estimator, PropagateConfig(max_distance=4), context=3)
    frames, hole = wobbling_video(3, h=16, w=24)
    video = [(frames[:1], hole[:1]), (frames[1:2, :, :8], hole[1:2, :, :8])]
    with pytest.raises(ValueError, match="one size"):
        list(StreamingPropagator(estimator, PropagateConfig(max_distance=1)).run(video))


def test_flow_propagate_node_in_chunks_with_context_frames_matches_one_run(nodes):
    """A ComfyUI graph in chunks: each chunk's batch carries max_distance frames of its neighbours as context."""
    frames, hole = wobbling_video(17, moving=False)
    frames, hole = frames.permute(0, 2, 3, 1).contiguous(), hole[:, 0]  # ComfyUI layout
    distance, cut = 3, 6
    args = dict(estimator="dis_medium", hole_dilation=1, max_distance=distance, consistency=1.0, seam="poisson",
                flow_max_side=640)
    node = nodes["FRVI_FlowPropagate"]
    whole, whole_remaining = node.run(frames, hole, **args)
    first, first_remaining = node.run(frames[:cut + distance], hole[:cut + distance], **args, context_after=distance)
    second, second_remaining = node.run(frames[cut - distance:], hole[cut - distance:], **args,
                                        context_before=distance)
    assert first.shape[0] == cut and second.shape[0] == frames.shape[0] - cut
    assert 0 < whole_remaining.sum() < hole.sum()  # some of the hole filled, some left to Frame Inpaint
    assert torch.equal(torch.cat((first_remaining, second_remaining)), whole_remaining)
    assert (torch.cat((first, second)) - whole).abs().max() < 1 / 255  # see the test above: sub-pixel mixing
    # without context the chunk ends see less: more of the hole is left near the cut
    alone, alone_remaining = node.run(frames[:cut], hole[:cut], **args)
    assert alone_remaining.sum() > whole_remaining[:cut].sum()
    with pytest.raises(ValueError, match="context_before"):
        node.run(frames[:4], hole[:4], **args, context_before=2, context_after=2)


def test_8bit_frames_are_held_as_8bit_and_come_back_bit_exact():
    frames, hole = wobbling_video(17, moving=False)
    frames = (frames * 255).round() / 255  # what the CLI reads from 8-bit files
    held = compact(frames[:1])
    assert held.dtype == torch.uint8 and torch.equal(expand(held), frames[:1])
    assert compact(hole[:1]).dtype == torch.uint8  # a 0/1 hole
    soft = frames[:1] * 0.999
    assert compact(soft).dtype == torch.float32 and torch.equal(expand(compact(soft)), soft)
    config = PropagateConfig(max_distance=3)
    whole, whole_remaining = whole_clip(frames, hole, config, TranslationEstimator())
    _, items = stream(frames, hole, config, chunk=4, estimator=TranslationEstimator())
    assert torch.equal(torch.cat([item.filled for item in items]), whole)
    assert torch.equal(torch.cat([item.remaining for item in items]), whole_remaining)
    last = frames[-1:].contiguous(memory_format=torch.channels_last)  # frames come back in their own layout
    propagator = StreamingPropagator(TranslationEstimator(), config)
    items = list(propagator.run([(frames[:1], hole[:1]), (last, hole[1:2])]))
    assert items[1].frame.is_contiguous(memory_format=torch.channels_last) and items[0].frame.is_contiguous()
    assert torch.equal(items[1].frame, last)
