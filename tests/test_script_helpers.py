"""scripts/common.py: the helpers the evaluation, benchmark and measuring scripts share."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from scripts.common import PanningVideo, StageTimer, make_engine, moving_box, parse_size, parse_sizes, write_clip


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

    path, masks = write_clip(tmp_path, video, 3, hole)
    reader = cv2.VideoCapture(str(path))
    count = 0
    while reader.read()[0]:
        count += 1
    assert count == 3
    assert [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).sum() for p in sorted(masks.iterdir())] == [64 * 255] * 3


def test_sizes_and_the_moving_box():
    assert parse_sizes(["128x128,432x240", "64x48"]) == [(128, 128), (432, 240), (64, 48)]
    with pytest.raises(ValueError, match="--sizes '64by48'"):
        parse_sizes(["64by48"])
    hole = moving_box(64, 48)
    assert hole(0).shape == (48, 64) and hole(0).dtype == np.uint8 and set(np.unique(hole(0))) == {0, 255}
    assert (hole(0) > 0).sum() == (hole(30) > 0).sum() and not np.array_equal(hole(0), hole(30))


def test_engine_of_the_description_with_a_stage_swapped():
    import torch
    from model.pipeline.config import DEFAULTS

    calls = []

    def estimator(target, source):
        calls.append(target.shape)
        return torch.zeros(1, 2, *target.shape[2:])
    engine = make_engine(DEFAULTS.replace(learned=False), swap=lambda s: s._replace(estimator=estimator))
    assert engine.flow_working_size == DEFAULTS.flow_working_size and engine.hole_dilation == DEFAULTS.hole_dilation
    hole = torch.zeros(1, 1, 24, 32)
    hole[..., 8:16, 8:16] = 1
    for _ in range(2):
        engine.step(torch.rand(1, 3, 24, 32), hole)
    assert calls  # the swapped estimator ran


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
