"""Automatic keyframes in Flow Propagate: what no frame saw is filled once and carried along the motion."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from clips import synthetic_clip
from model import stages
from model.pipeline.config import PipelineConfig
from model.pipeline.run import Pipeline
from model.propagate.keyframes import KeyframeCarrier
from model.stages.frame_inpaint import ClassicalFrameInpainter
from model.stages.patch_fill import PatchTexture
from model.propagate.stream import StreamingPropagator
from model.propagate.whole_clip import PropagateConfig, flow_propagate

REPO = Path(__file__).resolve().parents[1]
ESTIMATOR = stages.flow_estimator("dis_medium")
TELEA = stages.frame_inpainter("telea")


class CountingFill:
    """Telea that counts the keyframes it fills."""

    def __init__(self):
        self.calls = 0

    def __call__(self, frame, hole):
        self.calls += 1
        return TELEA(frame, hole)


class RandomDetail(CountingFill):
    """A new random guess per call: Telea plus fresh fine detail, which a fill made anew would not repeat."""

    def __call__(self, frame, hole):
        self.calls += 1
        h, w = frame.shape[-2:]
        detail = 0.2 * (torch.rand(1, 1, h // 8 + 1, w // 8 + 1) - 0.5)  # 8 px blocks: texture, not pixel noise
        detail = detail.repeat_interleave(8, 2).repeat_interleave(8, 3)[..., :h, :w]
        return torch.where(hole > 0.5, (TELEA(frame, hole) + detail).clamp(0, 1), frame)


def hidden_clip(pan: int = 0, t: int = 10):
    """A clip whose hole moves with the scene (``pan`` px per frame): no frame ever sees behind it."""
    clip = synthetic_clip(t=t, h=48, w=80, pan=pan, hole=(14, 16, 24, 20), hole_motion=-pan, seed=3)
    corrupted = clip.frames * (1 - clip.hole) + 0.5 * clip.hole
    return corrupted, clip.hole


def propagate(corrupted, hole, fill=None, distance=3):
    with torch.inference_mode():
        return flow_propagate(corrupted, hole, ESTIMATOR, PropagateConfig(max_distance=distance),
                              keyframe_fill=fill)


def test_a_hole_nobody_sees_gets_one_fill_for_the_whole_shot_and_known_pixels_stay_exact():
    corrupted, hole = hidden_clip()
    _, plain_remaining = propagate(corrupted, hole)
    fill = CountingFill()
    out, remaining = propagate(corrupted, hole, fill)
    assert torch.equal(plain_remaining > 0.5, hole.expand_as(plain_remaining) > 0.5)  # nothing saw any of it
    assert fill.calls == 1 and float(remaining.max()) == 0.0
    inside = hole[0].bool().expand(3, -1, -1)
    for t in range(1, out.shape[0]):  # a static camera: the same fill in every frame
        assert float((out[t][inside] - out[0][inside]).abs().max()) < 2 / 255, t
    known = ~hole.bool().expand_as(out)
    assert torch.equal(out[known], corrupted[known])


def test_the_keyframe_fill_moves_with_the_scene():
    pan = -2  # the scene moves right, the hole with it (away from the frame's edge)
    corrupted, hole = hidden_clip(pan=pan)
    fill = RandomDetail()
    out, remaining = propagate(corrupted, hole, fill)
    assert fill.calls == 1 and float(remaining.max()) == 0.0
    first = hole[0, 0].bool()
    fresh = fill(corrupted[:1], hole[:1])[0][:, first]  # what a fill made anew would look like
    for t in range(1, out.shape[0]):  # the scene point at x in frame t - 1 is at x - pan in frame t
        inside, before = hole[t, 0].bool(), hole[t - 1, 0].bool()
        assert torch.equal(torch.roll(before, -pan, dims=1), inside)
        here, there = out[t][:, inside], out[t - 1][:, before]
        change, anew = float((here - there).abs().mean()), float((fresh - out[0][:, first]).abs().mean())
        assert change < 3 / 255 < 6 / 255 < anew, t  # carried along the motion (within the flow's drift)


def test_keyframes_no_chain_reaches_are_dropped():
    size = (32, 40)
    hole = torch.zeros(1, 1, *size)
    hole[..., 8:24, 10:30] = 1
    carrier = KeyframeCarrier(size, lambda t: (torch.zeros(1, 2, *size),) * 2, TELEA)
    for t, h in enumerate([hole, hole, torch.zeros_like(hole), hole, hole]):
        carrier.step(t, torch.rand(1, 3, *size), h, h)
    assert carrier.keyframes == [0, 3]
    assert list(carrier.sources.keyframes) == [3]  # frame 0's fill is out of reach since frame 2 had no hole


def test_a_small_remainder_is_left_to_the_stages():
    size = (32, 40)
    hole = torch.zeros(1, 1, *size)
    hole[..., 8:24, 10:30] = 1
    small = torch.zeros_like(hole)
    small[..., 10:14, 12:16] = 1  # 16 pixels: under MIN_PIXELS
    carrier = KeyframeCarrier(size, lambda t: (torch.zeros(1, 2, *size),) * 2, TELEA)
    frame = torch.rand(1, 3, *size)
    out, left = carrier.step(0, frame, hole, small)
    assert carrier.keyframes == [] and torch.equal(left, small) and torch.equal(out, frame)


def test_the_stream_carries_keyframes_as_the_whole_clip_run_does():
    corrupted, hole = hidden_clip(pan=1, t=14)
    fill = CountingFill()
    whole, whole_remaining = propagate(corrupted, hole, TELEA)
    propagator = StreamingPropagator(ESTIMATOR, PropagateConfig(max_distance=3), keyframe_fill=fill)
    items = list(propagator.run((corrupted[t:t + 1], hole[t:t + 1]) for t in range(corrupted.shape[0])))
    streamed = torch.cat([item.filled for item in items])
    remaining = torch.cat([item.remaining for item in items])
    assert propagator.keyframes == [0] and fill.calls == 1  # one fill carried over 14 frames, 4 chunks
    assert float(remaining.max()) == 0.0 == float(whole_remaining.max())
    assert float((streamed - whole).abs().max()) < 2 / 255


def test_the_pipeline_makes_keyframes_only_with_flow_propagate():
    with pytest.raises(ValueError, match="keyframes 'frame_inpaint' are made by Flow Propagate"):
        PipelineConfig(keyframes="frame_inpaint")
    with pytest.raises(ValueError, match="keyframes must be one of off, frame_inpaint, exemplar, textured"):
        PipelineConfig(propagate=True, keyframes="sharp")
    corrupted, hole = hidden_clip(t=6)
    pipeline = Pipeline(PipelineConfig(propagate=True, learned=False, keyframes="frame_inpaint", estimator="dis_fast"))
    frames = list(pipeline.run((corrupted[t:t + 1], hole[t:t + 1]) for t in range(6)))
    inside = hole[0, 0].bool()
    first = frames[0].output[0][:, inside]
    assert all(float((f.output[0][:, inside] - first).abs().max()) < 2 / 255 for f in frames)


def test_the_exemplar_keyframes_name_the_package_when_opencv_lacks_it(monkeypatch):
    import cv2
    monkeypatch.delattr(cv2, "xphoto", raising=False)
    with pytest.raises(ValueError, match="keyframes 'exemplar'.*contrib"):
        Pipeline(PipelineConfig(propagate=True, learned=False, keyframes="exemplar"))


def test_textured_keyframes_need_no_opencv_contrib_and_copy_texture(monkeypatch):
    """Without cv2.xphoto, textured keyframes fill with the patch-based completion (no error): detailed, known
    pixels exact, the structure fill run once (its colours start the completion)."""
    import cv2
    from model.propagate.keyframes import keyframe_inpainter
    monkeypatch.delattr(cv2, "xphoto", raising=False)
    generator = torch.Generator().manual_seed(2)
    frame = (0.5 + 0.4 * (torch.rand(1, 1, 60, 90, generator=generator) - 0.5)).repeat(1, 3, 1, 1)
    hole = torch.zeros(1, 1, 60, 90)
    hole[..., 20:40, 30:60] = 1
    structure = stages.frame_inpainter("telea")
    calls = []

    def counted(image, region):
        calls.append(image.shape)
        return structure(image, region)
    fill = keyframe_inpainter("textured", structure=counted)(frame, hole)
    assert len(calls) == 1
    inside = hole.expand_as(frame) > 0.5
    assert torch.equal(fill[~inside], frame[~inside])

    def roughness(image):
        return float((image[..., 21:39, 31:59] - image[..., 21:39, 32:60]).abs().mean())
    assert roughness(fill) > 3 * roughness(structure(frame, hole))
    Pipeline(PipelineConfig(propagate=True, learned=False, keyframes="textured"))  # builds without contrib


def test_textured_keyframes_take_frame_inpaints_fill_for_structure(nodes):
    """The pipeline's textured keyframes take their colours from Frame Inpaint's own fill (Telea here), the node's
    from its frame network; both fill the whole hidden region once and keep known pixels."""
    corrupted, hole = hidden_clip(t=6)
    pipeline = Pipeline(PipelineConfig(propagate=True, learned=False, keyframes="textured", estimator="dis_fast"))
    fill = pipeline.keyframe_fill
    assert isinstance(fill.inpainter, PatchTexture) and isinstance(fill.inpainter.guide, ClassicalFrameInpainter)
    frames = list(pipeline.run((corrupted[t:t + 1], hole[t:t + 1]) for t in range(6)))
    assert pipeline.keyframes == [0]
    inside = hole[0, 0].bool()
    first = frames[0].output[0][:, inside]
    assert all(float((f.output[0][:, inside] - first).abs().max()) < 2 / 255 for f in frames)
    images, mask = corrupted.permute(0, 2, 3, 1).contiguous(), hole[:, 0]
    out, left = nodes["FRVI_FlowPropagate"].run(images, mask, "dis_fast", 1, 2, 1.0, "poisson", 640,
                                                keyframes="textured")
    known = mask[..., None].expand_as(out) < 0.5
    assert float(left.max()) == 0.0 and torch.equal(out[known], images[known])


def test_cli_refuses_keyframes_without_propagate(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "inpaint_video.py"), "in.mp4", "mask.png", "-o",
                             str(tmp_path / "out.mp4"), "--keyframes", "frame_inpaint", "--no-propagate"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2 and "--keyframes are made by Flow Propagate" in result.stderr


def test_flow_propagate_node_makes_keyframes_on_request(nodes):
    corrupted, hole = hidden_clip(t=6)
    frames = corrupted.permute(0, 2, 3, 1).contiguous()  # ComfyUI's IMAGE [T,H,W,3]
    mask = hole[:, 0]
    widgets = ("dis_fast", 1, 2, 1.0, "poisson", 640)
    _, plain_remaining = nodes["FRVI_FlowPropagate"].run(frames, mask, *widgets)
    out, remaining = nodes["FRVI_FlowPropagate"].run(frames, mask, *widgets, keyframes="telea")
    assert float(plain_remaining.sum()) == float(mask.sum()) and float(remaining.max()) == 0.0
    known = mask[..., None].expand_as(out) < 0.5
    assert torch.equal(out[known], frames[known])
    with pytest.raises(ValueError, match="keyframes: expected one of off, telea, exemplar, network, textured"):
        nodes["FRVI_FlowPropagate"].run(frames, mask, *widgets, keyframes="sharp")


def test_flow_propagate_node_fills_keyframes_with_a_connected_or_the_shipped_frame_network(nodes):
    from model.pipeline.config import DEFAULTS
    from model.pipeline.run import load_networks
    corrupted, hole = hidden_clip(t=4)
    frames, mask = corrupted.permute(0, 2, 3, 1).contiguous(), hole[:, 0]
    widgets = ("dis_fast", 1, 2, 1.0, "poisson", 640)
    network = load_networks(DEFAULTS.replace(learned=True))["frame_inpaint"]
    connected, left = nodes["FRVI_FlowPropagate"].run(frames, mask, *widgets, keyframes="network",
                                                      keyframe_model=network)
    shipped, _ = nodes["FRVI_FlowPropagate"].run(frames, mask, *widgets, keyframes="network")
    telea, _ = nodes["FRVI_FlowPropagate"].run(frames, mask, *widgets, keyframes="telea")
    assert float(left.max()) == 0.0 and torch.allclose(connected, shipped, atol=1e-6)
    assert not torch.allclose(connected, telea, atol=1e-3)
