"""Bad input a user can cause gives a ValueError that says what to change."""
from __future__ import annotations

import pytest
import torch

from clips import synthetic_clip


@pytest.fixture
def video():
    return synthetic_clip(t=4, h=24, w=32).comfy()


def frame_inpaint(nodes, frames, hole):
    return nodes["FRVI_FrameInpaint"].run(frames, hole, "telea", 5)


@pytest.mark.parametrize("case, fix", [
    ("count_mismatch", "one mask per frame"),
    ("size_mismatch", "mask is 30x24 but frames are 32x24, another aspect ratio; make the mask at the frame size"),
    ("empty_frames", "at least one frame"),
    ("empty_mask", "connect a mask"),
    ("nan_frames", "NaN"),
    ("inf_mask", "NaN or infinite"),
    ("rgba_frames", "drop the alpha channel"),
    ("grey_frames", "3 colour channels"),
    ("mask_0_255", "divide by 255"),
    ("negative_mask", "normalise the mask"),
    ("frames_out_of_range", "clamp or normalise"),
])
def test_bad_input_raises_a_clear_value_error(nodes, video, case, fix):
    frames, hole = video
    if case == "count_mismatch":
        hole = hole[:3]
    elif case == "size_mismatch":
        hole = torch.zeros(4, 24, 30)
    elif case == "empty_frames":
        frames, hole = frames[:0], hole[:1]
    elif case == "empty_mask":
        hole = hole[:0]
    elif case == "nan_frames":
        frames = frames.clone()
        frames[1, 2, 3, 0] = float("nan")
    elif case == "inf_mask":
        hole = hole.clone()
        hole[0, 0, 0] = float("inf")
    elif case == "rgba_frames":
        frames = torch.cat((frames, torch.ones_like(frames[..., :1])), -1)
    elif case == "grey_frames":
        frames = frames[..., :1]
    elif case == "mask_0_255":
        hole = hole * 255
    elif case == "negative_mask":
        hole = hole - 0.5
    elif case == "frames_out_of_range":
        frames = frames * 255
    with pytest.raises(ValueError, match=fix):
        frame_inpaint(nodes, frames, hole)


def test_mismatched_intermediate_inputs_are_rejected(nodes, video):
    frames, hole = video
    (inpainted,) = frame_inpaint(nodes, frames, hole)
    with pytest.raises(ValueError, match="inpainted"):
        nodes["FRVI_RobustFlow"].run(frames, hole, inpainted[:3], "dis_medium", "laplacian", 8)
    flow_p, flow_i = nodes["FRVI_RobustFlow"].run(frames, hole, inpainted, "dis_medium", "laplacian", 8)
    (flow,) = nodes["FRVI_FlowBlend"].run(flow_p, flow_i, "average")
    with pytest.raises(ValueError, match="flow"):
        nodes["FRVI_ConvLSTMRefine"].run(frames[:3], hole[:3], inpainted[:3], flow, "temporal_blend", 0.6)


def test_unknown_method_names_the_choices(nodes, video):
    frames, hole = video
    with pytest.raises(ValueError, match="telea"):
        nodes["FRVI_FrameInpaint"].run(frames, hole, "magic", 5)


def test_bad_input_leaves_the_input_untouched(nodes, video):
    frames, hole = video
    before = frames.clone()
    with pytest.raises(ValueError):
        frame_inpaint(nodes, frames, hole[:2])
    assert torch.equal(frames, before)
