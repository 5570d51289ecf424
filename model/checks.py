"""One place for the data contracts of the pack.

Layouts inside ``model/`` (ComfyUI's ``[T,H,W,C]`` is converted in ``nodes/``):

* frames: float32 ``[T,3,H,W]`` in [0,1]
* hole:   float32 ``[T,1,H,W]`` or ``[1,1,H,W]`` (same mask on every frame) in [0,1],
  1 = missing. A pixel is treated as a hole when its mask value is >= 0.5
  (:data:`HOLE_THRESHOLD`); soft masks are thresholded, never blended, so every pixel
  outside the thresholded hole is returned bit-exact.
* flow:   float32 ``[T,2,H,W]`` in pixels, backward: ``flow[t]`` maps a pixel of frame t to
  its position in frame t-1 (channel 0 = x, channel 1 = y); ``flow[0] = 0`` unless a
  previous chunk is given.
"""
from __future__ import annotations

import math

import torch

HOLE_THRESHOLD = 0.5


def check_shape(x, layout: str, name: str = "input", what: str = "a tensor",
                bound: dict[str, int] | None = None) -> dict[str, int]:
    """Raise ValueError unless tensor ``x`` has one of the shapes of ``layout``; return the named sizes.

    ``layout``: dimensions separated by spaces, a number for a fixed size and a name for any size
    (``"B 2 H W"``); alternatives separated by ``|`` (``"T H W | H W"``). A name used twice, or
    given in ``bound`` (the result of an earlier check), must have the same size. The message says
    ``{name}: expected {what} [layout], got (shape)`` (and which size disagreed).

    >>> check_shape(torch.zeros(2, 2, 4, 5), "B 2 H W", "flow")
    {'B': 2, 'H': 4, 'W': 5}
    >>> check_shape(torch.zeros(2, 3, 4, 5), "B 2 H W", "flow", "a flow field")
    Traceback (most recent call last):
    ...
    ValueError: flow: expected a flow field [B,2,H,W], got (2, 3, 4, 5).
    """
    shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
    options = [option.split() for option in layout.split("|")]
    wanted = " or ".join("[" + ",".join(dims) + "]" for dims in options)
    if not torch.is_tensor(x):
        raise ValueError(f"{name}: expected {what} {wanted}, got {shape}.")
    for dims in options:
        if len(dims) != x.ndim or any(d.isdigit() and int(d) != n for d, n in zip(dims, shape)):
            continue
        sizes: dict[str, int] = {}
        for d, n in zip(dims, shape):
            if d.isdigit():
                continue
            expected = sizes.get(d, (bound or {}).get(d))
            if expected is not None and expected != n:
                raise ValueError(f"{name}: expected {what} [{','.join(dims)}] with {d} = {expected}, got {shape}.")
            sizes[d] = n
        return sizes
    raise ValueError(f"{name}: expected {what} {wanted}, got {shape}.")


def check_frames(frames: torch.Tensor, name: str = "frames") -> None:
    """Raise ValueError unless ``frames`` is a finite float ``[T,3,H,W]`` batch in [0,1]."""
    check_shape(frames, "T C H W", name, "an image batch")  # the channel count gets its own message below
    t, c, h, w = frames.shape
    if t == 0:
        raise ValueError(f"{name}: the batch is empty (0 frames); connect a video or image with at least one frame.")
    if c == 4:
        raise ValueError(f"{name}: got 4 channels (RGBA); drop the alpha channel first "
                         "(e.g. load the image without alpha or convert to RGB).")
    if c != 3:
        raise ValueError(f"{name}: expected 3 colour channels (RGB), got {c}.")
    if h < 2 or w < 2:
        raise ValueError(f"{name}: frames of {w}x{h} are too small; need at least 2x2 pixels.")
    _check_unit_range(frames, name, "; fix the node that produced them", "values",
                      "clamp or normalise the images first")


def check_hole(hole: torch.Tensor, frames: torch.Tensor, name: str = "hole") -> None:
    """Raise ValueError unless ``hole`` ``[T|1,1,H,W]`` in [0,1] matches ``frames`` ``[T,3,H,W]``."""
    check_shape(hole, "T 1 H W", name, "a mask batch")
    t, _, h, w = frames.shape
    if hole.shape[0] == 0:
        raise ValueError(f"{name}: the mask batch is empty; connect a mask with 1 or {t} frames.")
    if hole.shape[0] not in (1, t):
        raise ValueError(f"{name}: {hole.shape[0]} masks for {t} frames; give one mask per frame "
                         "or a single mask (used for every frame).")
    if tuple(hole.shape[2:]) != (h, w):
        raise ValueError(f"{name}: mask is {hole.shape[3]}x{hole.shape[2]} but frames are {w}x{h}; "
                         "resize the mask to the frame size (e.g. with an upscale/resize node).")
    _check_unit_range(hole, name, "", "mask values", "normalise the mask (e.g. divide by 255) first",
                      " (1 = hole)")


def _check_unit_range(values: torch.Tensor, name: str, nan_hint: str, what: str, fix: str, meaning: str = "") -> None:
    """Raise ValueError unless ``values`` is a finite float tensor in [0,1], with messages that say what to do."""
    if not values.is_floating_point():
        raise ValueError(f"{name}: expected float values in [0,1], got dtype {values.dtype}.")
    lo, hi = _value_range(values)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name}: contains NaN or infinite values{nan_hint}.")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name}: {what} must lie in [0,1]{meaning}, got [{lo:.3g}, {hi:.3g}]; {fix}.")


def _value_range(values: torch.Tensor) -> tuple[float, float]:
    """(min, max) of a tensor without a full-size temporary; NaN anywhere gives NaN, inf gives inf."""
    lo, hi = torch.aminmax(values)
    return lo.item(), hi.item()


def check_video(frames: torch.Tensor, hole: torch.Tensor) -> None:
    """Validate a frames ``[T,3,H,W]`` and hole ``[T|1,1,H,W]`` pair (see module docstring)."""
    check_frames(frames)
    check_hole(hole, frames)


def check_same_video(reference: torch.Tensor, other: torch.Tensor, name: str) -> None:
    """Raise ValueError unless ``other`` has the frame count and size of ``reference`` (both ``[T,C,H,W]``)."""
    if other.shape[0] != reference.shape[0] or other.shape[2:] != reference.shape[2:]:
        raise ValueError(f"{name}: {other.shape[0]} frames of {other.shape[3]}x{other.shape[2]}, but frames are "
                         f"{reference.shape[0]} of {reference.shape[3]}x{reference.shape[2]}; "
                         f"connect the {name} made from these frames.")


def hole_at(hole: torch.Tensor, t: int) -> torch.Tensor:
    """Binary hole ``[1,1,H,W]`` (float 0/1) of frame ``t``; a single mask serves every frame."""
    mask = hole[t if hole.shape[0] > 1 else 0][None]
    return (mask >= HOLE_THRESHOLD).to(torch.float32)


def keep_known(result: torch.Tensor, frame: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """``result`` inside the binary ``hole`` and ``frame`` (bit-exact) elsewhere; all ``[B,C,H,W]``."""
    return torch.where(hole > 0.5, result.clamp(0.0, 1.0), frame)
