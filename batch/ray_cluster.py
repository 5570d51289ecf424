"""Run shots on a Ray cluster: one task per shot, with declared resources, retried when its worker dies.

Ray is optional (``pip install ray``); only this module imports it, and only when called. The
pack's code (``model/``, ``batch/``, ``weights/``) travels with the tasks as Ray's
``working_dir``, so every machine runs the driver's version; the machines need the pack's Python
requirements (torch, OpenCV, PyAV) and the same paths to the footage (shared storage).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from batch.shots import Shot
from batch.worker import ShotResult, run_shot
from model import runtime

ROOT = Path(__file__).resolve().parents[1]
CODE = ("model", "batch", "weights")  # what a task imports and reads


def import_ray():
    """The ``ray`` module, or ImportError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError("--ray needs Ray, an optional extra of the pack: pip install ray") from None
    return ray


def connect(address: str, num_cpus: int | None = None) -> bool:
    """Join the cluster at ``address`` ("auto", "HOST:6379", "ray://HOST:10001") or start one here ("local",
    with ``num_cpus``, default all), shipping the pack's code to its machines.

    Returns True when this call started Ray (then call ``ray.shutdown()`` when done); a Ray already
    initialised in this process is used as it is (then its workers must find the pack themselves).
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    with tempfile.TemporaryDirectory(prefix="frvi-code-") as folder:  # uploaded by ray.init
        settings = {key: os.environ[key] for key in runtime.SETTINGS if key in os.environ}  # runtime.set_up()'s
        runtime_env = {"working_dir": _stage_code(Path(folder)), "env_vars": settings}
        if address == "local":
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, runtime_env=runtime_env)
        else:
            ray.init(address=address, runtime_env=runtime_env)
    return True


def shot_resources(shot: Shot, cpus: float) -> dict:
    """What one shot's task reserves: ``cpus`` CPUs, and one GPU when the shot runs on CUDA."""
    on_cuda = shot.config.device.startswith("cuda")
    return {"num_cpus": cpus, "num_gpus": 1 if on_cuda else 0}


def run_on_ray(shots: list[Shot], cpus: int = 1, max_retries: int = 2,
               overwrite: bool = False) -> Iterator[ShotResult]:
    """Yield one ShotResult per shot as the tasks finish (Ray must be connected: see :func:`connect`).

    A task whose worker or machine dies is run again up to ``max_retries`` times, then reported failed.
    """
    ray = import_ray()
    _warn_if_infeasible(ray, [shot_resources(shot, cpus) for shot in shots])
    task = ray.remote(_task)
    pending = {task.options(name=f"shot {shot.name}", max_retries=max_retries, **shot_resources(shot, cpus))
               .remote(shot, cpus, overwrite): shot for shot in shots}
    while pending:
        (ready,), _ = ray.wait(list(pending), num_returns=1)
        shot = pending.pop(ready)
        try:
            yield ray.get(ready)
        except ray.exceptions.RayTaskError as error:  # raised outside run_shot's own reporting
            yield ShotResult(shot.index, shot.name, "failed", error=str(error).splitlines()[0])
        except ray.exceptions.RayError as error:  # the worker or its machine died on every attempt
            yield ShotResult(shot.index, shot.name, "failed", error=f"its worker died, {max_retries + 1} "
                             f"time(s) ({type(error).__name__})")


def _task(shot: Shot, threads: int, overwrite: bool) -> ShotResult:
    return run_shot(shot, threads, overwrite)


def _stage_code(folder: Path) -> str:
    """Copy what a task needs (CODE, without caches) into ``folder``: Ray uploads it to every machine."""
    for name in CODE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            shutil.copy2(source, folder / name)
    return str(folder)


def _warn_if_infeasible(ray, needs: list[dict]) -> None:
    """Say so when no machine of the cluster has the CPUs/GPUs a shot asks for (its task would wait)."""
    machines = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    for need in {(n["num_cpus"], n["num_gpus"]) for n in needs}:
        if not any(m.get("CPU", 0) >= need[0] and m.get("GPU", 0) >= need[1] for m in machines):
            print(f"warning: no machine of the Ray cluster has the {need[0]} CPUs and {need[1]} GPUs a shot asks "
                  "for; its tasks wait until one joins (lower --cpus-per-shot?).", flush=True)
