"""Frame and hole sources that do not start from a file path of their own, for the streaming paths.

:class:`~model.io.video.FrameSource` and :class:`~model.io.video.MaskSource` read a file or a folder.
A graph hands over other things: frames already decoded (a VIDEO made from images), a hole MASK
tensor (a segmenter's output), or a part of a longer video (a VIDEO trimmed in the graph). These
classes have the same face (``kind``, ``path``, ``info``, ``files``; iteration for frames,
``single`` and :meth:`holes` for masks), so :func:`model.io.video.paired` and
:func:`model.pipeline.job.run_sources` take them alike.
"""
from __future__ import annotations

from dataclasses import replace
from itertools import islice
from typing import Iterator

import torch

from ..checks import HOLE_THRESHOLD, check_shape
from ..masks import fit_hole, mask_needs_resize
from .video import DEFAULT_FPS, VideoInfo


class TensorFrames:
    """Frames held in memory, ``[T,H,W,3]`` float in [0,1] (ComfyUI's IMAGE layout), yielded one at a time as
    ``[1,3,H,W]`` float32. ``label`` names them in messages."""

    kind = "tensor"
    files: list = []
    audio_path = None

    def __init__(self, images: torch.Tensor, fps: float = DEFAULT_FPS, label: str = "frames"):
        sizes = check_shape(images, "T H W 3", label, "frames [T,H,W,3]")
        self.images, self.path = images, label
        self.info = VideoInfo(sizes["W"], sizes["H"], float(fps) if fps and fps > 0 else DEFAULT_FPS, sizes["T"])

    def __iter__(self) -> Iterator[torch.Tensor]:
        for image in self.images:
            yield image.permute(2, 0, 1)[None].to(device="cpu", dtype=torch.float32)


class TensorMasks:
    """Hole masks from a tensor ``[T,H,W]`` or ``[H,W]`` (ComfyUI's MASK, 1 = hole), held as one byte a pixel
    (thresholded at 0.5 once) and fitted to the frame size one mask at a time, as
    :class:`~model.io.video.MaskSource` does (same aspect ratio: resized with one warning; another: ValueError).
    One mask serves every frame (``single``)."""

    kind = "tensor"
    files: list = []

    def __init__(self, holes: torch.Tensor, width: int, height: int, label: str = "hole", invert: bool = False):
        check_shape(holes, "T H W | H W", label, "a MASK [T,H,W]")
        holes = holes[None] if holes.ndim == 2 else holes
        compact = holes.detach().to("cpu") >= HOLE_THRESHOLD  # bool: one byte a pixel, never float frames
        self.holes_ = ~compact if invert else compact
        self.path, self.width, self.height = label, width, height
        self.single = len(self.holes_) == 1
        self.info = VideoInfo(holes.shape[2], holes.shape[1], DEFAULT_FPS, len(self.holes_))
        mask_needs_resize((self.info.width, self.info.height), (width, height), label)  # fails early

    def _fitted(self, t: int, warn: bool) -> torch.Tensor:
        return fit_hole(self.holes_[t][None, None].float(), self.height, self.width, self.path, warn=warn)

    def holes(self) -> Iterator[torch.Tensor]:
        """Yield ``[1,1,H,W]`` float32 0/1 holes at the frame size; a single mask is yielded forever."""
        if self.single:
            hole = self._fitted(0, warn=True)
            while True:
                yield hole
        for t in range(len(self.holes_)):
            yield self._fitted(t, warn=t == 0)


class Window:
    """Frames (or masks) ``first`` to ``first + count - 1`` of a source (``count`` 0: to its end): a video
    trimmed in the graph. Its audio is not carried (``audio_path`` None)."""

    audio_path = None

    def __init__(self, source, first: int, count: int = 0):
        if first < 0 or count < 0:
            raise ValueError(f"{source.path}: a window starts at frame {first} and holds {count} frames; "
                             "give 0 or more for both.")
        self.source, self.first, self.count = source, first, count
        self.kind, self.path, self.files = source.kind, source.path, source.files
        self.single = getattr(source, "single", False)
        claimed = source.info.frame_count
        left = max(claimed - first, 0) if claimed else 0
        self.info = replace(source.info, frame_count=min(left, count) if left and count else left or count)

    def _cut(self, items: Iterator) -> Iterator:
        return islice(items, self.first, self.first + self.count if self.count else None)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self._cut(iter(self.source))

    def holes(self) -> Iterator[torch.Tensor]:
        """The source's holes in the window (a single mask: the one mask, forever)."""
        return self.source.holes() if self.single else self._cut(self.source.holes())
