"""The patch-based completion (model/stages/patch_fill.py): copies real pixels, continues regular texture."""
import numpy as np
import torch

from model.stages.frame_inpaint import patch_inpainter
from model.stages import patch_fill as patch_fill_module
from model.stages.patch_fill import PatchTexture, patch_fill, texture_channels


def stripes(height: int, width: int, period: int = 8) -> np.ndarray:
    """``[h,w,3]`` float32 vertical stripes (a regular texture) with a slow colour ramp down the frame."""
    x = np.arange(width)[None, :].repeat(height, 0)
    y = np.arange(height)[:, None].repeat(width, 1)
    bright = (x % period < period // 2).astype(np.float32)
    return np.stack((0.2 + 0.6 * bright, 0.3 + 0.2 * y / height, 0.5 - 0.3 * bright), 2).astype(np.float32)


def centred_hole(height: int, width: int) -> np.ndarray:
    hole = np.zeros((height, width), bool)
    hole[height // 4:3 * height // 4, width // 3:2 * width // 3] = True
    return hole


def flat_guide(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return np.where(hole[..., None], image[~hole].mean(0), image).astype(np.float32)


def test_patch_fill_continues_a_regular_texture_with_real_pixels():
    image = stripes(96, 160)
    hole = centred_hole(96, 160)
    fill = patch_fill(np.where(hole[..., None], 0.5, image).astype(np.float32), hole, flat_guide(image, hole))
    assert np.array_equal(fill[~hole], image[~hole])
    error = np.abs(fill - image)[hole].mean()
    assert error < 0.25 * np.abs(flat_guide(image, hole) - image)[hole].mean()
    known_colours = {tuple(c) for c in image[~hole].round(5)}
    assert all(tuple(c) in known_colours for c in fill[hole].round(5))  # copies, not means


def test_patch_fill_is_deterministic_and_falls_back_to_the_guide_without_known_patches():
    image = stripes(80, 120)
    hole = centred_hole(80, 120)
    guide = flat_guide(image, hole)
    first, second = (patch_fill(image, hole, guide) for _ in range(2))
    assert np.array_equal(first, second)
    everything = np.ones_like(hole)
    everything[0, 0] = False
    assert np.array_equal(patch_fill(image, everything, guide)[everything], guide[everything])
    tiny = np.zeros((6, 9), bool)
    tiny[2:4, 3:6] = True
    assert np.array_equal(patch_fill(image[:6, :9], tiny, guide[:6, :9]), np.where(tiny[..., None], guide[:6, :9],
                                                                                   image[:6, :9]))


def test_patch_texture_keeps_known_pixels_and_works_at_a_working_size():
    image = torch.from_numpy(stripes(120, 200)).permute(2, 0, 1)[None]
    hole = torch.from_numpy(centred_hole(120, 200))[None, None].float()
    guide_calls = []

    def guide(frame, region):
        guide_calls.append(tuple(frame.shape))
        return torch.where(region > 0.5, frame.mean(dim=(2, 3), keepdim=True), frame)
    corrupted = torch.where(hole > 0.5, torch.full_like(image, 0.5), image)
    for inpainter in (PatchTexture(guide), patch_inpainter(guide, long_side=100)):
        fill = inpainter(corrupted, hole)
        inside = hole.expand_as(image) > 0.5
        assert fill.shape == image.shape and torch.equal(fill[~inside], image[~inside])
        assert float((fill - image).abs()[inside].mean()) < 0.5 * float((guide(corrupted, hole) - image)
                                                                          .abs()[inside].mean())
    assert (1, 3, 60, 100) in guide_calls  # the working size


def test_patch_fill_asks_for_texture_where_the_surroundings_are_textured(monkeypatch):
    """A hole amid stripes, beside a flat region of the stripes' mean colour, starting from that flat colour: colour
    alone matches the flat region perfectly; the texture channels pull the fill towards the stripes."""
    image = stripes(96, 200)
    image[:, :60] = image[:, 60:].mean(axis=(0, 1))
    hole = np.zeros((96, 200), bool)
    hole[24:72, 120:170] = True
    guide = np.where(hole[..., None], image[:, :60].mean(axis=(0, 1)), image).astype(np.float32)

    def detail(picture):
        return np.abs(np.diff(picture[..., 0], axis=1))[24:72, 121:169].mean()
    textured = detail(patch_fill(image, hole, guide))
    monkeypatch.setattr(patch_fill_module, "TEXTURE_WEIGHT", 0.0)
    assert textured > 1.5 * detail(patch_fill(image, hole, guide))
    channels = texture_channels(guide, hole)
    assert channels[48, 145, 0] > 0.5 * channels[48, 100, 0] > 0  # the stripes' texture spread into the hole
    assert np.all(channels[:, :50] == 0)  # the flat region has none
    below = np.zeros((96, 200), bool)
    below[12:] = True  # far below the known rows the spread reaches nothing: the frame's mean texture, not zero
    nowhere = np.zeros_like(below)
    assert texture_channels(image, below)[90, 150, 0] > 0.5 * texture_channels(image, nowhere)[:12, 60:, 0].mean()


def test_patch_fill_on_odd_sizes_whose_pyramid_does_not_halve_evenly():
    """OpenCV's area resize takes at most 4 channels unless the factor is whole; the texture channels make 5."""
    for height, width in ((101, 157), (243, 432), (75, 301)):
        image = stripes(height, width)
        hole = centred_hole(height, width)
        fill = patch_fill(image, hole, flat_guide(image, hole))
        assert fill.shape == image.shape and np.array_equal(fill[~hole], image[~hole])
        if height > 100:  # (a 4:1 strip continues the stripes out of phase: the pyramid's coarsest level is 19 px)
            assert np.abs(fill - image)[hole].mean() < 0.1 * np.abs(flat_guide(image, hole) - image)[hole].mean()
