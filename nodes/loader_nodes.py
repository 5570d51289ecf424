"""Loader nodes: one per learned stage, reading safetensors weights from the ``frvi`` model folder.

Files are listed from ComfyUI's ``models/frvi/`` (registered with ``folder_paths`` under the
name ``frvi``; extra_model_paths.yaml can add more) and from the pack's own ``weights/``.
Without ComfyUI (tests, scripts) only the pack's ``weights/`` is listed.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..model.networks.weights import PACK_WEIGHTS, load_network
from .comfy_bridge import manage_network
from .types import CATEGORY, FLOW_BLEND_NET, FLOW_COMPLETE_NET, FRAME_NET, REFINE_NET

try:  # inside ComfyUI
    import folder_paths
except ImportError:  # plain Python (tests, scripts)
    folder_paths = None

MODEL_FOLDER = "frvi"
NO_WEIGHTS = "(no .safetensors in models/frvi or the pack's weights/)"


def register_model_folder() -> None:
    """Register ``models/frvi`` and the pack's ``weights/`` as ComfyUI's ``frvi`` model folder.

    A no-op outside ComfyUI.
    """
    if folder_paths is None:
        return
    folder_paths.add_model_folder_path(MODEL_FOLDER, os.path.join(folder_paths.models_dir, MODEL_FOLDER))
    folder_paths.add_model_folder_path(MODEL_FOLDER, str(PACK_WEIGHTS))


register_model_folder()


def shipped_file(kind: str) -> str:
    """File name of the trained weights the pack ships in ``weights/`` for a network ``kind``."""
    return f"frvi_{kind}.safetensors"


def weight_files(first: str | None = None) -> list[str]:
    """Names (relative paths) of the weights files the loaders offer, sorted, with ``first`` (a loader's
    shipped default) at the top when it is there; ``[NO_WEIGHTS]`` if none."""
    if folder_paths is not None:
        names = folder_paths.get_filename_list(MODEL_FOLDER)
    elif PACK_WEIGHTS.is_dir():
        names = [p.relative_to(PACK_WEIGHTS).as_posix() for p in PACK_WEIGHTS.rglob("*") if p.is_file()]
    else:
        names = []
    names = sorted(n for n in names if n.lower().endswith(".safetensors"))
    if first in names:
        names.remove(first)
        names.insert(0, first)
    return names or [NO_WEIGHTS]


def weight_path(name: str) -> Path:
    """Full path of a listed weights file; ValueError if it is not there."""
    if name == NO_WEIGHTS:
        raise ValueError("No weights file to load: put a .safetensors file made for this pack into ComfyUI's "
                         "models/frvi/ folder (or the pack's weights/), refresh, and pick it.")
    if folder_paths is not None:
        full = folder_paths.get_full_path(MODEL_FOLDER, name)
    else:
        candidate = (PACK_WEIGHTS / name).resolve()
        full = candidate if candidate.is_file() and PACK_WEIGHTS.resolve() in candidate.parents else None
    if full is None:
        raise ValueError(f"weights file {name!r} not found in the frvi model folders; refresh the list and pick again.")
    return Path(full)


class _LoadNetwork:
    """Shared body of the loader nodes: pick a file, load it strictly, return the network (on the CPU)."""

    KIND = ""
    CATEGORY = CATEGORY + "/loaders"
    RETURN_NAMES = ("model",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        files = weight_files(shipped_file(cls.KIND))
        return {"required": {"weights": (files, {
            "default": files[0],
            "tooltip": f"A .safetensors file from models/frvi/ (or the pack's weights/) made for this stage; "
                       f"{shipped_file(cls.KIND)} is the pack's own trained network when it ships one."})},
            "optional": {"working_size": ("INT", {
                "default": 0, "min": 0, "max": 8192, "step": 8,
                "tooltip": "Long side (pixels) at which this network runs; its result is upsampled to the "
                           "frame size. 0 = the size stored in the weights file (what it was tuned for)."})}}

    def load(self, weights, working_size=0):
        network = load_network(weight_path(weights), kind=self.KIND).to(memory_format=torch.channels_last)
        return (manage_network(network.with_working_size(working_size)),)


class LoadFrameInpaintNetwork(_LoadNetwork):
    """Load the frame inpainting network (partial-conv U-Net) for Frame Inpaint's method=network."""

    DESCRIPTION = "Loads frame inpainting weights; connect to Frame Inpaint's model input and set method to network."
    KIND = "frame_inpaint"
    RETURN_TYPES = (FRAME_NET,)


class LoadFlowCompletionNetwork(_LoadNetwork):
    """Load the flow completion network (partial-conv U-Net on flow) for Robust Flow's completion=network."""

    DESCRIPTION = ("Loads flow completion weights; connect to Robust Flow's completion_model input and set "
                   "completion to network.")
    KIND = "flow_complete"
    RETURN_TYPES = (FLOW_COMPLETE_NET,)


class LoadFlowBlendNetwork(_LoadNetwork):
    """Load the flow blending network H_f for Flow Blend's method=network."""

    DESCRIPTION = "Loads flow blending (H_f) weights; connect to Flow Blend's model input and set method to network."
    KIND = "flow_blend"
    RETURN_TYPES = (FLOW_BLEND_NET,)


class LoadConvLSTMRefineNetwork(_LoadNetwork):
    """Load the ConvLSTM refiner for ConvLSTM Refine's method=network."""

    DESCRIPTION = ("Loads ConvLSTM refiner weights; connect to ConvLSTM Refine's model input and set method to "
                   "network.")
    KIND = "convlstm_refine"
    RETURN_TYPES = (REFINE_NET,)
