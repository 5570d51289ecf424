"""The quilting texture fill (model.stages.quilt): known blocks of the frame, guided by a smooth fill."""
import numpy as np
import torch

from model.stages.quilt import QuiltTexture, quilt


def two_textures(height: int = 64, width: int = 96, seed: int = 0) -> np.ndarray:
    """``[H,W,3]`` float32: red noise on the left half, blue noise on the right."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    noise = rng.random((height, width)).astype(np.float32) * 0.4
    image[:, : width // 2, 0] = 0.5 + noise[:, : width // 2]
    image[:, width // 2:, 2] = 0.5 + noise[:, width // 2:]
    return image


def test_quilt_copies_known_pixels_where_the_guide_asks():
    image = two_textures()
    hole = np.zeros(image.shape[:2], bool)
    hole[20:44, 30:66] = True  # across both halves
    guide = np.where(np.arange(96)[None, :, None] < 48, [0.7, 0, 0], [0, 0, 0.7]).astype(np.float32)
    guide = np.broadcast_to(guide, image.shape).copy()
    out = quilt(image, hole, guide)
    assert np.array_equal(out[~hole], image[~hole])
    known = {tuple(c) for c in image[~hole].round(6).tolist()}
    assert all(tuple(c) in known for c in out[hole].round(6).tolist())  # every hole pixel is a copy
    left, right = out[20:44, 30:44], out[20:44, 52:66]
    assert left[..., 0].mean() > 0.5 > left[..., 2].mean()  # red texture where the guide is red
    assert right[..., 2].mean() > 0.5 > right[..., 0].mean()
    assert out[hole].std() > 0.05  # texture, not a flat colour


def test_quilt_without_a_known_block_keeps_the_guide():
    image = two_textures(24, 24)
    hole = np.ones((24, 24), bool)
    hole[:2, :2] = False
    guide = np.full_like(image, 0.25)
    out = quilt(image, hole, guide)
    assert np.array_equal(out[hole], guide[hole]) and np.array_equal(out[~hole], image[~hole])


def test_quilt_texture_keeps_known_pixels_and_an_empty_hole():
    frame = torch.from_numpy(two_textures()).permute(2, 0, 1)[None]
    hole = torch.zeros(1, 1, 64, 96)
    fill = QuiltTexture(lambda f, h: torch.full_like(f, 0.5))
    assert fill(frame, hole) is frame
    hole[..., 10:30, 10:40] = 1
    out = fill(frame, hole)
    inside = hole.expand_as(frame) > 0.5
    assert torch.equal(out[~inside], frame[~inside]) and out.shape == frame.shape
