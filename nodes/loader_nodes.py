"""Loader nodes: one per learned stage, reading safetensors weights from the ``frvi`` model folder.

Files are listed from ComfyUI's ``models/frvi/`` (registered with ``folder_paths`` under the
name ``frvi``; extra_model_paths.yaml can add more) and from the pack's own ``weights/``.
Without ComfyUI (tests, scripts) only the pack's ``weights/`` is listed.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from comfy_api.latest import io

from ..model.networks.weights import PACK_WEIGHTS, load_network
from .comfy_bridge import manage_network
from .types import CATEGORY, FlowBlendNet, FlowCompleteNet, FrameInpaintNet, RefineNet

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


class _LoadNetwork(io.ComfyNode):
    """Shared body of the loader nodes: pick a file, load it strictly, return the network (on the CPU).

    A loader sets ``KIND`` (the network kind its files must hold) and builds its schema with :meth:`loader_schema`.
    """

    KIND = ""

    @classmethod
    def loader_schema(cls, node_id: str, display_name: str, description: str, output: type[io.ComfyTypeIO]
                      ) -> io.Schema:
        """The schema every loader shares: ``weights`` (the files listed now: ComfyUI calls this for each
        ``/object_info``, so a file put into models/frvi/ shows after a refresh) and ``working_size``."""
        files = weight_files(shipped_file(cls.KIND))
        return io.Schema(
            node_id=node_id,
            display_name=display_name,
            category=CATEGORY + "/loaders",
            description=description,
            inputs=[
                io.Combo.Input("weights", options=files, default=files[0],
                               tooltip=f"A .safetensors file from models/frvi/ (or the pack's weights/) made for "
                                       f"this stage; {shipped_file(cls.KIND)} is the pack's own trained network when "
                                       f"it ships one."),
                io.Int.Input("working_size", optional=True, default=0, min=0, max=8192, step=8,
                             tooltip="Long side (pixels) at which this network runs; its result is upsampled to the "
                                     "frame size. 0 = the size stored in the weights file (what it was tuned for)."),
            ],
            outputs=[output.Output("model")],
        )

    @classmethod
    def execute(cls, weights, working_size=0) -> io.NodeOutput:
        network = load_network(weight_path(weights), kind=cls.KIND).to(memory_format=torch.channels_last)
        return io.NodeOutput(manage_network(network.with_working_size(working_size)))


class LoadFrameInpaintNetwork(_LoadNetwork):
    """Load the frame inpainting network (partial-conv U-Net) for Frame Inpaint's method=network."""

    KIND = "frame_inpaint"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return cls.loader_schema("FRVI_LoadFrameInpaintNetwork", "Load Frame Inpaint Network",
                                 "Loads frame inpainting weights; connect to Frame Inpaint's model input and set "
                                 "method to network.", FrameInpaintNet)


class LoadFlowCompletionNetwork(_LoadNetwork):
    """Load the flow completion network (partial-conv U-Net on flow) for Robust Flow's completion=network."""

    KIND = "flow_complete"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return cls.loader_schema("FRVI_LoadFlowCompletionNetwork", "Load Flow Completion Network",
                                 "Loads flow completion weights; connect to Robust Flow's completion_model input and "
                                 "set completion to network.", FlowCompleteNet)


class LoadFlowBlendNetwork(_LoadNetwork):
    """Load the flow blending network H_f for Flow Blend's method=network."""

    KIND = "flow_blend"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return cls.loader_schema("FRVI_LoadFlowBlendNetwork", "Load Flow Blend Network",
                                 "Loads flow blending (H_f) weights; connect to Flow Blend's model input and set "
                                 "method to network.", FlowBlendNet)


class LoadConvLSTMRefineNetwork(_LoadNetwork):
    """Load the ConvLSTM refiner for ConvLSTM Refine's method=network."""

    KIND = "convlstm_refine"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return cls.loader_schema("FRVI_LoadConvLSTMRefineNetwork", "Load ConvLSTM Refine Network",
                                 "Loads ConvLSTM refiner weights; connect to ConvLSTM Refine's model input and set "
                                 "method to network.", RefineNet)
