"""Copy a source video's audio into an output video, trimmed to the frames written, in constant memory.

Time 0 of the output is the source's first video frame. As video frames are written, the audio
up to their end follows (:meth:`AudioCopy.until`), so the file stays interleaved; at the end
(:meth:`AudioCopy.finish`) the audio stops at the last frame's end.

* Remux (bit-exact audio) when the output container plays the codec: AAC or MP3 in
  ``.mp4/.m4v/.mov``, anything the muxer accepts in ``.mkv/.avi``. Trimmed to whole packets:
  the last one may run past the video's end by up to one packet (about 20-40 ms).
* Otherwise decoded and re-encoded to AAC (192 kb/s, same rate and channels where AAC has them),
  trimmed to the sample.
"""
from __future__ import annotations

import os
import warnings
from fractions import Fraction
from typing import Iterator, Optional

import av
import numpy as np

PLAYABLE_IN_MP4 = {"aac", "mp3"}  # what every mp4/mov player decodes; others are re-encoded to AAC
AAC_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}
AAC_BIT_RATE = 192_000


def open_audio_copy(source: str | os.PathLike, output) -> Optional["AudioCopy"]:
    """An :class:`AudioCopy` of ``source``'s first audio stream into the PyAV ``output`` container.

    None when ``source`` has no audio stream; None with a warning when PyAV cannot read it.
    Call before the output's header is written (before its first packet).
    """
    try:
        container = av.open(str(source))
    except (OSError, av.error.FFmpegError) as error:
        warnings.warn(f"{source}: could not read its audio ({error}); the output has no sound.", stacklevel=3)
        return None
    if not container.streams.audio:
        container.close()
        return None
    return AudioCopy(container, output)


class AudioCopy:
    """The first audio stream of an open PyAV input ``source``, copied into ``output`` (see the module docstring)."""

    def __init__(self, source, output):
        self.source, self.output = source, output
        self.input = source.streams.audio[0]
        video = source.streams.video[0] if source.streams.video else None
        self.start = (video.start_time * video.time_base) if video is not None and video.start_time is not None \
            else Fraction(0)  # the first video frame's time
        self.remux = _remux_stream(self.input, output)
        self.stream = self.remux or _aac_stream(self.input, output)
        self.items = self._packets() if self.remux else self._frames()
        self.pending = None  # the next packet or frame, not yet due
        self.samples = 0  # samples encoded so far (re-encode)

    def until(self, end: Fraction | float) -> None:
        """Copy the audio that ends by ``end`` (seconds of the output)."""
        self._copy(end, final=False)

    def finish(self, end: Fraction | float) -> None:
        """Copy the audio that starts before ``end``, trim it there, flush the encoder and close the source."""
        self._copy(end, final=True)
        if not self.remux:
            self.output.mux(self.stream.encode(None))
        self.source.close()

    def _copy(self, end, final: bool) -> None:
        while True:
            item = self.pending if self.pending is not None else next(self.items, None)
            self.pending = None
            if item is None:
                return
            start, duration = item[0], item[1]
            if start >= end or (not final and start + duration > end):
                self.pending = item
                return
            if self.remux:
                self._mux_packet(item[2])
            else:
                self._encode(item[2], start, end)

    def _packets(self) -> Iterator[tuple]:
        """``(start, duration, packet)`` in output seconds; packets that end before the video starts are dropped."""
        base = self.input.time_base
        for packet in self.source.demux(self.input):
            time = packet.pts if packet.pts is not None else packet.dts
            if time is None or packet.size == 0:
                continue
            start, duration = time * base - self.start, (packet.duration or 0) * base
            if start + duration >= 0:  # keeps an encoder's priming packet, which ends at 0
                yield start, duration, packet

    def _mux_packet(self, packet) -> None:
        shift = int(round(self.start / self.input.time_base))
        if packet.pts is not None:
            packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = self.stream
        self.output.mux(packet)

    def _frames(self) -> Iterator[tuple]:
        """``(start, duration, frame)`` of the decoded audio, in output seconds."""
        for frame in self.source.decode(self.input):
            if frame.pts is None or frame.samples == 0:
                continue
            yield frame.pts * frame.time_base - self.start, Fraction(frame.samples, frame.sample_rate), frame

    def _encode(self, frame, start, end) -> None:
        """Encode the part of ``frame`` (starting at ``start`` s) that lies in [0, end)."""
        rate = frame.sample_rate
        first = max(0, -int(round(start * rate)))
        last = min(frame.samples, int(round((end - start) * rate)))
        if last <= first:
            return
        if (first, last) != (0, frame.samples):
            frame = _slice(frame, first, last)
        frame.pts = max(self.samples, int(round((start * rate))) + first)  # never backwards; a gap stays a gap
        frame.time_base = Fraction(1, rate)
        self.samples = frame.pts + frame.samples
        self.output.mux(self.stream.encode(frame))


def _remux_stream(template, output):
    """An output stream copying ``template``'s packets, or None when the container should get AAC instead."""
    mp4_family = any(name in output.format.name for name in ("mp4", "mov", "ipod"))
    if mp4_family and template.codec_context.codec.canonical_name not in PLAYABLE_IN_MP4:
        return None
    try:
        return output.add_stream_from_template(template)
    except (ValueError, av.error.FFmpegError):
        return None


def _aac_stream(template, output):
    """An AAC output stream at ``template``'s sample rate and channels (48 kHz / stereo where AAC has no such)."""
    context = template.codec_context
    rate = context.sample_rate if context.sample_rate in av.Codec("aac", "w").audio_rates else 48000
    layout = AAC_LAYOUTS.get(len(context.layout.channels), "stereo")
    stream = output.add_stream("aac", rate=rate, layout=layout)
    stream.bit_rate = AAC_BIT_RATE
    return stream


def _slice(frame, first: int, last: int):
    """Samples ``first:last`` of an audio ``frame`` as a new frame (planar or packed)."""
    array = frame.to_ndarray()
    channels = len(frame.layout.channels)
    part = array[:, first:last] if frame.format.is_planar else array[:, first * channels:last * channels]
    sliced = av.AudioFrame.from_ndarray(np.ascontiguousarray(part), format=frame.format.name,
                                        layout=frame.layout.name)
    sliced.sample_rate = frame.sample_rate
    return sliced
