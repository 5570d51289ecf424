"""Bring a copying fill made at a working size back to the source size with the source's own detail.

The exemplar fill (OpenCV contrib's shift-map) fills a hole with pieces copied from the frame's known
pixels. It runs at a working size (432 px long side), so upsampled to 1280x720 its texture is a third as
fine as the frame's around it. The fill does not say where each piece came from, but a copy is easy to
find again: :func:`copy_offsets` matches the small fill, block by block, against the small frame's known
pixels (and then settles each pixel on the best of its block's and the neighbouring blocks' offsets), and
:func:`copy_at_source_size` copies every hole pixel from the source-size frame at that offset, scaled.
Pixels whose match is poor (what the shift-map left to Telea) or whose source falls in the hole keep the
upsampled fill.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

BLOCK = 8
"""Side, in working-size pixels, of the blocks whose source is searched for."""
SAME = 2.0 / 255
"""Mean absolute difference under which a neighbouring block's offset is taken without a search."""
PATCH = 5
"""Side of the patch on which each pixel compares its candidate offsets."""
POOR = 0.08
"""Mean absolute patch difference (colours in [0,1]) above which a pixel keeps the upsampled fill."""


def _known_blocks(hole: np.ndarray, side: int) -> np.ndarray:
    """``[h-side+1, w-side+1]`` bool: the ``side`` x ``side`` block at (y, x) holds no hole pixel."""
    counts = cv2.boxFilter(hole.astype(np.float32), -1, (side, side), anchor=(0, 0), normalize=False,
                           borderType=cv2.BORDER_CONSTANT)
    return counts[: hole.shape[0] - side + 1, : hole.shape[1] - side + 1] < 0.5


def _block_offsets(fill: np.ndarray, hole: np.ndarray, side: int) -> dict[tuple[int, int], tuple[int, int]]:
    """``{(row, column): (dy, dx)}`` for each block of a ``side`` grid that touches the hole (the last row and column
    moved inside the frame): the offset of the known block of ``fill`` most like it (sum of squared differences)."""
    height, width = hole.shape
    valid = _known_blocks(hole, side)
    if not valid.any():
        return {}
    offsets: dict[tuple[int, int], tuple[int, int]] = {}
    for row in range(-(-height // side)):
        for column in range(-(-width // side)):
            y0, x0 = min(row * side, height - side), min(column * side, width - side)
            if not hole[y0:y0 + side, x0:x0 + side].any():
                continue
            template = fill[y0:y0 + side, x0:x0 + side]
            found = None
            for neighbour in ((row, column - 1), (row - 1, column), (row - 1, column - 1), (row - 1, column + 1)):
                if neighbour not in offsets:
                    continue
                sy, sx = y0 + offsets[neighbour][0], x0 + offsets[neighbour][1]
                if 0 <= sy < valid.shape[0] and 0 <= sx < valid.shape[1] and valid[sy, sx] and \
                        np.abs(fill[sy:sy + side, sx:sx + side] - template).mean() < SAME:
                    found = offsets[neighbour]
                    break
            if found is None:
                cost = cv2.matchTemplate(fill, template, cv2.TM_SQDIFF)
                cost[~valid] = np.inf
                sy, sx = np.unravel_index(int(np.argmin(cost)), cost.shape)
                found = (int(sy) - y0, int(sx) - x0)
            offsets[(row, column)] = found
    return offsets


def copy_offsets(fill: np.ndarray, hole: np.ndarray, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Where each hole pixel of a copying fill was copied from.

    Args:
        fill: ``[h,w,3]`` float32 in [0,1], the frame with its hole filled by copying known pixels.
        hole: ``[h,w]`` bool, True = the hole.
        block: side of the blocks searched for (pixels).
    Returns:
        ``(offsets [h,w,2] int (dy, dx), error [h,w] float32)``: for each hole pixel the offset to its source,
        chosen among its block's and the 8 neighbouring blocks' offsets by the mean absolute difference on a
        :data:`PATCH` x :data:`PATCH` patch (``error``; infinite where no candidate's source is known). Known
        pixels: offset 0, error 0.
    """
    height, width = hole.shape
    offsets = np.zeros((height, width, 2), np.int64)
    error = np.zeros((height, width), np.float32)
    side = min(block, height, width)
    found = _block_offsets(fill, hole, side)
    if not found:
        error[hole] = np.inf
        return offsets, error
    # each pixel's block (on the grid of the corners searched), then the candidates of the 3x3 blocks around it
    rows, cols = -(-height // side), -(-width // side)
    grid = np.full((rows + 2, cols + 2, 2), np.iinfo(np.int32).min, np.int64)  # padded; min = no candidate
    for (row, column), offset in found.items():
        grid[1 + row, 1 + column] = offset
    ys, xs = np.nonzero(hole)
    by, bx = ys // side + 1, xs // side + 1
    known = ~hole
    patch_error = {}
    best = np.full(ys.shape, np.inf, np.float32)
    chosen = np.zeros((ys.size, 2), np.int64)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            candidate = grid[by + dy, bx + dx]
            present = candidate[:, 0] != np.iinfo(np.int32).min
            for offset in map(tuple, np.unique(candidate[present], axis=0)):
                if offset not in patch_error:
                    patch_error[offset] = _patch_error(fill, known, offset)
                use = present & (candidate[:, 0] == offset[0]) & (candidate[:, 1] == offset[1])
                cost = patch_error[offset][ys[use], xs[use]]
                better = cost < best[use]
                index = np.nonzero(use)[0][better]
                best[index] = cost[better]
                chosen[index] = offset
    offsets[ys, xs] = chosen
    error[ys, xs] = best
    return offsets, error


def _patch_error(fill: np.ndarray, known: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """``[h,w]`` float32: mean absolute difference between ``fill`` around each pixel and ``fill`` around the pixel
    ``offset`` away; infinite where that source pixel is outside the frame or not known."""
    height, width = known.shape
    dy, dx = int(offset[0]), int(offset[1])
    source = np.zeros_like(fill)
    source_known = np.zeros_like(known)
    ty0, ty1, tx0, tx1 = max(0, -dy), min(height, height - dy), max(0, -dx), min(width, width - dx)
    if ty0 < ty1 and tx0 < tx1:
        source[ty0:ty1, tx0:tx1] = fill[ty0 + dy:ty1 + dy, tx0 + dx:tx1 + dx]
        source_known[ty0:ty1, tx0:tx1] = known[ty0 + dy:ty1 + dy, tx0 + dx:tx1 + dx]
    difference = np.abs(fill - source).mean(axis=2)
    cost = cv2.blur(difference, (PATCH, PATCH), borderType=cv2.BORDER_REFLECT)
    cost[~source_known] = np.inf
    return cost


def copy_at_source_size(frame: torch.Tensor, hole: torch.Tensor, small_fill: torch.Tensor,
                        small_hole: torch.Tensor, upsampled: torch.Tensor) -> torch.Tensor:
    """A working-size copying fill, redone at the source size: each hole pixel copied from ``frame``.

    Args:
        frame: ``[1,3,H,W]`` in [0,1], the source-size frame (its hole's values are not read).
        hole: ``[1,1,H,W]`` 0/1, its hole.
        small_fill: ``[1,3,h,w]`` in [0,1], the fill made at the working size (the frame reduced, filled by copying).
        small_hole: ``[1,1,h,w]`` 0/1, the hole at the working size (covering every small pixel the hole touches).
        upsampled: ``[1,3,H,W]``, ``small_fill`` brought to the source size: kept where the copy is poor.
    Returns:
        ``[1,3,H,W]``: known pixels of ``frame`` bit-exact; hole pixels copied from known source-size pixels at the
        offset (scaled) their small pixel was copied from, or ``upsampled`` where the match is worse than
        :data:`POOR` or the scaled source lands in the hole or outside the frame.
    """
    height, width = frame.shape[-2:]
    h, w = small_fill.shape[-2:]
    small = small_fill[0].permute(1, 2, 0).float().cpu().numpy().astype(np.float32)
    offsets, error = copy_offsets(np.ascontiguousarray(small), small_hole[0, 0].cpu().numpy() > 0.5)
    missing = hole[0, 0] > 0.5
    ys, xs = torch.nonzero(missing, as_tuple=True)
    sy, sx = (ys * h) // height, (xs * w) // width
    small_offset = torch.from_numpy(offsets).to(frame.device)[sy, sx]
    source_y = ys + torch.round(small_offset[:, 0].double() * height / h).long()
    source_x = xs + torch.round(small_offset[:, 1].double() * width / w).long()
    inside = (source_y >= 0) & (source_y < height) & (source_x >= 0) & (source_x < width)
    source_y, source_x = source_y.clamp(0, height - 1), source_x.clamp(0, width - 1)
    good = inside & ~missing[source_y, source_x]
    good &= torch.from_numpy(error).to(frame.device)[sy, sx] <= POOR
    result = torch.where(missing, upsampled, frame).clone()
    result[0, :, ys[good], xs[good]] = frame[0, :, source_y[good], source_x[good]]
    return result
