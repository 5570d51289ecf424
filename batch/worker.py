"""Run one shot (``model.pipeline.job.run_job`` of its job and pipeline description), or skip it when it is done.

A shot is done when every output it writes is complete. A video is complete when it exists: the
FrameWriter writes ``<stem>.frvi-partial<suffix>`` and renames it into place only after the
last frame. A PNG folder fills up file by file, so a folder counts only with the marker
``.frvi-done`` inside, written after the last frame moved in and removed before a shot starts
again. A shot that fails (unreadable input, count mismatch...) returns its error instead of raising.
"""
from __future__ import annotations

import json
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import torch

from batch.shots import Shot
from model.io.encode import VIDEO_EXTENSIONS
from model.pipeline.job import run_job
from model.pipeline.run import Pipeline

DONE_MARKER = ".frvi-done"  # inside a PNG output folder: every frame is there


@dataclass
class ShotResult:
    """How one shot went: ``status`` is "done", "skipped" (already complete) or "failed" (see ``error``)."""

    index: int
    name: str
    status: str
    frames: int = 0
    seconds: float = 0.0
    error: str = ""
    machine: str = ""
    warnings: list[str] = field(default_factory=list)


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def is_complete(shot: Shot) -> bool:
    """True when every output of ``shot`` was finished by a run (video: exists; folder: holds the marker)."""
    return all(path.is_file() if is_video(path) else (path / DONE_MARKER).is_file() for path in shot.outputs)


def run_shot(shot: Shot, threads: int = 1, overwrite: bool = False) -> ShotResult:
    """Inpaint ``shot`` with ``threads`` CPU threads unless it is complete (``overwrite``: run it anyway)."""
    machine = socket.gethostname()
    if not overwrite and is_complete(shot):
        return ShotResult(shot.index, shot.name, "skipped", machine=machine)
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    folders = [path for path in shot.outputs if not is_video(path)]
    for folder in folders:
        (folder / DONE_MARKER).unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            report = run_job(shot.job, shot.config, Pipeline(shot.config))
    except Exception as error:  # one shot's failure is reported; the batch goes on
        message = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        return ShotResult(shot.index, shot.name, "failed", seconds=time.perf_counter() - start, error=message,
                          machine=machine)
    seconds = time.perf_counter() - start
    for folder in folders:
        (folder / DONE_MARKER).write_text(json.dumps({"frames": report["frames"], "seconds": round(seconds, 3)}))
    return ShotResult(shot.index, shot.name, "done", report["frames"], seconds, machine=machine,
                      warnings=[str(w.message) for w in caught])
