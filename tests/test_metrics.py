"""Metrics against values computed by hand on tiny arrays."""
import math

import pytest
import torch

from clips import synthetic_clip, texture
from model.evaluation import metrics
from model.warp import warp


def test_psnr_of_known_noise_matches_the_formula():
    target = torch.full((2, 3, 4, 4), 0.5)
    noise = torch.tensor([0.1, -0.1]).repeat(24)[:48].reshape(1, 3, 4, 4)  # |noise| = 0.1 everywhere
    output = target + noise
    # MSE = 0.01 -> PSNR = 10 log10(1 / 0.01) = 20 dB on every frame
    assert torch.allclose(metrics.psnr(output, target), torch.full((2,), 20.0, dtype=torch.float64), atol=1e-4)


def test_psnr_of_identical_frames_is_capped_not_infinite():
    x = torch.rand(1, 3, 5, 5)
    assert metrics.psnr(x, x).item() == pytest.approx(100.0)


def test_hole_metrics_ignore_pixels_outside_the_hole():
    target = torch.zeros(1, 3, 4, 4)
    hole = torch.zeros(1, 1, 4, 4)
    hole[..., :2, :] = 1.0  # top half missing
    output = target.clone()
    output[..., :2, :] = 0.25  # error 0.25 inside the hole
    garbage = output.clone()
    garbage[..., 2:, :] = torch.rand(1, 3, 2, 4)  # anything outside the hole
    for out in (output, garbage):
        assert metrics.l1_error(out, target, hole).item() == pytest.approx(0.25)
        assert metrics.psnr(out, target, hole).item() == pytest.approx(10 * math.log10(1 / 0.0625))
    # full-frame L1 counts the exact half: 0.25 * 8 / 16
    assert metrics.l1_error(output, target).item() == pytest.approx(0.125)


def test_empty_hole_frames_score_nan_and_are_skipped_in_the_mean():
    target = torch.zeros(2, 3, 4, 4)
    hole = torch.zeros(2, 1, 4, 4)
    hole[1, :, 0, 0] = 1.0
    output = target + 0.5
    per_frame = metrics.l1_error(output, target, hole)
    assert math.isnan(per_frame[0].item()) and per_frame[1].item() == pytest.approx(0.5)
    assert metrics.video_mean(per_frame) == pytest.approx(0.5)


def test_ssim_of_an_identical_image_is_one_full_and_in_hole():
    x = texture(32, 40)[None]
    hole = torch.zeros(1, 1, 32, 40)
    hole[..., 8:20, 10:30] = 1
    assert metrics.ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert metrics.ssim(x, x, hole).item() == pytest.approx(1.0, abs=1e-6)
    assert metrics.ssim(x * 0.5, x, hole).item() < 0.99


def test_warping_error_is_zero_for_a_perfectly_warped_sequence():
    torch.manual_seed(0)
    frames = [texture(24, 32)[None]]
    flow = torch.zeros(4, 2, 24, 32)
    flow[1:, 0], flow[1:, 1] = 1.5, -0.75  # constant sub-pixel motion
    for t in range(1, 4):
        frames.append(warp(frames[-1], flow[t:t + 1])[0])
    output = torch.cat(frames)
    hole = torch.ones(1, 1, 24, 32)
    consistent = torch.ones(4, 1, 24, 32)
    per_frame = metrics.warping_error(output, hole, flow, consistent)
    assert math.isnan(per_frame[0].item())
    assert torch.allclose(per_frame[1:], torch.zeros(3, dtype=torch.float64), atol=1e-4)
    # a flickering output (+0.1 on odd frames) is caught: |0.1| * 255 = 25.5
    flickering = output + torch.tensor([0.0, 0.1, 0.0, 0.1]).view(4, 1, 1, 1)
    assert torch.allclose(metrics.warping_error(flickering, hole, flow, consistent)[1:],
                          torch.full((3,), 25.5, dtype=torch.float64), atol=1e-3)


def test_warping_error_counts_only_hole_and_consistent_pixels():
    output = torch.zeros(2, 3, 4, 4)
    output[1, :, :, 2:] = 1.0  # frame 1 differs from frame 0 on the right half
    flow = torch.zeros(2, 2, 4, 4)
    hole = torch.ones(1, 1, 4, 4)
    consistent = torch.ones(2, 1, 4, 4)
    assert metrics.warping_error(output, hole, flow, consistent)[1].item() == pytest.approx(127.5)
    consistent[1, :, :, 2:] = 0.0  # occluded: excluded
    assert metrics.warping_error(output, hole, flow, consistent)[1].item() == pytest.approx(0.0)
    consistent[1] = 1.0
    left_hole = torch.zeros(1, 1, 4, 4)
    left_hole[..., :2] = 1.0
    assert metrics.warping_error(output, left_hole, flow, consistent)[1].item() == pytest.approx(0.0)


def test_forward_backward_check_rejects_inconsistent_and_outside_pixels():
    backward = torch.zeros(1, 2, 8, 8)
    forward = torch.zeros(1, 2, 8, 8)
    backward[0, 0] = -2.0  # frame t sees frame t-1 two pixels to the left
    forward[0, 0] = 2.0    # and t-1 moves two pixels right: consistent
    forward[0, 0, :4] = 5.0  # top half disagrees
    ok = metrics.consistent_flow(backward, forward)[0, 0]
    assert ok[4:, 2:].eq(1).all()          # consistent
    assert ok[:4, 2:].eq(0).all()          # forward disagrees by 3 px
    assert ok[:, :2].eq(0).all()           # x - 2 < 0: points outside frame t-1


def test_ground_truth_flow_explains_a_translated_texture():
    gt = synthetic_clip(t=3, h=32, w=48, pan=2, seed=3).frames  # content moves 2 px left per frame
    flow, consistent = metrics.ground_truth_flow(gt)
    assert consistent[0].sum() == 0
    assert consistent[1:, :, 4:-4, 4:-8].mean() > 0.9
    assert consistent[1:, :, :, -2:].sum() == 0  # these pixels were outside frame t-1
    assert flow[1:, 0, 4:-4, 4:-8].sub(2.0).abs().median() < 0.25  # frame t's pixel x was at x + 2 in t-1
    hole = torch.ones(1, 1, 32, 48)
    assert metrics.video_mean(metrics.warping_error(gt, hole, flow, consistent)) < 2.0


def test_flicker_is_zero_for_a_static_fill_and_counts_extra_change():
    target = torch.rand(4, 3, 6, 6)
    hole = torch.zeros(1, 1, 6, 6)
    hole[..., 1:4, 1:4] = 1.0
    assert metrics.video_mean(metrics.flicker(target, target, hole)) == pytest.approx(0.0, abs=1e-9)
    static_target = target[:1].expand(4, -1, -1, -1)
    alternating = static_target + torch.tensor([0.0, 0.1, 0.0, 0.1]).view(4, 1, 1, 1) * hole
    per_frame = metrics.flicker(alternating, static_target, hole)
    assert torch.allclose(per_frame[1:], torch.full((3,), 25.5, dtype=torch.float64), atol=1e-4)


def test_score_video_reports_every_metric():
    target = texture(24, 32)[None].expand(3, -1, -1, -1).contiguous()
    hole = torch.zeros(1, 1, 24, 32)
    hole[..., 6:18, 8:24] = 1.0
    output = torch.where(hole > 0.5, torch.full_like(target, 0.5), target)
    scores = metrics.score_video(output, target, hole)
    assert set(scores) == {"psnr_hole", "psnr_full", "ssim_hole", "ssim_full", "l1_hole", "l1_full",
                           "ewarp", "ewarp_gt", "ewarp_camera",
                           "ewarp_camera_gt", "flicker", "detail", "coverage"}
    assert scores["detail"] == 0.0  # a flat grey fill
    assert scores["coverage"] == pytest.approx(0.25)
    assert scores["psnr_full"] > scores["psnr_hole"]
    assert scores["l1_full"] == pytest.approx(scores["l1_hole"] * 0.25, rel=1e-6)
    assert scores["ewarp"] == pytest.approx(0.0, abs=1e-3)  # a static fill on a static video
    assert scores["ewarp_gt"] == pytest.approx(0.0, abs=1e-3)


def test_detail_score_is_one_for_the_truth_or_its_shift_and_lower_for_a_blur():
    target = texture(48, 64)[None].expand(2, -1, -1, -1).contiguous()
    hole = torch.zeros(1, 1, 48, 64)
    hole[..., 12:36, 16:48] = 1.0
    assert metrics.detail_score(target, target, hole) == 1.0
    shifted = torch.where(hole > 0.5, torch.roll(target, (3, 4), dims=(2, 3)), target)
    assert metrics.detail_score(shifted, target, hole) == pytest.approx(1.0, abs=0.2)  # as detailed, misplaced
    blurred = torch.where(hole > 0.5, torch.nn.functional.avg_pool2d(target, 7, 1, 3, count_include_pad=False),
                          target)
    assert metrics.detail_score(blurred, target, hole) < 0.6
    noisy = target + 0.1 * torch.randn_like(target) * hole
    assert metrics.detail_score(noisy, target, hole) > 1.0  # more gradient than the truth: noise counts too


def test_detail_score_ignores_the_step_at_the_hole_border_and_pools_frames():
    target = torch.zeros(2, 3, 8, 8)
    target[0, :, :, ::2] = 1.0  # frame 0: stripes (gradient 1 on every pixel); frame 1: flat
    hole = torch.zeros(1, 1, 8, 8)
    hole[..., 2:6, 2:6] = 1.0
    # a fill of 0.5 next to known pixels of 0 and 1: the steps at the border are not counted
    flat_fill = torch.where(hole > 0.5, torch.full_like(target, 0.5), target)
    assert metrics.detail_score(flat_fill, target, hole) == 0.0
    total, count = metrics.gradient_sums(target, hole)
    assert count.tolist() == [9.0, 9.0]  # 3x3: pixels whose right and lower neighbours are in the hole
    assert total.tolist() == pytest.approx([9.0, 0.0])
    # a ratio of sums over the clip: frame 1's flat truth (a ratio 0/0 on its own) does not spoil it
    half = torch.where(hole > 0.5, 0.5 * target + 0.25, target)
    assert metrics.detail_score(half, target, hole) == pytest.approx(0.5)
    assert math.isnan(metrics.detail_score(target[1:], target[1:], hole))  # no gradient in the truth: undefined


def test_mismatched_shapes_raise_value_error():
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match="hole"):
        metrics.l1_error(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4), torch.zeros(3, 1, 4, 4))


def test_moves_with_camera_marks_the_background_and_not_a_subject_the_camera_follows():
    flow = torch.zeros(3, 2, 40, 60)
    flow[1:, 0] = 2.0  # the camera pans: the background moves 2 px a frame
    flow[1:, :, 10:30, 20:40] = 0.0  # the subject it follows stays put in the frame
    consistent = torch.ones(3, 1, 40, 60)
    camera = metrics.moves_with_camera(flow, consistent)
    assert camera.shape == (3, 1, 40, 60)
    assert bool((camera[1:, 0, 10:30, 20:40] == 0).all())
    assert float(camera[1:].mean()) == pytest.approx(1 - 400 / 2400)
    # Where nothing is consistent no camera is fitted: nothing counts as the camera's.
    assert float(metrics.moves_with_camera(flow, torch.zeros_like(consistent)).sum()) == 0.0


def test_ewarp_camera_scores_a_background_fill_on_the_background_only():
    """A sharp background that slides with the camera behind a removed subject: plain E_warp warps it along the
    subject's (zero) motion and scores it badly; on the camera's pixels it is exact."""
    background = texture(40, 80)
    frames = torch.stack([background[..., 2 * t:2 * t + 60] for t in range(3)])  # pans 2 px a frame
    flow = torch.zeros(3, 2, 40, 60)
    flow[1:, 0] = 2.0
    flow[1:, :, 10:30, 20:40] = 0.0
    consistent = torch.ones(3, 1, 40, 60)
    consistent[:, :, :, 56:] = 0.0  # what comes into view on the right has no source
    hole = torch.zeros(1, 1, 40, 60)
    hole[..., 6:34, 16:44] = 1.0  # the subject and a margin of background
    camera = consistent * metrics.moves_with_camera(flow, consistent)
    plain = metrics.video_mean(metrics.warping_error(frames, hole, flow, consistent))
    on_camera = metrics.video_mean(metrics.warping_error(frames, hole, flow, camera))
    assert on_camera < 1.0 < plain
