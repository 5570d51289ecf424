"""The camera completion of a hole's flow (model/stages/camera_flow.py) and its setting in Flow Propagate."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from model import stages
from model.propagate.whole_clip import PropagateConfig
from model.stages.camera_flow import CameraFlowCompleter, camera_flow

H, W = 60, 80


def zoom_and_pan() -> np.ndarray:
    """A homography: 3 % zoom about the centre, then 2.5 px right and 1 px up, with a little perspective."""
    return np.array([[1.03, 0.01, -W * 0.015 + 2.5], [-0.005, 1.03, -H * 0.015 - 1.0], [1e-5, 2e-5, 1.0]])


def hole_box() -> torch.Tensor:
    hole = torch.zeros(1, 1, H, W)
    hole[..., 15:45, 25:55] = 1
    return hole


def error_in(flow: torch.Tensor, truth: torch.Tensor, hole: torch.Tensor) -> float:
    return float((flow - truth).norm(dim=1, keepdim=True)[hole > 0.5].mean())


def test_the_hole_takes_the_camera_motion_and_known_pixels_stay_exact():
    truth = camera_flow(zoom_and_pan(), H, W)
    hole = hole_box()
    given = torch.where(hole > 0.5, torch.full_like(truth, 50.0), truth)
    out = CameraFlowCompleter()(given, hole)
    assert torch.equal(out[hole.expand_as(out) < 0.5], given[hole.expand_as(given) < 0.5])
    assert error_in(out, truth, hole) < 0.02


def test_a_walker_at_the_hole_edge_does_not_drag_the_hole_flow():
    """A strip beside the hole moving 6 px/frame against a still camera: the Laplacian fill drags the hole along with
    it, the camera completion keeps the hole still."""
    truth = torch.zeros(1, 2, H, W)
    hole = hole_box()
    given = truth.clone()
    given[:, 0, 10:50, 18:25] = 6.0  # the walker, beside the hole's left edge
    laplacian = stages.flow_completer("laplacian")(given, hole)
    camera = stages.flow_completer("camera")(given, hole)
    assert error_in(laplacian, truth, hole) > 0.5
    assert error_in(camera, truth, hole) < 0.01


def test_flow_that_follows_no_single_motion_falls_back_to_the_laplacian_fill():
    generator = torch.Generator().manual_seed(0)
    given = torch.randn(1, 2, H, W, generator=generator) * 5
    hole = hole_box()
    assert torch.equal(CameraFlowCompleter()(given, hole), stages.flow_completer("laplacian")(given, hole))


def test_too_few_known_pixels_fall_back_and_an_empty_hole_changes_nothing():
    given = torch.ones(1, 2, H, W)
    everything = torch.ones(1, 1, H, W)
    everything[..., 0, :3] = 0
    assert torch.equal(CameraFlowCompleter()(given, everything), stages.flow_completer("laplacian")(given, everything))
    assert torch.equal(CameraFlowCompleter()(given, torch.zeros(1, 1, H, W)), given)


def test_flow_propagate_names_a_completion_it_does_not_know():
    assert PropagateConfig().completion == "camera"
    with pytest.raises(ValueError, match="unknown completion 'network'.*camera.*laplacian"):
        PropagateConfig(completion="network").validate()


def test_flow_propagate_fits_the_camera_beyond_the_flow_dragged_beside_the_hole():
    """Next to a hole, the flow measured on membrane-filled frames is dragged towards the fill's (zero) motion. The
    camera is fitted on a quarter of the frame around the hole, so a 16 px dragged band does not set the hole's flow
    (a 16 px ring, as before, fitted the band's zero motion)."""
    from model.propagate.whole_clip import pair_flow

    height, width, band = 96, 160, 16
    hole = torch.zeros(1, 1, height, width)
    hole[..., 32:64, 56:104] = 1
    dragged = torch.zeros(height, width, dtype=torch.bool)
    dragged[32 - band:64 + band, 56 - band:104 + band] = True

    def estimator(target, source):
        flow = torch.tensor([3.0, 1.0]).view(1, 2, 1, 1).expand(1, 2, height, width).clone()
        return torch.where(dragged, torch.zeros_like(flow), flow)

    frame_a = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    frame_b = torch.roll(frame_a, shifts=(1, 3), dims=(2, 3))  # the whole picture moves (3, 1) px, the band too
    forward, backward = pair_flow(frame_a, frame_b, hole, hole, estimator, CameraFlowCompleter(), 0)
    inside = hole[0, 0] > 0.5
    assert torch.allclose(forward[0][:, inside].mean(1), torch.tensor([3.0, 1.0]), atol=0.05)
    assert torch.allclose(backward[0][:, ~dragged], torch.tensor([[3.0], [1.0]]))  # measured flow is kept


def test_only_a_completer_that_fits_the_motion_gets_the_wide_context():
    """The Laplacian fill depends only on the hole's border: it keeps the small crop (and its cost) and is not given
    the frames."""
    from model.propagate.whole_clip import FILL_MARGIN, pair_flow
    from model.stages.robust_flow import LaplacianFlowCompleter

    class Recording(LaplacianFlowCompleter):
        def __call__(self, flow, unknown, images=None):
            self.shapes.append(tuple(flow.shape[-2:]))
            self.given_frames.append(images is not None)
            return super().__call__(flow, unknown)

    hole = torch.zeros(1, 1, 240, 432)
    hole[..., 100:140, 200:240] = 1
    frames = torch.rand(2, 1, 3, 240, 432)
    small, wide = Recording(), Recording()
    small.shapes, wide.shapes, wide.wide_context = [], [], True
    small.given_frames, wide.given_frames = [], []
    for completer in (small, wide):
        pair_flow(frames[0], frames[1], hole, hole, lambda t, s: torch.zeros(1, 2, 240, 432), completer, 0)
    assert small.shapes == [(40 + 2 * FILL_MARGIN, 40 + 2 * FILL_MARGIN)] * 2
    assert wide.shapes == [(240, 40 + 2 * 108)] * 2  # a quarter of 432 px each side, clipped by the frame's height
    assert small.given_frames == [False] * 2 and wide.given_frames == [True] * 2


def subject_on_a_pan(pan: float = 3.0):
    """Frames of a textured background panning ``pan`` px/frame to the right behind a textured subject that stands
    still (the camera follows it), the subject's flow (0) and the background's, and a hole in the subject's middle.

    Returns ``(target, source, flow [1,2,H,W] target -> source, hole [1,1,H,W], subject [H,W] bool)``."""
    height, width = 96, 160
    generator = torch.Generator().manual_seed(1)
    background = torch.rand(1, 3, height, width + 8, generator=generator)
    body = torch.rand(1, 3, 40, 56, generator=generator)
    subject = torch.zeros(height, width, dtype=torch.bool)
    subject[28:68, 52:108] = True
    frames = []
    for shift in (0, round(pan)):
        frame = background[..., 8 - shift:8 - shift + width].clone()
        frame[..., 28:68, 52:108] = body
        frames.append(frame)
    flow = torch.zeros(1, 2, height, width)
    flow[:, 0] = torch.where(subject, 0.0, pan)  # target pixels are found pan px right in the source
    hole = torch.zeros(1, 1, height, width)
    hole[..., 40:56, 70:90] = 1
    return frames[0], frames[1], flow, hole, subject


def test_a_hole_on_a_still_subject_moves_with_the_subject_when_the_frames_show_it():
    """The camera pans past a subject it follows; the hole lies inside the subject. The frames show that the band
    around the hole does not move with the camera, so the hole's flow follows the subject (0), not the pan (3 px)."""
    target, source, flow, hole, _ = subject_on_a_pan()
    inside = hole[0, 0] > 0.5
    blind = CameraFlowCompleter()(flow, hole)
    seeing = CameraFlowCompleter()(flow, hole, (target, source, torch.zeros_like(hole)))
    assert torch.allclose(blind[0][:, inside].mean(1), torch.tensor([3.0, 0.0]), atol=0.05)
    assert float(seeing[0][:, inside].abs().max()) < 0.05
    assert torch.equal(seeing[:, :, ~inside], flow[:, :, ~inside])


def test_a_band_the_camera_explains_leaves_the_camera_motion():
    """The same pan with the hole on the background: the band moves with the camera, the hole keeps the camera's
    motion, even with its measured flow dragged to zero (as DIS drags it beside a membrane fill)."""
    target, source, flow, _, _ = subject_on_a_pan()
    hole = torch.zeros(1, 1, *flow.shape[-2:])
    hole[..., 40:56, 10:30] = 1
    dragged = flow.clone()
    dragged[..., 36:60, 6:34] = 0.0  # 4 px of dragged flow around the hole
    out = CameraFlowCompleter()(dragged, hole, (target, source, torch.zeros_like(hole)))
    inside = hole[0, 0] > 0.5
    assert torch.allclose(out[0][:, inside].mean(1), torch.tensor([3.0, 0.0]), atol=0.05)


def test_the_colour_check_skips_what_the_source_does_not_show():
    """Where the flow lands in the source's hole, the colours say nothing: the band there counts as camera."""
    target, source, flow, hole, _ = subject_on_a_pan()
    source_hole = torch.ones_like(hole)  # the source shows nothing
    out = CameraFlowCompleter()(flow, hole, (target, source, source_hole))
    inside = hole[0, 0] > 0.5
    assert torch.allclose(out[0][:, inside].mean(1), torch.tensor([3.0, 0.0]), atol=0.05)
