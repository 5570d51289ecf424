"""The pipeline built once from its description and run over a frame stream.

:func:`build_stages` is the one place that chooses, stage by stage, "the network if one is given, else
the classical path"; :class:`Pipeline` loads the networks a :class:`~model.pipeline.config.PipelineConfig`
asks for, builds the stages, and :meth:`Pipeline.run` streams ``(frame, hole)`` pairs through
[Flow Propagate and] the four stages, one frame at a time, in bounded memory.
"""
from __future__ import annotations

import time
from contextlib import closing, contextmanager
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import torch

from .. import stages
from ..masks import grow_hole
from ..networks import KINDS, Network
from ..networks.weights import find_weights, load_network
from ..propagate.keyframes import keyframe_inpainter
from ..propagate.stream import StreamingPropagator
from .background import in_background
from .config import PipelineConfig, device_problem
from .engine import StageTimer, StreamingInpainter
from .memory import release_free_memory

# Frames between hand-backs of the allocator's free memory. The pages handed back are faulted in again later:
# every 4 frames cost ~35 % speed at 720p, every 12 stayed within run-to-run noise and saved ~200 MB at 300 frames.
TRIM_EVERY = 12

Video = Iterable[tuple[torch.Tensor, torch.Tensor]]


class Stages(NamedTuple):
    """The four stages as objects, in :class:`~model.pipeline.engine.StreamingInpainter`'s order."""

    frame_inpainter: Any
    estimator: Any
    completer: Any
    blender: Any
    refiner: Any


class Frame(NamedTuple):
    """One frame out of :meth:`Pipeline.run`: the input ``frame [1,3,H,W]``, its ``hole [1,1,H,W]`` (grown as
    configured) and the ``output [1,3,H,W]`` in [0,1], all on the configured device."""

    frame: torch.Tensor
    hole: torch.Tensor
    output: torch.Tensor


def build_stages(config: PipelineConfig, networks: dict[str, Network] | None = None) -> Stages:
    """The stages ``config`` describes; each stage whose kind ``networks`` holds runs that network instead
    of its classical path (``frame_method``, ``"laplacian"``, ``blend``, ``"temporal_blend"``)."""
    net = (networks or {}).get
    frame = (stages.frame_inpainter("network", network=net("frame_inpaint"), working_size=config.working_size)
             if net("frame_inpaint") else
             stages.frame_inpainter(config.frame_method, config.radius, working_size=config.working_size))
    completer = (stages.flow_completer("network", net("flow_complete")) if net("flow_complete") else
                 stages.flow_completer("laplacian"))
    blender = (stages.flow_blender("network", net("flow_blend")) if net("flow_blend") else
               stages.flow_blender(config.blend))
    refiner = (stages.refiner("network", network=net("convlstm_refine")) if net("convlstm_refine") else
               stages.refiner("temporal_blend", config.strength))
    return Stages(frame, stages.flow_estimator(config.estimator), completer, blender, refiner)


def uses_networks(config: PipelineConfig) -> bool:
    """Whether ``config`` runs the trained networks (``learned=None``: when its folder holds all four)."""
    if config.learned is None:
        return set(find_weights(config.weights_dir)) >= set(KINDS)
    return config.learned


def load_networks(config: PipelineConfig) -> dict[str, Network]:
    """The networks ``config`` runs, by kind (loaded strictly; none when it runs the weight-free stages).

    ValueError when ``learned`` is asked for and ``weights_dir`` holds no weights.
    """
    if not uses_networks(config):
        return {}
    found = find_weights(config.weights_dir)
    if not found:
        raise ValueError(f"learned: no trained weights in {config.weights_dir}; run the weight-free stages "
                         "(--no-learned) or give a folder of weights.")
    return {kind: load_network(path, kind) for kind, path in found.items()}


def check_carried(config: PipelineConfig, references: dict | None) -> None:
    """ValueError when ``references`` are given to a pipeline without Flow Propagate, which carries them."""
    if references and not config.propagate:
        raise ValueError("references are carried by Flow Propagate: turn it on (--propagate).")


def keyframe_fill(config: PipelineConfig, built: Stages):
    """The fill of Flow Propagate's automatic keyframes ``(frame [1,3,H,W], hole [1,1,H,W]) -> [1,3,H,W]``, or None
    (``keyframes`` off): Frame Inpaint's own (``built.frame_inpainter``), the exemplar fill (without OpenCV contrib a
    ValueError naming the package to install), or the patch-based completion started from Frame Inpaint's colours
    (``textured``, :mod:`model.stages.patch_fill`)."""
    if config.keyframes == "off":
        return None
    if config.keyframes in ("exemplar", "textured"):
        return keyframe_inpainter(config.keyframes, config.radius, structure=built.frame_inpainter)
    return built.frame_inpainter


class Pipeline:
    """A :class:`PipelineConfig` built into stage objects once; :meth:`run` streams a video through them.

    >>> pipeline = Pipeline(PipelineConfig(learned=False, estimator="dis_fast"))
    >>> hole = torch.zeros(1, 1, 48, 64); hole[..., 16:32, 20:40] = 1
    >>> out = list(pipeline.run((torch.rand(1, 3, 48, 64), hole) for _ in range(3)))
    >>> len(out), out[-1].output.shape
    (3, torch.Size([1, 3, 48, 64]))

    ``networks``: the networks by kind, already loaded (default: those ``config`` asks for, loaded here).
    ValueError when ``config.device`` is not on this machine.
    ``timer``: see :class:`~model.pipeline.engine.StreamingInpainter`.
    """

    def __init__(self, config: PipelineConfig, networks: dict[str, Network] | None = None,
                 timer: StageTimer | None = None):
        problem = device_problem(config.device)
        if problem:
            raise ValueError(problem)
        self.config = config
        self.networks = load_networks(config) if networks is None else networks
        self.stages = build_stages(config, self.networks)
        self.keyframe_fill = keyframe_fill(config, self.stages)
        self.keyframes: list[int] = []  # the automatic keyframes of the last run
        self.timer = timer

    @property
    def learned(self) -> bool:
        """Whether any stage runs its trained network."""
        return bool(self.networks)

    def engine(self, stages: Stages | None = None) -> StreamingInpainter:
        """A fresh four-stage engine (no state: the start of a video); ``stages``: other stage objects in place of
        the built ones (an ablation, timed stages), with the configured settings."""
        return StreamingInpainter(*(stages or self.stages), hole_dilation=self.config.hole_dilation,
                                  device=self.config.device, flow_working_size=self.config.flow_working_size,
                                  timer=self.timer)

    def propagator(self, references: dict[int, torch.Tensor] | None = None) -> StreamingPropagator:
        """A fresh Flow Propagate stream with the configured settings (its flows: weight-free DIS, completed as
        ``propagation.completion`` says), carrying ``references`` (``{frame index: [1,3,H,W]}`` frames with their
        hole filled) if given, and making automatic keyframes if ``keyframes`` is on."""
        return StreamingPropagator(stages.flow_estimator(self.config.estimator), self.config.propagation,
                                   device=self.config.device, references=references, keyframe_fill=self.keyframe_fill)

    def run(self, video: Video, timing: dict[str, float] | None = None,
            references: dict[int, torch.Tensor] | None = None,
            poll: Callable[[], None] | None = None) -> Iterator[Frame]:
        """Each ``(frame [1,3,H,W], hole [1,1,H,W])`` of ``video`` in order -> a :class:`Frame`.

        With ``propagate`` and two or more torch threads, Flow Propagate runs (with the reading of
        ``video``) in a worker thread on one torch thread, the stages here on the others: its many small
        operations ran slower on two threads (196 vs 260 ms/frame at 720p under OMP_WAIT_POLICY=PASSIVE).
        ``timing`` (optional) gains seconds under ``"propagate"`` (less the seconds ``timing["read"]`` gained
        meanwhile, if the caller times its reading there), ``"wait"`` (the stages waiting for their input)
        and ``"inpaint"``. Free memory is handed back every :data:`TRIM_EVERY` frames.
        ``references``: frames with their hole filled, carried by Flow Propagate (``propagate`` must be on;
        see :mod:`model.propagate.references`). ``poll``: called a few times a second while the stages wait for
        Flow Propagate's worker (it may raise to stop the run, e.g. a Cancel button).
        """
        check_carried(self.config, references)
        timing = timing if timing is not None else {}
        for key in ("read", "propagate", "wait", "inpaint"):
            timing.setdefault(key, 0.0)
        if self.config.grow:
            video = ((frame, grow_hole(hole, self.config.grow)) for frame, hole in video)
        engine = self.engine()
        threads = torch.get_num_threads()
        overlapped = self.config.propagate and threads >= 2
        timing["overlapped"] = overlapped
        if self.config.propagate:  # (input, hole, frame with propagated pixels, hole left for the stages)
            propagator = self.propagator(references)
            self.keyframes = propagator.keyframes  # filled in as the run goes
            propagated = _timed(propagator.run(video), timing, "propagate")
            if overlapped:
                # A chunk's frames come out together: room for all of them (compact, ~4 bytes a pixel each)
                # lets the worker go on reading and tracing while the stages work through them.
                propagated = in_background(propagated, depth=propagator.chunk, threads=1, poll=poll)
            items = ((p.frame, p.hole, p.filled, p.remaining) for p in propagated)
        else:
            items = ((frame, hole, frame, hole) for frame, hole in video)
        with closing(items), _restored_threads(threads):
            if overlapped:
                torch.set_num_threads(threads - 1)
            count = 0
            while True:
                start = time.perf_counter()
                item = next(items, None)
                middle = time.perf_counter()
                timing["wait"] += middle - start
                if item is None:
                    return
                frame, hole, filled, remaining = item
                output = engine.step(filled, remaining)
                timing["inpaint"] += time.perf_counter() - middle
                yield Frame(frame, hole, output)
                count += 1
                if count % TRIM_EVERY == 0:
                    release_free_memory()  # keeps the resident size flat over long videos (see memory.py)


def _timed(items: Iterable, timing: dict, key: str) -> Iterator:
    """Yield ``items``, adding the seconds spent making each to ``timing[key]``, less the reading time
    (``timing["read"]``) spent meanwhile."""
    items = iter(items)
    while True:
        start, read_before = time.perf_counter(), timing["read"]
        item = next(items, None)
        timing[key] += time.perf_counter() - start - (timing["read"] - read_before)
        if item is None:
            return
        yield item


@contextmanager
def _restored_threads(threads: int) -> Iterator[None]:
    """Set torch's CPU threads back to ``threads`` on the way out (the stages may run with fewer meanwhile)."""
    try:
        yield
    finally:
        torch.set_num_threads(threads)
