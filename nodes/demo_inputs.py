"""Put the template inputs the pack ships (``demo/comfyui_inputs/``) into ComfyUI's input folder.

The workflows in ``workflows/`` load ``frvi_demo.mp4``, ``frvi_demo_mask.mp4``,
``frvi_demo_frames.png`` and ``frvi_demo_mask.png`` by name; copying them when ComfyUI loads the
pack lets a template opened from the browser run as it is. A file of that name already in the
input folder is never touched, and any failure only logs a warning: loading the pack goes on.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent.parent / "demo" / "comfyui_inputs"
NAMES = ("frvi_demo.mp4", "frvi_demo_mask.mp4", "frvi_demo_frames.png", "frvi_demo_mask.png")
PREFIX = "[frame-recurrent-inpaint]"

log = logging.getLogger(__name__)


def input_directory() -> Path:
    """ComfyUI's input folder (``folder_paths``; ImportError outside ComfyUI)."""
    import folder_paths
    return Path(folder_paths.get_input_directory())


def copy_new(source: Path, target: Path) -> bool:
    """Copy ``source`` to ``target`` unless ``target`` exists (checked atomically); True if written."""
    try:
        out = open(target, "xb")  # "x": fails if the file exists, so a user's file is never replaced
    except FileExistsError:
        return False
    try:
        with out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
    except BaseException:
        target.unlink(missing_ok=True)  # no half-written file left behind
        raise
    return True


def copy_demo_inputs(shipped: Path = SHIPPED) -> list[Path]:
    """Copy each shipped template input that is absent from ComfyUI's input folder; returns the files written.

    Logs one line naming what it wrote and where; on any failure logs a warning and returns what it wrote.
    """
    written: list[Path] = []
    try:
        target = input_directory()
    except ImportError:  # not inside ComfyUI (tests, scripts): there is no input folder to fill
        log.debug("%s no ComfyUI input folder (folder_paths is not importable): template inputs not copied", PREFIX)
        return written
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in NAMES:
            if copy_new(shipped / name, target / name):
                written.append(target / name)
    except Exception as error:  # never break loading the pack
        log.warning("%s could not copy the template inputs %s into ComfyUI's input folder: %s: %s",
                    PREFIX, ", ".join(NAMES), type(error).__name__, error)
    if written:
        log.info("%s wrote the template inputs %s into %s (they were absent; the pack's workflows load them)",
                 PREFIX, ", ".join(p.name for p in written), written[0].parent)
    return written
