"""Process set-up that every entry point does before torch loads (it imports nothing heavy itself).

The CLI, the batch runner, training and the benchmark call :func:`set_up` before ``import torch``:

- ``OMP_WAIT_POLICY=PASSIVE``: idle OpenMP threads sleep instead of spinning. Measured under a CPU hog
  (more runnable threads than cores), spinning (ACTIVE) made the CLI 1.4x slower and each frame of the
  stages 3-5x slower. OpenMP reads the variable once, when torch loads it, so it must be set first; a
  value already in the environment is kept (set it yourself to override).

Inside ComfyUI the pack changes nothing: the server owns its process.
"""
from __future__ import annotations

import os
import sys

SETTINGS = {"OMP_WAIT_POLICY": "PASSIVE"}
torch_was_loaded_first: bool | None = None
"""After :func:`set_up`: whether torch was already imported (then the settings came too late)."""


def set_up() -> None:
    """Set :data:`SETTINGS` (where the environment has no value of its own) before torch loads."""
    global torch_was_loaded_first
    torch_was_loaded_first = "torch" in sys.modules
    for name, value in SETTINGS.items():
        os.environ.setdefault(name, value)
