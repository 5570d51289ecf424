"""Reference fills in Flow Propagate: carried through the whole shot, after the real background."""
from __future__ import annotations

import pytest
import torch

from clips import synthetic_clip
from model import stages
from model.propagate.references import parse_reference_frames
from model.propagate.whole_clip import PropagateConfig, flow_propagate

ESTIMATOR = stages.flow_estimator("dis_medium")


def hidden_clip(pan: int = 0, t: int = 10):
    """A clip whose hole never moves: with a static camera no frame sees behind it."""
    clip = synthetic_clip(t=t, h=48, w=64, pan=pan, hole=(12, 20, 20, 22), hole_motion=0, seed=5)
    corrupted = clip.frames * (1 - clip.hole) + 0.5 * clip.hole
    return clip.frames, corrupted, clip.hole


def propagate(corrupted, hole, references=None, distance=3):
    with torch.inference_mode():
        return flow_propagate(corrupted, hole, ESTIMATOR, PropagateConfig(max_distance=distance),
                              references=references)


def hole_psnr(output, truth, hole):
    inside = hole.bool().expand_as(truth)
    return float(10 * torch.log10(1 / (output - truth)[inside].square().mean()))


@pytest.mark.parametrize("at", [0, 9])
def test_a_reference_reaches_every_frame_beyond_max_distance_and_known_pixels_stay_exact(at):
    truth, corrupted, hole = hidden_clip()
    plain, plain_remaining = propagate(corrupted, hole)
    out, remaining = propagate(corrupted, hole, {at: truth[at:at + 1]})
    assert float(plain_remaining.mean()) > 0.1  # nothing else saw behind the hole
    assert float(remaining.max()) == 0.0  # the reference saw all of it, 9 frames away with max_distance 3
    assert hole_psnr(out, truth, hole) > 40 > hole_psnr(plain, truth, hole) + 20
    known = ~hole.bool().expand_as(out)
    assert torch.equal(out[known], corrupted[known])


def test_real_background_wins_over_a_reference_and_the_reference_fills_the_rest():
    truth, corrupted, hole = hidden_clip(pan=2)
    plain, plain_remaining = propagate(corrupted, hole)
    wrong = truth[:1] + 0.2 * torch.rand_like(truth[:1])  # a painter's guess, not the truth
    out, remaining = propagate(corrupted, hole, {0: wrong.clamp(0, 1)})
    seen = ((plain_remaining < 0.5) & (hole > 0.5)).expand_as(out)  # hole pixels a real frame saw
    assert seen.any() and (plain_remaining > 0.5).any()
    assert torch.equal(out[seen], plain[seen])  # untouched by the reference
    assert float(remaining.sum()) < float(plain_remaining.sum())


def test_a_reference_frame_keeps_its_own_fill_where_no_real_frame_saw():
    truth, corrupted, hole = hidden_clip()
    out, _ = propagate(corrupted, hole, {4: truth[4:5]})
    inside = hole[0].bool().expand(3, -1, -1)
    assert torch.allclose(out[4][inside], truth[4][inside])


@pytest.mark.parametrize("case, message", [
    ("outside", "frames 0 to 9"),
    ("aspect", "another aspect ratio"),
    ("unfilled", "not filled"),
    ("flat", "one flat colour"),
])
def test_bad_references_are_refused_before_any_work(case, message):
    truth, corrupted, hole = hidden_clip()
    reference = {"outside": {10: truth[:1]}, "aspect": {0: truth[:1, :, :, :40]},
                 "unfilled": {0: corrupted[:1]}, "flat": {0: corrupted[:1] * (1 - hole[:1]) + hole[:1]}}[case]
    with pytest.raises(ValueError, match=message):
        propagate(corrupted, hole, reference)


def test_a_reference_of_the_same_aspect_ratio_is_resized_with_a_warning():
    truth, corrupted, hole = hidden_clip()
    half = torch.nn.functional.interpolate(truth[:1], scale_factor=0.5, mode="area")
    with pytest.warns(UserWarning, match="resizing"):
        _, remaining = propagate(corrupted, hole, {0: half})
    assert float(remaining.max()) == 0.0


def test_reference_frame_numbers_are_parsed_one_per_image():
    assert parse_reference_frames("3", 1) == [3]
    with pytest.raises(ValueError, match="one frame number per image"):
        parse_reference_frames("0, 4", 1)
    with pytest.raises(ValueError, match="repeat"):
        parse_reference_frames("2, 2", 2)
    with pytest.raises(ValueError, match="separated by commas"):
        parse_reference_frames("first", 1)


def test_the_node_takes_references_and_changes_only_hole_pixels(nodes):
    truth, corrupted, hole = hidden_clip()
    frames = corrupted.permute(0, 2, 3, 1).contiguous()
    mask = hole[:, 0]
    args = (frames, mask, "dis_medium", 1, 3, 1.0, "poisson", 640)
    plain, plain_remaining = nodes["FRVI_FlowPropagate"].run(*args)
    out, remaining = nodes["FRVI_FlowPropagate"].run(*args, reference=truth[-1:].permute(0, 2, 3, 1),
                                                     reference_frames="9")
    known = mask < 0.5
    assert torch.equal(out[known], frames[known]) and torch.equal(plain[known], frames[known])
    assert float(remaining.max()) == 0.0 < float(plain_remaining.max())
    with pytest.raises(ValueError, match="one frame number per image"):
        nodes["FRVI_FlowPropagate"].run(*args, reference=truth[:2].permute(0, 2, 3, 1), reference_frames="0")


def stream(corrupted, hole, references=None, distance=3):
    from model.propagate.stream import StreamingPropagator
    propagator = StreamingPropagator(ESTIMATOR, PropagateConfig(max_distance=distance),
                                     references=references)
    items = list(propagator.run((corrupted[i:i + 1], hole[i:i + 1]) for i in range(corrupted.shape[0])))
    return torch.cat([item.filled for item in items]), torch.cat([item.remaining for item in items])


def test_on_a_stream_a_reference_reaches_every_later_frame_as_in_the_whole_clip():
    truth, corrupted, hole = hidden_clip(t=20)
    whole, whole_remaining = propagate(corrupted, hole, {0: truth[:1]})
    out, remaining = stream(corrupted, hole, {0: truth[:1]})
    assert float(remaining.max()) == 0.0 == float(whole_remaining.max())
    assert (out - whole).abs().max() < 1e-3
    known = ~hole.bool().expand_as(out)
    assert torch.equal(out[known], corrupted[known])


def test_on_a_stream_a_later_reference_reaches_back_within_the_window_only():
    truth, corrupted, hole = hidden_clip(t=20)
    _, remaining = stream(corrupted, hole, {15: truth[15:16]})
    per_frame = remaining.flatten(1).amax(1)
    assert per_frame[15:].max() == 0 and per_frame[:3].min() == 1  # 12+ frames back: out of the window
    with pytest.raises(ValueError, match="frames 0 to 19"):
        stream(corrupted, hole, {25: truth[:1]})


def test_the_cli_carries_a_reference_image(cli, tmp_path):
    import cv2
    import numpy as np
    truth, corrupted, hole = hidden_clip(t=8)
    for folder, images in (("frames", corrupted), ("masks", hole.expand(-1, 3, -1, -1))):
        (tmp_path / folder).mkdir()
        for i, image in enumerate(images):
            cv2.imwrite(str(tmp_path / folder / f"{i:03d}.png"),
                        (image.permute(1, 2, 0).numpy()[:, :, ::-1] * 255).round().astype(np.uint8))
    cv2.imwrite(str(tmp_path / "plate.png"), (truth[0].permute(1, 2, 0).numpy()[:, :, ::-1] * 255).round().astype(
        np.uint8))
    common = ["frames", "masks", "--propagate", "--no-learned", "--max-distance", "2"]
    assert cli(*common, "-o", "plain").returncode == 0
    assert cli(*common, "-o", "referenced", "--reference", "0:plate.png").returncode == 0
    inside = hole[7, 0].bool().numpy()
    last = {name: cv2.imread(str(tmp_path / name / "007.png"))[:, :, ::-1] / 255.0 for name in ("plain", "referenced")}
    target = truth[7].permute(1, 2, 0).numpy()
    error = {name: np.abs(image - target)[inside].mean() for name, image in last.items()}
    assert error["referenced"] < 0.01 < error["plain"], error
    refused = cli(*common[:2], "-o", "x", "--reference", "0:plate.png")
    assert refused.returncode == 2 and "--propagate" in refused.stderr
    assert cli(*common, "-o", "y", "--reference", "nine:plate.png").returncode == 2
    cv2.imwrite(str(tmp_path / "square.png"), np.full((40, 40, 3), 128, np.uint8))
    wrong = cli(*common, "-o", "z", "--reference", "0:square.png")
    assert wrong.returncode == 2 and "another aspect ratio" in wrong.stderr and not (tmp_path / "z").exists()
