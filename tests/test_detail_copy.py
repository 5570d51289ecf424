"""Copying fills made at a working size, redone at the source size (model.stages.detail_copy)."""
import numpy as np
import pytest
import torch

from model import native
from model.resample import resize_image, shrink_known
from model.stages.detail_copy import copy_at_source_size, copy_offsets


def texture(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """``[1,3,H,W]`` in [0,1]: smoothed noise with fine detail (texture the eye can follow at any scale)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = resize_image(torch.rand(1, 3, height // 8, width // 8, generator=generator), (height, width))
    return (0.6 * coarse + 0.4 * torch.rand(1, 3, height, width, generator=generator)).clamp(0, 1)


def copied_frame(height: int, width: int, box: tuple[int, int, int, int], offset: tuple[int, int]):
    """A frame whose hole ``box`` holds an exact copy of the pixels ``offset`` away (what a perfect copying fill
    would give): ``(frame [1,3,H,W], hole [1,1,H,W])``."""
    frame = texture(height, width)
    y0, y1, x0, x1 = box
    dy, dx = offset
    frame[..., y0:y1, x0:x1] = frame[..., y0 + dy:y1 + dy, x0 + dx:x1 + dx]
    hole = torch.zeros(1, 1, height, width)
    hole[..., y0:y1, x0:x1] = 1
    return frame, hole


def test_copy_offsets_finds_where_a_copy_came_from():
    frame, hole = copied_frame(64, 96, (20, 44, 30, 62), (-16, 28))
    fill = frame[0].permute(1, 2, 0).numpy().astype(np.float32)
    offsets, error = copy_offsets(np.ascontiguousarray(fill), hole[0, 0].numpy() > 0.5)
    inside = hole[0, 0].numpy() > 0.5
    right = (offsets[inside] == (-16, 28)).all(axis=1)
    assert right.mean() > 0.95
    assert float(np.median(error[inside])) < 1e-6
    assert (offsets[~inside] == 0).all() and (error[~inside] == 0).all()


def test_copy_at_source_size_brings_back_the_source_detail():
    """A half-size copying fill, upsampled, loses the fine texture; redone at the source size it is the copy."""
    truth, hole = copied_frame(128, 192, (40, 88, 60, 124), (-32, 56))
    frame = torch.where(hole > 0.5, torch.zeros_like(truth), truth)
    small, small_hole = shrink_known(frame, hole, (64, 96))
    small_truth = resize_image(truth, (64, 96))
    small_fill = torch.where(small_hole > 0.5, small_truth, small)  # a perfect copying fill at the working size
    upsampled = torch.where(hole > 0.5, resize_image(small_fill, (128, 192)), frame)
    result = copy_at_source_size(frame, hole, small_fill, small_hole, upsampled)
    inside = hole.expand_as(truth) > 0.5
    assert torch.equal(result[~inside], frame[~inside])
    copied_error = (result - truth).abs()[inside].mean()
    upsampled_error = (upsampled - truth).abs()[inside].mean()
    assert copied_error < 0.2 * upsampled_error


def test_copy_at_source_size_keeps_the_upsampled_fill_where_nothing_matches():
    """Where the small fill is no copy of the frame (what the shift-map left to Telea), the upsampled fill stays."""
    frame, hole = copied_frame(128, 192, (40, 88, 60, 124), (-32, 56))
    small, small_hole = shrink_known(frame, hole, (64, 96))
    unrelated = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(5))
    small_fill = torch.where(small_hole > 0.5, unrelated, small)
    upsampled = torch.where(hole > 0.5, resize_image(small_fill, (128, 192)), frame)
    result = copy_at_source_size(frame, hole, small_fill, small_hole, upsampled)
    inside = hole.expand_as(frame) > 0.5
    assert (result[inside] == upsampled[inside]).float().mean() > 0.9


def test_copy_at_source_size_without_a_known_block_keeps_the_upsampled_fill():
    frame = texture(32, 48)
    hole = torch.ones(1, 1, 32, 48)
    hole[..., :2, :2] = 0  # fewer known pixels than one block
    small, small_hole = shrink_known(frame, hole, (16, 24))
    small_fill = torch.full_like(small, 0.5)
    upsampled = torch.where(hole > 0.5, torch.full_like(frame, 0.5), frame)
    assert torch.equal(copy_at_source_size(frame, hole, small_fill, small_hole, upsampled), upsampled)


@pytest.mark.skipif(not native.exemplar_available(), reason="needs OpenCV contrib (cv2.xphoto)")
@pytest.mark.parametrize("size", [(96, 160), (100, 171)])
def test_exemplar_fill_at_a_working_size_copies_source_pixels(size):
    """The exemplar fill of a frame larger than its working size: hole pixels are (mostly) source pixels."""
    from model.stages import frame_inpainter
    height, width = size
    frame = texture(height, width, seed=3)
    hole = torch.zeros(1, 1, height, width)
    hole[..., 30:60, 50:100] = 1
    fill = frame_inpainter("exemplar", working_size=80)(frame, hole)
    inside = hole[0, 0] > 0.5
    colours = {tuple(c) for c in (frame[0].permute(1, 2, 0)[~inside] * 255).round().int().tolist()}
    ours = (fill[0].permute(1, 2, 0)[inside] * 255).round().int().tolist()
    assert np.mean([tuple(c) in colours for c in ours]) > 0.8
    assert torch.equal(fill[..., ~inside], frame[..., ~inside])
