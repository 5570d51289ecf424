"""Complete a hole's flow with the camera's motion: one homography fitted to the flow around it.

Inside a hole the flow was never measured. The Laplacian fill interpolates the flow on the hole's border, so a
person walking past the border drags the hole's flow along with them, and what Flow Propagate carries through the
hole slides with them. The background behind a hole mostly moves with the camera. This completer fits one
homography (RANSAC, so moving objects are outliers) to the known flow of the region it is given (Flow Propagate
passes the hole's box plus a quarter of the frame around it, :data:`model.propagate.whole_clip.COMPLETION_CONTEXT`)
and fills the hole with the motion that homography predicts.

Measured on the 12 validation clips (432x240, 24 frames, Flow Propagate + the full learned graph), against the
Laplacian fill: the deep-feature distance in the hole lower on all four mask kinds, hole PSNR 18.85 -> 19.03 dB
(docs/results/eval_camera_completion_432x240.md).

Where the known flow does not follow one motion (fewer than half of the samples agree with the best homography,
too few known pixels, or a prediction far outside the measured motion), the Laplacian fill is used instead.

Given the pair's frames (Flow Propagate gives them), the completer also checks the band around the hole against
their colours: where a subject there moves unlike the camera (a still person the camera follows, a moving car) and
the hole lies on it, the hole's flow near it follows the subject (:func:`subject_residual`). Measured on the
validation clips' object masks: hole PSNR +0.4 dB and E_warp 5.73 -> 4.69 (docs/results/eval_subject_band_432x240.md).
The cost: a person walking past a hole of background drags the flow beside them, as the Laplacian fill does.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..masks import box_index, box_of, grow_hole
from ..warp import warp
from .robust_flow import LaplacianFlowCompleter

MAX_SAMPLES = 4000  # known pixels the homography is fitted to (a regular subsample of the region's known pixels)
MIN_SAMPLES = 32
RANSAC_THRESHOLD = 1.0  # pixels of the flow's resolution
MIN_INLIERS = 0.5  # fraction of the samples that must move with the fitted camera motion
MAX_OVERSHOOT = 2.0  # the predicted motion may exceed the largest measured one by this factor (+ 2 px)


def fit_camera(flow: torch.Tensor, known: torch.Tensor) -> np.ndarray | None:
    """The homography ``3x3`` mapping pixel ``(x, y)`` to ``(x, y) + flow`` that most known pixels follow, or None.

    Args:
        flow: ``[2,H,W]`` pixels (x, y).
        known: ``[H,W]`` bool, the pixels whose flow was measured.
    Returns None when fewer than :data:`MIN_SAMPLES` pixels are known or fewer than :data:`MIN_INLIERS` of the
    samples agree with the best homography within :data:`RANSAC_THRESHOLD` pixels.
    """
    ys, xs = torch.nonzero(known, as_tuple=True)
    if len(ys) < MIN_SAMPLES:
        return None
    step = max(1, len(ys) // MAX_SAMPLES)  # regular, so the same flow gives the same fit
    ys, xs = ys[::step], xs[::step]
    source = torch.stack((xs, ys), 1).to(torch.float32)
    target = source + flow[:, ys, xs].T.float()
    homography, inliers = cv2.findHomography(source.cpu().numpy(), target.cpu().numpy(), cv2.RANSAC,
                                             RANSAC_THRESHOLD)
    if homography is None or inliers is None or float(inliers.mean()) < MIN_INLIERS:
        return None
    return homography


def camera_flow(homography: np.ndarray, height: int, width: int) -> torch.Tensor:
    """The flow ``[1,2,H,W]`` (float32 pixels, on the CPU: float64 inside, which not every device has) of
    ``homography`` at every pixel of an ``H x W`` grid."""
    h = torch.from_numpy(homography).to(torch.float64)
    y, x = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                          indexing="ij")
    depth = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    mapped_x = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / depth
    mapped_y = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / depth
    return torch.stack((mapped_x - x, mapped_y - y))[None].to(torch.float32)


SUBJECT_BAND = 8  # pixels around the hole whose motion is checked against the frames
SUBJECT_SMOOTHING = 7  # side of the box the colour errors are averaged over before they are compared
DEPARTURE_MARGIN = 16  # known pixels kept around the hole when the subjects' departure is interpolated into it
SUBJECT_RATIO, SUBJECT_TOLERANCE = 1.5, 0.01
"""A pixel of the band is a subject's when the camera's motion matches its colour worse than the measured flow does:
``camera error > SUBJECT_RATIO * measured error + SUBJECT_TOLERANCE`` (mean absolute colour differences in [0,1])."""


def colour_error(target: torch.Tensor, source: torch.Tensor, source_hole: torch.Tensor,
                 flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How well ``flow`` maps ``target``'s pixels onto ``source``: ``(error [1,1,H,W], usable [1,1,H,W] bool)``.

    Args:
        target, source: ``[1,3,H,W]`` in [0,1]; ``flow`` ``[1,2,H,W]`` pixels maps target pixels into ``source``.
        source_hole: ``[1,1,H,W]`` 0/1, the pixels ``source`` does not show.
    Returns the mean absolute colour difference per pixel, and where it means something (the flow lands inside
    ``source`` and outside its hole).
    """
    seen, inside = warp(source, flow)
    hidden, _ = warp(source_hole.to(flow.device, flow.dtype), flow)
    return (target - seen).abs().mean(1, keepdim=True), (inside > 0.5) & (hidden < 0.5)


def _box_mean(values: torch.Tensor, usable: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean of ``values`` ``[1,1,H,W]`` over the ``usable`` pixels of a :data:`SUBJECT_SMOOTHING` box, and where
    the box has any (``[1,1,H,W]`` bool)."""
    side, half = SUBJECT_SMOOTHING, SUBJECT_SMOOTHING // 2

    def box(image: torch.Tensor) -> torch.Tensor:  # separable: a third of the work of a 7x7 pool
        return F.avg_pool2d(F.avg_pool2d(image, (side, 1), 1, (half, 0)), (1, side), 1, (0, half))

    usable = usable.to(values.dtype)
    share, total = box(usable), box(values * usable)
    return total / share.clamp_min(1e-6), share > 0.5 / side ** 2


def subject_residual(flow: torch.Tensor, camera: torch.Tensor, unknown: torch.Tensor, target: torch.Tensor,
                     source: torch.Tensor, source_hole: torch.Tensor) -> torch.Tensor:
    """What the hole's flow departs from the camera's, taken from the subjects around the hole: ``[1,2,H,W]`` pixels
    (zero away from the hole).

    The pixels within :data:`SUBJECT_BAND` of the hole whose colours (averaged over a :data:`SUBJECT_SMOOTHING` box of
    pixels the source shows) the camera's motion explains worse than the measured flow does (:data:`SUBJECT_RATIO`)
    are a subject's: a hole that lies on a subject (a still person the camera follows) moves with it. Their departure
    from the camera's motion is interpolated into the hole (Laplacian); the band's other pixels count as zero. A band
    the camera explains (the background, or flow that DIS dragged towards the membrane fill beside the hole) leaves
    the camera's motion alone.

    Args:
        flow: ``[1,2,H,W]`` the measured flow (pixels; target -> source); camera: the camera's motion, same shape.
        unknown: ``[1,1,H,W]`` 0/1, the hole (not empty). target, source, source_hole: see :func:`colour_error`.
    """
    hole = unknown > 0.5
    box, size = box_of(hole[0, 0]), tuple(hole.shape[-2:])
    compared = SUBJECT_BAND + SUBJECT_SMOOTHING // 2  # how far from the hole colours are compared
    near = box_index(box, compared, size)
    flow_near, camera_near = flow[near][0], camera[near][0]
    reach = float(torch.maximum(torch.hypot(flow_near[0], flow_near[1]),
                                torch.hypot(camera_near[0], camera_near[1])).max())
    crop = box_index(box, compared + math.ceil(reach) + 1, size)  # where those pixels' flows land
    band = (grow_hole(unknown[crop], SUBJECT_BAND) > 0.5) & ~hole[crop]
    camera_error, camera_usable = colour_error(target[crop], source[crop], source_hole[crop], camera[crop])
    measured_error, measured_usable = colour_error(target[crop], source[crop], source_hole[crop], flow[crop])
    usable = camera_usable & measured_usable & band
    (camera_error, judged), (measured_error, _) = _box_mean(camera_error, usable), _box_mean(measured_error, usable)
    subject = band & judged & (camera_error > SUBJECT_RATIO * measured_error + SUBJECT_TOLERANCE)
    residual = torch.zeros_like(flow)
    if not subject.any():
        return residual
    residual[crop] = torch.where(subject, flow[crop] - camera[crop], residual[crop])
    fill = box_index(box, DEPARTURE_MARGIN, size)  # the Laplacian fill depends only on the hole's border
    residual[fill] = LaplacianFlowCompleter()(residual[fill], unknown[fill])
    return torch.where(hole, residual, torch.zeros_like(residual))


class CameraFlowCompleter:
    """Complete flow inside a hole with the camera motion (one homography) fitted to the flow around it; the
    Laplacian fill where the known flow follows no single motion."""

    fallback = LaplacianFlowCompleter()
    wide_context = True  # Flow Propagate gives it a quarter frame around the hole to fit, and the pair's frames

    def __call__(self, flow: torch.Tensor, unknown: torch.Tensor,
                 images: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Fill ``flow`` ``[1,2,H,W]`` (pixels) inside ``unknown`` ``[1,1,H,W]`` (0/1) -> ``[1,2,H,W]``; known pixels
        are returned unchanged.

        ``images``: ``(target, source, source_hole)`` of :func:`colour_error`, the frames the flow maps between. With
        them, a hole on a subject moves with it (:func:`subject_residual`); without, it moves with the camera.
        """
        hole = unknown[0, 0] > 0.5
        known = ~hole
        if not hole.any():
            return flow
        homography = fit_camera(flow[0], known)
        if homography is None:
            return self.fallback(flow, unknown)
        predicted = camera_flow(homography, flow.shape[-2], flow.shape[-1]).to(flow.device)
        measured = float(torch.hypot(flow[0, 0], flow[0, 1])[known].max())  # hypot: norm(dim=0) is 10x slower here
        inside = torch.hypot(predicted[0, 0], predicted[0, 1])[hole]
        if not torch.isfinite(inside).all() or float(inside.max()) > MAX_OVERSHOOT * measured + 2.0:
            return self.fallback(flow, unknown)
        predicted = predicted.to(flow.dtype)
        if images is not None:
            predicted = predicted + subject_residual(flow, predicted, unknown, *images)
        return torch.where(hole, predicted, flow)
