"""The command-line tool inpaint_video.py and its streaming readers/writers (model/io/video.py).

The CLI runs in this process (``cli`` fixture: ``inpaint_video.main``) unless a test needs a process of its
own: stopping a run (SIGKILL, Ctrl-C) and the process set-up done before torch loads (model/runtime.py).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from clips import DEMO, REPO, synthetic_clip
from model.io.video import FrameSource, FrameWriter, MaskSource, mask_from_array, paired
from model.pipeline.config import PipelineConfig
from model.pipeline.run import load_networks

CLI = REPO / "inpaint_video.py"


@dataclass
class Decoded:
    """What PyAV finds in a video file: codec, pixel format, frame rate, RGB frames, audio."""

    codec: str
    pix_fmt: str
    fps: Fraction
    frames: list = field(default_factory=list)  # [H,W,3] uint8 RGB
    audio_codec: str | None = None
    audio: np.ndarray | None = None  # [channels, samples] float
    sample_rate: int = 0

    @property
    def audio_seconds(self) -> float:
        return self.audio.shape[1] / self.sample_rate if self.audio is not None else 0.0


def decode(path: Path) -> Decoded:
    """Every video frame and audio sample of ``path``, decoded with PyAV (as browsers' FFmpeg-based players would)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        result = Decoded(stream.codec_context.name, stream.codec_context.pix_fmt, stream.average_rate,
                         [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)])
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio = container.streams.audio[0]
            to_float = av.AudioResampler(format="fltp")  # planar float, whatever the decoder gives
            chunks = [planar.to_ndarray() for frame in container.decode(audio) for planar in to_float.resample(frame)]
            result.audio_codec, result.sample_rate = audio.codec_context.name, audio.rate
            result.audio = np.concatenate(chunks, axis=1)
    return result


def read_video(path: Path) -> list[np.ndarray]:
    """The frames OpenCV reads from ``path`` (BGR), as the CLI reads its input."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def write_video(path: Path, frames: np.ndarray, fps: float = 12.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(frame)
    writer.release()


def write_video_with_tone(path: Path, frames: np.ndarray, fps: int = 12, audio_codec: str = "aac",
                          rate: int = 44100, hz: float = 440.0) -> None:
    """``frames`` (BGR uint8) as H.264 at ``fps`` with a stereo sine tone of the same length in ``audio_codec``."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        audio = container.add_stream(audio_codec, rate=rate, layout="stereo")
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:, :, ::-1]), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode())
        tone = (0.5 * np.sin(2 * np.pi * hz * np.arange(len(frames) * rate // fps) / rate)).astype(np.float32)
        for start in range(0, len(tone), 1000):
            chunk = np.repeat(tone[None, start:start + 1000], 2, axis=0)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = rate, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode())


def test_png_folder_output_keeps_known_pixels_bit_exact_and_fills_the_hole(cli, clip_files, tmp_path):
    result = cli(clip_files.frames, clip_files.masks, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    outputs = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in outputs] == [f"{i:05d}.png" for i in range(len(clip_files.written))]
    for frame, hole, path in zip(clip_files.written, clip_files.holes, outputs):
        out = cv2.imread(str(path))
        assert out.shape == frame.shape
        assert np.array_equal(out[~hole], frame[~hole])
        magenta = (out[hole] == (255, 0, 255)).all(axis=1)
        assert magenta.mean() < 0.01, "the hole still shows the removed object"


def test_video_in_video_out_is_h264_at_the_source_fps_and_writes_the_comparison(cli, tmp_path):
    clip = synthetic_clip(t=5).write(tmp_path / "clip")
    write_video(tmp_path / "in.avi", clip.written, fps=12.0)
    mask = clip.masks / "00002.png"  # one mask for every frame
    result = cli(tmp_path / "in.avi", mask, "-o", tmp_path / "out.mp4", "--side-by-side", tmp_path / "sbs.mp4",
                 "--estimator", "dis_ultrafast")
    assert result.returncode == 0, result.stderr
    out, sbs = decode(tmp_path / "out.mp4"), decode(tmp_path / "sbs.mp4")
    assert (out.codec, out.pix_fmt, out.fps) == (sbs.codec, sbs.pix_fmt, sbs.fps) == ("h264", "yuv420p", 12)
    assert len(out.frames) == len(sbs.frames) == 5
    assert out.frames[0].shape == (48, 64, 3) and sbs.frames[0].shape == (48, 2 * 64 + 4, 3)
    assert out.audio is None  # an MJPG .avi has no sound to copy
    assert len(read_video(tmp_path / "out.mp4")) == 5  # OpenCV (the CLI's reader) decodes it too


@pytest.mark.parametrize("source, audio_codec, output, expected_codec", [
    ("in.mp4", "aac", "out.mp4", "aac"),  # copied packet for packet
    ("in.mov", "pcm_s16le", "out.mp4", "aac"),  # PCM is not for mp4 players: re-encoded to AAC
    ("in.mkv", "libopus", "out.mkv", "opus"),  # Matroska takes Opus as it is
])
def test_the_source_audio_is_copied_and_trimmed_to_the_frames_written(cli, tmp_path, source, audio_codec, output,
                                                                     expected_codec):
    clip = synthetic_clip(t=24).write(tmp_path / "clip")
    rate = 48000 if audio_codec == "libopus" else 44100
    write_video_with_tone(tmp_path / source, clip.written, fps=12, audio_codec=audio_codec, rate=rate)  # 2 s, 440 Hz
    result = cli(tmp_path / source, clip.masks, "-o", tmp_path / output, "--max-frames", "9",
                 "--estimator", "dis_ultrafast")
    assert result.returncode == 0, result.stderr
    out = decode(tmp_path / output)
    assert len(out.frames) == 9 and out.fps == 12
    assert out.audio_codec == expected_codec and out.sample_rate == rate
    assert out.audio_seconds == pytest.approx(9 / 12, abs=0.05)  # 0.75 s, not the source's 2 s
    middle = out.audio[0, rate // 10:rate // 2]
    assert np.sqrt(np.mean(middle ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)  # the tone, not silence
    spectrum = np.abs(np.fft.rfft(middle))
    assert np.fft.rfftfreq(len(middle), 1 / rate)[spectrum.argmax()] == pytest.approx(440, abs=5)


BROWSER_CHECK = r"""
import json, shutil, sys
from pathlib import Path
from playwright.sync_api import sync_playwright
video = Path(sys.argv[1]).resolve()
page_file = video.with_suffix(".html")
page_file.write_text(f'<video id="v" src="{video.name}" muted preload="metadata"></video>')
script = '''() => new Promise(done => {
    const v = document.getElementById("v");
    const meta = () => done({duration: v.duration, width: v.videoWidth, height: v.videoHeight});
    if (v.readyState >= 1) meta();
    v.onloadedmetadata = meta;
    v.onerror = () => done({error: v.error ? v.error.code : -1});
    setTimeout(() => done({timeout: true}), 20000);
})'''
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=shutil.which("chromium") or shutil.which("chromium-browser"))
    page = browser.new_page()
    page.goto(page_file.as_uri())
    print(json.dumps(page.evaluate(script)))
    browser.close()
"""


def test_the_mp4_with_audio_plays_in_chromium(cli, tmp_path):
    """A <video> element in headless Chromium loads the CLI's H.264 + AAC mp4 and reports its duration."""
    import json
    import shutil
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("no Chromium (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="Playwright is in requirements-test.txt")
    clip = synthetic_clip(t=12).write(tmp_path / "clip")
    write_video_with_tone(tmp_path / "in.mp4", clip.written, fps=12)
    result = cli(tmp_path / "in.mp4", clip.masks, "-o", tmp_path / "out.mp4", "--estimator", "dis_ultrafast")
    assert result.returncode == 0, result.stderr
    played = subprocess.run([sys.executable, "-c", BROWSER_CHECK, str(tmp_path / "out.mp4")], capture_output=True,
                            text=True, timeout=120)
    assert played.returncode == 0, played.stderr[-3000:]
    report = json.loads(played.stdout.strip().splitlines()[-1])
    assert report.get("width") == 64 and report.get("height") == 48, report
    assert report["duration"] == pytest.approx(12 / 12, abs=0.1)


def test_another_fps_drops_the_audio_with_a_warning(cli, clip_files, tmp_path):
    write_video_with_tone(tmp_path / "in.mp4", clip_files.written, fps=12)
    result = cli(tmp_path / "in.mp4", clip_files.masks, "-o", tmp_path / "out.mp4", "--fps", "24",
                 "--estimator", "dis_ultrafast")
    assert result.returncode == 0, result.stderr
    assert "warning: --fps 24 differs" in result.stderr and "audio is not copied" in result.stderr
    out = decode(tmp_path / "out.mp4")
    assert out.fps == 24 and out.audio is None


@pytest.mark.parametrize("codec, suffix", [("h264_lossless", ".mp4"), ("ffv1", ".mkv")])
def test_lossless_codecs_round_trip_frames_bit_exact_at_odd_sizes(tmp_path, codec, suffix):
    frames = torch.rand(3, 3, 47, 63)
    with FrameWriter(tmp_path / f"out{suffix}", 63, 47, 12.0, codec=codec) as writer:
        for frame in frames:
            writer.write(frame[None])
    out = decode(tmp_path / f"out{suffix}")
    assert len(out.frames) == 3 and out.fps == 12
    expected = (frames.permute(0, 2, 3, 1) * 255 + 0.5).to(torch.uint8).numpy()
    assert np.array_equal(np.stack(out.frames), expected)  # no padding, no colour conversion


def test_default_h264_is_close_to_the_frames_and_pads_odd_sizes(tmp_path):
    torch.manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(3, 3, 3, 4), size=(47, 63), mode="bilinear")
    with pytest.warns(UserWarning, match="padded"):
        writer = FrameWriter(tmp_path / "out.mp4", 63, 47, 12.0)
    with writer:
        for frame in smooth:
            writer.write(frame[None])
    out = decode(tmp_path / "out.mp4")
    assert (out.codec, out.pix_fmt) == ("h264", "yuv420p") and out.frames[0].shape == (48, 64, 3)
    expected = (smooth.permute(0, 2, 3, 1) * 255 + 0.5).to(torch.uint8).numpy()
    error = np.stack(out.frames)[:, :47, :63].astype(float) - expected
    psnr = 10 * np.log10(255 ** 2 / np.mean(error ** 2))
    assert psnr > 32  # 4:2:0 chroma and CRF 18 on strong colour gradients (measured 36 dB)


def test_a_failing_run_leaves_no_video_file(cli, tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(ValueError, match="frame"):
        with FrameWriter(target, 64, 48, 12.0) as writer:
            writer.write(torch.rand(1, 3, 48, 64))
            writer.write(torch.rand(1, 3, 40, 64))  # the wrong size
    assert list(tmp_path.iterdir()) == []
    clip = synthetic_clip().write(tmp_path / "clip")
    result = cli(clip.frames, clip.masks, "-o", target, "--codec", "ffv1")
    assert result.returncode == 2 and ".mkv" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


def test_demo_clip_runs_through_the_cli_with_known_pixels_exact(cli, tmp_path):
    out = tmp_path / "out"
    result = cli(DEMO / "frames", DEMO / "masks", "-o", out, "--max-frames", "3", "--grow", "2")
    assert result.returncode == 0, result.stderr
    outputs = sorted(out.glob("*.png"))
    assert len(outputs) == 3
    for path in outputs:
        source = cv2.imread(str(DEMO / "frames" / f"{path.stem}.jpg"))
        hole = cv2.imread(str(DEMO / "masks" / f"{path.stem}.png"), cv2.IMREAD_GRAYSCALE) >= 128
        hole = cv2.dilate(hole.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
        result_frame = cv2.imread(str(path))
        assert result_frame.shape == (240, 432, 3)
        assert np.array_equal(result_frame[~hole], source[~hole])
        assert not np.array_equal(result_frame[hole], source[hole])


def test_demo_mode_writes_result_and_comparison_into_demo_output(cli, tmp_path):
    result = cli("--demo", "--max-frames", "2", "--estimator", "dis_ultrafast")
    assert result.returncode == 0, result.stderr
    video = decode(tmp_path / "demo_output" / "dog_walk_inpainted.mp4")
    comparison = decode(tmp_path / "demo_output" / "dog_walk_side_by_side.mp4")
    assert video.codec == comparison.codec == "h264"
    assert len(video.frames) == len(comparison.frames) == 2
    assert video.frames[0].shape == (240, 432, 3) and comparison.frames[0].shape == (240, 868, 3)
    assert "demo_output" in result.stdout


@pytest.mark.parametrize("case", ["missing_input", "missing_mask", "unreadable_video", "count_mismatch",
                                  "other_aspect_ratio", "unknown_output_type"])
def test_user_errors_exit_2_with_a_message_and_no_traceback(cli, tmp_path, case):
    clip = synthetic_clip().write(tmp_path / "clip", masks=4 if case == "count_mismatch" else None)
    frames, masks, output = clip.frames, clip.masks, tmp_path / "out"
    expected = {"missing_input": "no such file", "missing_mask": "no such file", "unreadable_video": "could not open",
                "count_mismatch": "4 masks", "other_aspect_ratio": "aspect ratio",
                "unknown_output_type": "unknown output type"}[case]
    if case == "missing_input":
        frames = tmp_path / "nope.mp4"
    elif case == "missing_mask":
        masks = tmp_path / "nope"
    elif case == "unreadable_video":
        frames = tmp_path / "broken.mp4"
        frames.write_bytes(b"this is not a video" * 100)
    elif case == "other_aspect_ratio":
        masks = tmp_path / "square.png"
        cv2.imwrite(str(masks), np.zeros((48, 48), np.uint8))
    elif case == "unknown_output_type":
        output = tmp_path / "out.gif"
    result = cli(frames, masks, "-o", output)  # an exception other than the exit would fail the test here
    assert result.returncode == 2
    assert expected in result.stderr
    if case == "count_mismatch":
        assert "6 frames" in result.stderr


def test_mask_of_the_same_aspect_ratio_is_resized_with_a_warning(cli, clip_files, tmp_path):
    big = np.zeros((96, 128), np.uint8)
    big[24:56, 40:80] = 255
    cv2.imwrite(str(tmp_path / "big.png"), big)
    result = cli(clip_files.frames, tmp_path / "big.png", "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert re.search(r"warning: \S*big\.png: mask is 128x96, frames are 64x48; resizing the mask", result.stderr), \
        result.stderr


def test_half_size_masks_give_the_output_of_the_masks_resized_by_hand(cli, clip_files, tmp_path):
    """One mask per frame at half size, as a segmenter gives them: resized as the nodes resize them."""
    for i, hole in enumerate(clip_files.holes):
        half = hole[::2, ::2]
        for name, mask in (("half", half), ("by_hand", half.repeat(2, axis=0).repeat(2, axis=1))):  # nearest
            (tmp_path / name).mkdir(exist_ok=True)
            cv2.imwrite(str(tmp_path / name / f"{i:05d}.png"), mask.astype(np.uint8) * 255)
    results = {name: cli(clip_files.frames, tmp_path / name, "-o", tmp_path / f"out_{name}")
               for name in ("half", "by_hand")}
    assert all(r.returncode == 0 for r in results.values()), [r.stderr for r in results.values()]
    assert "mask is 32x24, frames are 64x48; resizing the mask" in results["half"].stderr
    assert "resizing" not in results["by_hand"].stderr
    for path in sorted((tmp_path / "out_half").glob("*.png")):
        assert np.array_equal(cv2.imread(str(path)), cv2.imread(str(tmp_path / "out_by_hand" / path.name)))


def test_rgba_mask_uses_transparency_as_the_hole_and_grey_masks_threshold_at_128():
    grey = np.array([[0, 127], [128, 255]], np.uint8)
    assert mask_from_array(grey).tolist() == [[False, False], [True, True]]
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = [[255, 0], [255, 127]]
    assert mask_from_array(rgba).tolist() == [[False, True], [False, True]]
    opaque = np.full((2, 2, 4), 255, np.uint8)
    opaque[0, 0, :3] = 0
    assert mask_from_array(opaque).tolist() == [[False, True], [True, True]]


def test_readers_stream_pairs_and_stop_at_max_frames(tmp_path):
    clip = synthetic_clip(t=4).write(tmp_path / "clip")
    frames = FrameSource(clip.frames)
    masks = MaskSource(clip.masks, frames.info.width, frames.info.height)
    pairs = list(paired(frames, masks, max_frames=3))
    assert len(pairs) == 3
    frame, hole = pairs[0]
    assert frame.shape == (1, 3, 48, 64) and frame.dtype == torch.float32 and 0 <= frame.min() <= frame.max() <= 1
    assert hole.shape == (1, 1, 48, 64) and set(hole.unique().tolist()) == {0.0, 1.0}


def test_odd_sizes_stay_exact_in_frame_folders(tmp_path):
    frame = torch.rand(1, 3, 47, 63)
    with FrameWriter(tmp_path / "out", 63, 47) as writer:
        writer.write(frame)
    back = next(iter(FrameSource(tmp_path / "out")))
    assert back.shape == frame.shape
    assert torch.equal(back, (frame * 255 + 0.5).floor() / 255)


def test_working_sizes_keep_known_pixels_exact_and_negative_ones_are_refused(cli, tmp_path):
    clip = synthetic_clip(h=48, w=96).write(tmp_path / "clip")
    out = tmp_path / "out"
    result = cli(clip.frames, clip.masks, "-o", out, "--working-size", "48", "--flow-working-size", "32")
    assert result.returncode == 0, result.stderr
    holes = clip.holes
    for t, path in enumerate(sorted(out.glob("*.png"))):
        assert np.array_equal(cv2.imread(str(path))[~holes[t]], clip.written[t][~holes[t]])
    for flag in ("--working-size", "--flow-working-size"):
        bad = cli(clip.frames, clip.masks, "-o", out, flag, "-8")
        assert bad.returncode == 2 and f"{flag[2:].replace('-', '_')} must be" in bad.stderr


def test_learned_runs_the_shipped_networks_with_known_pixels_exact(cli, tmp_path):
    clip = synthetic_clip(h=64, w=96).write(tmp_path / "clip")
    frames, holes = clip.written, clip.holes
    learned = cli(clip.frames, clip.masks, "-o", tmp_path / "learned", "--learned")
    classical = cli(clip.frames, clip.masks, "-o", tmp_path / "classical", "--no-learned")
    default = cli(clip.frames, clip.masks, "-o", tmp_path / "default")  # all four networks shipped: learned
    assert default.returncode == 0 and "trained networks" in default.stderr
    assert "trained networks" not in classical.stderr
    assert all(np.array_equal(cv2.imread(str(tmp_path / "default" / f"{i:05d}.png")),
                              cv2.imread(str(tmp_path / "learned" / f"{i:05d}.png"))) for i in range(len(frames)))
    assert learned.returncode == 0 and classical.returncode == 0, learned.stderr + classical.stderr
    differs = False
    for i, frame in enumerate(frames):
        out = cv2.imread(str(tmp_path / "learned" / f"{i:05d}.png"))
        assert np.array_equal(out[~holes[i]], frame[~holes[i]])
        assert not (out[holes[i]] == (255, 0, 255)).all(-1).any()  # the magenta object is gone
        differs |= not np.array_equal(out, cv2.imread(str(tmp_path / "classical" / f"{i:05d}.png")))
    assert differs  # the networks ran, not Telea


def test_learned_without_weights_files_says_what_to_do(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no trained weights in .*empty; run the weight-free stages \(--no-learned\)"):
        load_networks(PipelineConfig(learned=True, weights_dir=str(tmp_path / "empty")))
    assert load_networks(PipelineConfig(learned=None, weights_dir=str(tmp_path / "empty"))) == {}  # default: classical


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 120.0) -> None:
    import time
    deadline = time.monotonic() + seconds
    while not path.exists():  # the writer creates it before the first frame
        assert process.poll() is None, "the run ended before it wrote anything"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("output", ["out.avi", "out"])
@pytest.mark.parametrize("stop", ["kill", "interrupt"])
def test_a_run_stopped_halfway_leaves_the_previous_output_untouched_and_a_finished_run_replaces_it(
        cli, tmp_path, output, stop):
    """The run to stop needs a process of its own (SIGKILL, SIGINT); the runs before and after it do not."""
    import signal
    short = synthetic_clip(t=2).write(tmp_path / "short")
    long = synthetic_clip(t=120, h=96, w=128, seed=1).write(tmp_path / "long")
    target = tmp_path / output
    assert cli(short.frames, short.masks, "-o", target).returncode == 0
    before = {p.name: p.read_bytes() for p in target.iterdir()} if target.is_dir() else target.read_bytes()
    partial = target.with_name(target.stem + ".frvi-partial" + target.suffix)
    process = subprocess.Popen([sys.executable, str(CLI), str(long.frames), str(long.masks), "-o", str(target)],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(partial, process)
    process.send_signal(signal.SIGKILL if stop == "kill" else signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    after = {p.name: p.read_bytes() for p in target.iterdir()} if target.is_dir() else target.read_bytes()
    assert after == before
    if stop == "interrupt":
        assert process.returncode == 130 and "nothing was written" in stderr and not partial.exists()
    finished = cli(long.frames, long.masks, "-o", target, "--max-frames", "9")  # 9 frames replace the 2 before
    assert finished.returncode == 0, finished.stderr
    assert not partial.exists()
    if target.is_dir():
        assert len(list(target.glob("*.png"))) == 9
    else:
        assert len(decode(target).frames) == 9


def test_device_option_runs_on_the_cpu_and_refuses_devices_it_cannot_use(cli, tmp_path, device):
    files = synthetic_clip(t=3).write(tmp_path / "clip")
    clip = (files.frames, files.masks)
    outputs = {}
    for name in ("cpu", str(device)):
        out = tmp_path / name.replace(":", "_")
        result = cli(*clip, "-o", out, "--device", name, "--propagate", "--max-distance", "1")
        assert result.returncode == 0, result.stderr
        outputs[name] = np.stack([cv2.imread(str(f)) for f in sorted(out.glob("*.png"))])
    assert outputs["cpu"].shape == outputs[str(device)].shape == (3, 48, 64, 3)
    for bad, expected in (("mps", "only cpu and cuda"), ("gpu0", "expected cpu, cuda"),
                          ("cuda:99" if torch.cuda.is_available() else "cuda", "cuda")):
        result = cli(*clip, "-o", tmp_path / "bad", "--device", bad)
        assert result.returncode == 2 and expected in result.stderr
        assert not (tmp_path / "bad").exists()


def test_ctrl_c_during_propagation_in_a_second_thread_stops_at_once_and_writes_nothing(tmp_path):
    import signal
    import time
    long = synthetic_clip(t=120, h=96, w=128, seed=1).write(tmp_path / "long")
    target = tmp_path / "out.mp4"
    partial = target.with_name("out.frvi-partial.mp4")
    process = subprocess.Popen([sys.executable, str(CLI), str(long.frames), str(long.masks), "-o", str(target),
                                "--propagate"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "2"})  # the worker thread runs Flow Propagate
    _wait_for(partial, process)
    time.sleep(1.0)  # the worker is propagating, the main thread waits for it or inpaints
    signalled = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert time.monotonic() - signalled < 15  # the worker stops after its current frame or chunk
    assert process.returncode == 130 and "nothing was written" in stderr, stderr
    assert not partial.exists() and not target.exists()


RUNTIME_PROBE = r"""
import json, os, runpy, sys
assert "torch" not in sys.modules
seen = {}


class TorchImportSpy:  # notes the environment at the moment torch starts to load (OpenMP reads it then)
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and "policy" not in seen:
            seen["policy"] = os.environ.get("OMP_WAIT_POLICY")
        return None


sys.meta_path.insert(0, TorchImportSpy())
cli, *args = sys.argv[1:]
sys.path.insert(0, os.path.dirname(cli))
sys.argv = [cli, *args]
try:
    runpy.run_path(cli, run_name="__main__")
except SystemExit as exit_:
    seen["exit"] = exit_.code
from model import runtime
print(json.dumps({**seen, "now": os.environ.get("OMP_WAIT_POLICY"), "torch_first": runtime.torch_was_loaded_first}))
"""


@pytest.mark.parametrize("given", [None, "ACTIVE"])
def test_the_cli_process_sets_up_openmp_before_torch_loads_and_keeps_a_value_given(tmp_path, given):
    """model/runtime.py, seen from inside a real CLI run: OMP_WAIT_POLICY is PASSIVE (or the value the
    environment gave) when torch starts to load, and torch was not loaded before the set-up."""
    import json
    clip = synthetic_clip(t=2).write(tmp_path / "clip")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}  # this process may have it (cli fixture)
    if given:
        env["OMP_WAIT_POLICY"] = given
    child = subprocess.run([sys.executable, "-c", RUNTIME_PROBE, str(CLI), str(clip.frames), str(clip.masks), "-o",
                            str(tmp_path / "out"), "--no-learned", "--max-frames", "1", "--quiet"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    expected = given or "PASSIVE"
    assert report == {"policy": expected, "exit": 0, "now": expected, "torch_first": False}, report
    assert len(list((tmp_path / "out").glob("*.png"))) == 1  # the run itself happened
