"""The command-line tool inpaint_video.py and its streaming readers/writers (model/video_io.py)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from model.video_io import FrameSource, FrameWriter, MaskSource, mask_from_array, paired

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "inpaint_video.py"
DEMO = REPO / "demo" / "dogs_jump"


def run_cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CLI), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


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


def read_video(path: Path) -> list[np.ndarray]:
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


def test_video_in_video_out_keeps_count_size_fps_and_writes_the_comparison(tmp_path):
    frames, _ = make_clip(tmp_path / "clip", t=5)
    write_video(tmp_path / "in.avi", frames, fps=12.0)
    mask = tmp_path / "clip" / "masks" / "00002.png"  # one mask for every frame
    result = run_cli(tmp_path / "in.avi", mask, "-o", tmp_path / "out.mp4", "--side-by-side", tmp_path / "sbs.mp4",
                     "--estimator", "dis_ultrafast", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out, sbs = read_video(tmp_path / "out.mp4"), read_video(tmp_path / "sbs.mp4")
    assert len(out) == len(sbs) == 5
    assert out[0].shape == (48, 64, 3) and sbs[0].shape == (48, 2 * 64 + 4, 3)
    assert cv2.VideoCapture(str(tmp_path / "out.mp4")).get(cv2.CAP_PROP_FPS) == pytest.approx(12.0, abs=0.01)


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
    video = read_video(tmp_path / "demo_output" / "dogs_jump_inpainted.mp4")
    comparison = read_video(tmp_path / "demo_output" / "dogs_jump_side_by_side.mp4")
    assert len(video) == len(comparison) == 2
    assert video[0].shape == (240, 432, 3) and comparison[0].shape == (240, 868, 3)
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
    classical = run_cli(*args, "-o", tmp_path / "classical", cwd=tmp_path)
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
    with pytest.raises(ValueError, match="no trained weights .* drop --learned"):
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
        assert len(read_video(target)) == 120
