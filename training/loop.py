"""One training loop for every stage, driven by a :class:`Stage` spec.

The loop is deterministic and resumable: the batch of step ``s`` is drawn from
``training.data.step_rng(seed, s)`` alone, the model and AdamW state are checkpointed every few
minutes (``training/checkpoint.py``), and a resumed run continues with the same batches and the
same learning-rate schedule as an uninterrupted one. Ctrl-C or SIGTERM saves a checkpoint before
the process ends. Progress (tqdm) shows the loss and samples per second; every ``val_every``
steps the stage's validation runs and its scores go to ``<run>/log.jsonl``.
"""
from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from model.networks.base import Network

from .checkpoint import load_checkpoint, save_checkpoint, warm_start
from .data import step_rng
from .losses import WeightedLoss


@dataclass
class Stage:
    """What a stage trains and how.

    Attributes:
        name: the stage's name (``frame``, ``flow``).
        build: makes the untrained network.
        batch: ``(rng, step) -> dict of tensors`` on the CPU.
        forward: ``(network, batch) -> dict of outputs`` (the loss reads batch and outputs).
        loss: the weighted loss terms.
        validate: ``network -> {score: value}`` on held-out data (eval mode, no grad), or None.
        lr, warmup, total_steps: AdamW peak learning rate, linear warm-up steps, and the step at
            which the cosine decay reaches ``lr * final_lr``; later steps keep that rate.
        config: plain values describing the stage (written into checkpoints and weight cards).
    """

    name: str
    build: Callable[[], Network]
    batch: Callable[[np.random.Generator, int], dict]
    forward: Callable[[Network, dict], dict]
    loss: WeightedLoss
    validate: Callable[[Network], dict[str, float]] | None = None
    lr: float = 1e-3
    warmup: int = 500
    total_steps: int = 40_000
    final_lr: float = 0.05
    weight_decay: float = 1e-4
    config: dict = field(default_factory=dict)

    def learning_rate(self, step: int) -> float:
        """The rate at ``step``: linear warm-up, then cosine decay to ``lr * final_lr`` at ``total_steps``."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total_steps - self.warmup))
        return self.lr * (self.final_lr + (1.0 - self.final_lr) * 0.5 * (1.0 + math.cos(math.pi * progress)))


class _StopRequest:
    """Turns SIGTERM into a flag the loop checks, so a kill still saves a checkpoint."""

    def __init__(self):
        self.stop = False

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: no handler, Ctrl-C still works
            self._previous = None
        return self

    def _handle(self, signum, frame):
        self.stop = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
        return False


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def train(stage: Stage, run_dir: str | Path, minutes: float = 60.0, max_steps: int | None = None,
          resume: bool = False, device: str = "cpu", seed: int = 0, checkpoint_minutes: float = 3.0,
          val_every: int = 1000, progress: bool = True, init_from: str | Path | None = None) -> dict:
    """Train ``stage`` for ``minutes`` of wall time or until step ``max_steps``, checkpointing into ``run_dir``.

    ``resume=True`` continues from ``run_dir/checkpoint`` (a fresh start if there is none);
    ``resume=False`` refuses a ``run_dir`` that already holds a checkpoint. ``init_from``: a fresh
    run starts from that run's model weights (:func:`training.checkpoint.warm_start`). Returns a summary:
    ``{"step", "seconds", "losses": [per-step totals of this call], "validation": [...]}``.
    """
    run_dir = Path(run_dir)
    device = torch.device(device)
    torch.manual_seed(seed)  # the initial weights, too, depend on the seed alone
    network = stage.build().to(device=device, memory_format=torch.channels_last).train()  # oneDNN/cuDNN's fast layout
    optimizer = torch.optim.AdamW(network.parameters(), lr=stage.lr, weight_decay=stage.weight_decay)
    saved = run_dir / "checkpoint" / "state.json"
    if resume and saved.is_file() and json.loads(saved.read_text()).get("stage") != stage.name:
        raise ValueError(f"{run_dir} holds a checkpoint of the {json.loads(saved.read_text()).get('stage')!r} "
                         f"stage, not {stage.name!r}; pick that stage's --run-dir.")
    state = load_checkpoint(run_dir, network, optimizer) if resume else None
    if state is None and init_from is not None:  # a fresh run that starts from another run's weights
        warm_start(network, init_from)
    if state is None and not resume and (run_dir / "checkpoint").exists():
        raise ValueError(f"{run_dir} already holds a checkpoint; pass --resume to continue it or choose "
                         "another --run-dir.")
    if state is not None and state.get("seed", seed) != seed:
        raise ValueError(f"{run_dir}: the checkpoint was made with --seed {state['seed']}, not {seed}; a resumed run "
                         "must keep its seed to draw the same batches.")
    step = state["step"] if state else 0
    trained_seconds = state.get("seconds", 0.0) if state else 0.0
    history = state.get("validation", []) if state else []
    log = (run_dir / "log.jsonl")
    run_dir.mkdir(parents=True, exist_ok=True)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else contextlib.nullcontext())

    def checkpoint():
        save_checkpoint(run_dir, network, optimizer, {
            "stage": stage.name, "step": step, "seed": seed, "seconds": trained_seconds,
            "architecture": network.ARCHITECTURE, "network_config": network.config.to_json(),
            "config": stage.config, "validation": history})

    start = last_save = time.monotonic()
    deadline = start + minutes * 60.0
    losses: list[float] = []
    bar = tqdm(total=max_steps, initial=step, disable=not progress, desc=f"train {stage.name}", unit="step",
               dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 60.0)  # a log file stays short
    samples = 0
    try:
        with _StopRequest() as request, log.open("a") as log_file:
            while (max_steps is None or step < max_steps) and time.monotonic() < deadline and not request.stop:
                tick = time.monotonic()
                batch = _to(stage.batch(step_rng(seed, step), step), device)
                for group in optimizer.param_groups:
                    group["lr"] = stage.learning_rate(step)
                with autocast:
                    outputs = stage.forward(network, batch)
                    loss, terms = stage.loss(batch, outputs)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
                optimizer.step()
                step += 1
                losses.append(float(loss.detach()))
                samples += len(next(iter(v for v in batch.values() if torch.is_tensor(v))))
                trained_seconds += time.monotonic() - tick
                if step % 50 == 0:
                    log_file.write(json.dumps({"step": step, "loss": float(np.mean(losses[-50:])),
                                               **{k: round(v, 5) for k, v in terms.items()},
                                               "lr": stage.learning_rate(step - 1)}) + "\n")
                    log_file.flush()
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}", refresh=False,
                                samples_s=f"{samples / max(1e-6, time.monotonic() - start):.1f}")
                if stage.validate is not None and val_every and step % val_every == 0:
                    scores = _validate(stage, network)
                    history.append({"step": step, **scores})
                    log_file.write(json.dumps({"step": step, "validation": scores}) + "\n")
                    log_file.flush()
                    bar.write(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
                if time.monotonic() - last_save > checkpoint_minutes * 60.0:
                    checkpoint()
                    last_save = time.monotonic()
    finally:
        bar.close()
        checkpoint()
    return {"step": step, "seconds": time.monotonic() - start, "losses": losses, "validation": history}


def _validate(stage: Stage, network: Network) -> dict[str, float]:
    network.eval()
    try:
        with torch.no_grad():
            return stage.validate(network)
    finally:
        network.train()
