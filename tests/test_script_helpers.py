"""scripts/common.py: the helpers the evaluation, benchmark and measuring scripts share."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from scripts.common import PanningVideo, StageTimer, parse_size, write_clip


def test_parse_size_keeps_each_callers_rules():
    assert parse_size("432x240") == (432, 240) and parse_size("64X48") == (64, 48)
    assert parse_size("source", "--size", source_ok=True) is None
    with pytest.raises(ValueError, match="--sizes 'source': expected WIDTHxHEIGHT"):
        parse_size("source", "--sizes")
    with pytest.raises(ValueError, match="at least 8x8"):
        parse_size("4x4", "--size", source_ok=True, min_side=8)
    assert parse_size("4x4") == (4, 4)


def test_written_clip_holds_the_panning_frames_and_their_masks(tmp_path):
    video = PanningVideo(32, 24)

    def hole(t):
        mask = np.zeros((24, 32), np.uint8)
        mask[8:16, t:t + 8] = 255
        return mask

    path, masks = write_clip(tmp_path, video, 3, hole, masks="folder")
    reader = cv2.VideoCapture(str(path))
    count = 0
    while reader.read()[0]:
        count += 1
    assert count == 3
    assert [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).sum() for p in sorted(masks.iterdir())] == [64 * 255] * 3
    static = tmp_path / "static"
    static.mkdir()
    _, mask_png = write_clip(static, video, 2, hole)  # one mask.png: frame 0's hole
    assert np.array_equal(cv2.imread(str(mask_png), cv2.IMREAD_GRAYSCALE), hole(0))


def test_stage_timer_adds_up_every_call_under_its_name():
    timer = StageTimer()
    double = timer.wrap(lambda x: 2 * x, "double")
    assert double(3) == 6 and double(4) == 8
    with timer("block"):
        pass
    assert len(timer.calls["double"]) == 2 and timer.totals["double"] == pytest.approx(sum(timer.calls["double"]))
    assert set(timer.totals) == {"double", "block"}
    timer.clear()
    assert not timer.totals and not timer.calls
