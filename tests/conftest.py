"""Shared fixtures: the pack loaded the way ComfyUI loads it, the devices, and the synthetic clip (clips.py)."""
from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import warnings
from typing import NamedTuple

import pytest
import torch

from clips import REPO, SHARED, ClipFiles, synthetic_clip

PACK_NAME = "comfyui-frame-recurrent-inpaint"  # a clone's folder name, hyphens and all
COMFYUI = SHARED / "comfyui"  # the ComfyUI source tree (0.27): the nodes import its comfy_api.latest
# ComfyUI modules the pack imports when it runs inside ComfyUI, each with an outside-ComfyUI fallback
# (nodes/comfy_bridge.py, nodes/loader_nodes.py, nodes/demo_inputs.py).
COMFYUI_RUNTIME = ("comfy.model_management", "comfy.utils", "comfy.model_patcher", "folder_paths")


def use_comfyui_source() -> str | None:
    """Make ``comfy_api.latest`` importable from :data:`COMFYUI`; returns why it is not, or None.

    The nodes are V3 nodes (``comfy_api.latest``), which is not on the package registry: the source tree is put
    at the END of ``sys.path`` (the repo's own ``model``, ``nodes``, ... come first; ComfyUI has a ``nodes.py`` and
    a ``utils/`` of its own). ``comfy_api.latest`` imports ``folder_paths`` and ``comfy.cli_args`` itself (for its
    UI savers: never used by the pack), so it is imported first and only then are the ComfyUI runtime modules
    marked absent (``None`` in ``sys.modules`` makes ``import`` raise ImportError): the pack then takes its
    outside-ComfyUI path every time, as in a script. Without this, comfy_bridge would import
    ``comfy.model_management`` (which picks a torch device at import) and the loaders and demo-input copy would
    use the source tree's ``folder_paths`` (its models/ and input/ folders), depending on what was imported before.
    """
    if not (COMFYUI / "comfy_api" / "latest" / "__init__.py").is_file():
        return f"ComfyUI source not found at {COMFYUI} (set FRVI_SHARED): the nodes import its comfy_api.latest"
    if str(COMFYUI) not in sys.path:
        sys.path.append(str(COMFYUI))
    import comfy_api.latest  # noqa: F401  (before the None entries below: it imports folder_paths)
    for name in COMFYUI_RUNTIME:
        sys.modules[name] = None
    return None


COMFYUI_MISSING = use_comfyui_source()  # at import, before any test (or tests/fuzz_cases.py) loads the pack

# The tests use tiny tensors: one thread is as fast, and on a shared 2-core machine a second
# spinning OpenMP thread made per-frame loops 10-40x slower (measured).
torch.set_num_threads(1)


def load_pack():
    """Import the repo folder as a package exactly as ComfyUI does (``spec_from_file_location``)."""
    if COMFYUI_MISSING:
        raise ImportError(COMFYUI_MISSING)
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


def node_classes(pack) -> dict[str, type]:
    """The pack's node classes by node id, as ComfyUI registers them: ``comfy_entrypoint()``, then the extension's
    ``get_node_list()``, each class under its schema's ``node_id``."""
    extension = asyncio.run(pack.comfy_entrypoint())
    return {cls.GET_SCHEMA().node_id: cls for cls in asyncio.run(extension.get_node_list())}


def node_info(cls) -> dict:
    """What ComfyUI's ``/object_info`` serves for a V3 node class (its V1 view of the schema, built anew, so a
    loader lists the weights files there are now): ``input`` {"required", "optional"}, ``input_order``,
    ``output``, ``output_name``, ``display_name``, ``category``, ``description``, ..."""
    return cls.GET_NODE_INFO_V1()


def declared_inputs(cls) -> dict[str, tuple]:
    """Required, then optional inputs of a node class in widget order: name -> (type, options). A choice is
    ``("COMBO", {"options": [...], "default": ...})``."""
    spec = node_info(cls)["input"]
    return {**spec.get("required", {}), **spec.get("optional", {})}


def choices(cls, name: str) -> list:
    """The options of a node class's COMBO input ``name``."""
    kind, options = declared_inputs(cls)[name]
    assert kind == "COMBO", (cls.__name__, name, kind)
    return options["options"]


class NodeCall:
    """A V3 node class called the way the tests called the V1 nodes: ``.run(*args, **kwargs)`` (``.load`` for the
    loaders) calls ``cls.execute`` with the same arguments and returns its outputs as a tuple."""

    def __init__(self, cls: type):
        self.cls = cls

    def run(self, *args, **kwargs) -> tuple:
        from comfy_api.latest import io
        out = self.cls.execute(*args, **kwargs)
        assert isinstance(out, io.NodeOutput), f"{self.cls.__name__}.execute returned {type(out).__name__}"
        return out.result

    load = run


@pytest.fixture(scope="session")
def pack():
    if COMFYUI_MISSING:
        pytest.skip(COMFYUI_MISSING)
    return load_pack()


@pytest.fixture(scope="session")
def classes(pack) -> dict[str, type]:
    """The pack's node classes by node id, e.g. ``classes["FRVI_FrameInpaint"]`` (see :func:`node_classes`)."""
    return node_classes(pack)


@pytest.fixture(scope="session")
def nodes(classes) -> dict[str, NodeCall]:
    """The nodes by id, callable as ``nodes["FRVI_FrameInpaint"].run(frames, hole, "telea", 5)`` -> output tuple."""
    return {key: NodeCall(cls) for key, cls in classes.items()}


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
