"""The training system on tiny generated data: losses with known values, data with true flow,
a few steps that lower the loss, checkpoints that resume to the same losses, export, pack-data."""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from clips import REPO, synthetic_clip, texture, to_bgr
from conftest import load_script
from model.stages.robust_flow import DISFlowEstimator
from model.networks import ConvLSTMRefineConfig, FlowBlendConfig, FlowCompleteConfig, FlowCompleteNet, \
    FrameInpaintConfig, FrameInpaintNet
from model.warp import warp
from model.networks.weights import load_network, read_metadata
from training import data as training_data
from training import losses
from training.loop import train
from training.recurrent import BlendAndRefine, FrozenFront, recurrent_stage
from training.stages import export_weights, flow_stage, frame_stage


def tiny_frame_net():
    return FrameInpaintNet(FrameInpaintConfig(widths=(8, 16, 16), first_kernel=3, scale=1.0, max_side=0))


def tiny_flow_net():
    return FlowCompleteNet(FlowCompleteConfig(widths=(8, 16, 16), first_kernel=3, scale=0.5))


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    """A data root like ../shared/data: two 5-frame train clips with object masks, three stills, and a
    validation clip under clips/ that training must never read."""
    root = tmp_path_factory.mktemp("data")
    for seed, name in enumerate(("clip_a", "clip_b")):  # a red disk of radius 14 moving 6 px/frame, camera 2 px/frame
        synthetic_clip(5, 72, 120, pan=2, seed=seed, cell=8, hole=(22, 16, 28, 28), hole_motion=6,
                       shape="disk").write(root / "train_clips" / name, paint=(200, 40, 40))
    (root / "images" / "set").mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(root / "images" / "set" / f"{i}.png"), to_bgr(texture(80, 96, seed=10 + i, cell=8)))
    (root / "clips" / "validation_only" / "frames").mkdir(parents=True)
    return root


@pytest.fixture(scope="module")
def tiny_data(tiny_root) -> training_data.TrainingData:
    return training_data.TrainingData.load(tiny_root)


def quick(stage, **changes):
    """The stage with a short warm-up, so a few steps move the weights."""
    return dataclasses.replace(stage, warmup=2, **changes)


# ------------------------------------------------------------------------------------- losses
def test_masked_l1_averages_over_the_region_only():
    output, target = torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    output[:, :, 0, 0], output[:, :, 1, 1] = 0.5, 9.0  # the 9 lies outside the region
    region = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    assert losses.masked_l1(output, target, region).item() == pytest.approx(0.25)
    assert losses.masked_l1(output, target, torch.zeros_like(region)).item() == 0.0


def test_structure_loss_is_zero_for_a_perfect_fill_and_grows_for_a_flat_one():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 32, 32, generator=gen)
    region = torch.ones(1, 1, 32, 32)
    ssim_same, grad_same = losses.structure_loss(target, target, region)
    assert ssim_same.item() == pytest.approx(0.0, abs=1e-5) and grad_same.item() == pytest.approx(0.0, abs=1e-7)
    flat = target.mean((2, 3), keepdim=True).expand_as(target)
    ssim_flat, grad_flat = losses.structure_loss(flat, target, region)
    assert ssim_flat.item() > 0.5 and grad_flat.item() > 0.05


def test_total_variation_of_a_ramp_is_its_slope():
    ramp = (0.1 * torch.arange(6.0)).view(1, 1, 1, 6).expand(1, 1, 4, 6)
    assert losses.total_variation(ramp, torch.ones(1, 1, 4, 6)).item() == pytest.approx(0.1)
    assert losses.total_variation(torch.full((1, 3, 4, 6), 0.3), torch.ones(1, 1, 4, 6)).item() == 0.0


def test_flow_terms_on_known_vectors():
    target = torch.zeros(2, 2, 4, 4)
    target[0, 0, :, :2], target[0, 0, :, 2:] = -2.0, 2.0  # sample 0: x in {-2, 2}, spread 2 over both channels
    output = target.clone()
    output[:, 0] += 3.0
    output[:, 1] += 4.0
    region = torch.ones(2, 1, 4, 4)
    assert losses.end_point_error(output, target, region).item() == pytest.approx(5.0)
    scale = losses.flow_scale(target, region)
    assert scale.flatten().tolist() == pytest.approx([2.0 ** 0.5, 1.0])  # sqrt(mean of x^2 and y^2); floor 1
    expected = (3.5 / 2.0 ** 0.5 + 3.5) / 2  # |3| and |4| averaged, divided by each sample's scale
    assert losses.flow_l1(output, target, region, scale).item() == pytest.approx(expected)


def _ramp(height: int = 6, width: int = 10) -> torch.Tensor:
    """``[1,3,H,W]``: brightness x / width, so a shift of one pixel changes every value by 1 / width."""
    return (torch.arange(float(width)) / width).view(1, 1, 1, width).expand(1, 3, height, width).contiguous()


def test_warping_loss_is_zero_for_a_static_scene_and_a_perfect_warp():
    frame = _ramp()
    region = torch.ones(1, 1, 6, 10)
    assert losses.warping_loss(frame, frame, torch.zeros(1, 2, 6, 10), region).item() == pytest.approx(0.0, abs=1e-6)
    moved = torch.roll(frame, -1, dims=-1)  # content moved one pixel left: output(x) = earlier(x + 1)
    flow = torch.zeros(1, 2, 6, 10)
    flow[:, 0] = 1.0  # output pixel x came from earlier pixel x + 1
    inside = region.clone()
    inside[..., -1] = 0.0  # the rolled-in column has no source
    assert losses.warping_loss(moved, frame, flow, inside).item() == pytest.approx(0.0, abs=1e-6)


def test_warping_loss_of_a_known_shift_without_its_flow_is_the_ramp_slope():
    frame = _ramp()
    moved = torch.roll(frame, -1, dims=-1)
    inside = torch.ones(1, 1, 6, 10)
    inside[..., -1] = 0.0
    assert losses.warping_loss(moved, frame, torch.zeros(1, 2, 6, 10), inside).item() == pytest.approx(0.1)


def test_consistent_region_keeps_pixels_the_flow_connects_and_drops_the_rest():
    scene = texture(24, 32, cell=8)[None]
    moved = torch.roll(scene, -2, dims=-1)
    flow = torch.zeros(1, 2, 24, 32)
    flow[:, 0] = 2.0
    right = losses.consistent_region(moved, scene, flow)
    assert right[..., :-2].min().item() == 1.0 and right[..., -1].max().item() == 0.0  # sources outside: dropped
    assert losses.consistent_region(moved, scene, torch.zeros_like(flow)).mean().item() < 0.7


def test_compose_flow_chains_two_shifts_and_marks_where_the_chain_leaves_the_frame():
    one = torch.zeros(1, 2, 5, 8)
    one[:, 0] = 1.0
    two, valid = losses.compose_flow(one, one)
    assert torch.equal(two[..., :7], torch.full_like(two[..., :7], 0.0).index_fill_(1, torch.tensor([0]), 2.0))
    assert valid[..., -1].max().item() == 0.0 and valid[..., :-1].min().item() == 1.0


# --------------------------------------------------------------------------------------- data
def test_training_data_never_reads_the_validation_clips(tmp_path):
    (tmp_path / "clips" / "a" / "frames").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "clips" / "a" / "frames" / "0.png"), np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="no training data"):
        training_data.TrainingData.load(tmp_path)


def test_tiny_root_loads_clips_masks_and_stills(tiny_data):
    assert [c.name for c in tiny_data.clips] == ["clip_a", "clip_b"]
    assert tiny_data.clips[0].frames.shape == (5, 72, 120, 3) and tiny_data.clips[0].masks.max() == 1
    assert len(tiny_data.stills) == 3


def test_a_batch_depends_only_on_seed_and_step(tiny_data):
    first = training_data.frame_batch(tiny_data, training_data.step_rng(3, 7), 4, (40, 56))
    again = training_data.frame_batch(tiny_data, training_data.step_rng(3, 7), 4, (40, 56))
    other = training_data.frame_batch(tiny_data, training_data.step_rng(3, 8), 4, (40, 56))
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["frame"], other["frame"])
    assert first["frame"].shape == (4, 3, 40, 56) and first["hole"].shape == (4, 1, 40, 56)


@pytest.mark.parametrize("kind", training_data.HOLE_KINDS)
def test_every_hole_kind_gives_binary_partial_holes(tiny_data, kind):
    for step in range(5):
        hole = training_data.random_hole(3, 48, 64, training_data.step_rng(0, step), kind, tiny_data.object_masks)
        assert hole.shape == (3, 1, 48, 64)
        assert set(hole.unique().tolist()) <= {0.0, 1.0}
        assert 0.0 < hole.mean().item() < 0.9


def test_synthetic_flow_is_the_true_motion(tiny_data):
    errors_true, errors_zero = [], []
    for step in range(4):
        video = training_data.synthetic_video(tiny_data, training_data.step_rng(1, step), 3, (48, 64))
        frames = torch.from_numpy(video.frames).permute(0, 3, 1, 2).float() / 255.0
        flow = torch.from_numpy(video.flow)
        assert flow.shape == (3, 2, 48, 64) and torch.count_nonzero(flow[0]) == 0
        for t in (1, 2):
            warped, valid = warp(frames[t - 1:t], flow[t:t + 1])
            inside = valid[0, 0] > 0.5
            errors_true.append((warped - frames[t:t + 1]).abs().mean(1)[0][inside].median().item())
            errors_zero.append((frames[t - 1] - frames[t]).abs().mean(0)[inside].median().item())
    assert np.mean(errors_true) < 0.02  # bilinear resampling and occlusion edges only
    assert np.mean(errors_true) < 0.3 * np.mean(errors_zero)


def test_flow_batch_marks_a_grown_union_of_two_holes(tiny_data):
    batch = training_data.flow_batch(tiny_data, training_data.step_rng(0, 0), 3, (48, 64), real_share=0.0)
    assert batch["flow"].shape == (3, 2, 48, 64) and batch["unknown"].shape == (3, 1, 48, 64)
    assert batch["unknown"].mean() > 0.05


def test_clip_windows_hold_consecutive_frames_in_either_order_with_their_flow(tiny_data):
    estimator = DISFlowEstimator("dis_fast")
    orders = set()
    for step in range(12):
        window = training_data.clip_window(tiny_data, training_data.step_rng(2, step), 3, (40, 56), estimator)
        assert window.frames.shape == (3, 40, 56, 3) and window.flow.shape == (3, 2, 40, 56)
        assert not window.flow[0].any()
        frames = torch.stack([training_data.to_tensor(f) for f in window.frames])
        warped, _ = warp(frames[:-1], torch.from_numpy(window.flow[1:]))
        assert (warped - frames[1:]).abs().mean() < (frames[:-1] - frames[1:]).abs().mean()
        orders.add(float(np.sign(window.flow[1:, 0].mean())))  # the clips pan one way: the sign gives the order
    assert orders == {-1.0, 1.0}
    assert training_data.clip_window(tiny_data, training_data.step_rng(0, 0), 9, (40, 56), estimator) is None


def tiny_pair():
    return BlendAndRefine(FlowBlendConfig(widths=(4, 8, 8)), ConvLSTMRefineConfig(widths=(4, 8), hidden=4))


@pytest.fixture(scope="module")
def tiny_front():
    torch.manual_seed(0)
    return FrozenFront(tiny_frame_net().eval(), tiny_flow_net().eval(), "dis_fast")


def test_recurrent_batches_depend_only_on_seed_and_step(tiny_data, tiny_front):
    stage = recurrent_stage(tiny_data, tiny_front, 2, None, crops=((40, 56),), num_frames=3, build=tiny_pair)
    first, again = stage.batch(training_data.step_rng(4, 1), 1), stage.batch(training_data.step_rng(4, 1), 1)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert first["target"].shape == (2, 3, 3, 40, 56) and first["flow_i"].shape == (2, 3, 2, 40, 56)
    known = first["hole"] < 0.5
    assert torch.equal(first["inpainted"].masked_select(known), first["target"].masked_select(known))


def test_a_few_recurrent_steps_lower_the_loss_and_export_both_networks(tiny_data, tiny_front, tmp_path):
    stage = quick(recurrent_stage(tiny_data, tiny_front, 2, None, total_steps=80, lr=3e-3, crops=((40, 56),),
                                  num_frames=3, build=tiny_pair))
    fixed = stage.batch(training_data.step_rng(99, 0), 0)
    terms = stage.loss(fixed, stage.forward(stage.build(), fixed))[1]
    assert {"hole", "ssim", "gradient", "short_term", "long_term", "flow_l1"} <= set(terms)
    torch.manual_seed(0)
    with torch.no_grad():
        terms_before = stage.loss(fixed, stage.forward(stage.build().eval(), fixed))[1]
    before, after, trained = _fit_one_batch(stage, fixed, tmp_path / "run", 80)
    with torch.no_grad():
        terms_after = stage.loss(fixed, stage.forward(trained.eval(), fixed))[1]
    print(f"recurrent loss {before:.4f} -> {after:.4f}; terms {terms_before} -> {terms_after}")
    # the frozen fill P bounds the spatial terms (the gate only mixes P with the carried output); the terms the
    # two trained networks own, the blended flow and the temporal ones, must fall clearly
    assert after < before
    owned = ("flow_l1", "short_term", "long_term")
    assert sum(terms_after[k] for k in owned) < 0.8 * sum(terms_before[k] for k in owned)
    blend = load_network(export_weights("blend", tmp_path / "run", tmp_path / "b.safetensors"), "flow_blend")
    refine = load_network(export_weights("refine", tmp_path / "run", tmp_path / "r.safetensors"), "convlstm_refine")
    assert blend.config.widths == (4, 8, 8) and refine.config.hidden == 4
    assert torch.equal(refine.cell.gates.weight, trained.refine.cell.gates.weight)
    with pytest.raises(ValueError, match="'recurrent' stage"):
        export_weights("frame", tmp_path / "run", tmp_path / "f.safetensors")


# ------------------------------------------------------------------------------ loop, resume
def _loss_on(stage, network, batch) -> float:
    with torch.no_grad():
        return stage.loss(batch, stage.forward(network.eval(), batch))[0].item()


def _fit_one_batch(stage, fixed: dict, run_dir: Path, steps: int):
    """Train ``stage`` on the one batch ``fixed`` for ``steps`` steps -> (loss before, loss after, trained network)."""
    stage = dataclasses.replace(stage, batch=lambda rng, step: fixed)
    torch.manual_seed(0)
    before = _loss_on(stage, stage.build(), fixed)
    train(stage, run_dir, max_steps=steps, progress=False, val_every=0)
    trained = stage.build()
    trained.load_state_dict(load_file(str(run_dir / "checkpoint" / "model.safetensors")))
    return before, _loss_on(stage, trained, fixed), trained


def test_a_few_frame_steps_lower_the_loss_and_write_a_checkpoint(tiny_data, tmp_path):
    stage = quick(frame_stage(tiny_data, 4, None, total_steps=60, lr=3e-3, crops=((40, 56),), build=tiny_frame_net))
    held_out = stage.batch(training_data.step_rng(99, 0), 0)
    torch.manual_seed(0)
    before = _loss_on(stage, stage.build(), held_out)
    summary = train(stage, tmp_path / "run", max_steps=60, progress=False, val_every=0)
    assert summary["step"] == 60
    trained = stage.build()
    trained.load_state_dict(load_file(str(tmp_path / "run" / "checkpoint" / "model.safetensors")))
    assert _loss_on(stage, trained, held_out) < 0.85 * before
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 60 and state["stage"] == "frame"


def test_a_few_flow_steps_fit_a_batch_better_than_the_harmonic_fill(tiny_data, tmp_path):
    """The network starts at the harmonic fill (a strong guess on smooth motion), so a few steps on random
    batches barely move the loss; on one repeated batch they must beat it clearly."""
    flows = training_data.clip_flows(tiny_data, DISFlowEstimator("dis_fast"))
    assert flows[0].shape == (4, 2, 72, 120)
    stage = quick(flow_stage(tiny_data, flows, 8, None, total_steps=60, lr=3e-3, crops=((48, 64),),
                             build=tiny_flow_net, validate=False))
    before, after, _ = _fit_one_batch(stage, stage.batch(training_data.step_rng(99, 0), 0), tmp_path / "run", 60)
    print(f"flow loss {before:.4f} -> {after:.4f}")
    assert after < 0.85 * before


def test_resuming_gives_the_losses_of_an_uninterrupted_run(tiny_data, tmp_path):
    stage = quick(frame_stage(tiny_data, 2, None, total_steps=6, crops=((32, 48),), build=tiny_frame_net))
    whole = train(stage, tmp_path / "whole", max_steps=6, progress=False, val_every=0)
    first = train(stage, tmp_path / "split", max_steps=3, progress=False, val_every=0)
    rest = train(stage, tmp_path / "split", max_steps=6, resume=True, progress=False, val_every=0)
    assert len(first["losses"]) == 3 and len(rest["losses"]) == 3
    np.testing.assert_allclose(first["losses"] + rest["losses"], whole["losses"], rtol=1e-5, atol=1e-7)


def test_a_checkpoint_is_not_overwritten_without_resume_and_survives_a_kill_between_renames(tiny_data, tmp_path):
    stage = quick(frame_stage(tiny_data, 2, None, total_steps=4, crops=((32, 48),), build=tiny_frame_net))
    train(stage, tmp_path / "run", max_steps=2, progress=False, val_every=0)
    with pytest.raises(ValueError, match="--resume"):
        train(stage, tmp_path / "run", max_steps=4, progress=False, val_every=0)
    flows = quick(flow_stage(tiny_data, None, 2, None, crops=((32, 48),), build=tiny_flow_net, validate=False))
    with pytest.raises(ValueError, match="'frame' stage"):
        train(flows, tmp_path / "run", max_steps=4, resume=True, progress=False, val_every=0)
    (tmp_path / "run" / "checkpoint").rename(tmp_path / "run" / "checkpoint.old")  # killed between the renames
    summary = train(stage, tmp_path / "run", max_steps=4, resume=True, progress=False, val_every=0)
    assert len(summary["losses"]) == 2 and (tmp_path / "run" / "checkpoint").is_dir()


def test_export_writes_a_weights_file_that_loads_strictly(tiny_data, tmp_path):
    stage = quick(frame_stage(tiny_data, 2, None, total_steps=4, crops=((32, 48),), build=tiny_frame_net))
    train(stage, tmp_path / "run", max_steps=2, progress=False, val_every=0)
    path = export_weights("frame", tmp_path / "run", tmp_path / "frame.safetensors", {"training_data": "tiny"})
    network = load_network(path, "frame_inpaint")
    assert network.config.widths == (8, 16, 16)
    metadata = read_metadata(path)
    assert metadata["training_steps"] == "2" and metadata["training_data"] == "tiny"
    with pytest.raises(ValueError, match="is trained by the .flow. stage"):
        export_weights("flow", tmp_path / "run", tmp_path / "flow.safetensors")


def test_pack_data_writes_a_root_that_training_reads(tiny_root, tmp_path):
    train_script = load_script("train")
    assert train_script.main(["pack-data", str(tmp_path / "packed"), "--data", str(tiny_root)]) == 0
    packed = training_data.TrainingData.load(tmp_path / "packed")
    assert [c.name for c in packed.clips] == ["clip_a", "clip_b"] and len(packed.stills) == 3
    assert sorted(p.suffix for p in (tmp_path / "packed" / "train_clips" / "clip_a" / "frames").iterdir())[0] == ".jpg"


def test_train_script_runs_a_stage_and_resumes(tiny_root, tmp_path):
    train_script = load_script("train")
    args = ["--stage", "frame", "--data", str(tiny_root), "--run-dir", str(tmp_path / "run"), "--batch", "2",
            "--val-every", "0", "--quiet", "--threads", "1"]
    assert train_script.main(args + ["--max-steps", "2"]) == 0
    assert train_script.main(args + ["--max-steps", "2"]) == 2  # a checkpoint exists: refuses without --resume
    assert train_script.main(args + ["--max-steps", "3", "--resume"]) == 0
    assert json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())["step"] == 3


def test_nothing_in_the_pack_imports_training():
    """training/ imports model/; the pack that ComfyUI loads must not depend on it."""
    files = [REPO / "__init__.py", *(REPO / "model").rglob("*.py"), *(REPO / "nodes").rglob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "training" or n.startswith("training.") or n.endswith(".training") for n in names), path


def test_warm_start_takes_matching_tensors_and_the_leading_slice_of_a_narrower_last_layer(tmp_path):
    from training.checkpoint import save_checkpoint, warm_start
    source = BlendAndRefine(FlowBlendConfig(widths=(4, 8, 8)),
                            ConvLSTMRefineConfig(widths=(4, 8), hidden=4, correction=True))
    save_checkpoint(tmp_path / "run", source, torch.optim.AdamW(source.parameters()), {"step": 1})
    target = tiny_pair()  # the same networks without the colour correction: a 1-channel last layer
    taken = warm_start(target, tmp_path / "run")
    assert len(taken) == len(target.state_dict())
    assert torch.equal(target.refine.decoder[-1].weight, source.refine.decoder[-1].weight[:1])
    assert torch.equal(target.blend.head.weight, source.blend.head.weight)
    with pytest.raises(ValueError, match="no checkpoint"):
        warm_start(target, tmp_path / "missing")
