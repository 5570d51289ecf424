"""scripts/evaluate.py end to end on tiny synthetic clips (a few seconds)."""
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import load_script

evaluate = load_script("evaluate")


def _write_clip(folder: Path, frames: int = 6, h: int = 40, w: int = 56, masks: bool = False, seed: int = 0) -> None:
    """A textured clip panning 1 px/frame; with ``masks`` a disk moving right (object masks)."""
    rng = np.random.default_rng(seed)
    texture = cv2.resize(rng.integers(0, 256, (h // 4, (w + frames) // 4, 3), dtype=np.uint8), (w + frames, h),
                         interpolation=cv2.INTER_CUBIC)
    (folder / "frames").mkdir(parents=True)
    if masks:
        (folder / "masks").mkdir()
    for t in range(frames):
        cv2.imwrite(str(folder / "frames" / f"{t:05d}.png"), texture[:, t:t + w])
        if masks:
            mask = np.zeros((h, w), np.uint8)
            cv2.circle(mask, (12 + 4 * t, h // 2), 8, 255, -1)
            cv2.imwrite(str(folder / "masks" / f"{t:05d}.png"), mask)


@pytest.fixture(autouse=True)
def one_thread():
    """The scripts run with --threads 1 (much faster on a loaded shared CPU); restore torch's setting after."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    _write_clip(root / "plain", seed=1)
    _write_clip(root / "with_masks", masks=True, seed=2)
    return root


def test_evaluate_scores_every_clip_mask_and_configuration(clips, tmp_path, capsys):
    out = tmp_path / "out"
    code = evaluate.main([str(clips), "--size", "source", "--max-frames", "4", "--masks", "fixed_rect,objects",
                          "--configs", "telea,classical", "--out", str(out), "--quiet", "--sheet-clips", "1",
                          "--threads", "1"])
    assert code == 0
    report = json.loads((out / "eval.json").read_text())
    rows = report["rows"]
    # objects for "with_masks" has no donor (the other clip has no masks): skipped with a note
    assert sorted((r["clip"], r["mask"], r["config"]) for r in rows) == sorted(
        [(c, m, k) for c, m in [("plain", "fixed_rect"), ("plain", "objects"), ("with_masks", "fixed_rect")]
         for k in ("telea", "classical")])
    assert any("objects skipped" in n for n in report["settings"]["notes"])
    objects = next(r for r in rows if r["mask"] == "objects")
    assert objects["donor"] == "with_masks" and 0 < objects["coverage"] < 0.5
    for row in rows:
        assert row["known_exact"] and row["frames"] == 4 and (row["width"], row["height"]) == (56, 40)
        for key in ("psnr_hole", "psnr_full", "ssim_hole", "ssim_full", "l1_hole", "l1_full", "ewarp", "ewarp_gt"):
            assert row[key] is not None and math.isfinite(row[key]), key
        assert row["psnr_full"] > row["psnr_hole"]
    fixed = [r for r in rows if r["mask"] == "fixed_rect"]
    assert all(r["coverage"] == pytest.approx(0.25) for r in fixed)
    means = {(m["mask"], m["config"]): m for m in report["means"]}
    assert means[("all", "telea")]["runs"] == 3 and means[("fixed_rect", "telea")]["clips"] == 2
    markdown = (out / "eval.md").read_text()
    assert "| fixed_rect | telea |" in markdown and "| **all** (2 clips) | classical |" in markdown
    sheet = cv2.imread(str(out / "sheets" / "source_fixed_rect_classical.png"))
    assert sheet is not None and sheet.shape[1] > 4 * 320  # input | mask | result | ground truth


def test_resizing_and_learned_rows_without_stages_are_skipped_with_a_note(clips, tmp_path):
    out = tmp_path / "out"
    weights = tmp_path / "weights"
    weights.mkdir()
    code = evaluate.main([str(clips / "plain"), "--size", "32x24", "--max-frames", "3", "--masks", "strokes",
                          "--configs", "telea,pconv_only", "--weights", str(weights), "--out", str(out), "--quiet",
                          "--threads", "1"])
    assert code == 0
    report = json.loads((out / "eval.json").read_text())
    assert [r["config"] for r in report["rows"]] == ["telea"]
    assert (report["rows"][0]["width"], report["rows"][0]["height"]) == (32, 24)
    assert any("skipped" in n for n in report["settings"]["notes"])


def test_propagation_rows_keep_known_pixels_and_use_the_other_frames(clips, tmp_path):
    out = tmp_path / "out"
    code = evaluate.main([str(clips), "--size", "source", "--max-frames", "6", "--masks", "objects",
                          "--configs", "telea,propagate_telea,propagate", "--out", str(out), "--quiet",
                          "--sheet-clips", "0", "--threads", "1"])
    assert code == 0
    rows = {r["config"]: r for r in json.loads((out / "eval.json").read_text())["rows"] if r["clip"] == "plain"}
    assert list(rows) == ["telea", "propagate_telea", "propagate"]
    assert all(r["known_exact"] and math.isfinite(r["psnr_hole"]) for r in rows.values())
    # the disk moves past the panning scene: propagation copies real background that Telea can only guess
    assert rows["propagate_telea"]["psnr_hole"] > rows["telea"]["psnr_hole"] + 10.0  # measured +31 dB


def test_runs_over_different_clips_merge_into_the_report_of_one_run(clips, tmp_path):
    common = ["--size", "source", "--max-frames", "3", "--masks", "fixed_rect", "--configs", "telea,telea@32",
              "--quiet", "--sheet-clips", "1", "--threads", "1"]
    whole, part_a, part_b, joined = (tmp_path / n for n in ("whole", "a", "b", "joined"))
    assert evaluate.main([str(clips), *common, "--out", str(whole)]) == 0
    assert evaluate.main([str(clips / "plain"), *common, "--out", str(part_a)]) == 0
    assert evaluate.main([str(clips / "with_masks"), *common, "--out", str(part_b)]) == 0
    assert evaluate.main(["--merge", str(part_a), str(part_b), "--out", str(joined)]) == 0
    one, merged = (json.loads((d / "eval.json").read_text()) for d in (whole, joined))
    drop_time = lambda rows: [{k: v for k, v in r.items() if k != "ms_per_frame"} for r in rows]  # noqa: E731
    assert drop_time(merged["rows"]) == drop_time(one["rows"])
    assert drop_time(merged["means"]) == drop_time(one["means"])
    assert "| **all** (2 clips) | telea@32 |" in (joined / "eval.md").read_text()
    assert sorted(p.name for p in (joined / "sheets").glob("*.png")) == [
        "source_fixed_rect_telea.png", "source_fixed_rect_telea@32.png",
        "source_fixed_rect_telea@32_b.png", "source_fixed_rect_telea_b.png"]
    assert evaluate.main(["--merge", str(part_a), str(part_a), "--out", str(tmp_path / "x")]) == 2  # same clip twice


def test_runs_of_other_configurations_on_the_same_clips_merge_into_one_table(clips, tmp_path):
    common = ["--size", "source", "--max-frames", "3", "--masks", "fixed_rect", "--quiet", "--sheet-clips", "0",
              "--threads", "1"]
    whole, first, second, joined = (tmp_path / n for n in ("whole", "first", "second", "joined"))
    assert evaluate.main([str(clips), *common, "--configs", "telea,telea@32", "--out", str(whole)]) == 0
    assert evaluate.main([str(clips), *common, "--configs", "telea", "--out", str(first)]) == 0
    assert evaluate.main([str(clips), *common, "--configs", "telea@32", "--out", str(second)]) == 0
    assert evaluate.main(["--merge", str(first), str(second), "--out", str(joined)]) == 0
    one, merged = (json.loads((d / "eval.json").read_text()) for d in (whole, joined))
    key = lambda r: (r["clip"], r["config"])  # noqa: E731
    drop_time = lambda rows: sorted(({k: v for k, v in r.items() if k != "ms_per_frame"} for r in rows), key=key)  # noqa: E731
    assert drop_time(merged["rows"]) == drop_time(one["rows"])
    assert list(merged["settings"]["configs"]) == ["telea", "telea@32"]
    assert evaluate.main(["--merge", str(first), str(first), "--out", str(tmp_path / "x")]) == 2  # same rows twice
    assert evaluate.main(["--merge", str(first), str(whole), "--out", str(tmp_path / "y")]) == 2  # rows overlap


def test_bad_arguments_give_exit_code_2(clips, tmp_path, capsys):
    assert evaluate.main([str(clips), "--masks", "circles", "--out", str(tmp_path)]) == 2
    assert "unknown mask protocol" in capsys.readouterr().err
    assert evaluate.main([str(clips), "--configs", "nonsense", "--out", str(tmp_path)]) == 2
    assert evaluate.main([str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2


def test_weights_are_found_by_their_kind_metadata_not_their_names(tmp_path):
    from model.networks import NETWORKS
    from model.networks.weights import save_network
    for name in ("frame_inpaint.safetensors", "flow_complete.safetensors", "convlstm_refine.safetensors"):
        (tmp_path / name).write_bytes(b"")  # named like weights, but no weights of this pack
    save_network(NETWORKS["frame_inpaint"](), tmp_path / "a.safetensors")
    rows, notes = evaluate.learned_configs(str(tmp_path))
    assert notes[0] == f"weights in {tmp_path}: frame_inpaint=a.safetensors"
    assert list(rows) == ["pconv_only", "learned", "propagate_pconv_only", "propagate_learned"]
    assert any("refiner rows skipped" in n for n in notes)


def test_learned_rows_run_with_weights_initialised_in_the_test(clips, tmp_path):
    from model import networks
    from model.networks import weights as weights_io
    weights = tmp_path / "weights"
    weights.mkdir()
    for kind, cls in networks.NETWORKS.items():
        torch.manual_seed(0)
        weights_io.save_network(cls(), weights / f"{kind}.safetensors")
    out = tmp_path / "out"
    code = evaluate.main([str(clips / "plain"), "--size", "48x32", "--max-frames", "3", "--masks", "fixed_rect",
                          "--configs", ",".join(evaluate.LEARNED_ROWS), "--weights", str(weights), "--out", str(out),
                          "--quiet", "--threads", "1", "--sheet-clips", "0"])
    assert code == 0
    rows = json.loads((out / "eval.json").read_text())["rows"]
    assert [r["config"] for r in rows] == list(evaluate.LEARNED_ROWS)
    assert all(r["known_exact"] and math.isfinite(r["psnr_hole"]) for r in rows)
