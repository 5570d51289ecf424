"""Quality and temporal-stability metrics of an inpainted video against its ground truth.

All functions take ``output`` and ``target`` float ``[T,3,H,W]`` in [0,1] and a ``hole``
``[T|1,1,H,W]`` (1 = missing, thresholded at 0.5). They return one value per frame (``[T]``
float64 tensors, NaN where a frame has no pixel to score, e.g. an empty hole or frame 0 of a
temporal metric) so a caller can average over frames with :func:`video_mean` (NaN-aware mean
of the per-frame values; every frame counts the same whatever its hole size).

Definitions (``R`` is the set of scored pixels, ``|R|`` its size, channels averaged):

* **PSNR** ``= 10 log10(1 / MSE)``, ``MSE = mean over R and the 3 channels of (output - target)^2``
  with values in [0,1] (peak 1). Full frame: R = all pixels. Hole: R = hole pixels of the frame.
  MSE is floored at 1e-10, so a perfect frame scores 100 dB.
* **SSIM**: kornia's SSIM map (11x11 Gaussian window, sigma 1.5, C1 = 0.01^2, C2 = 0.03^2,
  'same' padding), averaged over R and the channels. Full frame: R = all pixels. Hole: the map
  averaged over hole pixels only (windows centred on hole pixels near the border also see known
  pixels, so the hole SSIM also scores how the fill meets its surroundings).
* **L1** (the paper's L1 error): mean absolute error ``mean over R and channels of
  |output - target|`` in [0,1] intensity units. Full frame (the paper's figure, which counts the
  known pixels as exact) and hole (the same over hole pixels; full = hole x coverage for outputs
  that keep known pixels exactly).
* **E_warp** (temporal warping error, 0-255 units): for t >= 1, with ``b_t`` the backward flow
  from ground-truth frame t to ground-truth frame t-1 (OpenCV DIS, medium preset) and
  ``C_t`` the pixels where that flow is trustworthy (forward-backward consistent with the flow
  from t-1 to t and pointing inside frame t-1, Sundaram et al. 2010:
  ``|b + f(x+b)|^2 <= 0.01 (|b|^2 + |f(x+b)|^2) + 0.5``),
  ``E_warp_t = 255 * mean over (hole_t AND C_t) and channels of |output_t - warp(output_{t-1}, b_t)|``.
  The same quantity on the ground truth (``target`` in place of ``output``) measures what the
  flow cannot explain (lighting, blur, flow error): the floor a perfect result would score.
* **E_warp on the camera's pixels** (``ewarp_camera``, 0-255 units): E_warp over the part of ``hole_t AND C_t``
  where ``b_t`` is within :data:`CAMERA_TOLERANCE` px of the camera's motion (one homography fitted with RANSAC to
  the frame's consistent flow, :func:`moves_with_camera`). Where the truth in the hole is a moving subject (the
  object that was removed, a person walking through a rectangle), plain E_warp warps the fill along the subject's
  motion, so a sharp background fill that moves with the camera (as real background does) scores worse there than a
  smear. On the camera's pixels the truth is what moves like the background, and a stable fill of it scores low.
  NaN for a frame where no hole pixel moves with the camera or no homography fits.
* **Flicker** (0-255 units): for t >= 1, over S = pixels in the hole of both frame t and t-1,
  ``255 * (mean over S of |output_t - output_{t-1}| - mean over S of |target_t - target_{t-1}|)``:
  how much more the fill changes from one frame to the next than the real video does at the
  same pixels, without any flow. 0 = as much temporal change as the real content; > 0 = the fill
  flickers or swims; < 0 = the fill is more static than the real content (e.g. frozen over
  real motion).
* **Detail score** (unitless, one value per clip, :func:`detail_score`): how much fine structure the fill has,
  relative to the truth. Luminance ``Y = 0.299 R + 0.587 G + 0.114 B``; forward-difference gradient magnitude
  ``g(p) = sqrt((Y(p + x) - Y(p))^2 + (Y(p + y) - Y(p))^2)``; scored pixels of frame t: ``R_t`` = hole pixels
  whose right and lower neighbours are in the hole too (only differences between two hole pixels count, so the
  step from the fill to the known pixels at the hole's border does not); then
  ``detail = sum over t and R_t of g(output) / sum over t and R_t of g(target)`` (a ratio of sums over the clip,
  so frames with little texture do not dominate). 1 = as much gradient as the truth; a smooth mean fill scores
  near 0; > 1 = more gradient than the truth (noise, ringing, or sharper content than was there). It measures
  amount of detail, not its correctness: read it with PSNR and the feature distance
  (``feature_distance.py``).
"""
from __future__ import annotations

import math

import torch
from kornia.metrics import ssim as ssim_map

from ..checks import HOLE_THRESHOLD
from ..warp import warp

EWARP_PRESET = "dis_medium"
"""DIS preset of the ground-truth flow that E_warp is measured along: part of the metric's definition, fixed
whatever preset a pipeline runs (scores stay comparable across configurations)."""

CAMERA_TOLERANCE = 1.0
"""Pixels (at the scored size) within which the truth's flow counts as the camera's motion (``ewarp_camera``)."""

SSIM_WINDOW = 11
MSE_FLOOR = 1e-10


def _hole_mask(hole: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Binary ``[T,1,H,W]`` float hole matching ``frames`` ``[T,C,H,W]`` (a single mask is repeated)."""
    if (hole.ndim != 4 or hole.shape[1] != 1 or hole.shape[2:] != frames.shape[2:]
            or hole.shape[0] not in (1, frames.shape[0])):
        raise ValueError(f"metrics: hole {tuple(hole.shape)} does not match frames {tuple(frames.shape)}; "
                         "give a hole [T,1,H,W] or [1,1,H,W] of the same size.")
    return (hole >= HOLE_THRESHOLD).to(torch.float64).expand(frames.shape[0], 1, *frames.shape[2:])


def _check_pair(output: torch.Tensor, target: torch.Tensor) -> None:
    if output.ndim != 4 or output.shape != target.shape:
        raise ValueError(f"metrics: output {tuple(output.shape)} and target {tuple(target.shape)} must both be "
                         "[T,C,H,W] of the same shape.")


def _region_mean(values: torch.Tensor, region: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` ``[T,C,H,W]`` over ``region`` ``[T,1,H,W]`` (0/1) and channels -> ``[T]``, NaN if empty."""
    values = values.to(torch.float64)
    if region is None:
        return values.mean(dim=(1, 2, 3))
    weight = region.to(torch.float64).expand_as(values)
    count = weight.sum(dim=(1, 2, 3))
    total = (values * weight).sum(dim=(1, 2, 3))
    return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, math.nan))


def psnr(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor | None = None) -> torch.Tensor:
    """Per-frame PSNR in dB (peak 1.0) over the full frame, or over the hole if ``hole`` is given -> ``[T]``.

    >>> psnr(torch.full((1, 3, 2, 2), 0.5), torch.full((1, 3, 2, 2), 0.625))  # MSE 1/64 -> 18.06 dB
    tensor([18.0618], dtype=torch.float64)
    """
    _check_pair(output, target)
    region = None if hole is None else _hole_mask(hole, output)
    mse = _region_mean((output.double() - target.double()) ** 2, region)
    return 10.0 * torch.log10(1.0 / mse.clamp_min(MSE_FLOOR))


def ssim(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor | None = None,
         window_size: int = SSIM_WINDOW) -> torch.Tensor:
    """Per-frame SSIM over the full frame, or the SSIM map averaged over hole pixels -> ``[T]`` in [-1,1]."""
    _check_pair(output, target)
    smap = ssim_map(output.float(), target.float(), window_size, max_val=1.0)
    return _region_mean(smap, None if hole is None else _hole_mask(hole, output))


def l1_error(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor | None = None) -> torch.Tensor:
    """Per-frame mean absolute error in [0,1] units, full frame or hole pixels only -> ``[T]``."""
    _check_pair(output, target)
    region = None if hole is None else _hole_mask(hole, output)
    return _region_mean((output.double() - target.double()).abs(), region)


def consistent_flow(backward: torch.Tensor, forward: torch.Tensor, alpha: float = 0.01,
                    beta: float = 0.5) -> torch.Tensor:
    """Forward-backward check: ``[T,1,H,W]`` 1.0 where the backward flow can be trusted, else 0.0.

    Args:
        backward: ``[T,2,H,W]`` flow t -> t-1 (the pack's convention).
        forward: ``[T,2,H,W]``, ``forward[t]`` = flow t-1 -> t (pixels of frame t-1 to frame t).
    A pixel x of frame t passes if ``x + b(x)`` lies inside the image and
    ``|b(x) + f(x + b(x))|^2 <= alpha (|b(x)|^2 + |f(x + b(x))|^2) + beta`` (Sundaram et al. 2010).
    """
    if backward.shape != forward.shape or backward.ndim != 4 or backward.shape[1] != 2:
        raise ValueError(f"consistent_flow: expected two flows [T,2,H,W] of one shape, got "
                         f"{tuple(backward.shape)} and {tuple(forward.shape)}.")
    forward_at, valid = warp(forward, backward)
    gap = (backward + forward_at).pow(2).sum(1, keepdim=True)
    bound = alpha * (backward.pow(2).sum(1, keepdim=True) + forward_at.pow(2).sum(1, keepdim=True)) + beta
    return ((gap <= bound).to(backward.dtype) * valid)


def ground_truth_flow(target: torch.Tensor, estimator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward flow of the ground truth and where it is consistent -> ``(flow [T,2,H,W], consistent [T,1,H,W])``.

    ``flow[t]`` maps frame t to t-1 (``flow[0] = 0``, ``consistent[0] = 0``). ``estimator`` is a
    callable ``(target [1,3,H,W], source [1,3,H,W]) -> [1,2,H,W]`` (default OpenCV DIS :data:`EWARP_PRESET`).
    Compute it once per clip and pass it to :func:`warping_error` for every configuration.
    """
    if estimator is None:
        from ..stages.robust_flow import DISFlowEstimator
        estimator = DISFlowEstimator(EWARP_PRESET)
    t_len, _, h, w = target.shape
    backward = torch.zeros(t_len, 2, h, w)
    forward = torch.zeros(t_len, 2, h, w)
    for t in range(1, t_len):
        cur, prev = target[t:t + 1].float(), target[t - 1:t].float()
        backward[t] = estimator(cur, prev)[0].cpu()
        forward[t] = estimator(prev, cur)[0].cpu()
    consistent = consistent_flow(backward, forward)
    consistent[0] = 0.0
    return backward, consistent


def warping_error(output: torch.Tensor, hole: torch.Tensor, flow: torch.Tensor,
                  consistent: torch.Tensor) -> torch.Tensor:
    """Per-frame temporal warping error E_warp (0-255 units) on consistent hole pixels -> ``[T]`` (NaN at t=0).

    ``255 * mean over (hole_t AND consistent_t) and channels of |output_t - warp(output_{t-1}, flow_t)|``
    with ``flow``/``consistent`` from :func:`ground_truth_flow`.
    """
    if flow.shape[0] != output.shape[0] or flow.shape[2:] != output.shape[2:]:
        raise ValueError(f"warping_error: flow {tuple(flow.shape)} does not match output {tuple(output.shape)}.")
    region = _hole_mask(hole, output)[1:] * (consistent[1:] > 0.5)
    warped, _ = warp(output[:-1].float(), flow[1:].float().to(output.device))
    error = _region_mean((output[1:].float() - warped).abs() * 255.0, region)
    return torch.cat((torch.tensor([math.nan], dtype=torch.float64), error))


def moves_with_camera(flow: torch.Tensor, consistent: torch.Tensor,
                      tolerance: float = CAMERA_TOLERANCE) -> torch.Tensor:
    """Where the ground truth moves with the camera -> ``[T,1,H,W]`` float 0/1 (module doc, ``ewarp_camera``).

    Args:
        flow, consistent: :func:`ground_truth_flow`'s ``[T,2,H,W]`` backward flow and ``[T,1,H,W]`` consistency.
        tolerance: pixels between a pixel's flow and the fitted camera motion.
    1 where the flow is within ``tolerance`` of the homography that most consistent pixels of the frame follow;
    a frame with no such homography (:func:`model.stages.camera_flow.fit_camera`) is all 0.
    """
    from ..stages.camera_flow import camera_flow, fit_camera
    t_len, _, height, width = flow.shape
    camera = torch.zeros(t_len, 1, height, width)
    for t in range(t_len):
        homography = fit_camera(flow[t].float(), consistent[t, 0] > 0.5)
        if homography is not None:
            gap = (flow[t].float() - camera_flow(homography, height, width)[0]).norm(dim=0)
            camera[t, 0] = (gap <= tolerance).float()
    return camera


def flicker(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Per-frame flicker score (0-255 units) -> ``[T]`` (NaN at t=0 or when no pixel is in both holes).

    ``255 * (mean_S |output_t - output_{t-1}| - mean_S |target_t - target_{t-1}|)`` over
    S = pixels in the hole of both frame t and frame t-1.
    """
    _check_pair(output, target)
    mask = _hole_mask(hole, output)
    region = mask[1:] * mask[:-1]
    change_out = _region_mean((output[1:].double() - output[:-1].double()).abs(), region)
    change_gt = _region_mean((target[1:].double() - target[:-1].double()).abs(), region)
    return torch.cat((torch.tensor([math.nan], dtype=torch.float64), 255.0 * (change_out - change_gt)))


LUMA = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights of the detail score."""


def gradient_sums(frames: torch.Tensor, hole: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per frame: the sum of the luminance gradient magnitude over the detail score's pixels ``R_t`` and their
    number -> ``([T] float64, [T] float64)`` (module doc, **Detail score**)."""
    mask = _hole_mask(hole, frames)
    luma = (frames.double() * torch.tensor(LUMA, dtype=torch.float64).view(1, 3, 1, 1)).sum(1, keepdim=True)
    dx = luma[..., :-1, 1:] - luma[..., :-1, :-1]
    dy = luma[..., 1:, :-1] - luma[..., :-1, :-1]
    region = mask[..., :-1, :-1] * mask[..., :-1, 1:] * mask[..., 1:, :-1]
    magnitude = (dx.pow(2) + dy.pow(2)).sqrt()
    return (magnitude * region).sum(dim=(1, 2, 3)), region.sum(dim=(1, 2, 3))


def detail_score(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor) -> float:
    """Mean luminance gradient magnitude in the hole, output over truth, as a ratio of sums over the clip -> float
    (1 = as detailed as the truth, 0 = flat; NaN if the truth has no gradient there or no pixel is scored).

    >>> target = torch.zeros(1, 3, 6, 6); target[..., 3:] = 1.0  # a vertical edge inside an all-hole frame
    >>> hole = torch.ones(1, 1, 6, 6)
    >>> [detail_score(x, target, hole) for x in (target, 0.5 * target, torch.full_like(target, 0.5))]
    [1.0, 0.5, 0.0]
    >>> hole = torch.zeros(1, 1, 6, 6); hole[..., :3] = 1.0  # the edge is the hole's border: not counted
    >>> math.isnan(detail_score(torch.full_like(target, 0.5), target, hole))
    True
    """
    _check_pair(output, target)
    ours, _ = gradient_sums(output, hole)
    theirs, _ = gradient_sums(target, hole)
    total = float(theirs.sum())
    return float(ours.sum()) / total if total > 0 else math.nan


def video_mean(per_frame: torch.Tensor) -> float:
    """NaN-aware mean of per-frame values ``[T]`` -> float (NaN if no frame was scored)."""
    values = per_frame[~torch.isnan(per_frame)]
    return float(values.mean()) if values.numel() else math.nan


def score_video(output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor,
                gt_flow: tuple[torch.Tensor, torch.Tensor] | None = None,
                camera: torch.Tensor | None = None) -> dict[str, float]:
    """Every metric of this module for one video, averaged over frames -> dict of floats.

    Keys: ``psnr_hole, psnr_full, ssim_hole, ssim_full, l1_hole, l1_full, ewarp, ewarp_gt, ewarp_camera,
    ewarp_camera_gt, flicker, detail`` (:func:`detail_score`, one ratio over the clip) and ``coverage`` (mean
    fraction of pixels in the hole). ``gt_flow`` is the result of :func:`ground_truth_flow` (computed here if not
    given). ``camera`` is :func:`moves_with_camera` of that flow (computed here if not given; like ``gt_flow``, once
    per clip serves every output). The deep-feature distance is not here (it needs an optional network):
    ``feature_distance.feature_distance``.
    """
    _check_pair(output, target)
    output, target = output.detach().cpu().float(), target.detach().cpu().float()
    hole = hole.detach().cpu().float()
    flow, consistent = gt_flow if gt_flow is not None else ground_truth_flow(target)
    camera = consistent * (camera if camera is not None else moves_with_camera(flow, consistent))
    return {
        "psnr_hole": video_mean(psnr(output, target, hole)),
        "psnr_full": video_mean(psnr(output, target)),
        "ssim_hole": video_mean(ssim(output, target, hole)),
        "ssim_full": video_mean(ssim(output, target)),
        "l1_hole": video_mean(l1_error(output, target, hole)),
        "l1_full": video_mean(l1_error(output, target)),
        "ewarp": video_mean(warping_error(output, hole, flow, consistent)),
        "ewarp_gt": video_mean(warping_error(target, hole, flow, consistent)),
        "ewarp_camera": video_mean(warping_error(output, hole, flow, camera)),
        "ewarp_camera_gt": video_mean(warping_error(target, hole, flow, camera)),
        "flicker": video_mean(flicker(output, target, hole)),
        "detail": detail_score(output, target, hole),
        "coverage": float(_hole_mask(hole, output).mean()),
    }
