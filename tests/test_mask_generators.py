"""Evaluation masks: the specified sizes and coverage, binary, and reproducible by seed."""
import cv2
import numpy as np
import pytest
import torch

from clips import hole_mask
from model.evaluation import mask_generators as mg

SIZES = [(128, 128), (240, 432)]


def _bbox(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of the nonzero pixels of ``[1,H,W]``."""
    rows, cols = np.flatnonzero(mask[0].numpy().any(1)), np.flatnonzero(mask[0].numpy().any(0))
    return int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def _donor(t: int = 10) -> np.ndarray:
    """A disk of radius 12 moving right 5 px per frame over 100x60: ``[T,H,W]`` float masks."""
    return hole_mask(t, 60, 100, (18, 8, 24, 24), motion=5, shape="disk")[:, 0].numpy()


@pytest.mark.parametrize("protocol", [p for p in mg.PROTOCOLS])
@pytest.mark.parametrize("size", SIZES)
def test_every_protocol_gives_binary_float_holes_reproducible_by_seed(protocol, size):
    h, w = size
    donor = _donor() if protocol == "objects" else None
    a = mg.make_hole(protocol, 12, h, w, seed=3, key="clip", donor=donor)
    b = mg.make_hole(protocol, 12, h, w, seed=3, key="clip", donor=donor)
    assert a.shape == (12, 1, h, w) and a.dtype == torch.float32
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, b)
    assert (a.sum(dim=(1, 2, 3)) > 0).all()
    if protocol != "fixed_rect":
        other_seed = mg.make_hole(protocol, 12, h, w, seed=4, key="clip", donor=donor)
        other_key = mg.make_hole(protocol, 12, h, w, seed=3, key="other", donor=donor)
        assert not torch.equal(a, other_seed) or not torch.equal(a, other_key)


@pytest.mark.parametrize("size", SIZES + [(241, 431)])
def test_fixed_rectangle_is_centred_with_half_sides(size):
    h, w = size
    hole = mg.fixed_rectangle(3, h, w)
    top, left, rh, rw = _bbox(hole[0])
    assert (rh, rw) == (round(h / 2), round(w / 2))
    assert abs(top - (h - rh - top)) <= 1 and abs(left - (w - rw - left)) <= 1
    assert hole[0].sum() == rh * rw  # a filled rectangle
    assert torch.equal(hole[0], hole[2])


@pytest.mark.parametrize("motion", ["static", "moving", "per_frame"])
@pytest.mark.parametrize("size", SIZES)
def test_random_rectangles_have_sides_between_0375_and_05_of_the_frame(motion, size):
    h, w = size
    for seed in range(10):
        hole = mg.random_rectangle(8, h, w, mg.protocol_rng(seed, motion), motion)
        for t in range(8):
            _, _, rh, rw = _bbox(hole[t])
            assert 0.375 * h - 1 <= rh <= 0.5 * h + 1 and 0.375 * w - 1 <= rw <= 0.5 * w + 1
            assert hole[t].sum() == rh * rw
        moved = not torch.equal(hole[0], hole[-1])
        assert moved == (motion != "static")


def test_moving_rectangle_moves_smoothly_and_stays_inside():
    hole = mg.random_rectangle(60, 128, 128, mg.protocol_rng(1, "m"), "moving")
    boxes = [_bbox(hole[t]) for t in range(60)]
    steps = [max(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in zip(boxes, boxes[1:])]
    assert max(steps) <= 4  # at most 2 % of 128 px per frame, plus rounding
    assert all(b[2] == boxes[0][2] and b[3] == boxes[0][3] for b in boxes)  # same size throughout


@pytest.mark.parametrize("size", SIZES + [(720, 1280)])
def test_random_walker_strokes_cover_5_to_35_percent_and_evolve(size):
    h, w = size
    means = []
    for seed in range(8):
        hole = mg.make_hole("strokes", 16, h, w, seed=seed)
        coverage = hole.mean(dim=(1, 2, 3))
        assert (coverage >= 0.05).all() and (coverage <= 0.35).all()
        assert not torch.equal(hole[0], hole[8])
        overlap = (hole[0] * hole[1]).sum() / hole[0].sum()
        assert overlap > 0.5  # consecutive frames: the stroke crawls, it does not jump
        means.append(coverage.mean().item())
    assert 0.1 < np.mean(means) < 0.3


def test_object_masks_follow_the_donor_resized_and_in_order():
    donor = _donor(t=10)
    hole = mg.object_masks(6, 30, 50, donor, mg.protocol_rng(0, "x"))
    assert hole.shape == (6, 1, 30, 50)
    centres = [torch.nonzero(hole[t, 0])[:, 1].float().mean().item() for t in range(6)]
    steps = np.diff(centres)
    assert np.all(np.abs(np.abs(steps) - 2.5) < 0.6)  # 5 px/frame at 100 px wide -> 2.5 px at 50 wide
    area = hole.mean(dim=(1, 2, 3))
    assert torch.allclose(area, torch.full_like(area, np.pi * 12 ** 2 / 6000), rtol=0.15)


def test_object_masks_ping_pong_when_the_donor_is_short():
    hole = mg.object_masks(25, 30, 50, _donor(t=10), mg.protocol_rng(0, "y"))
    assert hole.shape[0] == 25 and (hole.sum(dim=(1, 2, 3)) > 0).all()


def test_donor_is_another_clip_and_fixed_by_seed():
    names = ["a", "b", "c", "d"]
    for seed in range(10):
        donor = mg.choose_donor("b", names, seed)
        assert donor != "b" and donor == mg.choose_donor("b", names, seed)
    with pytest.raises(ValueError, match="no other clip"):
        mg.choose_donor("a", ["a"], 0)


def test_masks_move_tells_object_masks_from_a_fixed_logo():
    assert mg.masks_move(_donor())
    assert not mg.masks_move(np.repeat(_donor()[:1], 5, axis=0))


def test_load_mask_sequence_reads_a_folder(tmp_path):
    for i, m in enumerate(_donor(t=4)):
        cv2.imwrite(str(tmp_path / f"{i:05d}.png"), (m * 255).astype(np.uint8))
    masks = mg.load_mask_sequence(tmp_path, max_frames=3, start=1)
    assert masks.shape == (3, 60, 100) and masks.max() == 1.0
    assert np.array_equal(masks[0] >= 0.5, _donor(t=4)[1] >= 0.5)


def test_unknown_protocol_and_missing_donor_raise_value_error():
    with pytest.raises(ValueError, match="unknown protocol"):
        mg.make_hole("circles", 2, 8, 8)
    with pytest.raises(ValueError, match="donor"):
        mg.make_hole("objects", 2, 8, 8)
