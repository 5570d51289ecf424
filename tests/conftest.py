"""Shared fixtures: the pack loaded the way ComfyUI loads it, the devices, and the synthetic clip (clips.py)."""
from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from typing import NamedTuple

import pytest
import torch

from clips import REPO, ClipFiles, synthetic_clip

PACK_NAME = "comfyui-frame-recurrent-inpaint"  # a clone's folder name, hyphens and all

# The tests use tiny tensors: one thread is as fast, and on a shared 2-core machine a second
# spinning OpenMP thread made per-frame loops 10-40x slower (measured).
torch.set_num_threads(1)


def load_pack():
    """Import the repo folder as a package exactly as ComfyUI does (``spec_from_file_location``)."""
    if PACK_NAME in sys.modules:
        return sys.modules[PACK_NAME]
    spec = importlib.util.spec_from_file_location(PACK_NAME, REPO / "__init__.py",
                                                  submodule_search_locations=[str(REPO)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)
    return module


def load_script(name: str):
    """``scripts/<name>.py`` as the module ``frvi_<name>`` (loaded once; dataclasses look their module up in
    ``sys.modules``)."""
    module_name = f"frvi_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, REPO / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each device the tests can run on: the CPU, and CUDA where a GPU is present (there the runners'
    bf16/fp16 autocast branch runs too)."""
    return torch.device(request.param)


@pytest.fixture(scope="session")
def pack():
    return load_pack()


@pytest.fixture(scope="session")
def nodes(pack):
    """Node instances by class key, e.g. ``nodes["FRVI_FrameInpaint"]``."""
    return {key: cls() for key, cls in pack.NODE_CLASS_MAPPINGS.items()}


@pytest.fixture
def clip_files(tmp_path) -> ClipFiles:
    """The default :func:`~clips.synthetic_clip` (6 frames of 64x48) written to ``tmp_path/clip`` as PNG folders."""
    return synthetic_clip().write(tmp_path / "clip")


class CliRun(NamedTuple):
    """What one in-process run of the CLI gave: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """``inpaint_video.main`` run in this process, in ``tmp_path``: ``cli(*args, threads=1) -> CliRun``.

    The exit code is main's return value or argparse's ``SystemExit``; any other exception propagates
    (where the CLI would print a traceback). Warnings are printed to stderr as a plain process prints
    them (pytest would record them instead), in main's format. ``threads``: torch's CPU threads for the
    run (with two or more, Flow Propagate runs in a worker thread; the tests run with one).
    """
    # Importing the CLI runs runtime.set_up(), which sets OMP_WAIT_POLICY (too late to matter here: torch is
    # loaded); take it out again so the child processes of later tests get the environment they would alone.
    given = os.environ.get("OMP_WAIT_POLICY")
    import inpaint_video
    if given is None:
        os.environ.pop("OMP_WAIT_POLICY", None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # main sets its own: put back after

    def to_stderr(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    def run(*args, threads: int = 1) -> CliRun:
        capsys.readouterr()
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with warnings.catch_warnings():
                warnings.showwarning = to_stderr
                code = inpaint_video.main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
        finally:
            torch.set_num_threads(before)
        out, err = capsys.readouterr()
        return CliRun(code, out, err)

    return run
