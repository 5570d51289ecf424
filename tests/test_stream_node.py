"""Video Inpaint (streaming): VIDEO in, VIDEO out through the CLI's engine; bad input refused, nothing left behind.

The node runs outside a ComfyUI server here (the V3 class's ``execute``); tests/test_comfyui_e2e.py runs the
long-shot template through a real one.
"""
from __future__ import annotations

import errno
import importlib
import io as bytes_io
import sys

import av
import numpy as np
import pytest
import torch

from clips import synthetic_clip
from model.io.video import FrameWriter
from model.pipeline.config import DEFAULTS
from model.pipeline.job import Job, run_job

# The widgets of the long-shot template, positionally: propagate, max_distance, learned, frame_method, grow,
# invert_hole, codec
WIDGETS = dict(propagate=True, max_distance=3, learned=True, frame_method="telea", grow=0, invert_hole=False,
               codec="h264_lossless")


@pytest.fixture
def stream(pack, tmp_path, monkeypatch):
    """The node module, writing into ``tmp_path/temp`` (ComfyUI's temp folder stands there)."""
    module = importlib.import_module(pack.__name__ + ".nodes.stream_node")
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(module, "temp_directory", lambda: temp)
    return module


def video_file(path, frames: torch.Tensor) -> str:
    """``frames [T,3,H,W]`` in [0,1] as a lossless H.264 .mp4 (bit-exact when decoded) -> its path."""
    with FrameWriter(path, frames.shape[3], frames.shape[2], 24.0, codec="h264_lossless") as writer:
        for frame in frames:
            writer.write(frame[None])
    return str(path)


def decoded(path) -> np.ndarray:
    """``[T,H,W,3]`` uint8 RGB frames of a video file (PyAV)."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.fixture
def files(tmp_path):
    """The synthetic clip (6 frames of 64x48) as a frames video and a mask video."""
    clip = synthetic_clip()
    video = video_file(tmp_path / "clip.mp4", clip.frames)
    mask = video_file(tmp_path / "clip_mask.mp4", clip.hole.expand(-1, 3, -1, -1))
    return clip, video, mask


def from_file(path, **trim):
    from comfy_api.latest import InputImpl
    return InputImpl.VideoFromFile(path, **trim)


def run(stream, video, hole, **changes) -> str:
    """The node's output video file."""
    (out,) = stream.VideoInpaintStream.execute(video, hole, **{**WIDGETS, **changes}).result
    return out.get_stream_source()


def leftovers(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "temp").iterdir())


def test_the_streaming_node_writes_what_the_cli_writes(stream, files, tmp_path):
    _, video, mask = files
    out = run(stream, from_file(video), from_file(mask))
    config = DEFAULTS.replace(propagate=True, max_distance=3)
    cli = tmp_path / "cli.mp4"
    run_job(Job(video, mask, str(cli), codec="h264_lossless", quiet=True), config)
    assert np.array_equal(decoded(out), decoded(cli))


def test_keyframes_reach_the_engine_as_the_cli_s_option(stream, tmp_path):
    clip = synthetic_clip(t=8, h=48, w=80, pan=-2, hole=(14, 16, 24, 20), hole_motion=2, seed=3)  # never seen
    video = video_file(tmp_path / "hidden.mp4", clip.frames)
    mask = video_file(tmp_path / "hidden_mask.mp4", clip.hole.expand(-1, 3, -1, -1))
    out = run(stream, from_file(video), from_file(mask), learned=False, keyframes="frame_inpaint")
    plain = run(stream, from_file(video), from_file(mask), learned=False)
    config = DEFAULTS.replace(propagate=True, max_distance=3, learned=False, keyframes="frame_inpaint")
    cli = tmp_path / "cli.mp4"
    run_job(Job(video, mask, str(cli), codec="h264_lossless", quiet=True), config)
    assert np.array_equal(decoded(out), decoded(cli)) and not np.array_equal(decoded(out), decoded(plain))


def test_a_mask_tensor_gives_the_video_the_mask_video_gives(stream, files):
    clip, video, mask = files
    from_video = decoded(run(stream, from_file(video), from_file(mask), learned=False))
    from_tensor = decoded(run(stream, from_file(video), clip.hole[:, 0], learned=False))
    assert np.array_equal(from_video, from_tensor)
    single = decoded(run(stream, from_file(video), clip.hole[0, 0], learned=False))  # one mask for every frame
    assert single.shape == from_video.shape


def test_known_pixels_kept_and_only_the_hole_changes(stream, files):
    clip, video, mask = files
    out = decoded(run(stream, from_file(video), from_file(mask), grow=0, learned=False)).astype(np.int16)
    source = decoded(video).astype(np.int16)
    known = ~clip.hole[:, 0].bool().numpy()
    assert np.array_equal(out[known], source[known])
    assert np.abs(out - source)[~known].mean() > 1  # the object painted into the hole is gone


def test_a_trimmed_video_streams_the_frames_of_its_window(stream, files):
    _, video, mask = files
    window = dict(start_time=2 / 24, duration=3 / 24)
    out = decoded(run(stream, from_file(video, **window), from_file(mask, **window), learned=False))
    source, holes = decoded(video), decoded(mask)[..., 0] > 127
    assert len(out) == 3
    for t in range(3):
        assert np.array_equal(out[t][~holes[2 + t]], source[2 + t][~holes[2 + t]])


def test_frames_in_memory_and_an_in_memory_file_stream_too(stream, files, pack):
    from comfy_api.latest import InputImpl
    from comfy_api.latest._util import VideoComponents
    clip, video, mask = files
    by_file = decoded(run(stream, from_file(video), from_file(mask), learned=False))
    images = torch.from_numpy(decoded(video)).float() / 255
    components = InputImpl.VideoFromComponents(VideoComponents(images=images, frame_rate=24))
    assert np.array_equal(decoded(run(stream, components, from_file(mask), learned=False)), by_file)
    in_memory = InputImpl.VideoFromFile(bytes_io.BytesIO(open(video, "rb").read()))
    assert np.array_equal(decoded(run(stream, in_memory, from_file(mask), learned=False)), by_file)


# ----------------------------------------------------------------------------------------------- bad input
def test_a_mask_video_of_another_length_is_refused_before_anything_is_written(stream, files, tmp_path):
    clip, video, _ = files
    short = video_file(tmp_path / "short.mp4", clip.hole[:2].expand(-1, 3, -1, -1))
    with pytest.raises(ValueError, match="has 2 masks but .* has 6 frames"):
        run(stream, from_file(video), from_file(short))
    assert leftovers(tmp_path) == []


def test_a_mask_video_one_frame_short_stops_with_a_clear_error_and_leaves_nothing(stream, files, tmp_path):
    clip, video, _ = files
    short = video_file(tmp_path / "short.mp4", clip.hole[:5].expand(-1, 3, -1, -1))
    with pytest.raises(ValueError, match="masks but"):
        run(stream, from_file(video), from_file(short), learned=False)
    assert leftovers(tmp_path) == []


def test_a_mask_of_another_aspect_ratio_is_refused(stream, files, tmp_path):
    _, video, _ = files
    with pytest.raises(ValueError, match="aspect"):
        run(stream, from_file(video), torch.ones(6, 48, 48))
    assert leftovers(tmp_path) == []


def test_a_video_with_a_damaged_middle_names_the_frame_and_leaves_nothing(stream, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:  # moov first: still opens cut
        encoder = container.add_stream("libx264", rate=24)
        encoder.width, encoder.height, encoder.pix_fmt = 160, 96, "yuv420p"
        for _ in range(60):
            image = rng.integers(0, 256, (96, 160, 3), dtype=np.uint8)
            for packet in encoder.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in encoder.encode():
            container.mux(packet)
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 3000] = bytes(3000)  # a run of zeros in the middle of the frame data
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"frame \d+ \(counting from 0\) could not be decoded, but the file claims 60"):
        run(stream, from_file(str(path)), torch.zeros(1, 96, 160), learned=False, propagate=False)
    assert leftovers(tmp_path) == []


def test_a_video_with_no_frames_is_a_clear_error(stream, tmp_path):
    path = tmp_path / "sound_only.mp4"  # a file a video loader accepts, holding one second of silence, no picture
    with av.open(str(path), "w") as container:
        encoder = container.add_stream("aac", rate=48000)
        silence = av.AudioFrame.from_ndarray(np.zeros((1, 48000), np.float32), format="fltp", layout="mono")
        silence.sample_rate = 48000
        for packet in [*encoder.encode(silence), *encoder.encode()]:
            container.mux(packet)
    with pytest.raises(ValueError, match="no readable frames|could not open"):
        run(stream, from_file(str(path)), torch.zeros(1, 48, 64))
    assert leftovers(tmp_path) == []


def test_cancel_between_frames_leaves_no_file(stream, files, tmp_path, monkeypatch):
    class Cancelled(Exception):
        pass

    def progress(_total):
        def on_frame(t):
            if t == 2:
                raise Cancelled  # what ComfyUI's interruption check raises when Cancel is pressed
        return on_frame

    monkeypatch.setattr(stream, "frame_progress", progress)
    _, video, mask = files
    with pytest.raises(Cancelled):
        run(stream, from_file(video), from_file(mask), learned=False)
    assert leftovers(tmp_path) == []


def test_a_full_disk_is_a_clear_error_and_leaves_no_file(stream, files, tmp_path, monkeypatch, pack):
    writer = sys.modules[pack.__name__ + ".model.io.video"].FrameWriter
    original = writer.write

    def write(self, frame):
        if self.count == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(self, frame)

    monkeypatch.setattr(writer, "write", write)
    _, video, mask = files
    with pytest.raises(ValueError, match="no space left"):
        run(stream, from_file(video), from_file(mask), learned=False)
    assert leftovers(tmp_path) == []


def test_a_wrong_input_type_is_a_clear_error(stream, files):
    _, video, _ = files
    with pytest.raises(ValueError, match="hole: expected a VIDEO"):
        run(stream, from_file(video), "mask.png")
