"""Stage 3 of the paper: the flow blend network H_f and the ConvLSTM refiner, trained together.

The frame and flow-completion networks of stages 1-2 are frozen: for every training window
they run exactly as in the product (``model.pipeline.engine.inpaint_frames`` and ``robust_flow`` with
DIS and the flow network), giving P, (F^P, confidence) and (F^I, confidence). The trained part,
:class:`BlendAndRefine`, blends the two flows with H_f and walks the window in order with the
refiner, carrying its output and ConvLSTM memory along the blended flow (gradients flow back
through every step of the window).

Windows (``training.data.video_window``): K frames of a real train clip (either time order:
the reverse-order pass; truth flow = DIS on the clean frames) or a synthetic video with true
flow; holes of every kind, static or moving.

Loss: 6·L1 hole + 0.4·(1 − SSIM) + 2·gradient L1 of every output; short-term warping loss
(each output against the previous output carried along the truth flow) and long-term warping
loss (against the window's first output, along the chained flow), weight 2 and 1, both inside
the grown hole where the clean frames say the flow holds (occlusions left out); 0.5·flow L1
of the blended flow against the truth flow inside the grown union of both holes (per-sample
normalised).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from model.pipeline import engine
from model.evaluation import metrics
from model.pipeline.config import DEFAULTS
from model.stages.robust_flow import DISFlowEstimator, FlowField
from model.networks import ConvLSTMRefineNet, FlowBlendNet
from model.networks.convlstm import ConvLSTMRefineConfig
from model.networks.flow_blend_net import FlowBlendConfig
from model.stages import flow_blender, flow_completer, frame_inpainter, refiner

from . import data as training_data
from .losses import WeightedLoss, compose_flow, consistent_region, flow_l1, flow_scale, grow, masked_l1, \
    structure_loss, warping_loss
from .loop import Stage

RECURRENT_CROPS = ((192, 320), (224, 288), (240, 352))
WINDOW = 5  # frames per training window (the issue asks K >= 5)


class _PairConfig:
    """The two networks' configs as one JSON object (what the training loop stores in a checkpoint)."""

    def __init__(self, blend: FlowBlendConfig, refine: ConvLSTMRefineConfig):
        self.blend, self.refine = blend, refine

    def to_json(self) -> str:
        return json.dumps({"blend": json.loads(self.blend.to_json()), "refine": json.loads(self.refine.to_json())})

    @classmethod
    def from_json(cls, text: str) -> "_PairConfig":
        values = json.loads(text)
        return cls(FlowBlendConfig.from_dict(values["blend"]), ConvLSTMRefineConfig.from_dict(values["refine"]))


class BlendAndRefine(nn.Module):
    """H_f (``blend``) and the ConvLSTM refiner (``refine``), the two networks stage 3 trains together."""

    ARCHITECTURE = "frvi.training.blend_and_refine"

    def __init__(self, blend: FlowBlendConfig | None = None, refine: ConvLSTMRefineConfig | None = None):
        super().__init__()
        self.blend = FlowBlendNet(blend)
        self.refine = ConvLSTMRefineNet(refine)
        self.config = _PairConfig(self.blend.config, self.refine.config)


class FrozenFront:
    """Stages 1-2 as the product runs them, with the frozen trained networks.

    ``(frames [T,3,H,W] clean in [0,1], hole [T,1,H,W]) -> {"inpainted", "flow_p", "conf_p", "flow_i",
    "conf_i"}`` (``[T,...]``; flow index t: frame t -> t-1, zero at t = 0).
    """

    def __init__(self, frame_network, flow_network, estimator: str = DEFAULTS.estimator):
        self.inpainter = frame_inpainter("network", network=frame_network)
        self.completer = flow_completer("network", network=flow_network)
        self.estimator = DISFlowEstimator(estimator)

    def __call__(self, frames: torch.Tensor, hole: torch.Tensor) -> dict[str, torch.Tensor]:
        corrupted = frames * (1.0 - hole) + 0.5 * hole
        with torch.no_grad():
            inpainted = engine.inpaint_frames(corrupted, hole, self.inpainter)
            flow_p, flow_i = engine.robust_flow(corrupted, hole, inpainted, self.estimator, self.completer)
        return {"frame": corrupted, "inpainted": inpainted, "flow_p": flow_p.flow, "conf_p": flow_p.confidence,
                "flow_i": flow_i.flow, "conf_i": flow_i.confidence}


def recurrent_batch(data: training_data.TrainingData, rng: np.random.Generator, front: FrozenFront, batch: int,
                    size: tuple[int, int], num_frames: int = WINDOW) -> dict[str, torch.Tensor]:
    """A batch of windows: ``{"target" [B,T,3,h,w] clean, "hole" [B,T,1,h,w], "truth_flow" [B,T,2,h,w]}``
    plus the frozen front's outputs (:class:`FrozenFront`), each ``[B,T,...]``."""
    samples = []
    for _ in range(batch):
        window = training_data.video_window(data, rng, num_frames, size, front.estimator)
        target = torch.stack([training_data.to_tensor(f) for f in window.frames])
        kind = training_data.HOLE_KINDS[int(rng.integers(len(training_data.HOLE_KINDS)))]
        hole = training_data.random_hole(num_frames, *size, rng, kind, data.object_masks, moving=rng.random() < 0.5)
        samples.append({"target": target, "hole": hole, "truth_flow": torch.from_numpy(window.flow),
                        **front(target, hole)})
    return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}


def _recurrent_forward(pair: BlendAndRefine, batch: dict) -> dict:
    """Blend every pair's flows, then walk the window: ``{"output" [B,T,3,h,w], "flow" [B,T-1,2,h,w]}``."""
    b, t_len = batch["target"].shape[:2]
    pairs = [batch[k][:, 1:].flatten(0, 1) for k in ("flow_p", "flow_i", "conf_p", "conf_i")]
    flow = pair.blend(*pairs).view(b, t_len - 1, 2, *batch["target"].shape[-2:])
    confidence = 0.5 * (batch["conf_p"][:, 1:] + batch["conf_i"][:, 1:])
    outputs, previous, memory = [], None, None
    for t in range(t_len):
        frame, hole, inpainted = batch["frame"][:, t], batch["hole"][:, t], batch["inpainted"][:, t]
        if t == 0:
            zero = torch.zeros_like(hole)
            out, memory = pair.refine(frame, hole, inpainted, torch.cat((zero, zero), 1), zero)
        else:
            out, memory = pair.refine(frame, hole, inpainted, flow[:, t - 1], confidence[:, t - 1], previous, memory,
                                      batch["hole"][:, t - 1])
        outputs.append(out)
        previous = out
    output = torch.stack(outputs, 1)
    dissimilarity, gradient = structure_loss(output.flatten(0, 1), batch["target"].flatten(0, 1),
                                             grow(batch["hole"].flatten(0, 1), 2))
    return {"output": output, "flow": flow, "ssim": dissimilarity, "gradient": gradient}


def _short_term(batch: dict, out: dict) -> torch.Tensor:
    """Warping loss between consecutive outputs along the truth flow, in the grown hole, occlusions out."""
    target, flow = batch["target"][:, 1:].flatten(0, 1), batch["truth_flow"][:, 1:].flatten(0, 1)
    region = grow(batch["hole"][:, 1:].flatten(0, 1), 2) * consistent_region(
        target, batch["target"][:, :-1].flatten(0, 1), flow)
    return warping_loss(out["output"][:, 1:].flatten(0, 1), out["output"][:, :-1].flatten(0, 1), flow, region)


def _long_term(batch: dict, out: dict) -> torch.Tensor:
    """Warping loss between each output and the window's first, along the chained truth flow."""
    losses, chain = [], None
    first, first_target = out["output"][:, 0], batch["target"][:, 0]
    for t in range(1, batch["target"].shape[1]):
        step = batch["truth_flow"][:, t]
        chain = step if chain is None else compose_flow(step, chain)[0]
        if t < 2:
            continue  # t = 1 is the short-term term
        region = grow(batch["hole"][:, t], 2) * consistent_region(batch["target"][:, t], first_target, chain)
        losses.append(warping_loss(out["output"][:, t], first, chain, region))
    return torch.stack(losses).mean() if losses else out["output"].sum() * 0.0


def _blended_flow(batch: dict, out: dict) -> torch.Tensor:
    truth = batch["truth_flow"][:, 1:].flatten(0, 1)
    union = torch.maximum(batch["hole"][:, 1:], batch["hole"][:, :-1]).flatten(0, 1)
    region = grow(union, 8)
    return flow_l1(out["flow"].flatten(0, 1), truth, region, flow_scale(truth, 1.0 - region))


def recurrent_loss() -> WeightedLoss:
    """Stage 3's loss terms (see the module docstring)."""
    return WeightedLoss({
        "hole": (6.0, lambda b, o: masked_l1(o["output"], b["target"], b["hole"])),
        "ssim": (0.4, lambda b, o: o["ssim"]),
        "gradient": (2.0, lambda b, o: o["gradient"]),
        "short_term": (2.0, _short_term),
        "long_term": (1.0, _long_term),
        "flow_l1": (0.5, _blended_flow),
    })


class RecurrentValidation:
    """The product's learned graph on windows of the validation clips: the trained blend + refiner
    against the classical confidence blend + temporal blend, on the same frozen P and flows.

    Returns ``{"psnr", "psnr_classical", "ewarp", "ewarp_classical"}`` (hole PSNR dB, E_warp 0-255),
    means over clips and hole kinds.
    """

    def __init__(self, root: Path, front: FrozenFront, clips: tuple[str, ...] = ("davis_blackswan", "davis_camel",
                                                                                  "tennis"), num_frames: int = 12):
        from .stages import _read_frames, _validation_holes
        root = Path(root)
        self.videos = []
        for name in clips:
            files = sorted((root / name / "frames").glob("*"))
            if len(files) < num_frames:
                continue
            target = _read_frames(files, tuple(range(num_frames)))
            gt_flow = metrics.ground_truth_flow(target)
            for hole in _validation_holes(root, [name], num_frames, tuple(range(num_frames))).values():
                self.videos.append((target, hole, gt_flow, front(target, hole)))
        self.classical = self._score(flow_blender("confidence"), refiner("temporal_blend"))

    def _score(self, blender, refine) -> dict[str, float]:
        psnrs, ewarps = [], []
        for target, hole, gt_flow, made in self.videos:
            flow = engine.blend_flow_fields(FlowField(made["flow_p"], made["conf_p"]),
                                            FlowField(made["flow_i"], made["conf_i"]), blender)
            output, _ = engine.refine_frames(made["frame"], hole, made["inpainted"], flow, refine)
            psnrs.append(metrics.video_mean(metrics.psnr(output, target, hole)))
            ewarps.append(metrics.video_mean(metrics.warping_error(output, hole, *gt_flow)))
        return {"psnr": float(np.mean(psnrs)), "ewarp": float(np.mean(ewarps))}

    def __call__(self, pair: BlendAndRefine) -> dict[str, float]:
        learned = self._score(flow_blender("network", pair.blend), refiner("network", network=pair.refine))
        return {**learned, **{f"{k}_classical": v for k, v in self.classical.items()}}


def recurrent_stage(data: training_data.TrainingData, front: FrozenFront, batch_size: int = 4,
                    validation_root: Path | None = None, total_steps: int = 12_000, lr: float = 1e-3,
                    crops: tuple = RECURRENT_CROPS, num_frames: int = WINDOW, build=BlendAndRefine) -> Stage:
    """Stage 3: H_f and the refiner on ``num_frames``-frame windows (crop ``(h, w)`` drawn per step from
    ``crops``); ``front`` runs the frozen stages 1-2; ``build`` makes the pair (tests pass small ones)."""
    def batch(rng: np.random.Generator, step: int) -> dict:
        size = crops[int(rng.integers(len(crops)))]
        return recurrent_batch(data, rng, front, batch_size, size, num_frames)
    validation = RecurrentValidation(validation_root, front) if validation_root else None
    return Stage("recurrent", build, batch, _recurrent_forward, recurrent_loss(), validation, lr=lr,
                 total_steps=total_steps, warmup=200,
                 config={"batch_size": batch_size, "crops": crops, "lr": lr, "total_steps": total_steps,
                         "window": num_frames, "real_share": 0.5,
                         "loss": "6 L1 hole + 0.4 (1-SSIM) + 2 gradient L1 + 2 short-term warp + 1 long-term warp "
                                 "+ 0.5 flow L1"})


__all__ = ["BlendAndRefine", "FrozenFront", "RecurrentValidation", "recurrent_batch", "recurrent_loss",
           "recurrent_stage"]
