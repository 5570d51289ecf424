"""Tests only: make a batch worker process die mid-shot, as a machine lost in the middle of a shot.

:func:`environment` gives the environment variables to start processes with (local workers inherit the
test's ``os.environ``; a local Ray started meanwhile passes it on to its workers). Each such Python
process loads a ``sitecustomize`` that imports this module and calls :func:`install`: when
``model.io.video`` is imported (from wherever, e.g. Ray's copy of the pack), ``FrameWriter.write`` is
wrapped so that the writer of the output ``DYING_WRITER_OUTPUT`` ends its process with ``os._exit(17)``
after two frames, once: the file ``DYING_WRITER_FLAG`` marks that it happened. Nothing of this is in
``batch/`` or ``model/``.
"""
from __future__ import annotations

import importlib.abc
import os
import sys
from pathlib import Path

OUTPUT, FLAG = "DYING_WRITER_OUTPUT", "DYING_WRITER_FLAG"
EXIT_CODE = 17
TESTS = Path(__file__).resolve().parent


def environment(folder: Path, output: Path, flag: Path) -> dict[str, str]:
    """Variables that make the writer of ``output`` die after two frames in processes started with them, once
    (``flag`` is created then); ``folder`` receives the ``sitecustomize.py`` they load."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text("import dying_writer\n\ndying_writer.install()\n")
    path = os.pathsep.join(p for p in (str(folder), str(TESTS), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, OUTPUT: os.path.realpath(output), FLAG: str(flag)}


def install() -> None:
    """Patch ``model.io.video.FrameWriter`` when that module is imported (already imported: now)."""
    if not os.environ.get(OUTPUT) or not os.environ.get(FLAG):
        return
    if "model.io.video" in sys.modules:
        _patch(sys.modules["model.io.video"].FrameWriter)
    else:
        sys.meta_path.insert(0, _PatchOnImport())


def _patch(writer_class) -> None:
    write = writer_class.write
    target, flag = os.environ[OUTPUT], Path(os.environ[FLAG])

    def dying_write(self, frame) -> None:
        write(self, frame)
        if self.count == 2 and os.path.realpath(self.path) == target and not flag.exists():
            flag.touch()
            os._exit(EXIT_CODE)

    writer_class.write = dying_write


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds ``model.io.video`` with the other finders and patches it once it has run."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "model.io.video":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        sys.meta_path.remove(self)
        run = spec.loader.exec_module

        def exec_module(module) -> None:
            run(module)
            _patch(module.FrameWriter)

        spec.loader.exec_module = exec_module
        return spec
