"""Hole masks for evaluation and training, deterministic by seed.

Every generator returns a float32 hole ``[T,1,H,W]`` of exact 0/1 values (1 = missing), the
pack's mask convention (see :mod:`model.checks`). The same ``(protocol, seed, key)`` always
gives the same masks, whatever else ran before: each call draws from its own
``numpy.random.Generator`` seeded by :func:`protocol_rng`.

Protocols (names used by ``scripts/evaluate.py``):

* ``fixed_rect``: the paper's fixed centred rectangle, ``fraction`` of the frame height and of
  its width (default 0.5 each, a quarter of the frame), the same on every frame.
* ``random_rect``: the paper's random rectangle, each side drawn uniformly in 0.375-0.5 of the
  frame's side (height and width drawn independently), placed uniformly inside the frame,
  one rectangle for the whole clip (static). The paper does not say whether placement is
  per clip or per frame; static is the harder and more common case for object removal
  (nothing behind the hole is ever uncovered), so it is the default.
* ``random_rect_moving``: the same rectangle drifting with a constant random velocity
  (0.5-2 % of the shorter side per frame), bouncing off the frame's border.
* ``random_rect_per_frame``: an independent random rectangle on every frame (a flickering
  hole: every frame sees behind its neighbours' holes).
* ``strokes``: random-walker strokes: walkers take smooth random steps (direction changes by a
  Gaussian angle each step, bounces at the border) and a round brush draws the most recent
  ``length`` steps of each walk. The walk advances ``speed`` steps per frame, so each stroke
  crawls across the frame like a snake and its shape evolves over time.
* ``objects``: real object masks of ANOTHER clip (e.g. a DAVIS ground-truth segmentation),
  resized to this clip's size: object-shaped, moving holes whose ground truth is known
  because the object is not in this clip.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

PROTOCOLS = ("fixed_rect", "random_rect", "random_rect_moving", "random_rect_per_frame", "strokes", "objects")
PAPER_PROTOCOLS = ("fixed_rect", "random_rect", "strokes")
RECT_SIDES = (0.375, 0.5)
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def protocol_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and string ``keys`` (e.g. protocol and clip name), stable across runs."""
    return np.random.default_rng([int(seed)] + [zlib.crc32(k.encode("utf-8")) for k in keys])


def _to_hole(masks: np.ndarray) -> torch.Tensor:
    """``[T,H,W]`` bool/uint8 -> float32 ``[T,1,H,W]`` of 0/1."""
    return torch.from_numpy(np.ascontiguousarray(masks)).to(torch.float32).clamp(0, 1)[:, None]


def _check_size(num_frames: int, height: int, width: int) -> None:
    if num_frames < 1 or height < 2 or width < 2:
        raise ValueError(f"masks: need at least 1 frame of 2x2 pixels, got {num_frames} frames of {width}x{height}.")


def fixed_rectangle(num_frames: int, height: int, width: int, fraction: float = 0.5) -> torch.Tensor:
    """The paper's fixed centred rectangle -> hole ``[T,1,H,W]`` (0/1).

    Its sides are ``round(fraction * height)`` by ``round(fraction * width)`` pixels and it is
    centred (the extra pixel of an odd margin goes to the bottom/right).
    """
    _check_size(num_frames, height, width)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fixed_rect: fraction must lie in (0, 1], got {fraction}.")
    rh, rw = max(1, round(fraction * height)), max(1, round(fraction * width))
    top, left = (height - rh) // 2, (width - rw) // 2
    masks = np.zeros((num_frames, height, width), np.uint8)
    masks[:, top:top + rh, left:left + rw] = 1
    return _to_hole(masks)


def _rect_size(rng: np.random.Generator, height: int, width: int, sides: tuple[float, float]) -> tuple[int, int]:
    lo, hi = sides
    rh = int(np.clip(round(rng.uniform(lo, hi) * height), 1, height))
    rw = int(np.clip(round(rng.uniform(lo, hi) * width), 1, width))
    return rh, rw


def random_rectangle(num_frames: int, height: int, width: int, rng: np.random.Generator, motion: str = "static",
                     sides: tuple[float, float] = RECT_SIDES) -> torch.Tensor:
    """A random rectangle, sides ``sides`` (fractions of the frame's sides) -> hole ``[T,1,H,W]``.

    Args:
        motion: ``"static"`` (one rectangle for the clip), ``"moving"`` (one size, drifting at a
            constant velocity of 0.5-2 % of the shorter side per frame, bouncing at the border) or
            ``"per_frame"`` (size and position drawn anew on every frame).
    """
    _check_size(num_frames, height, width)
    if motion not in ("static", "moving", "per_frame"):
        raise ValueError(f"random_rect: unknown motion {motion!r}; choose static, moving or per_frame.")
    masks = np.zeros((num_frames, height, width), np.uint8)
    rh, rw = _rect_size(rng, height, width, sides)
    y, x = rng.uniform(0, height - rh), rng.uniform(0, width - rw)
    angle = rng.uniform(0, 2 * np.pi)
    speed = rng.uniform(0.005, 0.02) * min(height, width)
    vy, vx = speed * np.sin(angle), speed * np.cos(angle)
    for t in range(num_frames):
        if motion == "per_frame" and t > 0:
            rh, rw = _rect_size(rng, height, width, sides)
            y, x = rng.uniform(0, height - rh), rng.uniform(0, width - rw)
        top, left = int(round(y)), int(round(x))
        masks[t, top:top + rh, left:left + rw] = 1
        if motion == "moving":
            y, vy = _bounce(y + vy, vy, height - rh)
            x, vx = _bounce(x + vx, vx, width - rw)
    return _to_hole(masks)


def _bounce(pos: float, vel: float, limit: float) -> tuple[float, float]:
    """Reflect ``pos`` into ``[0, limit]``, flipping the velocity when it hits a side."""
    if limit <= 0:
        return 0.0, vel
    if pos < 0:
        return min(-pos, limit), -vel
    if pos > limit:
        return max(2 * limit - pos, 0.0), -vel
    return pos, vel


def random_walker(num_frames: int, height: int, width: int, rng: np.random.Generator, walkers: int = 2,
                  length: int = 40, speed: int = 2, brush: tuple[float, float] = (0.03, 0.05),
                  turn: float = 0.5) -> torch.Tensor:
    """Random-walker strokes that crawl and change shape over time -> hole ``[T,1,H,W]``.

    Each walker starts at a uniform point with a uniform direction. Every step turns by a
    Gaussian angle (std ``turn`` radians) and moves 0.8 brush radii, bouncing at the border.
    Frame t draws, for each walker, steps ``t*speed .. t*speed+length`` of its walk as a polyline
    with a round brush of radius ``brush`` (fractions of ``sqrt(height * width)``, drawn per walker,
    so the covered fraction does not depend on the aspect ratio).

    With the defaults a frame is covered by about 5-35 % (two strokes of ~30 brush radii),
    about 18 % on average.
    """
    _check_size(num_frames, height, width)
    short = float(np.sqrt(height * width))
    steps = length + speed * (num_frames - 1) + 1
    canvas = np.zeros((num_frames, height, width), np.uint8)
    for _ in range(walkers):
        radius = max(1, int(round(rng.uniform(*brush) * short)))
        step = 0.8 * radius
        points = np.empty((steps, 2))
        pos = np.array([rng.uniform(0, width - 1), rng.uniform(0, height - 1)])
        angle = rng.uniform(0, 2 * np.pi)
        for i in range(steps):
            points[i] = pos
            angle += rng.normal(0.0, turn)
            move = step * np.array([np.cos(angle), np.sin(angle)])
            nxt = pos + move
            if not 0 <= nxt[0] <= width - 1:
                angle = np.pi - angle
            if not 0 <= nxt[1] <= height - 1:
                angle = -angle
            pos = np.clip(nxt, 0, [width - 1, height - 1])
        pixels = np.round(points).astype(np.int32)
        for t in range(num_frames):
            segment = pixels[t * speed:t * speed + length + 1].reshape(-1, 1, 2)
            cv2.polylines(canvas[t], [segment], False, 1, thickness=2 * radius + 1, lineType=cv2.LINE_8)
    return _to_hole(canvas)


def load_mask_sequence(folder: str | Path, max_frames: int | None = None, start: int = 0) -> np.ndarray:
    """Read a folder of single-channel mask images (sorted by name) -> ``[T,H,W]`` float32 in [0,1].

    0 = known, 255 = hole, as in ``shared/data/clips/<clip>/masks``.
    """
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in MASK_SUFFIXES)
    files = files[start:start + max_frames if max_frames else None]
    if not files:
        raise ValueError(f"objects: no mask images in {folder}; give a clip folder that has masks/*.png.")
    masks = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in files]
    if any(m is None for m in masks):
        raise ValueError(f"objects: could not read every mask in {folder}.")
    return np.stack(masks).astype(np.float32) / 255.0


def masks_move(masks: np.ndarray) -> bool:
    """True if a ``[T,H,W]`` mask sequence changes over time (object masks, not a fixed logo/box)."""
    binary = masks >= 0.5
    return bool(binary.any()) and bool((binary != binary[:1]).any())


def object_masks(num_frames: int, height: int, width: int, donor: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """Object-shaped moving holes from another clip's masks ``donor`` ``[T_d,H_d,W_d]`` in [0,1] -> ``[T,1,H,W]``.

    Frames are taken in order from a random start in the donor (so they keep their real motion),
    ping-ponging when the donor is shorter than ``num_frames``; each is resized to ``height x width``
    (area interpolation, thresholded at 0.5) and the whole sequence is mirrored left-right with
    probability 1/2.
    """
    _check_size(num_frames, height, width)
    if donor.ndim != 3 or donor.shape[0] == 0:
        raise ValueError(f"objects: donor masks must be [T,H,W] with T >= 1, got {donor.shape}.")
    length = donor.shape[0]
    first = int(rng.integers(0, length - num_frames + 1)) if length >= num_frames else 0
    cycle = list(range(length)) + list(range(length - 2, 0, -1)) or [0]
    order = [cycle[(first + t) % len(cycle)] for t in range(num_frames)]
    flip = bool(rng.integers(0, 2))
    out = np.zeros((num_frames, height, width), np.uint8)
    for t, i in enumerate(order):
        resized = cv2.resize(donor[i], (width, height), interpolation=cv2.INTER_AREA)
        out[t] = resized >= 0.5
    if flip:
        out = out[:, :, ::-1]
    return _to_hole(out)


def choose_donor(target: str, donors: Sequence[str], seed: int) -> str:
    """Pick the donor clip name for ``target`` among ``donors`` (never the target itself), by seed."""
    candidates = sorted(d for d in donors if d != target)
    if not candidates:
        raise ValueError(f"objects: no other clip with moving masks to take object masks from for {target!r}; "
                         "add clips that have masks/ (e.g. the DAVIS clips) to the mask pool.")
    return candidates[int(protocol_rng(seed, "donor", target).integers(0, len(candidates)))]


def make_hole(protocol: str, num_frames: int, height: int, width: int, seed: int = 0, key: str = "",
              donor: np.ndarray | None = None, fraction: float = 0.5) -> torch.Tensor:
    """Masks of one protocol (see the module docstring) -> hole ``[T,1,H,W]`` float32 0/1.

    Args:
        protocol: one of :data:`PROTOCOLS`.
        seed, key: the masks depend only on ``(protocol, seed, key)``; use the clip name as key so
            each clip gets its own masks.
        donor: ``[T_d,H_d,W_d]`` masks of another clip, required for ``"objects"``.
        fraction: side fraction of ``"fixed_rect"``.
    """
    rng = protocol_rng(seed, protocol, key)
    if protocol == "fixed_rect":
        return fixed_rectangle(num_frames, height, width, fraction)
    if protocol == "random_rect":
        return random_rectangle(num_frames, height, width, rng, "static")
    if protocol == "random_rect_moving":
        return random_rectangle(num_frames, height, width, rng, "moving")
    if protocol == "random_rect_per_frame":
        return random_rectangle(num_frames, height, width, rng, "per_frame")
    if protocol == "strokes":
        return random_walker(num_frames, height, width, rng)
    if protocol == "objects":
        if donor is None:
            raise ValueError("objects: needs the donor masks of another clip (donor=[T,H,W]).")
        return object_masks(num_frames, height, width, donor, rng)
    raise ValueError(f"masks: unknown protocol {protocol!r}; choose one of {list(PROTOCOLS)}.")
