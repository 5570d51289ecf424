"""Training checkpoints: model and optimizer tensors as safetensors, step/RNG/config as JSON. No pickle.

A checkpoint is a folder ``<run>/checkpoint/`` holding ``model.safetensors``,
``optimizer.safetensors`` and ``state.json``. It is written into a fresh folder beside it and
swapped in by renames, so a process killed while saving leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

MODEL, OPTIMIZER, STATE = "model.safetensors", "optimizer.safetensors", "state.json"


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into flat tensors (``state.<param>.<name>``) and JSON-able groups."""
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"state.{index}.{name}"] = tensor.detach().to("cpu").contiguous()
    return tensors, {"param_groups": state["param_groups"]}


def load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: dict) -> None:
    """Inverse of :func:`optimizer_tensors`: load the state into ``optimizer`` (on its parameters' device)."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = tensor
    optimizer.load_state_dict({"state": state, "param_groups": groups["param_groups"]})


def save_checkpoint(run_dir: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    state: dict) -> Path:
    """Write ``model``, ``optimizer`` and the JSON-able ``state`` to ``run_dir/checkpoint`` atomically."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final, fresh, old = run_dir / "checkpoint", run_dir / "checkpoint.new", run_dir / "checkpoint.old"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    save_file({k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}, str(fresh / MODEL))
    tensors, groups = optimizer_tensors(optimizer)
    save_file(tensors, str(fresh / OPTIMIZER))
    (fresh / STATE).write_text(json.dumps({**state, "optimizer": groups}, indent=1))
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    fresh.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(run_dir: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer) -> dict | None:
    """Load ``run_dir/checkpoint`` (or a complete ``checkpoint.old`` left by a kill) into ``model`` and
    ``optimizer``; return its state dict, or None when there is no checkpoint."""
    run_dir = Path(run_dir)
    for folder in (run_dir / "checkpoint", run_dir / "checkpoint.old"):
        if all((folder / name).is_file() for name in (MODEL, OPTIMIZER, STATE)):
            break
    else:
        return None
    state = json.loads((folder / STATE).read_text())
    weights = load_file(str(folder / MODEL))
    device = next(model.parameters()).device
    model.load_state_dict({k: v.to(device) for k, v in weights.items()}, strict=True)
    tensors = {k: v.to(device) if not k.endswith(".step") else v for k, v in load_file(str(folder / OPTIMIZER)).items()}
    load_optimizer(optimizer, tensors, state.pop("optimizer"))
    return state


def warm_start(model: torch.nn.Module, run_dir: str | os.PathLike) -> list[str]:
    """Initialise ``model`` from the model tensors of another run's checkpoint; returns the names it took.

    A tensor of the same name and shape is copied; one whose shape differs only in its first
    dimension (e.g. a last layer that now predicts fewer channels) gets the leading slice; any
    other tensor keeps its fresh initial value. The optimiser state is not taken.
    """
    folder = Path(run_dir) / "checkpoint"
    if not (folder / MODEL).is_file():
        raise ValueError(f"--init-from {run_dir}: no checkpoint there (expected {folder / MODEL}).")
    source = load_file(str(folder / MODEL))
    taken = []
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            other = source.get(name)
            if other is None:
                continue
            if other.shape == tensor.shape:
                tensor.copy_(other)
            elif other.shape[1:] == tensor.shape[1:] and other.shape[0] >= tensor.shape[0] and other.ndim > 0:
                tensor.copy_(other[:tensor.shape[0]])
            else:
                continue
            taken.append(name)
    return taken
