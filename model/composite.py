"""Paste an inpainted result back into the original frames, inside the (feathered) hole only."""
from __future__ import annotations

import torch

from .checks import check_same_video, check_video
from .masks import feather, grow_hole


def composite_in_hole(original: torch.Tensor, inpainted: torch.Tensor, hole: torch.Tensor,
                      feather_radius: float = 0.0) -> torch.Tensor:
    """``original``/``inpainted`` ``[T,3,H,W]``, ``hole`` ``[T|1,1,H,W]`` -> ``[T,3,H,W]`` in [0,1].

    With ``feather_radius = 0`` the result is ``inpainted`` inside the thresholded hole and
    ``original`` (bit-exact) elsewhere. A feather softens the seam inside the hole only: the
    blend weight is 1 deep in the hole and falls to 0 at its edge, so nothing outside changes.
    """
    check_video(original, hole)
    check_same_video(original, inpainted, "inpainted")
    out = torch.empty_like(original)
    for t in range(original.shape[0]):
        mask = grow_hole(hole[t:t + 1] if hole.shape[0] > 1 else hole, 0)
        weight = feather(mask, feather_radius) * mask if feather_radius > 0 else mask
        frame = original[t:t + 1]
        blended = weight * inpainted[t:t + 1] + (1.0 - weight) * frame
        out[t] = torch.where(mask > 0.5, blended, frame)[0]
    return out
