"""Helpers the scripts share: size arguments, a panning test video with a moving hole, clip writing, an engine
of the pipeline description with some stages swapped, stage timing, peak RSS of a command.

Scripts import it as ``scripts.common`` after putting the repository root on ``sys.path`` (and, entry points
that time things, after ``model.runtime.set_up()``). It imports no torch at module level.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
# A real 1280x720 frame to cut the panning video from, where the shared data sits next to the checkout.
DEFAULT_TEXTURE = REPO.parent / "shared" / "data" / "clips" / "dog_walk" / "frames" / "00000.jpg"


def parse_size(text: str, option: str = "size", source_ok: bool = False,
               min_side: int = 1) -> tuple[int, int] | None:
    """``"432x240"`` -> ``(432, 240)`` (width, height); anything else raises ``ValueError`` naming ``option``.

    ``source_ok``: also accept ``"source"`` -> ``None`` (evaluate.py: keep the clip's own size).
    ``min_side``: the smallest width and height accepted (evaluate.py: 8).
    """
    if source_ok and text == "source":
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        also = " or 'source'" if source_ok else ""
        raise ValueError(f"{option} {text!r}: expected WIDTHxHEIGHT (e.g. 432x240){also}.") from None
    if w < min_side or h < min_side:
        raise ValueError(f"{option} {text!r}: frames must be at least {min_side}x{min_side}.")
    return w, h


def parse_sizes(values: list[str], option: str = "--sizes") -> list[tuple[int, int]]:
    """``["128x128,432x240", "1280x720"]`` -> ``[(128, 128), (432, 240), (1280, 720)]``: sizes given apart or
    comma-separated (ValueError naming ``option`` on a bad one)."""
    return [parse_size(text, option) for value in values for text in value.split(",") if text.strip()]


def moving_box(width: int, height: int) -> Callable[[int], np.ndarray]:
    """``hole(t)``: a box of 3/16 x 5/12 of the frame swinging left and right (period 120 frames), ``H x W`` uint8
    (255 = missing)."""
    bw, bh = max(width * 3 // 16, 1), max(height * 5 // 12, 1)

    def hole(t: int) -> np.ndarray:
        x = int(width / 2 - bw / 2 + 0.3 * width * np.sin(2 * np.pi * t / 120))
        mask = np.zeros((height, width), np.uint8)
        mask[height // 3:height // 3 + bh, x:x + bw] = 255
        return mask
    return hole


class PanningVideo:
    """Frames of a texture seen through a window that pans back and forth (1.5 px/frame in x, 0.5 px/frame
    in y), generated on demand so any length costs no memory.

    The texture is ``texture_path`` (an image, e.g. a real video frame) or, when that is not a file,
    smoothed random noise (the same every time).
    """

    def __init__(self, width: int, height: int, texture_path: Path | None = None, pad: int = 24):
        self.width, self.height, self.pad = width, height, pad
        size = (width + 2 * pad, height + 2 * pad)
        image = cv2.imread(str(texture_path)) if texture_path and Path(texture_path).is_file() else None
        if image is None:
            rng = np.random.default_rng(0)
            image = rng.integers(0, 256, (max(size[1] // 8, 2), max(size[0] // 8, 2), 3), dtype=np.uint8)
            self.source = "smoothed random texture"
        else:
            self.source = str(texture_path)
        self.texture = cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_CUBIC), cv2.COLOR_BGR2RGB)

    def _offset(self, t: int, speed: float) -> int:
        period = 2 * self.pad
        phase = (speed * t) % (2 * period)
        return int(round(phase if phase <= period else 2 * period - phase))

    def frame_array(self, t: int) -> np.ndarray:
        """Frame ``t`` as ``H x W x 3`` uint8 RGB (a view into the texture)."""
        x, y = self._offset(t, 1.5), self._offset(t, 0.5)
        return self.texture[y:y + self.height, x:x + self.width]

    def frame(self, t: int):
        """Frame ``t`` as a torch tensor ``[1,3,H,W]`` float32 in [0,1]."""
        import torch
        return torch.from_numpy(np.ascontiguousarray(self.frame_array(t))).permute(2, 0, 1)[None].float() / 255.0


def write_clip(folder: Path, video: PanningVideo, count: int, hole: Callable[[int], np.ndarray]) -> tuple[Path, Path]:
    """Write ``count`` frames of ``video`` to ``folder/input.avi`` (MJPG, 24 fps) and their masks to
    ``folder/masks/00000.png``, ... -> both paths. ``hole(t)``: the mask of frame ``t``, ``H x W`` uint8
    (255 = missing)."""
    path, masks = folder / "input.avi", folder / "masks"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, (video.width, video.height))
    masks.mkdir()
    for t in range(count):
        writer.write(cv2.cvtColor(np.ascontiguousarray(video.frame_array(t)), cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(masks / f"{t:05d}.png"), hole(t))
    writer.release()
    return path, masks


def make_engine(config, networks: dict | None = None, timer=None, swap: Callable | None = None):
    """A fresh ``StreamingInpainter`` of the stages ``config`` (a ``PipelineConfig``) describes, run by the networks
    of ``networks`` (by kind; none: the classical paths), as ``Pipeline(config).engine()`` builds it.

    ``swap(stages) -> stages``: other stage objects in place of some (``lambda s: s._replace(estimator=ZeroFlow())``
    for an ablation row, a timed estimator for a benchmark). ``timer``: see ``StreamingInpainter``.
    """
    from model.pipeline.run import Pipeline
    pipeline = Pipeline(config, networks or {}, timer)
    return pipeline.engine(swap(pipeline.stages) if swap is not None else None)


class StageTimer:
    """Wall time of named stages: ``with timer("refine"): ...`` adds the block's seconds to ``totals["refine"]``
    and appends them to ``calls["refine"]``.

    Pass it as ``StreamingInpainter(..., timer=timer)`` to time the engine's stages, and :meth:`wrap` any
    other callable. On a CUDA ``device`` the device is synchronised before and after each block, so queued
    work is charged to the stage that queued it.
    """

    def __init__(self, device: str = "cpu"):
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, list[float]] = defaultdict(list)
        self._sync = lambda: None
        if str(device).startswith("cuda"):
            import torch
            self._sync = torch.cuda.synchronize

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self._sync()
        start = time.perf_counter()
        yield
        self._sync()
        elapsed = time.perf_counter() - start
        self.totals[name] += elapsed
        self.calls[name].append(elapsed)

    def wrap(self, fn: Callable, name: str) -> Callable:
        """``fn``, each call timed under ``name``."""
        def timed(*args, **kwargs):
            with self(name):
                return fn(*args, **kwargs)
        return timed

    def clear(self) -> None:
        """Forget every time recorded so far."""
        self.totals.clear()
        self.calls.clear()


# Linux carries a process's RSS at fork() into its child's ru_maxrss (it survives exec), so a child
# forked from a large process would report at least that size. A small launcher process starts the
# measured command instead and reports that grandchild's own peak.
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:], stdout=open(sys.argv[1], "w"), stderr=subprocess.STDOUT)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss(command: list[str], cwd: Path, log: Path, threads: int = 0) -> tuple[int, float, float]:
    """Run ``command`` (its output to ``log``; ``OMP_NUM_THREADS=threads`` if given) through a small launcher
    -> (exit code, peak RSS of the command alone in MiB, wall seconds)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)} if threads else None
    start = time.perf_counter()
    report = subprocess.run([sys.executable, "-c", _LAUNCHER, str(log), *command], cwd=cwd, env=env,
                            capture_output=True, text=True, check=True).stdout.split()
    return int(report[0]), int(report[1]) / 1024, time.perf_counter() - start  # ru_maxrss: KiB on Linux
