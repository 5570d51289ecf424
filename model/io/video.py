"""Streaming video I/O for the CLI: read and write one frame at a time, in constant memory.

Sources (all yield torch tensors, one frame at a time):

* frames: a video file OpenCV can decode (mp4, avi, mov, mkv, ...), a folder of images
  (sorted by file name; jpg/jpeg/png/webp/bmp/tif/tiff) or a single image (a 1-frame video).
  Each frame is ``[1,3,H,W]`` float32 RGB in [0,1].
* holes: a mask video, a mask folder, or a single mask image used for every frame. Each
  mask is ``[1,1,H,W]`` float32 of 0/1, 1 = hole. A mask pixel is a hole when its grey value
  is >= 128 (the pack's 0.5 threshold). An RGBA mask image whose alpha channel is not fully
  opaque uses ComfyUI's convention instead (as its Load Image node): transparent pixels
  (alpha < 128) are the hole. A mask of a different size but the same aspect ratio as the
  frames is resized with nearest neighbour (one warning); another aspect ratio is an error.

Writers take ``[1,3,H,W]`` frames in [0,1] and write a video file (``.mp4 .m4v .mov .mkv
.avi``, through PyAV: H.264 by default, with the source's audio; see :mod:`model.io.encode`)
or a folder of PNG frames. PNG frames are lossless: a pixel read from an 8-bit source and
returned unchanged by the pipeline is written back with the same 8-bit value; so are the
``h264_lossless`` and ``ffv1`` codecs. Default H.264 (yuv420p) needs even sizes, so odd-sized
frames are padded by repeating the last row/column, with a warning.
"""
from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np
import torch

from ..masks import fit_hole, mask_needs_resize
from .encode import VIDEO_EXTENSIONS, VideoEncoder, codec_for, warn_if_padded
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
DEFAULT_FPS = 24.0
MASK_THRESHOLD = 128  # uint8 grey value of the pack's 0.5 hole threshold


@dataclass
class VideoInfo:
    """What is known about a source before reading it.

    Attributes:
        width, height: frame size in pixels.
        fps: frames per second (``DEFAULT_FPS`` for image folders and single images).
        frame_count: number of frames; exact for folders/images, the container's claim for
            videos (may be off by a few), 0 when unknown.
        names: file stems of the frames of a folder (to name output frames alike), else None.
    """

    width: int
    height: int
    fps: float
    frame_count: int
    names: Optional[list[str]] = None


def _kind(path: Path) -> str:
    """``"folder"``, ``"image"`` or ``"video"``; raises ValueError if ``path`` does not exist."""
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder; check the path.")
    if path.is_dir():
        return "folder"
    return "image" if path.suffix.lower() in IMAGE_EXTENSIONS else "video"


def list_images(folder: Path) -> list[Path]:
    """Image files of ``folder`` sorted by name; raises ValueError if there are none."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(f"{folder}: no images found ({'/'.join(e[1:] for e in IMAGE_EXTENSIONS)}); "
                         "point to a folder of frames or to a video file.")
    return files


def _read_image(path: Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise ValueError(f"{path}: could not read this image; is it a valid "
                         f"{'/'.join(e[1:] for e in IMAGE_EXTENSIONS)} file?")
    return image


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise ValueError(f"unsupported pixel type {image.dtype}; save the image as 8-bit.")


def _open_video(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"{path}: could not open this as a video; give a video OpenCV can decode "
                         "(mp4, avi, mov, mkv), an image, or a folder of images.")
    return capture


def _video_images(path: Path) -> Iterator[np.ndarray]:
    """Every frame of the video at ``path`` as OpenCV decodes it (BGR), the capture released at the end.

    Raises ValueError naming the first frame that could not be decoded when the decoding stops well short of
    the frame count the container claims (a damaged or cut file): more than 2 frames, and 2 % of the count,
    short (containers that only estimate their count are off by a frame or two).
    """
    capture = _open_video(path)
    claimed = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    count = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            count += 1
            yield image
    finally:
        capture.release()
    if claimed - count > max(2, claimed // 50):
        raise ValueError(f"{path}: frame {count} (counting from 0) could not be decoded, but the file claims "
                         f"{claimed} frames: it is damaged or cut short. Re-export it, or convert it to a folder "
                         "of PNG frames.")


def _video_info(capture: cv2.VideoCapture, path: Path) -> VideoInfo:
    ok, first = capture.read()
    if not ok or first is None:
        capture.release()
        raise ValueError(f"{path}: the video has no readable frames; check that the file is complete, "
                         "or convert it to a folder of PNG frames.")
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = float(fps) if fps and math.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return VideoInfo(first.shape[1], first.shape[0], fps, max(count, 0))


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """One image file -> ``[1,3,H,W]`` float32 RGB in [0,1] (8- or 16-bit, as the frame readers take them)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file.")
    return _bgr_to_tensor(_to_uint8(_read_image(path, cv2.IMREAD_COLOR)))


def _bgr_to_tensor(image: np.ndarray) -> torch.Tensor:
    """``H x W x 3`` uint8 BGR -> ``[1,3,H,W]`` float32 RGB in [0,1]."""
    rgb = np.ascontiguousarray(image[:, :, ::-1])
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].to(torch.float32) / 255.0


def tensor_to_bgr(frame: torch.Tensor) -> np.ndarray:
    """``[1,3,H,W]`` float in [0,1] RGB -> ``H x W x 3`` uint8 BGR (rounded to nearest)."""
    rgb = (frame[0].detach().float().cpu().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0)
    return np.ascontiguousarray(rgb.numpy()[:, :, ::-1])


def _probe(path: Path, read_flag: int) -> tuple[str, list[Path], VideoInfo]:
    """``(kind, image files ([] for a video), info)`` of a video file, an image folder or one image."""
    kind = _kind(path)
    if kind == "video":
        capture = _open_video(path)
        info = _video_info(capture, path)
        capture.release()
        return kind, [], info
    files = list_images(path) if kind == "folder" else [path]
    first = _read_image(files[0], read_flag)
    return kind, files, VideoInfo(first.shape[1], first.shape[0], DEFAULT_FPS, len(files), [p.stem for p in files])


class FrameSource:
    """Frames of a video file, an image folder or a single image, read one at a time.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())  # or a video file such as "clip.mp4"
    >>> for i in range(3): _ = cv2.imwrite(str(folder / f"{i:03d}.png"), np.zeros((24, 32, 3), np.uint8))
    >>> source = FrameSource(folder)
    >>> source.info.width, source.info.height, source.info.frame_count
    (32, 24, 3)
    >>> [tuple(frame.shape) for frame in source]  # [1,3,H,W] float32 RGB in [0,1], one at a time
    [(1, 3, 24, 32), (1, 3, 24, 32), (1, 3, 24, 32)]
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.kind, self.files, self.info = _probe(self.path, cv2.IMREAD_COLOR)
        self.audio_path = self.path if self.kind == "video" else None  # where an output copies its audio from

    def __iter__(self) -> Iterator[torch.Tensor]:
        """Yield ``[1,3,H,W]`` float32 RGB frames in [0,1]; raises ValueError if a frame changes size."""
        size = (self.info.height, self.info.width)
        if self.kind == "video":
            for image in _video_images(self.path):
                yield _bgr_to_tensor(_to_uint8(image))
        for path in self.files:
            image = _to_uint8(_read_image(path, cv2.IMREAD_COLOR))
            if image.shape[:2] != size:
                raise ValueError(f"{path}: frame is {image.shape[1]}x{image.shape[0]} but the first frame is "
                                 f"{size[1]}x{size[0]}; all frames of a folder must have the same size.")
            yield _bgr_to_tensor(image)


def mask_from_array(image: np.ndarray) -> np.ndarray:
    """A decoded mask image (grey, BGR or BGRA; 8/16-bit or float) -> ``H x W`` bool, True = hole.

    Grey value >= 128 is a hole; with a not fully opaque alpha channel, alpha < 128 is a hole.
    """
    image = _to_uint8(image)
    if image.ndim == 2:
        return image >= MASK_THRESHOLD
    if image.shape[2] == 4 and (image[:, :, 3] < 255).any():
        return image[:, :, 3] < MASK_THRESHOLD
    if image.shape[2] == 1:
        return image[:, :, 0] >= MASK_THRESHOLD
    return cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY) >= MASK_THRESHOLD


class MaskSource:
    """Hole masks from a mask video, a mask folder or one mask image, fitted to the frame size.

    Args:
        path: the masks.
        width, height: frame size; masks of the same aspect ratio are resized (nearest
            neighbour, one warning), others raise ValueError.
        invert: True when the mask marks the pixels to keep (then 0 = hole).

    ``single`` is True when one mask serves every frame (iterate with :meth:`holes`).
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, invert: bool = False):
        self.path, self.width, self.height, self.invert = Path(path), width, height, invert
        self._warned = False
        self.kind, self.files, self.info = _probe(self.path, cv2.IMREAD_UNCHANGED)
        self.single = self.kind == "image" or (self.kind == "folder" and len(self.files) == 1)
        mask_needs_resize((self.info.width, self.info.height), (width, height), str(self.path))  # fails early

    def _to_tensor(self, hole: np.ndarray) -> torch.Tensor:
        """``H x W`` bool (True = hole) -> ``[1,1,H,W]`` float32 0/1 at the frame size (as the nodes: fit_hole)."""
        if self.invert:
            hole = ~hole
        fitted = fit_hole(torch.from_numpy(hole.astype(np.float32))[None, None], self.height, self.width,
                          str(self.path), warn=not self._warned)
        self._warned |= hole.shape != (self.height, self.width)  # one warning per source
        return fitted

    def holes(self) -> Iterator[torch.Tensor]:
        """Yield ``[1,1,H,W]`` float32 0/1 holes; a single mask is yielded forever (zip it with the frames)."""
        if self.single:
            hole = self._to_tensor(mask_from_array(_read_image(self.files[0], cv2.IMREAD_UNCHANGED)))
            while True:
                yield hole
        elif self.kind == "video":
            for image in _video_images(self.path):
                yield self._to_tensor(mask_from_array(image))
        else:
            for path in self.files:
                yield self._to_tensor(mask_from_array(_read_image(path, cv2.IMREAD_UNCHANGED)))


def paired(frames: FrameSource, masks: MaskSource, max_frames: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Check the counts, then return an iterator of ``(frame [1,3,H,W], hole [1,1,H,W])`` pairs.

    At most ``max_frames`` pairs if > 0. Raises ValueError at once when both counts are known
    and differ (video containers' counts are trusted only when they differ by more than 2),
    and while streaming when one source runs out before the other.
    """
    n_frames, n_masks = frames.info.frame_count, masks.info.frame_count
    if not masks.single and n_frames and n_masks:
        exact = frames.kind != "video" and masks.kind != "video"
        if (n_frames != n_masks) if exact else abs(n_frames - n_masks) > 2:
            raise ValueError(_count_message(frames, masks, n_frames, n_masks))
    return _pairs(frames, masks, max_frames)


def _pairs(frames: FrameSource, masks: MaskSource, max_frames: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    hole_iter = masks.holes()
    count = 0
    for frame in frames:
        if max_frames and count >= max_frames:
            return
        hole = next(hole_iter, None)
        if hole is None:
            raise ValueError(_count_message(frames, masks, f"more than {count}", count))
        count += 1
        yield frame, hole
    if not masks.single and not max_frames and next(hole_iter, None) is not None:
        raise ValueError(_count_message(frames, masks, count, f"more than {count}"))


def _count_message(frames: FrameSource, masks: MaskSource, n_frames, n_masks) -> str:
    return (f"{masks.path} has {n_masks} masks but {frames.path} has {n_frames} frames; give one mask per frame "
            "(same count) or a single mask image for every frame.")


PARTIAL = ".frvi-partial"  # marks an output still being written


class FrameWriter:
    """Write ``[1,3,H,W]`` frames in [0,1] to a video file or to a folder of PNG frames, all or nothing.

    A path with a video extension (``.mp4 .m4v .mov .mkv .avi``) writes a video at ``fps`` with
    ``codec`` (see :mod:`model.io.encode`: H.264 by default, ``h264_lossless`` or ``ffv1`` for
    bit-exact pixels) and, given ``audio_from`` (the source video), its audio trimmed to the frames
    written. Any other path without an extension (or an existing folder) becomes a folder of
    ``<name>.png`` files, named after ``names`` (the source frames' stems) or ``00000.png``...
    Frames go to a temporary name beside the target (``<stem>.frvi-partial<suffix>`` or the
    folder ``<name>.frvi-partial``) and reach the target only when the context ends without an
    error: the video is renamed over it, the PNGs are moved into the folder. A run that fails,
    is interrupted (Ctrl-C) or killed leaves the previous output, if any, untouched, and no
    file that looks complete. Use as a context manager.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float = DEFAULT_FPS,
                 names: Optional[list[str]] = None, codec: str = "h264",
                 audio_from: Optional[str | os.PathLike] = None):
        self.path, self.width, self.height, self.names = Path(path), width, height, names
        self.count = 0
        self.video: Optional[VideoEncoder] = None
        suffix = self.path.suffix.lower()
        if suffix in VIDEO_EXTENSIONS:
            codec_for(codec, self.path)  # an unknown codec or container fails before any file is made
            warn_if_padded(self.path, width, height, codec)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.temporary = self.path.with_name(self.path.stem + PARTIAL + self.path.suffix)
            try:
                self.video = VideoEncoder(self.temporary, width, height, fps, codec, audio_from)
            except BaseException:
                self.temporary.unlink(missing_ok=True)
                raise
        elif suffix and not self.path.is_dir():
            raise ValueError(f"{self.path}: unknown output type {suffix!r}; give a video file "
                             f"({' '.join(VIDEO_EXTENSIONS)}) or a folder for PNG frames.")
        else:
            if self.path.exists() and not self.path.is_dir():
                raise ValueError(f"{self.path}: exists and is not a folder; give a folder for PNG frames.")
            self.temporary = self.path.with_name(self.path.name + PARTIAL)
            shutil.rmtree(self.temporary, ignore_errors=True)  # left by a killed run
            self.temporary.mkdir(parents=True)

    def write(self, frame: torch.Tensor) -> None:
        """Append one ``[1,3,H,W]`` frame in [0,1] (the writer's size)."""
        if tuple(frame.shape[-2:]) != (self.height, self.width):
            raise ValueError(f"{self.path}: got a {frame.shape[-1]}x{frame.shape[-2]} frame for a "
                             f"{self.width}x{self.height} output.")
        image = tensor_to_bgr(frame)
        if self.video is not None:
            self.video.write(image[:, :, ::-1])
        else:
            name = self.names[self.count] if self.names and self.count < len(self.names) else f"{self.count:05d}"
            if not cv2.imwrite(str(self.temporary / f"{name}.png"), image):
                raise ValueError(f"{self.path / name}.png: could not write; check the folder is writable.")
        self.count += 1

    def close(self, complete: bool = True) -> None:
        """Finish: with ``complete`` the output replaces the target, otherwise it is thrown away.

        If finishing the video fails, the temporary file is removed and the error raised.
        """
        video, self.video = self.video, None
        try:
            if video is not None and complete:
                video.close()
            elif video is not None:
                video.abort()
        except BaseException:
            video.abort()
            complete = False
            raise
        finally:
            self._settle(complete)

    def _settle(self, complete: bool) -> None:
        """Move the temporary output over the target (``complete``) or delete it."""
        if not self.temporary.exists():
            return
        if not complete:
            if self.temporary.is_dir():
                shutil.rmtree(self.temporary, ignore_errors=True)
            else:
                self.temporary.unlink(missing_ok=True)
        elif self.temporary.is_dir():
            self.path.mkdir(parents=True, exist_ok=True)
            for image in sorted(self.temporary.iterdir()):
                os.replace(image, self.path / image.name)
            self.temporary.rmdir()
        else:
            os.replace(self.temporary, self.path)

    def __enter__(self) -> "FrameWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(complete=exc_type is None)


def tint_hole(frame: torch.Tensor, hole: torch.Tensor, colour=(1.0, 0.15, 0.15), alpha: float = 0.5) -> torch.Tensor:
    """``frame [1,3,H,W]`` in [0,1] with ``hole [1,1,H,W]`` (0/1) tinted by ``colour`` -> ``[1,3,H,W]``."""
    tint = torch.tensor(colour, dtype=frame.dtype, device=frame.device).view(1, 3, 1, 1)
    return torch.where(hole > 0.5, (1 - alpha) * frame + alpha * tint, frame)


def side_by_side(left: torch.Tensor, right: torch.Tensor, gap: int = 4) -> torch.Tensor:
    """Two ``[1,3,H,W]`` frames next to each other with a white ``gap`` -> ``[1,3,H,2W+gap]``."""
    spacer = torch.ones(1, 3, left.shape[2], gap, dtype=left.dtype, device=left.device)
    return torch.cat((left, spacer, right), dim=3)
