"""scripts/removal_check.py: real-removal measures without a ground truth, on tiny synthetic clips (seconds)."""
import cv2
import numpy as np
import pytest
import torch

from clips import synthetic_clip, texture
from conftest import load_script

removal_check = load_script("removal_check")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_the_hole_is_grown_and_the_ring_is_only_known_pixels_around_it():
    masks = np.zeros((2, 20, 20), np.float32)
    masks[:, 8:12, 8:12] = 1.0
    hole = removal_hole(masks)
    assert hole.shape == (2, 1, 40, 40) and hole[0, 0, 14, 20] == 1 and hole[0, 0, 12, 20] == 0
    ring = removal_check.ring_around(hole, 3)
    assert (ring * hole).sum() == 0 and ring[0, 0, 12, 20] == 1 and ring[0, 0, 5, 20] == 0


def removal_hole(masks):
    """The masks at 40x40 (nearest: 16..24), grown by 2 px (14..26)."""
    return removal_check.removal_hole(masks, (40, 40), 2)


def test_a_still_fill_is_steady_and_a_flickering_one_is_not():
    still = texture(32, 32, seed=3)[None].expand(5, -1, -1, -1).contiguous()
    hole = torch.zeros(5, 1, 32, 32)
    hole[:, :, 10:22, 10:22] = 1
    flicker = still.clone()
    flicker[1::2, :, 10:22, 10:22] = 1 - flicker[1::2, :, 10:22, 10:22]
    assert removal_check.steadiness(still, [hole])[0] < 0.5
    assert removal_check.steadiness(flicker, [hole])[0] > 20


def test_detail_is_the_holes_gradient_over_the_rings():
    frames = texture(32, 32, seed=4)[None].repeat(2, 1, 1, 1)
    hole = torch.zeros(2, 1, 32, 32)
    hole[:, :, 8:24, 8:24] = 1
    ring = removal_check.ring_around(hole, 6)
    assert 0.6 < removal_check.detail_ratio(frames, hole, ring) < 1.6  # the same texture in and around
    flat = frames.clone()
    flat[:, :, 8:24, 8:24] = 0.5
    assert removal_check.detail_ratio(flat, hole, ring) < 0.2


def test_main_scores_clips_with_masks_and_writes_sheets(tmp_path, capsys):
    synthetic_clip(t=5, h=40, w=56).write(tmp_path / "clips" / "with_masks")
    plain = tmp_path / "clips" / "plain" / "frames"
    plain.mkdir(parents=True)
    for t in range(3):
        cv2.imwrite(str(plain / f"{t:05d}.png"), np.zeros((40, 56, 3), np.uint8))
    out = tmp_path / "out"
    assert removal_check.main([str(tmp_path / "clips"), "--configs", "telea,propagate", "--size", "source",
                               "--max-frames", "5", "--threads", "1", "--out", str(out)]) == 0
    report = (out / "removal.md").read_text()
    assert "| with_masks |" in report and "| plain |" not in report and "**mean**" in report
    assert "plain: no masks/, skipped" in capsys.readouterr().err
    sheet = cv2.imread(str(out / "sheets" / "with_masks.png"))
    assert sheet is not None and sheet.shape[1] > 3 * 200  # input and two configurations side by side


def test_bad_arguments_give_exit_code_2(tmp_path, capsys):
    clip = tmp_path / "clip"
    synthetic_clip(t=3, h=40, w=56).write(clip)
    assert removal_check.main([str(clip), "--configs", "nonsense"]) == 2
    assert "unknown or unavailable configuration" in capsys.readouterr().err
    assert removal_check.main([str(clip), "--size", "big"]) == 2
    assert removal_check.main([str(clip), "--max-frames", "1"]) == 2
    assert removal_check.main([str(tmp_path / "missing")]) == 2
    assert removal_check.main([str(tmp_path / "clip" / "masks")]) == 2  # no clip folder there
