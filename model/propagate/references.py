"""Reference fills: frames of the shot whose hole someone already filled, carried through the whole shot.

A reference is frame ``n`` of the shot with its hole filled (by the artist, an image-inpainting model,
or the pack's own Frame Inpaint). Flow Propagate treats its pixels as seen background that is trusted
less than real pixels: after the real passes, two more passes (from the past and from the future) trace
each hole pixel still missing along the completed flow, through the holes of any number of frames, to
the nearest reference that shows it (no ``max_distance`` limit), and sample its colour there once. In
these passes only the references are sources, so real pixels still come only from frames within
``max_distance``, and a reference never overrides what a real frame saw.
"""
from __future__ import annotations

import warnings

import torch

from ..checks import hole_at
from ..masks import Box, box_of, mask_needs_resize
from ..resample import resize_image

NO_LIMIT = 2 ** 31  # a reference pass follows its chains however far
MARGIN = 32  # pixels around the hole whose known pixels a reference pass traces too (the motion it can follow)

UNFILLED_TOLERANCE = 1.0 / 255  # mean difference in the hole below which a reference is the unfilled frame
FLAT_TOLERANCE = 1e-3  # standard deviation in the hole below which a reference's fill is one flat colour


def check_references(references: dict[int, torch.Tensor], frames: torch.Tensor, hole: torch.Tensor,
                     first: int = 0, count: int | None = None) -> dict[int, torch.Tensor]:
    """References ``{frame index: image [1,3,h,w] in [0,1]}`` checked against ``frames [T,3,H,W]`` (frames
    ``first .. first + T - 1`` of a shot of ``count`` frames, default T) and their ``hole [T|1,1,H,W]``,
    brought to the frames' size (same aspect ratio: resized, with a warning).

    ValueError, naming the reference: a frame index outside the shot, another aspect ratio, a reference whose
    hole is left unfilled (equal to the input frame there) or filled with one flat colour (empty or white).
    """
    t_len, _, height, width = frames.shape
    count = t_len if count is None else count
    checked = {}
    for index, image in sorted(references.items()):
        name = f"reference for frame {index}"
        if not 0 <= index < count:
            raise ValueError(f"{name}: the shot has frames 0 to {count - 1}; give a frame number in that range.")
        if image.ndim != 4 or image.shape[:2] != (1, 3):
            raise ValueError(f"{name}: expected one RGB image [1,3,H,W], got {tuple(image.shape)}.")
        h, w = image.shape[-2:]
        if mask_needs_resize((w, h), (width, height), name, "image"):
            warnings.warn(f"{name}: the image is {w}x{h}, the frames {width}x{height}; resizing it.", stacklevel=2)
            image = resize_image(image.float(), (height, width))
        image = image.to(frames.device, frames.dtype).clamp(0.0, 1.0)
        inside = hole_at(hole, index - first)[0, 0].to(frames.device) > 0.5
        if inside.any():
            fill, original = image[0][:, inside], frames[index - first][:, inside]
            if (fill - original).abs().mean() < UNFILLED_TOLERANCE:
                raise ValueError(f"{name}: its hole is not filled (it equals the input frame there); give the frame "
                                 "after an inpainting step.")
            if fill.std(dim=1).max() < FLAT_TOLERANCE:
                raise ValueError(f"{name}: its hole is one flat colour (left empty or white?); give the frame after "
                                 "an inpainting step.")
        checked[index] = image
    return checked


def parse_reference_frames(text: str, count: int) -> list[int]:
    """Frame numbers from a comma-separated text (``"0, 24"``), one per reference image (``count`` of them).

    >>> parse_reference_frames("0, 24", 2)
    [0, 24]
    """
    try:
        numbers = [int(part) for part in str(text).replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"reference_frames: expected frame numbers separated by commas, got {text!r}.") from None
    if len(numbers) != count:
        raise ValueError(f"reference_frames: {len(numbers)} frame numbers ({text!r}) for {count} reference images; "
                         "give one frame number per image, in the order of the batch.")
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"reference_frames: frame numbers repeat ({text!r}); give one reference per frame.")
    return numbers


class ReferenceVideo:
    """The video the reference passes read: a reference frame is its reference image with no hole; every other
    frame is the input frame with its hole. Reads like :class:`model.propagate.trace.TensorVideo`."""

    def __init__(self, video, references: dict[int, torch.Tensor]):
        self.video, self.references = video, references

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the frames."""
        return self.video.size

    def frame(self, t: int, box: Box) -> torch.Tensor:
        """Frame (or reference) ``t`` ``[1,3,h,w]`` on ``box``."""
        if t in self.references:
            y0, y1, x0, x1 = box
            return self.references[t][..., y0:y1, x0:x1]
        return self.video.frame(t, box)

    def hole(self, t: int, box: Box | None = None) -> torch.Tensor:
        """Hole ``[1,1,h,w]`` of frame ``t`` on ``box``: none on a reference frame."""
        if t in self.references:  # the frame itself may be gone from a stream's memory
            y0, y1, x0, x1 = box or (0, self.size[0], 0, self.size[1])
            return torch.zeros(1, 1, y1 - y0, x1 - x0)
        return self.video.hole(t, box)

    def is_reference(self, t: int) -> bool:
        """Whether frame ``t``'s pixels are sources of the reference passes."""
        return t in self.references


class _Filled:
    """Frame t after the real passes (the frame with their patch, and the hole they left), read like a video."""

    def __init__(self, video, t: int, patch: tuple[Box, torch.Tensor, torch.Tensor] | None):
        self.video, self.t, self.patch, self.size = video, t, patch, video.size
        self._built: tuple[torch.Tensor, torch.Tensor] | None = None

    def _whole(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._built is None:
            self._built = self._build()
        return self._built

    def _build(self) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = self.size
        frame, hole = self.video.frame(self.t, (0, height, 0, width)), self.video.hole(self.t)
        if self.patch is not None:
            (y0, y1, x0, x1), colour, region = self.patch
            frame = frame.clone()
            frame[..., y0:y1, x0:x1] = colour
            hole = hole * ~pad_region(region, (y0, y1, x0, x1), self.size)
        return frame, hole

    def frame(self, t: int, box: Box) -> torch.Tensor:
        y0, y1, x0, x1 = box
        return self._whole()[0][..., y0:y1, x0:x1]

    def hole(self, t: int, box: Box | None = None) -> torch.Tensor:
        y0, y1, x0, x1 = box or (0, self.size[0], 0, self.size[1])
        return self._whole()[1][..., y0:y1, x0:x1]


def pad_region(region: torch.Tensor, box: Box, size: tuple[int, int]) -> torch.Tensor:
    """A ``[1,1,h,w]`` bool region on ``box`` placed in a frame-sized ``[1,1,H,W]`` bool map."""
    y0, y1, x0, x1 = box
    whole = torch.zeros(1, 1, *size, dtype=torch.bool, device=region.device)
    whole[..., y0:y1, x0:x1] = region
    return whole


def reference_patch(video, t: int, patch: tuple[Box, torch.Tensor, torch.Tensor] | None,
                    reference: torch.Tensor | None, box: Box | None, past: tuple[torch.Tensor, ...] | None,
                    samples: torch.Tensor, area: torch.Tensor, gradients: bool,
                    device: torch.device | str) -> tuple[Box, torch.Tensor, torch.Tensor] | None:
    """Frame t's patch ``(box, colour [1,3,h,w], region [1,1,h,w] bool)`` after the reference passes, on the host.

    ``patch``: what the real passes filled (or None); ``reference``: frame t's own reference image, if it is a
    reference frame (its remaining hole then takes the reference's pixels as they are); ``box``, ``past``,
    ``samples``, ``area``: the reference passes' results for frame t (as the real passes', see
    :func:`model.propagate.whole_clip.fill_from_passes`). None when nothing is filled at all.
    """
    from .whole_clip import fill_from_passes, unpack_past  # whole_clip imports this module
    filled = _Filled(video, t, patch)
    frame, hole = filled._whole()
    left = hole > 0.5
    if not left.any():
        return patch
    if reference is not None:
        y0, y1, x0, x1 = patch[0] if patch is not None else box_of(video.hole(t)[0, 0] > 0.5)
        crop = (Ellipsis, slice(y0, y1), slice(x0, x1))
        colour = torch.where(left[crop], reference.to(frame.device, frame.dtype)[crop], frame[crop])
        return (y0, y1, x0, x1), colour.cpu(), (video.hole(t)[crop] > 0.5).cpu()
    if box is None or past is None:
        return patch
    result = fill_from_passes(filled, t, box, unpack_past(past, area, samples, device), samples, gradients, device)
    if result is None:
        return patch
    colour, region = result
    if patch is not None:  # the reference box holds the real passes' box (it is the hole's grown by MARGIN)
        y0, y1, x0, x1 = box
        whole = pad_region(region.cpu(), box, video.size) | pad_region(patch[2], patch[0], video.size)
        region = whole[..., y0:y1, x0:x1]
    return box, colour.cpu(), region.cpu()
