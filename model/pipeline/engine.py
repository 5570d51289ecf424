"""The streaming engine: every stage walks the video one frame at a time.

Device memory holds a few frames at once whatever the video length. The stage functions
(used by the ComfyUI nodes) read a whole ``[T,...]`` batch that already sits in host memory
and write their result into a preallocated tensor; :class:`StreamingInpainter` (used by the
CLI) runs all four stages on one frame at a time, so nothing grows with the video.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, ContextManager, Iterable, Iterator, Optional

import torch

from ..checks import check_same_video, check_video, hole_at, keep_known
from ..stages.robust_flow import FlowField, flow_storage_size, robust_flow_pair
from ..stages.convlstm_refine import RecurrentState

OnFrame = Optional[Callable[[int], None]]
StageTimer = Callable[[str], ContextManager]  # timer(stage) -> a context entered around that stage
_UNTIMED = nullcontext()


def _untimed(stage: str) -> ContextManager:
    return _UNTIMED


def _done(on_frame: OnFrame, t: int) -> None:
    if on_frame is not None:
        on_frame(t)


def inpaint_frames(frames: torch.Tensor, hole: torch.Tensor, inpainter, device: torch.device | str = "cpu",
                   on_frame: OnFrame = None) -> torch.Tensor:
    """Stage 1 over a video: ``frames [T,3,H,W]``, ``hole [T|1,1,H,W]`` -> ``P [T,3,H,W]`` in [0,1].

    The result is on the device of ``frames``; each frame visits ``device`` alone.
    """
    check_video(frames, hole)
    out = torch.empty_like(frames)
    for t in range(frames.shape[0]):
        frame, mask = frames[t:t + 1].to(device), hole_at(hole, t).to(device)
        out[t] = inpainter(frame, mask)[0].to(out.device)
        _done(on_frame, t)
    return out


def robust_flow(frames: torch.Tensor, hole: torch.Tensor, inpainted: torch.Tensor, estimator, completer,
                hole_dilation: int = 8, state: RecurrentState | None = None, device: torch.device | str = "cpu",
                on_frame: OnFrame = None, working_size: int = 0,
                storage_dtype: torch.dtype = torch.float32) -> tuple[FlowField, FlowField]:
    """Stage 2 over a video -> ``(F^P, F^I)``, each a :class:`FlowField` for ``[T,2,H,W]`` frames, computed on
    ``device`` and held on the device of ``frames`` (host memory in ComfyUI).

    ``working_size``: long side at which the flows are computed (0 = full resolution), see
    :func:`model.stages.robust_flow.robust_flow_pair`. The fields keep the flows at that size, in
    ``storage_dtype`` (the nodes use :data:`model.stages.robust_flow.FLOW_STORAGE_DTYPE`); ``FlowField.at``
    brings a frame's flow to the frame size when a stage uses it.

    ``flow[0]`` is zero with confidence 0, unless ``state`` (the previous chunk's last frame)
    is given: then it is the flow from frame 0 to that frame, so chunks join without a seam.
    """
    check_video(frames, hole)
    check_same_video(frames, inpainted, "inpainted")
    t_len, _, h, w = frames.shape
    stored = flow_storage_size(h, w, working_size)
    # held by the graph, on the device of the frames
    fields = [FlowField.empty(t_len, (h, w), stored, storage_dtype, frames.device) for _ in range(2)]
    prev = None
    if state is not None:
        state.check_size(h, w)
        prev = (state.frame.to(device), state.hole.to(device), state.inpainted.to(device))
    for t in range(t_len):
        cur = (frames[t:t + 1].to(device), hole_at(hole, t).to(device), inpainted[t:t + 1].to(device))
        if prev is not None:
            pair = robust_flow_pair(cur[0], prev[0], cur[1], prev[1], cur[2], prev[2], estimator, completer,
                                    hole_dilation, working_size, keep_working_size=True)
            for field, (flow, conf) in zip(fields, pair):
                field.put(t, flow, conf)
        prev = cur
        _done(on_frame, t)
    return fields[0], fields[1]


def blend_flow_fields(flow_p: FlowField, flow_i: FlowField, blender, on_frame: OnFrame = None,
                      device: torch.device | str | None = None) -> FlowField:
    """Stage 3 over a video: two :class:`FlowField` -> one, stored like its inputs (size, precision, device).

    ``blender(flow_p, conf_p, flow_i, conf_i) -> (flow, conf)`` works on ``[1,...]`` tensors at the frame
    size (each frame's flows brought to it on ``device``, default the fields' own, blended, and stored back).
    """
    if flow_p.flow.shape != flow_i.flow.shape or flow_p.size != flow_i.size:
        raise ValueError(f"Flow Blend: flow_p is {tuple(flow_p.flow.shape)} but flow_i is {tuple(flow_i.flow.shape)}; "
                         "connect both outputs of the same Robust Flow node.")
    out = FlowField(torch.empty_like(flow_p.flow), torch.empty_like(flow_p.confidence), flow_p.size)
    for t in range(len(flow_p)):
        pair = [x.to(device) if device is not None else x for x in (*flow_p.at(t), *flow_i.at(t))]
        flow, conf = blender(*pair)
        out.put(t, flow, conf)
        _done(on_frame, t)
    return out


def refine_frames(frames: torch.Tensor, hole: torch.Tensor, inpainted: torch.Tensor, flow: FlowField, refiner,
                  state: RecurrentState | None = None, device: torch.device | str = "cpu",
                  on_frame: OnFrame = None) -> tuple[torch.Tensor, RecurrentState]:
    """Stage 4 over a video, in order -> ``(output [T,3,H,W] in [0,1], state after the last frame)``.

    Pixels outside the hole are the input pixels, bit-exact. Passing the returned state to the
    next chunk (with the same state given to its Robust Flow) continues the video seamlessly.
    """
    check_video(frames, hole)
    check_same_video(frames, inpainted, "inpainted")
    if len(flow) != frames.shape[0] or flow.size != tuple(frames.shape[2:]):
        raise ValueError(f"flow: {len(flow)} frames of {flow.size[1]}x{flow.size[0]}, but frames "
                         f"are {frames.shape[0]} of {frames.shape[3]}x{frames.shape[2]}; connect the flow made from "
                         "these frames.")
    if state is not None:
        state.check_size(*frames.shape[2:])
    out = torch.empty_like(frames)
    for t in range(frames.shape[0]):
        frame, mask, filled = frames[t:t + 1].to(device), hole_at(hole, t).to(device), inpainted[t:t + 1].to(device)
        f, c = flow.at(t)
        result, memory = refiner(frame, mask, filled, f.to(device), c.to(device), state)
        state = RecurrentState(frame, mask, filled, result, memory)
        out[t] = result[0].to(out.device)
        _done(on_frame, t)
    return out, state


class StreamingInpainter:
    """All four stages, one frame at a time, carrying only the previous frame's state.

    >>> from model import stages
    >>> engine = StreamingInpainter(stages.frame_inpainter("telea"), stages.flow_estimator("dis_fast"),
    ...                             stages.flow_completer(), stages.flow_blender(), stages.refiner())
    >>> hole = torch.zeros(1, 1, 48, 64); hole[..., 16:32, 20:40] = 1
    >>> outputs = [engine.step(torch.rand(1, 3, 48, 64), hole) for _ in range(3)]  # one frame at a time
    >>> outputs[-1].shape
    torch.Size([1, 3, 48, 64])

    ``timer``: an optional ``timer(stage) -> context manager`` that :meth:`step` enters around each stage:
    ``"frame_inpaint"``, ``"robust_flow"`` (flow estimate and completion), ``"flow_blend"``, ``"refine"``
    (e.g. ``scripts/common.py``'s ``StageTimer``, used by ``scripts/benchmark.py``). Default: none.
    """

    def __init__(self, inpainter, estimator, completer, blender, refiner, hole_dilation: int = 8,
                 device: torch.device | str = "cpu", flow_working_size: int = 0, timer: StageTimer | None = None):
        self.inpainter, self.estimator, self.completer = inpainter, estimator, completer
        self.blender, self.refiner = blender, refiner
        self.hole_dilation, self.device = hole_dilation, device
        self.flow_working_size = flow_working_size  # long side of Robust Flow (0 = full resolution)
        self.timer: StageTimer = timer or _untimed
        self.state: RecurrentState | None = None

    @torch.inference_mode()
    def step(self, frame: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Inpaint the next frame ``[1,3,H,W]`` in [0,1] with hole ``[1,1,H,W]`` -> ``[1,3,H,W]``."""
        check_video(frame, hole)
        frame, mask = frame.to(self.device), hole_at(hole, 0).to(self.device)
        with self.timer("frame_inpaint"):
            filled = self.inpainter(frame, mask)
        if self.state is None:
            flow = torch.zeros(1, 2, *frame.shape[2:], device=self.device)
            conf = torch.zeros(1, 1, *frame.shape[2:], device=self.device)
        else:
            self.state.check_size(*frame.shape[2:])
            s = self.state
            with self.timer("robust_flow"):
                flow_p, flow_i = robust_flow_pair(frame, s.frame, mask, s.hole, filled, s.inpainted,
                                                  self.estimator, self.completer, self.hole_dilation,
                                                  self.flow_working_size)
            with self.timer("flow_blend"):
                flow, conf = self.blender(*flow_p, *flow_i)
        with self.timer("refine"):
            result, memory = self.refiner(frame, mask, filled, flow, conf, self.state)
        self.state = RecurrentState(frame, mask, filled, result, memory)
        return keep_known(result, frame, mask)

    def run(self, video: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> Iterator[torch.Tensor]:
        """Yield the output of each ``(frame, hole)`` pair in order."""
        for frame, hole in video:
            yield self.step(frame, hole)
