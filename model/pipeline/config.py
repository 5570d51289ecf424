"""The one description of the pipeline: every setting of Flow Propagate and the four stages, defaults once.

The CLI parses into a :class:`PipelineConfig`, a batch shot list holds one per shot, the ComfyUI nodes
take their widget defaults from it, and the measurement scripts build their rows with it. What it
describes is built once into stage objects by :func:`model.pipeline.build.build_pipeline` and run over
a frame stream by :meth:`model.pipeline.build.Pipeline.run`.

>>> config = PipelineConfig(propagate=True, learned=False)
>>> config.estimator, config.propagation.max_distance
('dis_medium', 12)
>>> PipelineConfig(strength=2.0)
Traceback (most recent call last):
...
ValueError: strength must lie in 0..1, got 2.0.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch

from .. import stages
from ..networks.weights import PACK_WEIGHTS
from ..propagate.whole_clip import PropagateConfig
from ..stages.robust_flow import FLOW_WORKING_SIZE


KEYFRAME_FILLS = ("off", "frame_inpaint", "exemplar", "textured")
"""Flow Propagate's automatic keyframes (:mod:`model.propagate.keyframes`): off, filled by Frame Inpaint's own fill
(its network when ``learned``, else ``frame_method``), by the exemplar fill (OpenCV contrib's shift-map), or
textured: the patch-based completion that continues the surrounding texture, started from Frame Inpaint's own
colours (:mod:`model.stages.patch_fill`, no OpenCV contrib)."""


def classical(names: tuple[str, ...]) -> tuple[str, ...]:
    """The weight-free choices of a stage (the learned ``"network"`` path is chosen by ``learned``)."""
    return tuple(name for name in names if name != "network")


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of the whole pipeline (every field has the default the CLI, batch and nodes share).

    Attributes:
        propagate: run Flow Propagate first (copy what other frames saw into the hole); the stages then
            fill only what no frame saw.
        propagation: Flow Propagate's own settings (``max_distance``, ``consistency``, ...).
        learned: run the trained network of every stage whose weights ``weights_dir`` holds; None = on
            when it holds all four (the pack ships all four), False = the weight-free stages.
        weights_dir: folder of ``*.safetensors`` weights, found by their ``kind`` metadata.
        frame_method, radius, working_size: stage 1 without its network (OpenCV Telea, NS or exemplar, neighbourhood
            in pixels) and the long side at which the hole is filled (0 = full resolution, or the network's
            own working size).
        estimator, hole_dilation, flow_working_size: stage 2, the DIS preset (also Flow Propagate's), pixels
            of flow re-filled around the hole, the long side at which flows are computed (0 = full size).
        blend: stage 3 without its network.
        strength: stage 4 without its network (0..1, how much of the previous fill is carried).
        keyframes: with ``propagate``, what no frame saw is filled once on automatic keyframes and carried forward
            along the motion, by one of :data:`KEYFRAME_FILLS` (``"off"``: Frame Inpaint fills it on every frame).
        grow: pixels every hole is grown by first (negative shrinks).
        device: ``cpu``, ``cuda`` or ``cuda:N``: networks, warps, Flow Propagate's tracing and the refiner.
    """

    propagate: bool = False
    propagation: PropagateConfig = field(default_factory=PropagateConfig)
    learned: bool | None = None
    weights_dir: str = str(PACK_WEIGHTS)
    frame_method: str = "telea"
    radius: int = 5
    working_size: int = 0
    estimator: str = "dis_medium"
    hole_dilation: int = 8
    flow_working_size: int = FLOW_WORKING_SIZE
    blend: str = "confidence"
    strength: float = 0.6
    keyframes: str = "off"
    grow: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    def problem(self) -> str | None:
        """What is wrong with these settings (a sentence that names the setting), or None."""
        choices = {"frame_method": classical(stages.FRAME_METHODS), "estimator": classical(stages.ESTIMATORS),
                   "blend": classical(stages.BLENDS), "keyframes": KEYFRAME_FILLS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                return f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}."
        if not 0.0 <= self.strength <= 1.0:
            return f"strength must lie in 0..1, got {self.strength}."
        if self.radius < 1:
            return f"radius must be at least 1, got {self.radius}."
        for name in ("working_size", "flow_working_size"):
            if getattr(self, name) < 0:
                return f"{name} must be 0 (full resolution) or a positive number of pixels, got {getattr(self, name)}."
        if self.hole_dilation < 0:
            return f"hole_dilation must be 0 or more pixels, got {self.hole_dilation}."
        if self.keyframes != "off" and not self.propagate:
            return (f"keyframes {self.keyframes!r} are made by Flow Propagate: turn it on (propagate) or set keyframes "
                    "off.")
        if self.propagation.max_distance < 1:  # the stream needs a bounded window
            return f"max_distance must be at least 1 frame, got {self.propagation.max_distance}."
        try:
            self.propagation.validate()
        except ValueError as error:
            return str(error)
        return device_problem(self.device, here=False)

    def replace(self, **changes) -> "PipelineConfig":
        """A copy with ``changes``; Flow Propagate's settings may be given by name too (``max_distance=6``)."""
        mine = {f.name for f in fields(self)}
        propagation = {k: changes.pop(k) for k in list(changes) if k not in mine}
        if propagation:
            changes["propagation"] = replace(changes.get("propagation", self.propagation), **propagation)
        return replace(self, **changes)


def device_problem(name: str, here: bool = True) -> str | None:
    """Why the device ``name`` cannot run (a sentence), or None when it can.

    ``here=False`` checks the name only: a batch reads its shots on a machine that may have no GPU, for
    workers that do; each shot checks its device again where it runs.
    """
    try:
        device = torch.device(name)
    except RuntimeError:
        return f"--device {name!r}: expected cpu, cuda or cuda:N."
    if device.type == "cpu":
        return None
    if device.type != "cuda":
        return f"--device {name!r}: only cpu and cuda devices are supported."
    if not here:
        return None
    if not torch.cuda.is_available():
        return f"--device {name}: this torch build or machine has no CUDA device; use --device cpu."
    if device.index is not None and device.index >= torch.cuda.device_count():
        return f"--device {name}: there are only {torch.cuda.device_count()} CUDA devices (cuda:0 ..)."
    return None


DEFAULTS = PipelineConfig()
"""The defaults, for widgets and help texts that show them."""
