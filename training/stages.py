"""The paper's training stages as :class:`~training.loop.Stage` specs, their validation, and weight export.

* ``frame`` (stage 1): :class:`~model.networks.FrameInpaintNet` on single frames with holes of
  every kind (``training.data.frame_batch``); loss: 6·L1 hole + 0.5·L1 valid (the U-Net's raw
  prediction on known pixels, which the upsampled fill blends with at the hole border)
  + 0.4·(1 − SSIM) + 2·gradient L1 + 0.05·TV (``training/losses.py`` says why).
* ``flow`` (stage 2): :class:`~model.networks.FlowCompleteNet` on flow fields with holes
  (``training.data.flow_batch``): synthetic videos with true flow, and DIS on the clean train
  clips; loss: L1 of the flow inside the hole, each sample divided by its flow's spread.
* ``recurrent`` (stage 3): the blend network H_f and the ConvLSTM refiner together, with the
  networks of stages 1-2 frozen; see ``training/recurrent.py``. Its run exports two files
  (``blend``, ``refine``: see :data:`EXPORTS`).

Validation reads ``root/clips`` (the validation set: scored, never trained on): hole PSNR of the
frame network against per-frame Telea, and flow end-point error inside the hole against the
Laplacian fill, on held-back synthetic videos and on DIS flow of the clean validation clips.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.evaluation import mask_generators, metrics
from model.pipeline.config import DEFAULTS
from model.stages.robust_flow import DISFlowEstimator, LaplacianFlowCompleter
from model.stages.frame_inpaint import ClassicalFrameInpainter
from model.networks import ConvLSTMRefineNet, FlowBlendNet, FlowCompleteNet, FrameInpaintNet
from model.resample import resize_image
from model.networks.weights import save_network

from . import data as training_data
from .losses import WeightedLoss, end_point_error, flow_l1, flow_scale, grow, masked_l1, structure_loss, \
    total_variation
from .loop import Stage

STAGES = ("frame", "flow", "recurrent")
KIND_OF_STAGE = {"frame": "frame_inpaint", "flow": "flow_complete", "recurrent": "flow_blend+convlstm_refine"}
# what can be exported: (stage whose run holds it, network class, prefix of its tensors in that checkpoint)
EXPORTS = {"frame": ("frame", FrameInpaintNet, ""), "flow": ("flow", FlowCompleteNet, ""),
           "blend": ("recurrent", FlowBlendNet, "blend."), "refine": ("recurrent", ConvLSTMRefineNet, "refine.")}


def run_of(export_name: str) -> str:
    """The stage (and default run folder ``runs/<stage>``) that trains ``export_name`` (a key of :data:`EXPORTS`)."""
    return EXPORTS[export_name][0]
FRAME_CROPS = ((240, 432), (224, 336), (192, 384), (256, 256))  # (h, w) at the 432x240 scale
FLOW_CROPS = ((240, 432), (224, 320), (200, 360))
VALIDATION_CLIPS = ("davis_blackswan", "davis_camel", "schoolgirls", "tennis")
VALIDATION_SIZE = (240, 432)


# ---------------------------------------------------------------------------------- frame stage
def _frame_forward(network: FrameInpaintNet, batch: dict) -> dict:
    """Scores at the network's working size (where it fills; the upsampling after it is fixed)."""
    raw, hole = network.fill_at_working_size(batch["frame"], batch["hole"])
    target = resize_image(batch["frame"], tuple(raw.shape[-2:]))
    composite = torch.where(hole > 0.5, raw, target)
    dissimilarity, gradient = structure_loss(composite, target, grow(hole, 2))
    return {"raw": raw, "target": target, "hole": hole, "composite": composite, "ssim": dissimilarity,
            "gradient": gradient}


def frame_loss() -> WeightedLoss:
    """The frame stage's loss terms (see the module docstring), at the network's working size."""
    return WeightedLoss({
        "hole": (6.0, lambda b, o: masked_l1(o["raw"], o["target"], o["hole"])),
        "valid": (0.5, lambda b, o: masked_l1(o["raw"], o["target"], 1.0 - o["hole"])),
        "ssim": (0.4, lambda b, o: o["ssim"]),
        "gradient": (2.0, lambda b, o: o["gradient"]),
        "tv": (0.05, lambda b, o: total_variation(o["composite"], grow(o["hole"], 1))),
    })


def frame_stage(data: training_data.TrainingData, batch_size: int = 8, validation_root: Path | None = None,
                total_steps: int = 40_000, lr: float = 1e-3, crops: tuple = FRAME_CROPS,
                build=FrameInpaintNet) -> Stage:
    """Stage 1: the frame inpainting network on random crops of ``data`` (crop ``(h, w)`` drawn per step from
    ``crops``); ``build`` makes the network (tests pass a small one); validation on ``validation_root``."""
    def batch(rng: np.random.Generator, step: int) -> dict:
        size = crops[int(rng.integers(len(crops)))]
        return training_data.frame_batch(data, rng, batch_size, size)
    validation = FrameValidation(validation_root) if validation_root else None
    return Stage("frame", build, batch, _frame_forward, frame_loss(), validation, lr=lr,
                 total_steps=total_steps,
                 config={"batch_size": batch_size, "crops": crops, "lr": lr, "total_steps": total_steps,
                         "loss": "6 L1 hole + 0.5 L1 valid + 0.4 (1-SSIM) + 2 gradient L1 + 0.05 TV"})


def _read_frames(files: list[Path], indices: tuple[int, ...]) -> torch.Tensor:
    """Frames ``indices`` of ``files`` at the validation size -> ``[N,3,240,432]`` in [0,1]."""
    import cv2
    frames = []
    for i in indices:
        image = cv2.resize(cv2.imread(str(files[i]), cv2.IMREAD_COLOR), VALIDATION_SIZE[::-1],
                           interpolation=cv2.INTER_AREA)
        frames.append(training_data.to_tensor(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
    return torch.stack(frames)


def _validation_frames(root: Path) -> dict[str, torch.Tensor]:
    """Frames 0 and 12 of the validation clips at 432x240 -> ``{clip: [2,3,240,432]}``."""
    out = {}
    for name in VALIDATION_CLIPS:
        files = sorted((root / name / "frames").glob("*"))
        if len(files) >= 14:  # 0 and 12, and their neighbours 1 and 13 for flow
            out[name] = _read_frames(files, (0, 12))
    return out


def _validation_holes(root: Path, names: list[str], num_frames: int = 24,
                      frames: tuple[int, ...] = (0, 12)) -> dict[tuple[str, str], torch.Tensor]:
    """Holes of the evaluation's protocols over ``num_frames`` frames of each clip, kept at ``frames``
    -> ``{(clip, kind): [len(frames),1,H,W]}``, in the order of :data:`training.data.HOLE_KINDS`."""
    donors = [p.name for p in sorted(root.iterdir()) if (p / "masks").is_dir() and p.name.startswith("davis_")]
    holes = {}
    for name in names:
        for kind in training_data.HOLE_KINDS:
            donor = None
            if kind == "objects":
                if not [d for d in donors if d != name]:
                    continue
                donor = mask_generators.load_mask_sequence(root / mask_generators.choose_donor(name, donors, 0)
                                                           / "masks", max_frames=num_frames)
            hole = mask_generators.make_hole(kind, num_frames, *VALIDATION_SIZE, seed=0, key=name, donor=donor)
            holes[(name, kind)] = hole[list(frames)]
    return holes


class FrameValidation:
    """Hole PSNR of the frame network against per-frame Telea on frames of the validation clips.

    Returns ``{"gain_<kind>": dB over Telea, ..., "gain": mean over kinds, "psnr": the network's mean}``.
    """

    def __init__(self, root: Path):
        self.frames = _validation_frames(Path(root))
        self.holes = _validation_holes(Path(root), list(self.frames))
        telea = ClassicalFrameInpainter("telea", 5)
        self.telea = {key: self._psnr(lambda f, h: torch.cat([telea(f[i:i + 1], h[i:i + 1]) for i in range(len(f))]),
                                      key) for key in self.holes}

    def _psnr(self, fill, key) -> float:
        frames, hole = self.frames[key[0]], self.holes[key]
        corrupted = frames * (1 - hole) + 0.5 * hole
        return float(metrics.psnr(fill(corrupted, hole), frames, hole).mean())

    def __call__(self, network: FrameInpaintNet) -> dict[str, float]:
        scores = {key: self._psnr(network, key) for key in self.holes}
        out = {}
        for kind in training_data.HOLE_KINDS:
            gains = [scores[k] - self.telea[k] for k in self.holes if k[1] == kind]
            if gains:
                out[f"gain_{kind}"] = float(np.mean(gains))
        out["gain"] = float(np.mean([v for k, v in out.items()]))
        out["psnr"] = float(np.mean(list(scores.values())))
        return out


# ----------------------------------------------------------------------------------- flow stage
def _flow_forward(network: FlowCompleteNet, batch: dict) -> dict:
    return {"flow": network(batch["flow"] * (1.0 - batch["unknown"]), batch["unknown"])}


def flow_loss() -> WeightedLoss:
    """The flow stage's loss: spread-normalised L1 inside the hole, and the plain end-point error (weight 0: logged)."""
    def normalised(batch, out):
        scale = flow_scale(batch["flow"], 1.0 - batch["unknown"])
        return flow_l1(out["flow"], batch["flow"], batch["unknown"], scale)
    return WeightedLoss({
        "flow_l1": (1.0, normalised),
        "epe": (1e-9, lambda b, o: end_point_error(o["flow"], b["flow"], b["unknown"])),  # logged only
    })


def flow_stage(data: training_data.TrainingData, real_flows: list[np.ndarray] | None, batch_size: int = 8,
               validation_root: Path | None = None, total_steps: int = 20_000, lr: float = 1e-3,
               crops: tuple = FLOW_CROPS, build=FlowCompleteNet, validate: bool = True) -> Stage:
    """Stage 2: the flow completion network on synthetic true flow and DIS flow of the clean train clips
    (``real_flows``, see :func:`training.data.clip_flows`); ``crops``, ``build`` as in :func:`frame_stage`;
    ``validate=False`` skips the held-back synthetic set too."""
    def batch(rng: np.random.Generator, step: int) -> dict:
        size = crops[int(rng.integers(len(crops)))]
        return training_data.flow_batch(data, rng, batch_size, size, real_flows)
    validation = FlowValidation(data, validation_root) if validate else None
    return Stage("flow", build, batch, _flow_forward, flow_loss(), validation, lr=lr,
                 total_steps=total_steps,
                 config={"batch_size": batch_size, "crops": crops, "lr": lr, "total_steps": total_steps,
                         "real_share": 0.5, "loss": "L1 of flow / per-sample flow std, inside the hole"})


class FlowValidation:
    """End-point error inside the hole: the network against the Laplacian fill.

    On ``synthetic`` held-back synthetic flows (seeds no training step uses) and, when ``root`` holds the
    validation clips, on DIS flow of their clean frames (pairs 1-0 and 13-12).
    Returns ``{"epe_synthetic", "epe_synthetic_laplacian", "epe_clips", "epe_clips_laplacian"}``.
    """

    HELD_BACK_SEED = 2_000_003

    def __init__(self, data: training_data.TrainingData, root: Path | None, synthetic: int = 24):
        self.sets = {"synthetic": [training_data.flow_batch(data, training_data.step_rng(self.HELD_BACK_SEED, i),
                                                            1, VALIDATION_SIZE, None) for i in range(synthetic)]}
        if root is not None:
            frames = _validation_frames(Path(root))
            dis = DISFlowEstimator(DEFAULTS.estimator)
            pairs = []
            for i, (name, clip) in enumerate(sorted(frames.items())):
                neighbours = _read_frames(sorted((Path(root) / name / "frames").glob("*")), (1, 13))
                for j, (frame, previous) in enumerate(zip(clip, neighbours)):
                    rng = training_data.step_rng(self.HELD_BACK_SEED, 1000 + 2 * i + j)
                    kind = training_data.HOLE_KINDS[(i + j) % len(training_data.HOLE_KINDS)]
                    hole = training_data.random_hole(2, *VALIDATION_SIZE, rng, kind, data.object_masks, True)
                    unknown = torch.nn.functional.max_pool2d(torch.maximum(hole[0], hole[1])[None], 17, 1, 8)
                    pairs.append({"flow": dis(frame[None], previous[None]), "unknown": unknown})
            if pairs:
                self.sets["clips"] = pairs
        self.laplacian = {name: self._epe(LaplacianFlowCompleter(), items) for name, items in self.sets.items()}

    @staticmethod
    def _epe(completer, items) -> float:
        errors = [float(end_point_error(completer(b["flow"] * (1 - b["unknown"]), b["unknown"]), b["flow"],
                                        b["unknown"])) for b in items]
        return float(np.mean(errors))

    def __call__(self, network: FlowCompleteNet) -> dict[str, float]:
        out = {}
        for name, items in self.sets.items():
            out[f"epe_{name}"] = self._epe(network, items)
            out[f"epe_{name}_laplacian"] = self.laplacian[name]
        return out


# --------------------------------------------------------------------------------------- export
def export_weights(stage_name: str, run_dir: str | Path, out: str | Path, notes: dict[str, str] | None = None,
                   settings: dict | None = None) -> Path:
    """Write the network ``stage_name`` (a key of :data:`EXPORTS`) of ``run_dir/checkpoint`` to ``out`` through
    :func:`model.networks.weights.save_network` (``blend`` and ``refine`` both come from the recurrent stage's run).

    ``settings``: config fields that change how the trained network runs, not its tensors (e.g. a
    working size tuned with the harness), set in the exported file. The metadata records the
    stage, step, training seconds, the stage config, the settings and ``notes`` (data, terms).
    """
    import json
    from safetensors.torch import load_file
    if stage_name not in EXPORTS:
        raise ValueError(f"unknown network {stage_name!r}; choose one of {sorted(EXPORTS)}.")
    trained_by, cls, prefix = EXPORTS[stage_name]
    folder = Path(run_dir) / "checkpoint"
    if not (folder / "model.safetensors").is_file():
        raise ValueError(f"{folder}: no checkpoint to export; train first (scripts/train.py --stage {trained_by}).")
    state = json.loads((folder / "state.json").read_text())
    if state.get("stage", trained_by) != trained_by:
        raise ValueError(f"{folder}: the checkpoint is of the {state['stage']!r} stage, but {stage_name!r} is trained "
                         f"by the {trained_by!r} stage; pick that stage's run folder.")
    if not prefix and state.get("architecture", cls.ARCHITECTURE) != cls.ARCHITECTURE:
        raise ValueError(f"{folder}: the checkpoint holds a {state['architecture']} network, not the {stage_name} "
                         "stage's; pick the run folder of that stage.")
    config = state.get("network_config")
    if config is not None and prefix:
        config = json.dumps(json.loads(config)[prefix.rstrip(".")])
    network = cls(cls.Config.from_json(config)) if config is not None else cls()
    tensors = load_file(str(folder / "model.safetensors"))
    network.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)
    if settings:
        import dataclasses
        fields = {f.name for f in dataclasses.fields(network.config)}
        unknown = sorted(set(settings) - fields)
        if unknown:
            raise ValueError(f"export: {unknown} are not config fields of {cls.__name__} (known: {sorted(fields)}).")
        network.config = dataclasses.replace(network.config, **settings)
    extra = {"training_stage": stage_name, "training_steps": str(state["step"]),
             "export_settings": json.dumps(settings or {}),
             "training_seconds": f"{state.get('seconds', 0.0):.0f}", "training_config": json.dumps(state["config"]),
             **(notes or {})}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_network(network, out, extra)
    return out


def weight_card(path: str | Path, run_dir: str | Path) -> str:
    """A Markdown card for an exported weights file: the network, how it was trained and its validation history."""
    import json
    from model.networks.weights import load_network, read_metadata
    path = Path(path)
    metadata = read_metadata(path)
    network = load_network(path)
    state = json.loads((Path(run_dir) / "checkpoint" / "state.json").read_text())
    config = json.loads(metadata["training_config"])
    lines = [f"# {path.name}", "",
             f"The pack's trained **{network.KIND}** network (`{metadata['architecture']}`, version "
             f"{metadata['version']}, {network.parameter_count():,} parameters), written by "
             f"`scripts/train.py export` from `{Path(run_dir).name}`.", "",
             "| | |", "|---|---|",
             f"| config | `{metadata['config']}` |",
             f"| set at export (tuned with the harness) | `{metadata.get('export_settings', '{}')}` |",
             f"| training stage | {run_of(metadata['training_stage'])} (`scripts/train.py --stage "
             f"{run_of(metadata['training_stage'])}`) |",
             f"| steps | {int(metadata['training_steps']):,} of batch {config['batch_size']} "
             f"({int(metadata['training_steps']) * config['batch_size']:,} samples) |",
             f"| training time | {int(metadata['training_seconds']) / 60:.0f} min of compute on "
             f"{metadata.get('training_device', '?')} |",
             f"| optimiser | AdamW, peak lr {config['lr']}, warm-up then cosine decay to step "
             f"{config['total_steps']:,} |",
             f"| loss | {config['loss']} |",
             f"| crops (h, w) | {', '.join(f'{h}x{w}' for h, w in config['crops'])} at the 432x240 scale |",
             f"| data | {metadata.get('training_data', '?')} |",
             f"| terms | {metadata.get('licence_note', '?')} |"]
    lines += [f"| {key[5:].replace('_', ' ')} | {value} |" for key, value in sorted(metadata.items())
              if key.startswith("note_")] + [""]
    history = state.get("validation", [])
    if history:
        keys = [k for k in history[-1] if k != "step"]
        lines += ["Validation during training, on held-out data never trained on (frames of `clips/`; for flow also "
                  "held-back synthetic videos; see `training/stages.py`):", "",
                  "| step | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        shown = history[:: max(1, len(history) // 8)] + ([history[-1]] if len(history) > 1 else [])
        for row in {r["step"]: r for r in shown}.values():
            lines.append(f"| {row['step']:,} | " + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")
        lines.append("")
    return "\n".join(lines)


__all__ = ["EXPORTS", "FLOW_CROPS", "FRAME_CROPS", "FlowValidation", "FrameValidation", "KIND_OF_STAGE", "STAGES",
           "export_weights", "run_of", "flow_loss", "flow_stage", "frame_loss", "frame_stage"]
