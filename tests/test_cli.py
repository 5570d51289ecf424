"""The command-line tool inpaint_video.py and its streaming readers/writers (model/io/video.py)."""
from __future__ import annotations

import importlib.util
import os
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

from model.io.video import FrameSource, FrameWriter, MaskSource, mask_from_array, paired

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "inpaint_video.py"
DEMO = REPO / "demo" / "dog_walk"


def run_cli(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run inpaint_video.py in a child process; ``env``: variables set on top of this process's."""
    return subprocess.run([sys.executable, str(CLI), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=None if env is None else {**os.environ, **env})


def make_clip(folder: Path, t: int = 6, h: int = 48, w: int = 64, masks: int | None = None, seed: int = 0):
    """Textured frames panning 2 px/frame (PNG, BGR uint8) with a moving box hole painted magenta.

    Returns ``(frames [T,H,W,3] uint8 BGR, holes [T,H,W] bool)``; writes frames/ and masks/.
    """
    rng = np.random.default_rng(seed)
    texture = cv2.resize(rng.integers(0, 256, (h // 4, (w + 2 * t) // 4, 3), dtype=np.uint8), (w + 2 * t, h),
                         interpolation=cv2.INTER_LINEAR)
    texture = np.clip(texture.astype(int) + rng.integers(-3, 4, texture.shape), 0, 255).astype(np.uint8)
    frames, holes = [], []
    (folder / "frames").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(t):
        frame = texture[:, 2 * i:2 * i + w].copy()
        hole = np.zeros((h, w), bool)
        hole[h // 4:h // 4 + h // 3, w // 4 + i:w // 4 + i + w // 3] = True
        frame[hole] = (255, 0, 255)  # the object to remove
        cv2.imwrite(str(folder / "frames" / f"{i:05d}.png"), frame)
        if masks is None or i < masks:
            cv2.imwrite(str(folder / "masks" / f"{i:05d}.png"), hole.astype(np.uint8) * 255)
        frames.append(frame)
        holes.append(hole)
    return np.stack(frames), np.stack(holes)


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


def test_png_folder_output_keeps_known_pixels_bit_exact_and_fills_the_hole(tmp_path):
    frames, holes = make_clip(tmp_path / "clip")
    result = run_cli(tmp_path / "clip" / "frames", tmp_path / "clip" / "masks", "-o", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    outputs = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in outputs] == [f"{i:05d}.png" for i in range(len(frames))]
    for frame, hole, path in zip(frames, holes, outputs):
        out = cv2.imread(str(path))
        assert out.shape == frame.shape
        assert np.array_equal(out[~hole], frame[~hole])
        magenta = (out[hole] == (255, 0, 255)).all(axis=1)
        assert magenta.mean() < 0.01, "the hole still shows the removed object"


def test_video_in_video_out_is_h264_at_the_source_fps_and_writes_the_comparison(tmp_path):
    frames, _ = make_clip(tmp_path / "clip", t=5)
    write_video(tmp_path / "in.avi", frames, fps=12.0)
    mask = tmp_path / "clip" / "masks" / "00002.png"  # one mask for every frame
    result = run_cli(tmp_path / "in.avi", mask, "-o", tmp_path / "out.mp4", "--side-by-side", tmp_path / "sbs.mp4",
                     "--estimator", "dis_ultrafast", cwd=tmp_path)
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
def test_the_source_audio_is_copied_and_trimmed_to_the_frames_written(tmp_path, source, audio_codec, output,
                                                                     expected_codec):
    frames, _ = make_clip(tmp_path / "clip", t=24, h=48, w=64)
    rate = 48000 if audio_codec == "libopus" else 44100
    write_video_with_tone(tmp_path / source, frames, fps=12, audio_codec=audio_codec, rate=rate)  # 2 s of 440 Hz
    result = run_cli(tmp_path / source, tmp_path / "clip" / "masks", "-o", tmp_path / output, "--max-frames", "9",
                     "--estimator", "dis_ultrafast", cwd=tmp_path)
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


def test_the_mp4_with_audio_plays_in_chromium(tmp_path):
    """A <video> element in headless Chromium loads the CLI's H.264 + AAC mp4 and reports its duration."""
    import json
    import shutil
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("no Chromium (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="Playwright is in requirements-test.txt")
    frames, _ = make_clip(tmp_path / "clip", t=12, h=48, w=64)
    write_video_with_tone(tmp_path / "in.mp4", frames, fps=12)
    result = run_cli(tmp_path / "in.mp4", tmp_path / "clip" / "masks", "-o", tmp_path / "out.mp4",
                     "--estimator", "dis_ultrafast", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    played = subprocess.run([sys.executable, "-c", BROWSER_CHECK, str(tmp_path / "out.mp4")], capture_output=True,
                            text=True, timeout=120)
    assert played.returncode == 0, played.stderr[-3000:]
    report = json.loads(played.stdout.strip().splitlines()[-1])
    assert report.get("width") == 64 and report.get("height") == 48, report
    assert report["duration"] == pytest.approx(12 / 12, abs=0.1)


def test_another_fps_drops_the_audio_with_a_warning(tmp_path):
    frames, _ = make_clip(tmp_path / "clip", t=6)
    write_video_with_tone(tmp_path / "in.mp4", frames, fps=12)
    result = run_cli(tmp_path / "in.mp4", tmp_path / "clip" / "masks", "-o", tmp_path / "out.mp4", "--fps", "24",
                     "--estimator", "dis_ultrafast", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "audio is not copied" in result.stderr
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


def test_a_failing_run_leaves_no_video_file(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(ValueError, match="frame"):
        with FrameWriter(target, 64, 48, 12.0) as writer:
            writer.write(torch.rand(1, 3, 48, 64))
            writer.write(torch.rand(1, 3, 40, 64))  # the wrong size
    assert list(tmp_path.iterdir()) == []
    make_clip(tmp_path / "clip")
    result = run_cli(tmp_path / "clip" / "frames", tmp_path / "clip" / "masks", "-o", target, "--codec", "ffv1",
                     cwd=tmp_path)
    assert result.returncode == 2 and ".mkv" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


def test_demo_clip_runs_through_the_cli_with_known_pixels_exact(tmp_path):
    out = tmp_path / "out"
    result = run_cli(DEMO / "frames", DEMO / "masks", "-o", out, "--max-frames", "3", "--grow", "2", cwd=tmp_path)
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


def test_demo_mode_writes_result_and_comparison_into_demo_output(tmp_path):
    result = run_cli("--demo", "--max-frames", "2", "--estimator", "dis_ultrafast", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    video = decode(tmp_path / "demo_output" / "dog_walk_inpainted.mp4")
    comparison = decode(tmp_path / "demo_output" / "dog_walk_side_by_side.mp4")
    assert video.codec == comparison.codec == "h264"
    assert len(video.frames) == len(comparison.frames) == 2
    assert video.frames[0].shape == (240, 432, 3) and comparison.frames[0].shape == (240, 868, 3)
    assert "demo_output" in result.stdout


@pytest.mark.parametrize("case", ["missing_input", "missing_mask", "unreadable_video", "count_mismatch",
                                  "other_aspect_ratio", "unknown_output_type"])
def test_user_errors_exit_2_with_a_message_and_no_traceback(tmp_path, case):
    make_clip(tmp_path / "clip", masks=4 if case == "count_mismatch" else None)
    frames, masks, output = tmp_path / "clip" / "frames", tmp_path / "clip" / "masks", tmp_path / "out"
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
    result = run_cli(frames, masks, "-o", output, cwd=tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    if case == "count_mismatch":
        assert "6 frames" in result.stderr


def test_mask_of_the_same_aspect_ratio_is_resized_with_a_warning(tmp_path):
    make_clip(tmp_path / "clip")
    big = np.zeros((96, 128), np.uint8)
    big[24:56, 40:80] = 255
    cv2.imwrite(str(tmp_path / "big.png"), big)
    result = run_cli(tmp_path / "clip" / "frames", tmp_path / "big.png", "-o", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "resizing the mask" in result.stderr


def test_half_size_masks_give_the_output_of_the_masks_resized_by_hand(tmp_path):
    """One mask per frame at half size, as a segmenter gives them: resized as the nodes resize them."""
    _, holes = make_clip(tmp_path / "clip")
    for i, hole in enumerate(holes):
        half = hole[::2, ::2]
        for name, mask in (("half", half), ("by_hand", half.repeat(2, axis=0).repeat(2, axis=1))):  # nearest
            (tmp_path / name).mkdir(exist_ok=True)
            cv2.imwrite(str(tmp_path / name / f"{i:05d}.png"), mask.astype(np.uint8) * 255)
    results = {name: run_cli(tmp_path / "clip" / "frames", tmp_path / name, "-o", tmp_path / f"out_{name}",
                             cwd=tmp_path) for name in ("half", "by_hand")}
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
    make_clip(tmp_path / "clip", t=4)
    frames = FrameSource(tmp_path / "clip" / "frames")
    masks = MaskSource(tmp_path / "clip" / "masks", frames.info.width, frames.info.height)
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


def test_working_sizes_keep_known_pixels_exact_and_negative_ones_are_refused(tmp_path):
    frames, holes = make_clip(tmp_path / "clip", h=48, w=96)
    out = tmp_path / "out"
    result = run_cli(tmp_path / "clip" / "frames", tmp_path / "clip" / "masks", "-o", out, "--working-size", "48",
                     "--flow-working-size", "32", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for t, path in enumerate(sorted(out.glob("*.png"))):
        assert np.array_equal(cv2.imread(str(path))[~holes[t]], frames[t][~holes[t]])
    for flag in ("--working-size", "--flow-working-size"):
        bad = run_cli(tmp_path / "clip" / "frames", tmp_path / "clip" / "masks", "-o", out, flag, "-8", cwd=tmp_path)
        assert bad.returncode == 2 and flag in bad.stderr and "Traceback" not in bad.stderr


def test_learned_runs_the_shipped_networks_with_known_pixels_exact(tmp_path):
    frames, holes = make_clip(tmp_path / "clip", h=64, w=96)
    args = (tmp_path / "clip" / "frames", tmp_path / "clip" / "masks")
    learned = run_cli(*args, "-o", tmp_path / "learned", "--learned", cwd=tmp_path)
    classical = run_cli(*args, "-o", tmp_path / "classical", "--no-learned", cwd=tmp_path)
    default = run_cli(*args, "-o", tmp_path / "default", cwd=tmp_path)  # all four networks shipped: learned
    assert default.returncode == 0 and "trained networks" in default.stderr
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
    spec = importlib.util.spec_from_file_location("frvi_cli", CLI)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    with pytest.raises(ValueError, match="no trained weights .* use --no-learned"):
        cli.learned_networks(tmp_path)


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
        tmp_path, output, stop):
    import signal
    make_clip(tmp_path / "short", t=2, h=48, w=64)
    make_clip(tmp_path / "long", t=120, h=96, w=128, seed=1)
    target = tmp_path / output
    assert run_cli(tmp_path / "short" / "frames", tmp_path / "short" / "masks", "-o", target,
                   cwd=tmp_path).returncode == 0
    before = {p.name: p.read_bytes() for p in target.iterdir()} if target.is_dir() else target.read_bytes()
    partial = target.with_name(target.stem + ".frvi-partial" + target.suffix)
    process = subprocess.Popen([sys.executable, str(CLI), str(tmp_path / "long" / "frames"),
                                str(tmp_path / "long" / "masks"), "-o", str(target)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(partial, process)
    process.send_signal(signal.SIGKILL if stop == "kill" else signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    after = {p.name: p.read_bytes() for p in target.iterdir()} if target.is_dir() else target.read_bytes()
    assert after == before
    if stop == "interrupt":
        assert process.returncode == 130 and "nothing was written" in stderr and not partial.exists()
    finished = run_cli(tmp_path / "long" / "frames", tmp_path / "long" / "masks", "-o", target, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert not partial.exists()
    if target.is_dir():
        assert len(list(target.glob("*.png"))) == 120
    else:
        assert len(decode(target).frames) == 120


def test_device_option_runs_on_the_cpu_and_refuses_devices_it_cannot_use(tmp_path, device):
    make_clip(tmp_path / "clip", t=3)
    clip = (tmp_path / "clip" / "frames", tmp_path / "clip" / "masks")
    outputs = {}
    for name in ("cpu", str(device)):
        out = tmp_path / name.replace(":", "_")
        result = run_cli(*clip, "-o", out, "--device", name, "--propagate", "--max-distance", "1", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        outputs[name] = np.stack([cv2.imread(str(f)) for f in sorted(out.glob("*.png"))])
    assert outputs["cpu"].shape == outputs[str(device)].shape == (3, 48, 64, 3)
    for bad, expected in (("mps", "only cpu and cuda"), ("gpu0", "expected cpu, cuda"),
                          ("cuda:99" if torch.cuda.is_available() else "cuda", "cuda")):
        result = run_cli(*clip, "-o", tmp_path / "bad", "--device", bad, cwd=tmp_path)
        assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "bad").exists()


def test_ctrl_c_during_propagation_in_a_second_thread_stops_at_once_and_writes_nothing(tmp_path):
    import signal
    import time
    make_clip(tmp_path / "long", t=120, h=96, w=128, seed=1)
    target = tmp_path / "out.mp4"
    partial = target.with_name("out.frvi-partial.mp4")
    process = subprocess.Popen([sys.executable, str(CLI), str(tmp_path / "long" / "frames"),
                                str(tmp_path / "long" / "masks"), "-o", str(target), "--propagate"], cwd=tmp_path,
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
