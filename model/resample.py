"""Where a network runs: its working size, and moving images, holes and flows to it and back.

Every network has a working size set by its config (``scale`` of the input size, capped at
``max_side`` pixels on the long side). Inputs are reduced to it, the network runs there, and
its output is brought back to the source size; the caller then keeps the known pixels exact.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def working_size(height: int, width: int, scale: float = 1.0, max_side: int = 0,
                 min_side: int = 1) -> tuple[int, int]:
    """``(h, w)`` at which a network (or a flow estimate) runs for a ``height x width`` input.

    The factor is ``min(scale, max_side / max(height, width))`` (``max_side = 0``: no cap),
    never above 1; each side is at least ``min_side`` pixels.

    >>> working_size(240, 432, 1.0, 256)
    (142, 256)
    """
    factor = float(scale)
    if max_side > 0:
        factor = min(factor, max_side / max(height, width))
    factor = min(factor, 1.0)
    return max(min_side, round(height * factor)), max(min_side, round(width * factor))


def resize_image(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[B,C,H,W]`` -> ``[B,C,h,w]``: area average when shrinking, bilinear when enlarging."""
    h, w = image.shape[-2:]
    if (h, w) == tuple(size):
        return image
    if size[0] <= h and size[1] <= w:
        if h % size[0] == 0 and w % size[1] == 0:  # the same area mean, by a faster kernel
            return F.avg_pool2d(image, (h // size[0], w // size[1]))
        return F.interpolate(image, size=size, mode="area")
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)



def shrink_hole(hole: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A hole ``[B,1,H,W]`` (1 = missing, thresholded at 0.5) at a smaller ``size``, binary: a small pixel is a
    hole if any pixel it covers is (the pack's one rule for reducing holes).

    >>> hole = torch.zeros(1, 1, 4, 4); hole[..., 0, 0] = 1
    >>> shrink_hole(hole, (2, 2))[0, 0].tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    binary = (hole > 0.5).to(hole.dtype)
    if tuple(hole.shape[-2:]) == tuple(size):
        return binary
    return (resize_image(binary, size) > 0).to(hole.dtype)


def shrink_known(image: torch.Tensor, hole: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Reduce an image with a hole so no hole value leaks into the known pixels.

    Args:
        image: ``[B,C,H,W]`` values (colours or flow; flow must be rescaled by the caller).
        hole: ``[B,1,H,W]`` binary, 1 = missing.
        size: ``(h, w)`` no larger than ``(H, W)``.
    Returns:
        ``(image [B,C,h,w], hole [B,1,h,w])``: a small pixel is a hole if any pixel it covers
        is one; a known small pixel is the area mean of known pixels only. Hole pixels are 0.
    """
    known = 1.0 - hole
    if tuple(image.shape[-2:]) == tuple(size):
        return image * known, hole
    weight = resize_image(known, size)  # fraction of known pixels under each small pixel
    small_hole = shrink_hole(hole, size)
    mean = resize_image(image * known, size) / weight.clamp_min(1e-6)
    return mean * (1.0 - small_hole), small_hole


def rescale_vectors(flow: torch.Tensor, source: tuple[int, int], target: tuple[int, int]) -> torch.Tensor:
    """Flow vectors ``[B,2,...]`` in pixels of a ``source`` ``(H, W)`` image -> pixels of ``target`` ``(h, w)``."""
    if tuple(source) == tuple(target):
        return flow
    factor = torch.tensor([target[1] / source[1], target[0] / source[0]], device=flow.device, dtype=flow.dtype)
    return flow * factor.view(1, 2, *([1] * (flow.ndim - 2)))


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Flow ``[B,2,H,W]`` in pixels -> ``[B,2,h,w]`` in pixels of the new size (vectors rescaled).

    Area average when shrinking, bilinear when enlarging (as :func:`resize_image`). The pack's one
    resize of flow fields: networks, Robust Flow's working size and Flow Propagate all use it.
    """
    return rescale_vectors(resize_image(flow, size), tuple(flow.shape[-2:]), size)


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "constant") -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``[B,C,H,W]`` on the bottom/right to multiples of ``multiple`` -> ``(padded, (H, W))``.

    ``mode``: ``"constant"`` (zeros) or ``"replicate"`` (edge values, e.g. for flow).
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return x, (h, w)
