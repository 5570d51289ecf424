"""One shot from files to files: read INPUT and MASK, run the pipeline, write OUTPUT (and a side-by-side).

The CLI (``inpaint_video.py``) runs one :class:`Job`; a batch runs one per shot. Memory stays constant
whatever the video length: frames are read, inpainted and written one at a time.
"""
from __future__ import annotations

import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from ..io.encode import CODECS, VIDEO_EXTENSIONS
from ..masks import mask_needs_resize
from ..io.video import FrameSource, FrameWriter, MaskSource, paired, read_image, side_by_side, tint_hole
from .config import PipelineConfig
from .run import Pipeline, check_carried

SIDE_BY_SIDE_GAP = 4  # pixels between input and result


@dataclass(frozen=True)
class Job:
    """Where one shot comes from and goes to.

    Attributes:
        input: video file or folder of frames. mask: mask video, mask folder or one mask image (white = hole).
        output: video file (``.mp4 .m4v .mov .mkv .avi``) or folder of PNG frames.
        side_by_side: optional second output, input (hole tinted red) | result.
        fps: output frame rate (None: the input's; 24 for frame folders). codec: see :mod:`model.io.encode`.
        max_frames: stop after N frames (0 = all). invert_mask: the mask marks the pixels to keep.
        quiet: no progress bar.
        references: reference fills, ``"N:PATH"`` items separated by ``;`` (frame N from 0, PATH an image of that
            frame with its hole filled); carried through the shot by Flow Propagate.
    """

    input: str
    mask: str
    output: str
    side_by_side: str | None = None
    fps: float | None = None
    codec: str = "h264"
    max_frames: int = 0
    invert_mask: bool = False
    quiet: bool = False
    references: str = ""

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    @property
    def outputs(self) -> list[Path]:
        """The paths this job writes: ``output`` and, if given, ``side_by_side``."""
        return [Path(p) for p in (self.output, self.side_by_side) if p]

    def problem(self) -> str | None:
        """What is wrong with these paths and options (a sentence), or None."""
        if self.codec not in CODECS:
            return f"codec must be one of {', '.join(CODECS)}; got {self.codec!r}."
        try:
            reference_items(self.references)
        except ValueError as error:
            return str(error)
        if self.max_frames < 0:
            return f"max_frames must be 0 (all) or more, got {self.max_frames}."
        if self.fps is not None and not 0 < self.fps < float("inf"):
            return f"fps must be positive, got {self.fps}."
        outputs = [p.resolve() for p in self.outputs]
        if any(out in (Path(self.input).resolve(), Path(self.mask).resolve()) for out in outputs) or \
                len(set(outputs)) < len(outputs):
            return "the outputs must differ from INPUT, MASK and each other."
        return None

    @property
    def writes_video(self) -> bool:
        """Whether any output is a video file (the codec applies to those only)."""
        return any(p.suffix.lower() in VIDEO_EXTENSIONS for p in self.outputs)


def reference_items(text: str) -> list[tuple[int, Path]]:
    """``"N:PATH;N:PATH"`` -> ``[(N, PATH)]`` (ValueError naming the item at fault).

    >>> reference_items("0:plate.png; 24:later.png")
    [(0, PosixPath('plate.png')), (24, PosixPath('later.png'))]
    """
    items = []
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        number, _, path = item.partition(":")
        if not number.strip().isdigit() or not path.strip():
            raise ValueError(f"reference {item!r}: give N:PATH, a frame number from 0 and an image of that frame with "
                             "its hole filled.")
        items.append((int(number), Path(path.strip())))
    numbers = [n for n, _ in items]
    if len(set(numbers)) < len(numbers):
        raise ValueError(f"references: frame {next(n for n in numbers if numbers.count(n) > 1)} has two; give one "
                         "reference per frame.")
    return items


def read_references(text: str, frame_count: int, size: tuple[int, int]) -> dict[int, torch.Tensor]:
    """The reference images of ``text`` (see :func:`reference_items`), checked by :func:`check_reference_images`."""
    items = reference_items(text)
    images = {number: read_image(path) for number, path in items}
    names = {number: f"reference for frame {number} ({path})" for number, path in items}
    return check_reference_images(images, frame_count, size, names)


def check_reference_images(references: dict[int, torch.Tensor], frame_count: int, size: tuple[int, int],
                           names: dict[int, str] | None = None) -> dict[int, torch.Tensor]:
    """``references`` (``{frame: [1,3,h,w]}``) checked before any output against a shot of ``frame_count`` frames
    (0: not known yet; the stream checks as the frames arrive) of ``size`` ``(W, H)``: a frame outside the shot or
    another aspect ratio is a ValueError (the rest of the checks when each frame arrives). ``names``: how messages
    call each reference."""
    for number, image in references.items():
        name = (names or {}).get(number, f"reference for frame {number}")
        if frame_count and number >= frame_count:
            raise ValueError(f"{name}: the video has frames 0 to {frame_count - 1}; give a frame number in that "
                             "range.")
        mask_needs_resize((image.shape[3], image.shape[2]), size, name, "image")
    return references


def audio_source(frames, fps: float) -> Path | None:
    """The video whose audio the output videos copy (``frames.audio_path``), or None (frame folders, frames in
    memory, a trimmed video; a changed frame rate, warned)."""
    if frames.audio_path is None:
        return None
    if abs(fps - frames.info.fps) > 1e-3 * frames.info.fps:
        warnings.warn(f"--fps {fps:g} differs from the input's {frames.info.fps:g} fps: the video plays at another "
                      "speed, so its audio is not copied.", stacklevel=2)
        return None
    return frames.audio_path


def run_job(job: Job, config: PipelineConfig, pipeline: Pipeline | None = None,
            on_frame: Callable[[int], None] | None = None) -> dict:
    """Stream ``job``'s INPUT/MASK through the pipeline into its outputs; returns counts and timings.

    ``pipeline``: the pipeline already built from ``config`` (default: built here). ``on_frame``: called with
    each frame's index once it is written (a progress bar; it may raise to stop the run). Outputs appear only
    when complete (see :class:`model.io.video.FrameWriter`): an error or Ctrl-C leaves none behind.
    """
    frames = FrameSource(job.input)
    masks = MaskSource(job.mask, frames.info.width, frames.info.height, invert=job.invert_mask)
    return run_sources(job, frames, masks, config, pipeline, on_frame)


def run_sources(job: Job, frames, masks, config: PipelineConfig, pipeline: Pipeline | None = None,
                on_frame: Callable[[int], None] | None = None,
                references: dict[int, torch.Tensor] | None = None, poll: Callable[[], None] | None = None) -> dict:
    """:func:`run_job` from sources already open: ``frames`` a :class:`~model.io.video.FrameSource` or one of
    :mod:`model.io.sources`, ``masks`` likewise (fitted to the frames' size); ``job.input``/``job.mask`` only
    name them. ``references``: reference images ``{frame: [1,3,h,w]}`` in place of ``job.references``' files.
    ``poll``: see :meth:`~model.pipeline.run.Pipeline.run` (a Cancel check while the stages wait).
    ValueError, with nothing written, when the sources hold no frames."""
    info = frames.info
    pairs = paired(frames, masks, job.max_frames)  # checks the counts before any output is created
    fps = job.fps or info.fps
    audio = audio_source(frames, fps)
    exact = info.frame_count if frames.kind != "video" else 0  # a container's count is only its claim
    known = total_frames(exact, job.max_frames)
    references = (check_reference_images(references, known, (info.width, info.height)) if references else
                  read_references(job.references, known, (info.width, info.height)))
    check_carried(config, references)  # before any output is opened
    pipeline = pipeline or Pipeline(config)
    total = total_frames(info.frame_count, job.max_frames) or None
    began = time.perf_counter()
    timing = {"read": 0.0, "write": 0.0}
    gap = SIDE_BY_SIDE_GAP
    with FrameWriter(job.output, info.width, info.height, fps, info.names, job.codec, audio) as writer, \
            (FrameWriter(job.side_by_side, 2 * info.width + gap, info.height, fps, info.names, job.codec, audio)
             if job.side_by_side else nullcontext()) as comparison, \
            tqdm(total=total, unit="frame", desc="inpainting", dynamic_ncols=True, disable=job.quiet) as bar:
        for done in pipeline.run(_timed_reading(pairs, timing), timing, references, poll):
            start = time.perf_counter()
            writer.write(done.output)
            if comparison is not None:
                comparison.write(side_by_side(tint_hole(done.frame, done.hole), done.output, gap))
            timing["write"] += time.perf_counter() - start
            bar.update(1)
            if on_frame is not None:
                on_frame(writer.count - 1)
        if writer.count == 0:
            raise ValueError(f"{job.input}: no frames to inpaint (the video is empty, or trimmed to nothing).")
    return {"frames": writer.count, "width": info.width, "height": info.height, "fps": fps,
            "seconds": time.perf_counter() - began, **timing}


def total_frames(frame_count: int, max_frames: int) -> int:
    """At most how many frames a job will read: the source's count cut to ``max_frames`` (0: not known).

    >>> total_frames(48, 10), total_frames(0, 10), total_frames(48, 0), total_frames(0, 0)
    (10, 10, 48, 0)
    """
    return min(frame_count, max_frames) if frame_count and max_frames else frame_count or max_frames


def _timed_reading(pairs, timing: dict):
    """Yield ``pairs``, adding the seconds spent reading each to ``timing["read"]``."""
    while True:
        start = time.perf_counter()
        pair = next(pairs, None)
        timing["read"] += time.perf_counter() - start
        if pair is None:
            return
        yield pair
