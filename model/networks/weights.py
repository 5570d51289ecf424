"""Weights files: one safetensors file per network, with metadata, loaded strictly. No pickle.

Metadata (all strings) written by :func:`save_network` and required by :func:`load_network`:

* ``format``: ``"frvi.weights"``
* ``architecture``: the network's ``ARCHITECTURE`` (e.g. ``"frvi.frame_inpaint.pconv_unet"``)
* ``kind``: ``frame_inpaint`` / ``flow_complete`` / ``flow_blend`` / ``convlstm_refine``
* ``version``: the architecture's ``VERSION`` (the layout of the tensors)
* ``config``: the network's dataclass config as JSON

Anything else (e.g. training notes) may be added with ``extra``.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from . import ARCHITECTURES, KINDS
from .base import Network

FORMAT = "frvi.weights"
_RESERVED = ("format", "architecture", "kind", "version", "config")


PACK_WEIGHTS = Path(__file__).resolve().parents[2] / "weights"
"""The weights the pack ships (one file per network kind)."""


def save_network(network: Network, path: str | os.PathLike, extra: dict[str, str] | None = None) -> None:
    """Write ``network``'s weights (float tensors, CPU, contiguous) and metadata to ``path`` (.safetensors)."""
    if not isinstance(network, Network):
        raise ValueError(f"save_network: expected one of the pack's networks, got {type(network).__name__}.")
    extra = dict(extra or {})
    clash = sorted(set(extra) & set(_RESERVED))
    if clash or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise ValueError(f"save_network: extra metadata must map str to str and not use {list(_RESERVED)}; "
                         f"got {clash or extra}.")
    metadata = {"format": FORMAT, "architecture": network.ARCHITECTURE, "kind": network.KIND,
                "version": str(network.VERSION), "config": network.config.to_json(), **extra}
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in network.state_dict().items()}
    save_file(tensors, str(path), metadata=metadata)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a weights file (header only; tensors are not read). ValueError if unreadable."""
    path = _existing(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return dict(handle.metadata() or {})
    except Exception as error:  # safetensors raises its own error types for bad headers
        raise ValueError(_unreadable(path, error)) from error


def load_network(path: str | os.PathLike, kind: str | None = None) -> Network:
    """Rebuild the network stored in ``path`` and load its weights strictly (CPU, eval mode).

    Args:
        path: a .safetensors file written by :func:`save_network`.
        kind: if given, the file must hold a network of this kind (see ``model.networks.KINDS``).
    Raises:
        ValueError naming the file and the mismatch: unreadable/truncated file, missing or
        foreign metadata, another kind or architecture, another version, an invalid config,
        missing/unexpected tensors, wrong shapes, non-float or non-finite values.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"load_network: unknown kind {kind!r}; choose one of {list(KINDS)}.")
    path = _existing(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as error:
        raise ValueError(_unreadable(path, error)) from error
    # ComfyUI runs every node under torch.inference_mode(); parameters made there would be inference
    # tensors, which later ops outside that mode (or a move to channels-last) reject.
    with torch.inference_mode(False):
        network = _build(path, metadata, kind)
        _check_tensors(path, network, tensors)
        network.load_state_dict({name: tensor.clone() for name, tensor in tensors.items()}, strict=True)
    return network.eval()


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such weights file; check the name, or put the file in models/frvi/.")
    return path


def _unreadable(path: Path, error: Exception) -> str:
    return (f"{path}: not a readable safetensors weights file ({type(error).__name__}: {error}); "
            "it is truncated or corrupt: download or save it again.")


def _build(path: Path, metadata: dict[str, str], kind: str | None) -> Network:
    """The untrained network described by ``metadata``; ValueError on any mismatch."""
    if metadata.get("format") != FORMAT or "architecture" not in metadata:
        raise ValueError(f"{path}: not a weights file of this pack (metadata format={metadata.get('format')!r}, "
                         f"expected {FORMAT!r} with an 'architecture'); use a file saved by "
                         "model.networks.weights.save_network.")
    architecture = metadata["architecture"]
    if architecture not in ARCHITECTURES:
        raise ValueError(f"{path}: unknown architecture {architecture!r}; this pack knows {sorted(ARCHITECTURES)}.")
    cls = ARCHITECTURES[architecture]
    if kind is not None and cls.KIND != kind:
        raise ValueError(f"{path}: holds a {cls.KIND!r} network ({architecture}) but a {kind!r} network is needed; "
                         "pick the weights file made for this stage.")
    version = metadata.get("version", "")
    if version != str(cls.VERSION):
        raise ValueError(f"{path}: {architecture} version {version!r}, but this pack reads version {cls.VERSION}; "
                         "use weights made for this version of the pack.")
    if "config" not in metadata:
        raise ValueError(f"{path}: the metadata has no 'config'; the file is incomplete, save it again.")
    return cls(cls.Config.from_json(metadata["config"], source=str(path)))


def _check_tensors(path: Path, network: Network, tensors: dict[str, torch.Tensor]) -> None:
    expected = network.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [f"{name}: file {tuple(tensors[name].shape)} vs network {tuple(t.shape)}"
             for name, t in expected.items() if name in tensors and tensors[name].shape != t.shape]
    problems = []
    if missing:
        problems.append(f"missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"unexpected tensors {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
    if wrong:
        problems.append(f"wrong shapes {wrong[:5]}{' ...' if len(wrong) > 5 else ''}")
    if problems:
        raise ValueError(f"{path}: the tensors do not match {network.ARCHITECTURE} with the stored config: "
                         + "; ".join(problems) + ". The file is damaged or was edited; save it again.")
    for name, tensor in tensors.items():
        if tensor.dtype != expected[name].dtype:
            raise ValueError(f"{path}: tensor {name} is {tensor.dtype}, expected {expected[name].dtype}.")
        if not torch.isfinite(tensor).all():
            raise ValueError(f"{path}: tensor {name} contains NaN or infinite values; the weights are corrupt.")


def find_weights(folder: str | os.PathLike) -> dict[str, Path]:
    """The weights files of ``folder`` (``*.safetensors``, not recursive) by the network kind in their metadata.

    Files that are not readable weights of this pack are left out; when two files hold the same
    kind, the first by name wins. A missing folder gives ``{}``.
    """
    found: dict[str, Path] = {}
    folder = Path(folder)
    for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        try:
            kind = read_metadata(path).get("kind")
        except ValueError:
            continue
        if kind in KINDS and kind not in found:
            found[kind] = path
    return found
