"""A texture fill that continues the surroundings: multi-scale patch-based completion (nearest-neighbour field and
voting), no OpenCV contrib.

The ``textured`` keyframes (:func:`model.propagate.keyframes.keyframe_inpainter`) are filled by this: a fill that
copies real pixels of the frame, so what no frame saw gets texture instead of a smear. It is the classic image
completion by patch search (Wexler et al. 2007; the
nearest-neighbour field found by PatchMatch, Barnes et al. 2009), written here with numpy and OpenCV:

- patches are compared on colour and on two texture channels (Newson et al. 2014): the mean absolute luma
  gradient across and down, over a ``TEXTURE_WINDOW`` window of the full-size frame. Colour alone lets a smooth
  estimate match the frame's flattest region (a plain wall or sky for a hole in grass); with texture channels a
  hole amid grass asks for grass. Inside the hole they start as the surroundings' texture spread in from around,
  mostly sideways (``TEXTURE_ANISOTROPY``: texture in a frame runs in horizontal bands: sky, trees, ground);
- an image pyramid (halving until the long side is at most ``2 * COARSEST_SIDE``); on the coarsest level the hole
  starts as the guide's fill (the frame network's or Telea's: the right colours, no texture);
- on every level, a few rounds of: for each 7x7 patch that touches the hole, the most similar patch made of known
  pixels only (PatchMatch: neighbours' matches tried in parallel at jumps of 1, 2 and 4 pixels, then random
  tries at halving radii); then each hole pixel becomes the weighted mean of what the patches covering it copy
  (weight ``exp(-distance / (2 * q75))``, q75 the 75th percentile of the distances);
- the field is carried to the next finer level (offsets doubled);
- at the end each hole pixel copies the known pixel its own patch's match puts there: real pixels, not a mean.

Neighbouring matches spread, so whole coherent regions of the frame (a fence, a pavement, a wall of stones) are
continued through the hole, where block quilting left a patchwork and OpenCV's shift-map pasted whole objects.
About 4 s a frame at 432x240 (one core, a quarter of the frame in the hole). Deterministic (a fixed seed).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..checks import keep_known

PATCH_RADIUS = 3
"""Patches are ``2 * PATCH_RADIUS + 1`` pixels square."""
COARSEST_SIDE = 60
"""The pyramid halves the frame while its long side exceeds twice this."""
ROUNDS = (4, 4, 3, 2)
"""Search rounds per voting step on each level, coarsest first (the last value for any finer level)."""
VOTES = 3
"""Search-and-vote steps per level."""
JUMPS = (1, 2, 4)
"""Distances (pixels) at which a neighbour's match is tried."""
TEXTURE_WEIGHT = 8.0
"""Weight of the two texture channels against the colour channels (all in [0,1] units) in the patch distance."""
TEXTURE_WINDOW = 15
"""Side (pixels of the frame being filled: keyframes are filled at a 432 px working size) of the window the
texture channels average gradients over."""
TEXTURE_SPREAD = 0.125
"""How far the surroundings' texture spreads into the hole sideways: a Gaussian's sigma, as a fraction of the
frame's long side."""
TEXTURE_ANISOTROPY = 4.0
"""The spread sideways over the spread up and down."""


@dataclass
class _Level:
    """One pyramid level: its frame (known pixels, hole = the current estimate), hole and patch bookkeeping."""

    height: int
    width: int
    hole: np.ndarray  # [h*w] bool
    known_image: np.ndarray  # [h*w,C] float32, the level's known pixels (colour, texture)
    targets: np.ndarray  # [n] flat indices of patch centres whose patch touches the hole
    source_ok: np.ndarray  # [h*w] bool, centres of patches made of known pixels only


def _level(image: np.ndarray, hole: np.ndarray) -> _Level:
    """``image`` ``[h,w,C]`` float32, ``hole`` ``[h,w]`` bool -> a :class:`_Level` (patch centres at least
    ``PATCH_RADIUS`` from the border)."""
    height, width = hole.shape
    side = 2 * PATCH_RADIUS + 1
    inner = np.zeros((height, width), bool)
    inner[PATCH_RADIUS:height - PATCH_RADIUS, PATCH_RADIUS:width - PATCH_RADIUS] = True
    square = np.ones((side, side), np.uint8)
    source_ok = cv2.erode((~hole).astype(np.uint8), square, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    touches = cv2.dilate(hole.astype(np.uint8), square) > 0
    return _Level(height, width, hole.ravel(), image.reshape(height * width, -1).astype(np.float32),
                  np.flatnonzero((touches & inner).ravel()), (source_ok & inner).ravel())


def _patches(level: _Level, flat: np.ndarray) -> np.ndarray:
    """``[h*w, C * side^2]`` float32: every pixel's patch (edge-padded) as one row."""
    r = PATCH_RADIUS
    padded = np.pad(flat.reshape(level.height, level.width, -1), ((r, r), (r, r), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * r + 1, 2 * r + 1), axis=(0, 1))
    return np.ascontiguousarray(windows.reshape(level.height * level.width, -1), np.float32)


def _distance(patches: np.ndarray, target_patches: np.ndarray, which: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Sum of squared differences between targets ``which`` (indices into the targets) and ``sources`` (flat)."""
    difference = target_patches[which] - patches[sources]
    return np.einsum("ij,ij->i", difference, difference)


def _try(field: np.ndarray, cost: np.ndarray, candidates: np.ndarray, usable: np.ndarray, patches: np.ndarray,
         target_patches: np.ndarray) -> None:
    """Replace ``field``'s matches by ``candidates`` where usable and cheaper (in place, ``cost`` too)."""
    which = np.flatnonzero(usable & (candidates != field))
    if len(which):
        new = _distance(patches, target_patches, which, candidates[which])
        better = new < cost[which]
        field[which[better]] = candidates[which[better]]
        cost[which[better]] = new[better]


def _search(level: _Level, field: np.ndarray, cost: np.ndarray, patches: np.ndarray, target_patches: np.ndarray,
            rounds: int, rng: np.random.Generator) -> None:
    """PatchMatch rounds over all targets at once (in place): neighbours' matches, then random tries."""
    height, width = level.height, level.width
    ty, tx = np.divmod(level.targets, width)
    for round_index in range(rounds):
        where = np.full(height * width, -1, np.int64)
        for jump in JUMPS if round_index % 2 == 0 else JUMPS[::-1]:
            for dy, dx in ((0, jump), (0, -jump), (jump, 0), (-jump, 0)):
                where[level.targets] = field
                neighbour = where[np.clip(ty + dy, 0, height - 1) * width + np.clip(tx + dx, 0, width - 1)]
                ny, nx = np.divmod(np.maximum(neighbour, 0), width)
                cy, cx = ny - dy, nx - dx  # the neighbour's match, shifted back to this target
                inside = (neighbour >= 0) & (cy >= 0) & (cy < height) & (cx >= 0) & (cx < width)
                candidates = np.clip(cy, 0, height - 1) * width + np.clip(cx, 0, width - 1)
                _try(field, cost, candidates, inside & level.source_ok[candidates], patches, target_patches)
        radius = max(height, width)
        while radius >= 1:
            sy, sx = np.divmod(field, width)
            cy = np.clip(sy + rng.integers(-radius, radius + 1, len(field)), 0, height - 1)
            cx = np.clip(sx + rng.integers(-radius, radius + 1, len(field)), 0, width - 1)
            candidates = cy * width + cx
            _try(field, cost, candidates, level.source_ok[candidates], patches, target_patches)
            radius //= 2


def _vote(level: _Level, estimate: np.ndarray, field: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Each hole pixel: the weighted mean of what the patches covering it copy -> new ``[h*w,C]`` estimate."""
    size = level.height * level.width
    scale = 2.0 * max(float(np.percentile(cost, 75)), 1e-6)
    weight = np.exp(-cost / scale)
    channels = level.known_image.shape[1]
    total = np.zeros((size, channels))
    weights = np.zeros(size)
    r = PATCH_RADIUS
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            shift = dy * level.width + dx
            pixels, copied = level.targets + shift, level.known_image[field + shift]
            weights += np.bincount(pixels, weight, minlength=size)
            for channel in range(channels):
                total[:, channel] += np.bincount(pixels, weight * copied[:, channel], minlength=size)
    result = estimate.copy()
    voted = level.hole & (weights > 0)
    result[voted] = (total[voted] / weights[voted, None]).astype(np.float32)
    return result


def _carry_field(coarse: _Level, coarse_field: np.ndarray, fine: _Level, rng: np.random.Generator) -> np.ndarray:
    """The coarse level's matches at the fine level's targets (offsets doubled); random known patches where the
    doubled match is not one."""
    ty, tx = np.divmod(fine.targets, fine.width)
    py, px = np.minimum(ty // 2, coarse.height - 1), np.minimum(tx // 2, coarse.width - 1)
    where = np.full(coarse.height * coarse.width, -1, np.int64)
    where[coarse.targets] = coarse_field
    match = where[py * coarse.width + px]
    my, mx = np.divmod(np.maximum(match, 0), coarse.width)
    sy = np.clip(2 * (my - py) + ty, 0, fine.height - 1)
    sx = np.clip(2 * (mx - px) + tx, 0, fine.width - 1)
    carried = sy * fine.width + sx
    good = (match >= 0) & fine.source_ok[carried]
    return np.where(good, carried, _random_sources(fine, len(fine.targets), rng))


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``[h,w,C]`` -> ``[height,width,C]`` by area averaging, a few channels at a time (OpenCV's area resize takes at
    most 4 channels at a time unless the factor is a whole number)."""
    height, width = size
    return np.concatenate([cv2.resize(np.ascontiguousarray(image[..., c:c + 3]), (width, height),
                                      interpolation=cv2.INTER_AREA).reshape(height, width, -1)
                           for c in range(0, image.shape[2], 3)], 2)


def _random_sources(level: _Level, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random centres of known patches (flat indices)."""
    sources = np.flatnonzero(level.source_ok)
    return sources[rng.integers(0, len(sources), count)]


def texture_channels(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The texture channels of the patch distance (module doc) -> ``[h,w,2]`` float32: the mean absolute luma
    difference to the right and downwards over a ``TEXTURE_WINDOW`` window, from known pixel pairs only. Where a
    window holds no known pair (deep in the hole), the known values spread in from around (a Gaussian of
    ``TEXTURE_SPREAD`` times the long side sideways, ``TEXTURE_ANISOTROPY`` times less up and down), and where
    that reaches nothing, the frame's mean texture."""
    luma = image @ np.array([0.299, 0.587, 0.114], np.float32)
    known = (~hole).astype(np.float32)
    window = (TEXTURE_WINDOW, TEXTURE_WINDOW)
    channels, counts = [], []
    for axis in (1, 0):
        difference, pair_known = np.zeros_like(luma), np.zeros_like(luma)
        ahead = [slice(None), slice(None)]
        behind = [slice(None), slice(None)]
        ahead[axis], behind[axis] = slice(1, None), slice(None, -1)
        difference[tuple(behind)] = np.abs(luma[tuple(ahead)] - luma[tuple(behind)])
        pair_known[tuple(behind)] = known[tuple(ahead)] * known[tuple(behind)]
        count = cv2.boxFilter(pair_known, -1, window, normalize=False)
        channels.append(cv2.boxFilter(difference * pair_known, -1, window, normalize=False) / np.maximum(count, 1e-6))
        counts.append(count)
    texture = np.stack(channels, 2)
    measured = ((counts[0] > 0) & (counts[1] > 0)).astype(np.float32)
    sigma = TEXTURE_SPREAD * max(hole.shape)
    spread = cv2.GaussianBlur(texture * measured[..., None], (0, 0), sigma, sigmaY=sigma / TEXTURE_ANISOTROPY)
    weight = cv2.GaussianBlur(measured, (0, 0), sigma, sigmaY=sigma / TEXTURE_ANISOTROPY)
    prior = 1e-6  # far from every measured window (a tall hole), the frame's mean texture
    mean = (texture * measured[..., None]).sum((0, 1)) / max(float(measured.sum()), 1.0)
    spread = (spread + prior * mean) / (weight + prior)[..., None]
    return np.where(measured[..., None] > 0, texture, spread).astype(np.float32)


def patch_fill(image: np.ndarray, hole: np.ndarray, guide: np.ndarray, seed: int = 0) -> np.ndarray:
    """Fill ``hole`` by multi-scale patch-based completion (module doc).

    Args:
        image: ``[h,w,3]`` float32 in [0,1] (hole values are not read).
        hole: ``[h,w]`` bool, True = fill.
        guide: ``[h,w,3]`` float32, a smooth fill of the same frame: the coarsest level's starting colours.
        seed: of the random tries (the same inputs and seed give the same fill).
    Returns:
        ``[h,w,3]`` float32: known pixels as given, hole pixels copied from known ones. The guide in the hole where
        the frame is too small for a patch or holds no patch of known pixels.
    """
    height, width = hole.shape
    out = np.where(hole[..., None], guide, image).astype(np.float32)
    if not hole.any() or min(height, width) < 4 * PATCH_RADIUS + 2:
        return out
    texture = TEXTURE_WEIGHT * texture_channels(out, hole)
    image, guide = np.concatenate([out, texture], 2), np.concatenate([guide.astype(np.float32), texture], 2)
    channels = image.shape[2]
    sizes = [(height, width)]
    while max(sizes[-1]) > 2 * COARSEST_SIDE and min(sizes[-1]) >= 2 * (4 * PATCH_RADIUS + 2):
        sizes.append(((sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2))
    rng = np.random.default_rng(seed)
    previous = field = None
    for index, (h, w) in enumerate(reversed(sizes)):
        if (h, w) == (height, width):
            small, small_hole, small_guide = image, hole, guide
        else:
            small, small_guide = _shrink(image, (h, w)), _shrink(guide, (h, w))
            small_hole = cv2.resize(hole.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0
        level = _level(np.where(small_hole[..., None], 0.0, small), small_hole)
        if not level.source_ok.any():
            return out
        estimate = np.where(small_hole[..., None], small_guide, small).reshape(h * w, channels)
        if previous is None:
            field = _random_sources(level, len(level.targets), rng)
        else:
            field = _carry_field(previous, field, level, rng)
            patches = _patches(level, estimate)
            estimate = _vote(level, estimate, field, _distance(patches, patches[level.targets],
                                                               np.arange(len(field)), field))
        for _ in range(VOTES):
            patches = _patches(level, estimate)
            target_patches = patches[level.targets]
            cost = _distance(patches, target_patches, np.arange(len(field)), field)
            _search(level, field, cost, patches, target_patches, ROUNDS[min(index, len(ROUNDS) - 1)], rng)
            estimate = _vote(level, estimate, field, cost)
        previous = level
    flat = out.reshape(-1, 3)
    flat[previous.hole] = estimate[previous.hole, :3]  # the vote, for hole pixels too near the border to centre a patch
    copies = previous.hole[previous.targets]
    flat[previous.targets[copies]] = previous.known_image[field[copies], :3]
    return out


class PatchTexture:
    """The patch-based completion as a per-frame inpainter, its coarsest level started from ``guide`` (a smooth
    per-frame inpainter).

    ``(frame [1,3,H,W] in [0,1], hole [1,1,H,W] 0/1) -> [1,3,H,W]``, known pixels bit-exact. Seconds a frame at
    432 px (numpy and OpenCV on the CPU; the result comes back to the frame's device): wrap it in a working size
    (:func:`model.stages.frame_inpaint.patch_inpainter`).
    """

    def __init__(self, guide):
        self.guide = guide

    def __call__(self, frame: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Fill ``frame`` ``[1,3,H,W]`` inside ``hole`` ``[1,1,H,W]`` -> ``[1,3,H,W]``."""
        if not bool((hole > 0.5).any()):
            return frame
        filled = patch_fill(_as_array(frame), hole[0, 0].cpu().numpy() > 0.5, _as_array(self.guide(frame, hole)))
        result = torch.from_numpy(filled).permute(2, 0, 1)[None].to(frame.device, frame.dtype)
        return keep_known(result, frame, hole)


def _as_array(image: torch.Tensor) -> np.ndarray:
    """``[1,3,H,W]`` tensor -> ``[H,W,3]`` float32 array on the host."""
    return np.ascontiguousarray(image[0].permute(1, 2, 0).float().cpu().numpy(), np.float32)
