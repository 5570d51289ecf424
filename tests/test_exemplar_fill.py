"""Frame Inpaint's "exemplar" method: OpenCV contrib's shift-map copies real texture into the hole.

It needs ``cv2.xphoto`` (``opencv-contrib-python-headless``, in requirements-test.txt); the tests that run
the fill skip, with that reason, only where it is missing. Without it, choosing the method must say what
to install (a ValueError), never fail with an AttributeError.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from clips import read_clip
from conftest import choices
from model import native, stages
from model.pipeline.config import PipelineConfig
from model.stages import frame_inpaint
from model.stages.frame_inpaint import EXEMPLAR_WORKING_SIZE, ClassicalFrameInpainter, ExemplarFrameInpainter

needs_xphoto = pytest.mark.skipif(not native.exemplar_available(),
                                  reason="cv2.xphoto missing: pip install opencv-contrib-python-headless "
                                         "(same version as the installed OpenCV; see requirements-test.txt)")


def pattern_frame(h: int, w: int, kind: str) -> torch.Tensor:
    """``[1,3,h,w]``: diagonal stripes (period 8 px) or a checkerboard (6 px squares) in two colours."""
    y, x = np.mgrid[:h, :w]
    on = ((x + y) // 4) % 2 if kind == "stripes" else (x // 6 + y // 6) % 2
    image = np.stack([on * 0.6 + 0.2, on * 0.3 + 0.4, 0.5 - on * 0.3]).astype(np.float32)
    return torch.from_numpy(image)[None]


def ellipse_hole(h: int, w: int) -> torch.Tensor:
    """``[1,1,h,w]``: an object-sized ellipse in the middle (about 9 % of the frame)."""
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return ((((yy - h / 2) / (h / 5)) ** 2 + ((xx - w / 2) / (w / 7)) ** 2) <= 1).float()[None, None]


def gradient_energy(frame: torch.Tensor, where: np.ndarray) -> float:
    """Mean Sobel gradient magnitude of the grey image of ``frame`` ``[1,3,H,W]`` over the pixels ``where``."""
    grey = frame[0].mean(0).numpy().astype(np.float32)
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    return float(np.hypot(gx, gy)[where].mean())


def assert_known_exact(out: torch.Tensor, frame: torch.Tensor, hole: torch.Tensor) -> None:
    assert out.shape == frame.shape and out.dtype == frame.dtype
    known = (hole < 0.5).expand_as(frame)
    assert torch.equal(out[known], frame[known])
    assert bool(torch.isfinite(out).all()) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0


# ------------------------------------------------------------------------------------- offered, and without xphoto
def test_exemplar_is_offered_before_network_everywhere_the_methods_are_listed(classes):
    assert stages.FRAME_METHODS[-1] == "network" and "exemplar" in stages.FRAME_METHODS
    assert PipelineConfig(frame_method="exemplar").frame_method == "exemplar"
    assert choices(classes["FRVI_FrameInpaint"], "method") == list(stages.FRAME_METHODS)


def test_without_xphoto_choosing_exemplar_says_what_to_install(monkeypatch, classes, nodes):
    monkeypatch.delattr(cv2, "xphoto", raising=False)
    assert not native.exemplar_available()
    hint = r"pip install opencv-contrib-python(-headless)?==\d"
    with pytest.raises(ValueError, match=hint):
        stages.frame_inpainter("exemplar")
    with pytest.raises(ValueError, match=hint):
        native.exemplar_inpaint(np.zeros((40, 40, 3), np.uint8), np.full((40, 40), 255, np.uint8))
    frames, hole = torch.rand(1, 40, 48, 3), torch.zeros(1, 40, 48)
    hole[:, 10:20, 10:20] = 1.0
    with pytest.raises(ValueError, match=hint):
        nodes["FRVI_FrameInpaint"].run(frames, hole, "exemplar", 5)
    assert "exemplar" in choices(classes["FRVI_FrameInpaint"], "method")


# ------------------------------------------------------------------------------------------------ the fill itself
@needs_xphoto
@pytest.mark.parametrize("kind", ["stripes", "checker"])
@pytest.mark.parametrize("size", [(72, 120), (97, 151)])
def test_regular_texture_comes_back_with_its_structure_where_telea_smooths_it(kind, size):
    frame, hole = pattern_frame(*size, kind), ellipse_hole(*size)
    exemplar = stages.frame_inpainter("exemplar")(frame, hole)
    telea = stages.frame_inpainter("telea")(frame, hole)
    assert_known_exact(exemplar, frame, hole)
    inside = hole[0, 0].numpy() > 0.5
    truth = gradient_energy(frame, inside)
    # measured: exemplar 1.00-1.04 x the truth's gradient energy, Telea 0.16-0.31 x
    assert 0.8 * truth < gradient_energy(exemplar, inside) < 1.2 * truth
    assert gradient_energy(telea, inside) < 0.4 * truth
    # and the pattern is continued in phase: measured 1/255 off (Lab rounding), Telea 0.2
    assert float((exemplar - frame).abs().mean(1)[0][torch.from_numpy(inside)].mean()) < 0.02


@needs_xphoto
@pytest.mark.parametrize("size", [(37, 53), (61, 90), (33, 250), (250, 41)])
def test_odd_sizes_keep_known_pixels_exact(size):
    gen = torch.Generator().manual_seed(sum(size))
    frame = torch.nn.functional.interpolate(torch.rand(1, 3, size[0] // 4 + 1, size[1] // 4 + 1, generator=gen),
                                            size=size, mode="bicubic", align_corners=False).clamp(0, 1)
    hole = (torch.rand(1, 1, *size, generator=gen) < 0.05).float()
    hole[..., size[0] // 3:size[0] // 2, size[1] // 3:size[1] // 2] = 1.0
    out = ExemplarFrameInpainter()(frame, hole)
    assert_known_exact(out, frame, hole)


@needs_xphoto
def test_empty_tiny_and_full_holes_never_reach_the_shift_map_unsafely():
    inpainter = stages.frame_inpainter("exemplar")
    frame = pattern_frame(64, 96, "checker")
    empty = torch.zeros(1, 1, 64, 96)
    assert inpainter(frame, empty) is frame  # OpenCV's shift-map segfaults on a mask with no hole
    one = empty.clone()
    one[..., 30, 40] = 1.0
    assert_known_exact(inpainter(frame, one), frame, one)
    # nothing known: Telea's fill (documented fallback), not the shift-map's zeros
    full = torch.ones_like(empty)
    assert torch.equal(inpainter(frame, full), ClassicalFrameInpainter("telea")(frame, full))
    # a side under EXEMPLAR_MIN_SIDE: Telea's fill too
    for h, w in ((1, 1), (2, 3), (20, 20), (31, 200)):
        small, hole = pattern_frame(h, w, "stripes"), torch.zeros(1, 1, h, w)
        hole[..., h // 2, w // 2] = 1.0
        assert torch.equal(inpainter(small, hole), ClassicalFrameInpainter("telea")(small, hole))


@needs_xphoto
def test_pixels_the_shift_map_leaves_unfilled_get_telea(monkeypatch):
    def lazy(src, valid, dst, algorithm):  # fills nothing: the shift-map's mark for "no source found"
        dst[:] = src
        dst[valid == 0] = 0

    monkeypatch.setattr(cv2.xphoto, "inpaint", lazy)
    image = np.full((48, 64, 3), (200, 60, 30), np.uint8)
    hole = np.zeros((48, 64), np.uint8)
    hole[10:30, 20:40] = 255
    out = native.exemplar_inpaint(image, hole)
    np.testing.assert_array_equal(out[hole == 0], image[hole == 0])
    # Telea of a flat colour is that colour (OpenCV 5's Telea is up to 3 levels off, measured)
    assert np.abs(out.astype(int) - image).max() <= 4


@needs_xphoto
def test_native_entry_refuses_what_it_cannot_fill_safely():
    with pytest.raises(ValueError, match="800"):
        native.exemplar_inpaint(np.zeros((720, 1280, 3), np.uint8), np.zeros((720, 1280), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        native.exemplar_inpaint(np.zeros((40, 40, 3), np.float32), np.zeros((40, 40), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        native.exemplar_inpaint(np.zeros((40, 40), np.uint8), np.zeros((40, 40), np.uint8))
    with pytest.raises(ValueError, match="radius"):
        native.exemplar_inpaint(np.zeros((40, 40, 3), np.uint8), np.zeros((40, 40), np.uint8), radius=0)


# ----------------------------------------------------------------------------------------------- working size
@needs_xphoto
def test_fills_at_its_working_size_and_brings_the_fill_back(monkeypatch):
    seen = []
    real = frame_inpaint.exemplar_inpaint

    def spy(image, hole, radius=5):
        seen.append(image.shape[:2])
        return real(image, hole, radius)

    monkeypatch.setattr(frame_inpaint, "exemplar_inpaint", spy)
    frame, hole = pattern_frame(270, 480, "stripes"), ellipse_hole(270, 480)
    inpainter = stages.frame_inpainter("exemplar")
    assert inpainter.long_side == EXEMPLAR_WORKING_SIZE == 432
    out = inpainter(frame, hole)
    assert seen == [(243, 432)]
    assert_known_exact(out, frame, hole)
    assert stages.frame_inpainter("exemplar", working_size=120).long_side == 120
    assert stages.frame_inpainter("exemplar", working_size=4096).long_side == native.EXEMPLAR_MAX_SIDE
    with pytest.raises(ValueError, match="working_size"):
        stages.frame_inpainter("exemplar", working_size=-8)


@needs_xphoto
def test_demo_frame_gets_a_sharper_fill_than_telea_with_known_pixels_exact(nodes):
    frames, masks = read_clip("demo", 11)
    frame, hole = frames[10:11], masks[10:11]
    (out,) = nodes["FRVI_FrameInpaint"].run(frame, hole, "exemplar", 5, working_size=216)
    (telea,) = nodes["FRVI_FrameInpaint"].run(frame, hole, "telea", 5, working_size=216)
    known = (hole < 0.5)[..., None].expand_as(frame)
    assert torch.equal(out[known], frame[known])
    inside = hole[0].numpy() > 0.5
    energy = [gradient_energy(x.permute(0, 3, 1, 2), inside) for x in (out, telea)]
    assert energy[0] > 1.5 * energy[1]  # texture copied in, not smoothed over

