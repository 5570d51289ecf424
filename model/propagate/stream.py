"""Flow Propagate over a stream of any length in bounded memory.

Flow Propagate (:mod:`model.propagate.whole_clip`) runs two recurrent passes, one from the past and one
from the future, and looks at most ``D = max_distance`` frames each way. On a stream:

* the **past pass** runs once, frame by frame as the frames arrive: its result for frame t
  depends on frames ``t-D .. t`` only, so it is exactly the whole-clip pass;
* the **future pass** runs backwards, so it runs per chunk of ``C`` frames: for the chunk
  ``[a, a+C)`` it starts ``context`` (default ``D``) frames after the chunk's end and walks
  back to ``a``; the frames after the chunk are only looked at. Then the chunk's frames are
  filled from both passes and emitted, in order.

At most ``C + context`` frames are held at any time, whatever the video's length, each as 8-bit
when that loses nothing (every frame read from an 8-bit file), else as given; plus the past
pass's samples of those frames' hole pixels and the flows of their pairs at the flow resolution.
Each frame is traced ``1 + (C + context) / C`` times on average (once from the past, once or
twice from the future); the flows of a pair are computed once, as the pair arrives. Automatic keyframes
(:mod:`model.propagate.keyframes`) add the keyframes still in reach of a chain, 8-bit.

How close to one whole-clip run (:func:`model.propagate.whole_clip.flow_propagate`, same memory layout of
the frames): a chunk's future pass starts with no sources where the whole-clip run may carry
sources from after its start. By induction, its source map of every frame is the whole-clip map
without the sources beyond the start; a chunk frame is at least ``context >= D`` frames before
the start and its sources are at most ``D`` frames away, so it loses none. With whole-pixel flow
this makes the output bit-identical (tested). With sub-pixel flow, :mod:`model.propagate.trace` mixes four
neighbours' sources bilinearly when they agree within a tolerance (``has > 1 - 1e-4``, age spread
``< 1e-3``), so a neighbour whose source lies beyond the start can add a tiny weight in the
whole-clip run only. Measured (dog_walk, 40 frames at 640x360, a moving 120x150 box, D = 6,
C = 12): colours at most 0.05/255 apart, 3 of 377,402 hole pixels left for the stages where the
whole-clip run filled them or the other way round (the earlier design, which also windowed the
past pass: 1.0/255 and 10 pixels); ``context = 2D`` brings it down to float rounding (tested).
The flow's own rounding depends on the frames' memory layout (channels-last or not), so the
flows are computed on the frames as given and every frame comes back out in its own layout.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import torch

from ..checks import check_video, hole_at
from ..masks import Box
from ..stages import flow_completer
from .compact import compact, expand
from .keyframes import FrameFill, KeyframeCarrier, patch_of
from .references import MARGIN, NO_LIMIT, ReferenceVideo, check_references, reference_patch
from .whole_clip import (PropagateConfig, downscale, fill_from_passes, flow_size, held_flows_at, hold_flows, hold_past,
                         pair_flow, unpack_past)
from .trace import Tracer


class Propagated:
    """One frame out of :class:`StreamingPropagator`, on the host, kept compact (8-bit frame, the fill
    as a patch) until it is read; each attribute read builds a new tensor, so read each once.

    Attributes:
        frame: ``[1,3,H,W]`` the input frame in [0,1], in the memory layout it came in.
        hole: ``[1,1,H,W]`` its hole, as given (0/1 for the CLI).
        filled: ``[1,3,H,W]`` the frame with the propagated pixels filled in (every other pixel bit-exact).
        remaining: ``[1,1,H,W]`` the hole no frame within ``max_distance`` saw (the hole's values there, else 0).
    """

    def __init__(self, frame: torch.Tensor, hole: torch.Tensor,
                 patch: tuple[Box, torch.Tensor, torch.Tensor] | None = None):
        self._frame, self._hole, self._patch = frame, hole, patch

    @property
    def frame(self) -> torch.Tensor:
        return expand(self._frame)

    @property
    def hole(self) -> torch.Tensor:
        return expand(self._hole)

    @property
    def filled(self) -> torch.Tensor:
        frame = self.frame
        if self._patch is not None:
            (y0, y1, x0, x1), patch, _ = self._patch
            frame[..., y0:y1, x0:x1] = patch
        return frame

    @property
    def remaining(self) -> torch.Tensor:
        hole = self.hole
        if self._patch is not None:
            (y0, y1, x0, x1), _, region = self._patch
            hole[..., y0:y1, x0:x1] *= (~region).to(hole.dtype)
        return hole


class HeldFrames:
    """The frames and holes a :class:`StreamingPropagator` still needs, by video index, compactly.

    Reads like :class:`model.propagate.trace.TensorVideo` (``size``, ``frame``, ``hole``) for the passes.
    """

    def __init__(self):
        self.frames: dict[int, torch.Tensor] = {}
        self.holes: dict[int, torch.Tensor] = {}
        self.size: tuple[int, int] | None = None

    def put(self, t: int, frame: torch.Tensor, hole: torch.Tensor) -> None:
        """Keep frame t ``[1,3,H,W]`` and its hole ``[1,1,H,W]`` (host memory)."""
        self.size = self.size or tuple(frame.shape[-2:])
        self.frames[t], self.holes[t] = compact(frame.detach().cpu()), compact(hole.detach().cpu())

    def frame(self, t: int, box: Box) -> torch.Tensor:
        """Frame t ``[1,3,h,w]`` float32 on ``box``."""
        y0, y1, x0, x1 = box
        return expand(self.frames[t][..., y0:y1, x0:x1])

    def hole(self, t: int, box: Box | None = None) -> torch.Tensor:
        """Binary hole ``[1,1,h,w]`` (float 0/1) of frame t on ``box`` (default: whole)."""
        y0, y1, x0, x1 = box or (0, self.size[0], 0, self.size[1])
        return hole_at(expand(self.holes[t][..., y0:y1, x0:x1]), 0)

    def drop_before(self, t: int) -> None:
        """Forget every frame before t."""
        for i in [i for i in self.frames if i < t]:
            del self.frames[i], self.holes[i]

    def __len__(self) -> int:
        return len(self.frames)


class StreamingPropagator:
    """Flow Propagate one frame in, one frame out (delayed by up to ``chunk + context`` frames; the first
    frame comes out once ``chunk // 2 + context`` frames are in).

    >>> from model import stages
    >>> propagator = StreamingPropagator(stages.flow_estimator("dis_fast"), PropagateConfig(max_distance=2))
    >>> hole = torch.zeros(1, 1, 48, 64); hole[..., 16:32, 20:40] = 1
    >>> video = ((torch.rand(1, 3, 48, 64), hole) for _ in range(5))  # (frame, hole) pairs
    >>> [tuple(item.filled.shape) for item in propagator.run(video)]  # one out per frame in, in order
    [(1, 3, 48, 64), (1, 3, 48, 64), (1, 3, 48, 64), (1, 3, 48, 64), (1, 3, 48, 64)]

    Args:
        estimator: ``(target, source) -> flow [1,2,h,w]`` (``model.stages.flow_estimator``).
        config: :class:`model.propagate.whole_clip.PropagateConfig` (the flows are completed as its ``completion``
            says); ``max_distance`` must be at least 1
            (0, "the whole clip", cannot stream).
        chunk: frames emitted per future pass (``C``; the first chunk is ``C // 2``, so that the first
            frames come out sooner); 0 = ``2 * max_distance``. Larger chunks trace fewer frames twice but
            hold more frames.
        context: frames after a chunk its future pass starts from; 0 = ``max_distance`` (the least
            that works); more brings the result closer still to a whole-clip run (see the module doc).
        device: where the per-frame work runs.
        references: ``{frame index: [1,3,H,W]}`` frames with their hole filled (see
            :mod:`model.propagate.references`), each checked when its frame arrives. A reference reaches
            every later frame, however far (the pass from the past is exact on a stream), but earlier frames
            only within the stream's window (``chunk + context`` frames): the pass from the future starts
            ``context`` frames after each chunk. Give a reference where the background first shows.
        keyframe_fill: ``(frame [1,3,H,W], hole [1,1,H,W]) -> [1,3,H,W]``: with it, what no frame (and no
            reference) saw is filled once on automatic keyframes and carried forward
            (:mod:`model.propagate.keyframes`); None leaves it in ``remaining`` for the stages.
    Attributes:
        peak_frames: the most frames held at once so far (at most ``chunk + context``).
    """

    def __init__(self, estimator, config: PropagateConfig | None = None, chunk: int = 0,
                 context: int = 0, device: torch.device | str = "cpu",
                 references: dict[int, torch.Tensor] | None = None, keyframe_fill: FrameFill | None = None):
        self.config = config or PropagateConfig()
        self.config.validate()
        if self.config.max_distance < 1:
            raise ValueError("Flow Propagate on a stream: max_distance is 0 (the whole clip), which needs the whole "
                             "video in memory; give a distance of 1 frame or more (e.g. 12).")
        if chunk < 0:
            raise ValueError(f"Flow Propagate on a stream: chunk is {chunk}; use 0 (automatic) or more frames.")
        self.estimator, self.device = estimator, device
        self.completer = flow_completer(self.config.completion)
        if context and context < self.config.max_distance:
            raise ValueError(f"Flow Propagate on a stream: context is {context} frames, fewer than max_distance "
                             f"({self.config.max_distance}); use 0 (= max_distance) or more.")
        self.chunk = chunk or 2 * self.config.max_distance
        self.context = context or self.config.max_distance
        self.references = dict(references or {})
        self.keyframe_fill = keyframe_fill
        self.peak_frames = 0
        self.keyframes: list[int] = []  # the automatic keyframes of the run (one run per propagator)

    @torch.inference_mode()
    def run(self, video: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> Iterator[Propagated]:
        """Yield a :class:`Propagated` for each ``(frame [1,3,H,W] in [0,1], hole [1,1,H,W])`` of ``video``, in order.

        Every frame must have the first frame's size (ValueError otherwise).
        """
        config, device = self.config, self.device
        held = HeldFrames()
        flows: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # pair i -> (i -> i+1, i+1 -> i), host, flow size
        past: dict[int, tuple[torch.Tensor, ...] | None] = {}  # frame -> its past-pass samples (hold_past)
        gradients = config.seam == "poisson"
        scale = size = previous = None

        def to_past(t: int) -> tuple[torch.Tensor, torch.Tensor]:
            forward, backward = self._pair(held, flows, t - 1)
            return backward, forward

        from_past = carrier = None
        references = ReferenceVideo(held, dict(self.references))  # fitted to the frames as they arrive
        ref_past: dict[int, tuple[torch.Tensor, ...] | None] = {}  # frame -> its samples of the references
        first = count = 0  # the first frame not yet emitted; frames read
        for frame, hole in video:
            check_video(frame, hole)
            t = count
            if held.size is None:
                height, width = frame.shape[-2:]
                size = flow_size(height, width, config.flow_max_side)
                scale = config.consistency * width / size[1]  # the tolerance is given in flow-resolution pixels
                from_past = Tracer(held, to_past, -1, config.max_distance, scale, gradients, device)
                refs_from_past = Tracer(references, to_past, -1, NO_LIMIT, scale, gradients, device,
                                        references.is_reference, MARGIN, sharp=True)
                carrier = None if self.keyframe_fill is None else KeyframeCarrier(  # fills in self.keyframes
                    (height, width), to_past, self.keyframe_fill, scale, gradients, device=device,
                    keyframes=self.keyframes)
            elif tuple(frame.shape[-2:]) != held.size:
                raise ValueError(f"frame {t} is {frame.shape[3]}x{frame.shape[2]} but the first frame is "
                                 f"{held.size[1]}x{held.size[0]}; every frame of a video must have one size.")
            binary = hole_at(hole, 0)
            if t in references.references:  # checked (and fitted) against the frame as it arrives
                fitted = check_references({t: references.references[t]}, frame, hole, t, t + 1)
                references.references[t] = fitted[t]
            held.put(t, frame, hole)
            count += 1
            self.peak_frames = max(self.peak_frames, len(held))
            small = downscale(frame.to(device), binary.to(device), size)
            if previous is not None and (previous[1].any() or small[1].any()):  # a pair next to a hole
                flows[t - 1] = hold_flows(pair_flow(previous[0], small[0], previous[1], small[1], self.estimator,
                                                    self.completer, config.hole_dilation))
            previous = small
            box, samples, area = from_past(t)
            past[t] = None if box is None else hold_past(samples, area, gradients)
            if references.references:
                box, samples, area = refs_from_past(t)
                ref_past[t] = None if box is None else hold_past(samples, area, gradients)
            # the first chunk is half as long, so that the first frames come out sooner (any cut is exact)
            chunk = self.chunk if first else max(1, self.chunk // 2)
            if t + 1 < first + chunk + self.context:
                continue  # the chunk's future pass still lacks frames after it
            yield from self._chunk(held, flows, past, references, ref_past, first, first + chunk, t, scale,
                                   gradients, carrier)
            first += chunk
            held.drop_before(first)  # the next frames' past passes reach back to t + 1 - D >= first
            for i in [i for i in flows if i < first - 1]:  # the keyframes' pass still steps from first to first - 1
                del flows[i]
        if first < count:
            yield from self._chunk(held, flows, past, references, ref_past, first, count, count - 1, scale,
                                   gradients, carrier)
        beyond = [n for n in references.references if n >= count]
        if beyond:
            raise ValueError(f"reference for frame {beyond[0]}: the video has frames 0 to {count - 1}; give a frame "
                             "number in that range.")

    def _chunk(self, held: HeldFrames, flows: dict, past: dict, references: ReferenceVideo, ref_past: dict,
               first: int, end: int, start: int, tolerance: float, gradients: bool,
               carrier: KeyframeCarrier | None = None) -> Iterator[Propagated]:
        """Run the future pass from frame ``start`` back to ``first``, then yield frames ``first .. end - 1``
        (through ``carrier``'s automatic keyframes, if given)."""
        device = self.device
        to_future = lambda i: self._pair(held, flows, i)  # noqa: E731
        from_future = Tracer(held, to_future, 1, self.config.max_distance, tolerance, gradients, device)
        patches: dict[int, tuple[Box, torch.Tensor, torch.Tensor]] = {}
        for t in range(start, first - 1, -1):
            box, samples, area = from_future(t)
            if t < end and box is not None:
                filled = fill_from_passes(held, t, box, unpack_past(past[t], area, samples, device), samples,
                                          gradients, device)
                if filled is not None:
                    patches[t] = (box, *(x.cpu() for x in filled))
        if references.references:
            refs_from_future = Tracer(references, to_future, 1, NO_LIMIT, tolerance, gradients, device,
                                      references.is_reference, MARGIN, sharp=True)
            for t in range(start, first - 1, -1):
                box, samples, area = refs_from_future(t)
                if t < end:
                    patch = reference_patch(held, t, patches.get(t), references.references.get(t), box, ref_past[t],
                                            samples, area, gradients, device)
                    if patch is not None:
                        patches[t] = patch
        for t in range(first, end):
            del past[t]
            ref_past.pop(t, None)
            item = Propagated(held.frames[t], held.holes[t], patches.pop(t, None))
            if carrier is not None:
                hole = item.hole
                filled, remaining = carrier.step(t, item.filled, hole, item.remaining)
                item = Propagated(held.frames[t], held.holes[t], patch_of(hole, filled, remaining))
            yield item

    def _pair(self, held: HeldFrames, flows: dict, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Pair i's flows ``(i -> i+1, i+1 -> i)`` at the frames' size, on the device."""
        return held_flows_at(flows[i], held.size, self.device)
