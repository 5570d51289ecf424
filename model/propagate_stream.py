"""Flow Propagate over a stream of any length in bounded memory: overlapping windows of frames.

Flow Propagate looks at most ``D = max_distance`` frames each way, so what frame t receives
depends only on frames ``[t-D, t+D]``. The stream is cut into chunks of ``C`` frames; each chunk
is propagated (:func:`model.propagate.propagate_video`) inside a window holding ``context``
(default ``D``) frames on each side (fewer at the ends of the video), and only the chunk's
frames are emitted, in order. At most ``C + 2 context`` frames are held at any time, whatever
the video length.

How close to one whole-clip run (:func:`model.propagate.flow_propagate`, same memory layout of
the frames): a window's past pass starts with no sources where the whole-clip run may carry
sources from before the window. By induction, the window's source map of every frame is the
whole-clip map without the sources older than the window start; a chunk frame is at least
``context >= D`` frames after the window start and its sources are at most ``D`` frames away,
so it loses none (the future pass is the mirror image). The flows of a pair depend on that
pair only (computed once here, shared by the windows) and seams are blended frame by frame.
With whole-pixel flow this makes the output bit-identical (tested). With sub-pixel flow,
:mod:`model.trace` mixes four neighbours' sources bilinearly when they agree within a tolerance
(``has > 1 - 1e-4``, age spread ``< 1e-3``), so a neighbour whose source lies before the window
can add a tiny weight in the whole-clip run only. Measured (dogs_jump, 66 frames at 432x240,
D = 12, C = 24): the remaining hole identical, colours at most 0.3/255 apart, one 8-bit value
in 100,000 of the hole's changed; ``context = 2D`` brought it down to float rounding. The flow's own
rounding depends on the frames' memory
layout (channels-last or not), so the window keeps the layout of the frames it is given.

Cost: each frame is traced in ``(C + 2 context) / C`` windows on average (the flows are not
recomputed); memory is ``C + 2 context`` frames twice (the window and its propagated copy) plus
the flows of the window's pairs at the flow resolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import torch

from .checks import check_video, hole_at
from .propagate import PropagateConfig, downscale, flow_size, pair_flow, propagate_video


@dataclass
class Propagated:
    """One frame out of :class:`StreamingPropagator`, all on the host.

    Attributes:
        frame: ``[1,3,H,W]`` the input frame in [0,1].
        hole: ``[1,1,H,W]`` its binary hole (0/1).
        filled: ``[1,3,H,W]`` the frame with the propagated pixels filled in (every other pixel bit-exact).
        remaining: ``[1,1,H,W]`` the hole no frame within ``max_distance`` saw (0/1).
    """

    frame: torch.Tensor
    hole: torch.Tensor
    filled: torch.Tensor
    remaining: torch.Tensor


class StreamingPropagator:
    """Flow Propagate one frame in, one frame out (delayed by up to ``chunk + context`` frames).

    >>> from model import stages
    >>> propagator = StreamingPropagator(stages.flow_estimator("dis_fast"), stages.flow_completer(),
    ...                                  PropagateConfig(max_distance=2))
    >>> hole = torch.zeros(1, 1, 48, 64); hole[..., 16:32, 20:40] = 1
    >>> video = ((torch.rand(1, 3, 48, 64), hole) for _ in range(5))  # (frame, hole) pairs
    >>> [tuple(item.filled.shape) for item in propagator.run(video)]  # one out per frame in, in order
    [(1, 3, 48, 64), (1, 3, 48, 64), (1, 3, 48, 64), (1, 3, 48, 64), (1, 3, 48, 64)]

    Args:
        estimator: ``(target, source) -> flow [1,2,h,w]`` (``model.stages.flow_estimator``).
        completer: ``(flow, unknown) -> flow`` (``model.stages.flow_completer``).
        config: :class:`model.propagate.PropagateConfig`; ``max_distance`` must be at least 1
            (0, "the whole clip", cannot stream).
        chunk: frames emitted per window (``C``); 0 = ``2 * max_distance``. Larger chunks trace
            fewer frames twice but hold more frames.
        context: frames of context on each side of a chunk; 0 = ``max_distance`` (the least that
            works); more brings the result closer still to a whole-clip run (see the module doc).
        device: where the per-frame work runs.
    Attributes:
        peak_frames: the most frames held at once so far (at most ``chunk + 2 * context``).
    """

    def __init__(self, estimator, completer, config: PropagateConfig | None = None, chunk: int = 0,
                 context: int = 0, device: torch.device | str = "cpu"):
        self.config = config or PropagateConfig()
        self.config.validate()
        if self.config.max_distance < 1:
            raise ValueError("Flow Propagate on a stream: max_distance is 0 (the whole clip), which needs the whole "
                             "video in memory; give a distance of 1 frame or more (e.g. 12).")
        if chunk < 0:
            raise ValueError(f"Flow Propagate on a stream: chunk is {chunk}; use 0 (automatic) or more frames.")
        self.estimator, self.completer, self.device = estimator, completer, device
        if context and context < self.config.max_distance:
            raise ValueError(f"Flow Propagate on a stream: context is {context} frames, fewer than max_distance "
                             f"({self.config.max_distance}); use 0 (= max_distance) or more.")
        self.chunk = chunk or 2 * self.config.max_distance
        self.context = context or self.config.max_distance
        self.capacity = self.chunk + 2 * self.context
        self.peak_frames = 0

    @torch.inference_mode()
    def run(self, video: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> Iterator[Propagated]:
        """Yield a :class:`Propagated` for each ``(frame [1,3,H,W] in [0,1], hole [1,1,H,W])`` of ``video``, in order.

        Every frame must have the first frame's size (ValueError otherwise).
        """
        distance, chunk = self.context, self.chunk
        frames = holes = None  # [capacity,3,H,W] / [capacity,1,H,W]: frames base .. base + count - 1
        base = count = emitted = 0
        flows: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # pair i -> (i -> i+1, i+1 -> i), host
        for frame, hole in video:
            check_video(frame, hole)
            if frames is None:  # in the frames' memory layout: the flow's rounding depends on it
                layout = torch.channels_last if not frame.is_contiguous() and \
                    frame.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
                frames = torch.empty(self.capacity, *frame.shape[1:], dtype=frame.dtype, memory_format=layout)
                holes = torch.empty(self.capacity, 1, *frame.shape[2:])
            elif frame.shape[1:] != frames.shape[1:]:
                raise ValueError(f"frame {base + count} is {frame.shape[3]}x{frame.shape[2]} but the first frame is "
                                 f"{frames.shape[3]}x{frames.shape[2]}; every frame of a video must have one size.")
            frames[count], holes[count] = frame[0].to(frames.device), hole_at(hole, 0)[0].cpu()
            count += 1
            self.peak_frames = max(self.peak_frames, count)
            if base + count < emitted + chunk + distance:
                continue  # the chunk's last frame still lacks frames after it
            yield from self._window(frames[:count], holes[:count], base, emitted, emitted + chunk, flows)
            emitted += chunk
            drop = max(emitted - distance - base, 0)  # frames no later window needs
            for j in range(count - drop):  # move the kept frames to the front, in order (no overlap)
                frames[j], holes[j] = frames[j + drop], holes[j + drop]
            base, count = base + drop, count - drop
            for i in [i for i in flows if i < base]:
                del flows[i]
        if count and emitted < base + count:
            yield from self._window(frames[:count], holes[:count], base, emitted, base + count, flows)

    def _window(self, frames: torch.Tensor, holes: torch.Tensor, base: int, first: int, end: int,
                flows: dict) -> Iterator[Propagated]:
        """Propagate the window ``frames`` (video frames ``base ..``) and yield frames ``first .. end - 1``."""
        height, width = frames.shape[-2:]
        size = flow_size(height, width, self.config.flow_max_side)

        def small(i: int) -> tuple[torch.Tensor, torch.Tensor]:
            return downscale(frames[i:i + 1].to(self.device), holes[i:i + 1].to(self.device), size)

        def pair_flows(i: int) -> tuple[torch.Tensor, torch.Tensor]:
            if base + i not in flows:
                (frame_a, hole_a), (frame_b, hole_b) = small(i), small(i + 1)
                pair = pair_flow(frame_a, frame_b, hole_a, hole_b, self.estimator, self.completer,
                                 self.config.hole_dilation)
                flows[base + i] = tuple(f.detach().cpu() for f in pair)
            return flows[base + i]

        # same tolerance as model.propagate.flow_propagate: consistency is given in flow-resolution pixels
        out, remaining = propagate_video(frames, holes, pair_flows, self.config.max_distance,
                                         self.config.consistency * width / size[1], self.config.seam, self.device)
        for j in range(first - base, end - base):  # copies, so no caller keeps a whole window alive
            yield Propagated(frames[j:j + 1].clone(), holes[j:j + 1].clone(), out[j:j + 1].clone(),
                             remaining[j:j + 1].clone())
