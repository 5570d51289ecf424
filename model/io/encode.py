"""Video files out through PyAV (FFmpeg): H.264 that plays everywhere, two lossless choices, the source's audio.

Codecs (the CLI's ``--codec``):

* ``h264`` (default): libx264, yuv420p, CRF 18 (visually lossless), BT.601 limited range
  (tagged, so players convert back as we converted), ``+faststart`` in mp4/mov: plays in
  browsers, phones and editors. 4:2:0 needs even sizes, so an odd width/height is padded by
  repeating the last column/row (with a warning). Pixel values change by a few levels.
* ``h264_lossless``: libx264rgb at qp 0, RGB 4:4:4: bit-exact pixels at any size. H.264 High
  4:4:4 Predictive, which FFmpeg-based players and tools (VLC, mpv, ffplay, OpenCV, PyAV) and
  editors decode, browsers do not.
* ``ffv1``: FFV1 version 3, RGB: bit-exact at any size, for archiving and editing; ``.mkv`` or
  ``.avi`` only.

The container follows the file extension: ``.mp4 .m4v .mov .mkv .avi``.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Optional

import av
import numpy as np

from .audio import AudioCopy, open_audio_copy

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".avi")
BT601, LIMITED_RANGE, BT709_PRIMARIES, SRGB_TRANSFER = 6, 1, 1, 13  # FFmpeg's AVColorSpace/Range/Primaries/TRC


@dataclass(frozen=True)
class VideoCodec:
    """How one ``--codec`` choice is encoded: FFmpeg encoder, pixel format, options, size rule, containers."""

    encoder: str
    pix_fmt: str
    options: dict = field(default_factory=dict)
    even_size: bool = False
    extensions: tuple = VIDEO_EXTENSIONS


# x264 looks 10 frames ahead (as its "veryfast" preset) instead of medium's 40: the encoder then holds
# ~120 MB less at 1280x720 (measured: 278 -> 158 MiB peak for 120 frames), about 2.3x that at 1080p.
X264_LOOKAHEAD = {"rc-lookahead": "10"}
CODECS = {
    "h264": VideoCodec("libx264", "yuv420p", {"crf": "18", "preset": "medium", **X264_LOOKAHEAD}, even_size=True),
    "h264_lossless": VideoCodec("libx264rgb", "rgb24", {"qp": "0", "preset": "medium", **X264_LOOKAHEAD}),
    "ffv1": VideoCodec("ffv1", "bgr0", {"level": "3"}, extensions=(".mkv", ".avi")),
}


def frame_rate(fps: float) -> Fraction:
    """``fps`` as the exact fraction codecs want (29.97002997 -> 30000/1001, 12.0 -> 12)."""
    return Fraction(fps).limit_denominator(1001)


class VideoEncoder:
    """Encode ``[H,W,3]`` uint8 RGB frames into one video file, optionally with another video's audio.

    Args:
        path: output file; its extension picks the container (:data:`VIDEO_EXTENSIONS`).
        width, height: frame size in pixels (odd sizes are padded for ``h264`` only).
        fps: frames per second.
        codec: a key of :data:`CODECS`.
        audio_from: a video file whose first audio stream is copied in, trimmed to the frames written
            (see :mod:`model.io.audio`); None, or a file without audio, gives a silent video.
    The file is created at once (header written); :meth:`close` finishes it, :meth:`abort` drops it unfinished.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float, codec: str = "h264",
                 audio_from: Optional[str | os.PathLike] = None):
        self.path, self.width, self.height, self.count = Path(path), width, height, 0
        spec = codec_for(codec, self.path)
        self.pad = (width % 2, height % 2) if spec.even_size else (0, 0)
        self.rate = frame_rate(fps)
        options = {"movflags": "+faststart"} if self.path.suffix.lower() in (".mp4", ".m4v", ".mov") else {}
        try:
            self.container = av.open(str(self.path), "w", options=options)
        except (OSError, av.FFmpegError) as error:
            raise ValueError(f"{self.path}: could not create the video file ({error}); check the folder is "
                             "writable.") from error
        try:
            self.stream = self._add_video_stream(spec)
            self.audio: Optional[AudioCopy] = open_audio_copy(audio_from, self.container) if audio_from else None
            self.container.start_encoding()
        except BaseException:
            self.abort()
            raise

    def _add_video_stream(self, spec: VideoCodec):
        stream = self.container.add_stream(spec.encoder, rate=self.rate)
        stream.width, stream.height = self.width + self.pad[0], self.height + self.pad[1]
        stream.pix_fmt = spec.pix_fmt
        stream.options = dict(spec.options)
        if spec.pix_fmt == "yuv420p":  # tag what swscale's default conversion does, so players invert it
            context = stream.codec_context
            context.colorspace, context.color_range = BT601, LIMITED_RANGE
            context.color_primaries, context.color_trc = BT709_PRIMARIES, SRGB_TRANSFER
        return stream

    def write(self, rgb: np.ndarray) -> None:
        """Append one ``[H,W,3]`` uint8 RGB frame; the audio follows up to the end of this frame."""
        if any(self.pad):
            rgb = np.pad(rgb, ((0, self.pad[1]), (0, self.pad[0]), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.count
        self.container.mux(self.stream.encode(frame))
        self.count += 1
        if self.audio is not None:
            self.audio.until(self.count / self.rate)

    def close(self) -> None:
        """Flush the encoder, add the rest of the audio (up to the last frame's end) and finish the file."""
        self.container.mux(self.stream.encode(None))
        if self.audio is not None:
            self.audio.finish(self.count / self.rate)
        self.container.close()

    def abort(self) -> None:
        """Close everything without finishing; the file left behind is incomplete (the caller deletes it)."""
        if getattr(self, "audio", None) is not None:
            self.audio.source.close()
        try:
            self.container.close()
        except (OSError, av.FFmpegError, ValueError):
            pass


def codec_for(codec: str, path: Path) -> VideoCodec:
    """The :class:`VideoCodec` named ``codec`` for a file ``path``; ValueError for an unknown name or container."""
    if codec not in CODECS:
        raise ValueError(f"unknown video codec {codec!r}; choose one of {', '.join(CODECS)}.")
    spec, suffix = CODECS[codec], path.suffix.lower()
    if suffix not in spec.extensions:
        raise ValueError(f"{path}: the {codec} codec needs a {' or '.join(spec.extensions)} file; change the "
                         "extension or the codec.")
    return spec


def warn_if_padded(path: Path, width: int, height: int, codec: str) -> None:
    """Warn when ``codec`` pads a ``width x height`` video to even sizes."""
    if CODECS[codec].even_size and (width % 2 or height % 2):
        warnings.warn(f"{path}: frames are {width}x{height}; H.264 in yuv420p needs even sizes, so the video is "
                      "padded by one row/column. Use --codec h264_lossless or ffv1, or a frame folder, to keep the "
                      "size exactly.", stacklevel=3)
