"""The only place that talks to ComfyUI: layouts, devices, progress and interruption.

Works without ComfyUI installed (CPU, no progress bar), so the node contracts can be tested
on their own.
"""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import torch
from einops import rearrange

from ..model.checks import check_shape
from ..model.masks import fit_hole
from ..model.pipeline.config import DEFAULTS
from ..model.pipeline.run import load_networks
from ..model.propagate.references import parse_reference_frames

try:  # inside ComfyUI
    import comfy.model_management as model_management
    import comfy.utils as comfy_utils
except ImportError:  # plain Python (tests, scripts)
    model_management = None
    comfy_utils = None


def image_to_model(image: torch.Tensor, name: str = "frames") -> torch.Tensor:
    """ComfyUI IMAGE ``[T,H,W,C]`` -> ``[T,C,H,W]`` float32 (same device); ``name``: the input, for errors."""
    check_shape(image, "T H W C", name, "an IMAGE batch")
    return rearrange(image, "t h w c -> t c h w").float()


def image_to_comfy(frames: torch.Tensor) -> torch.Tensor:
    """``[T,C,H,W]`` -> ComfyUI IMAGE ``[T,H,W,C]`` float32, contiguous, on the intermediate device."""
    return rearrange(frames, "t c h w -> t h w c").contiguous().to(intermediate_device())


def mask_to_model(mask: torch.Tensor) -> torch.Tensor:
    """ComfyUI MASK ``[T,H,W]`` (or ``[H,W]``) -> ``[T,1,H,W]`` float32."""
    check_shape(mask, "T H W | H W", "hole", "a MASK")
    if mask.ndim == 2:
        mask = mask[None]
    return rearrange(mask, "t h w -> t 1 h w").float()


def video_and_hole(frames: torch.Tensor, hole: torch.Tensor, name: str = "hole") -> tuple[torch.Tensor, torch.Tensor]:
    """IMAGE ``[T,H,W,3]`` and MASK ``[T|1,h,w]`` -> frames ``[T,3,H,W]`` and hole ``[T|1,1,H,W]`` at the frames' size.

    A mask of the frames' aspect ratio but another size (a segmenter's output, say) is resized
    by nearest neighbour with a warning; another aspect ratio raises ValueError naming both sizes
    (``model.masks.fit_hole``, as the CLI). Values are thresholded at 0.5 later, in ``model/``.
    """
    video, mask = image_to_model(frames), mask_to_model(hole)
    return video, fit_hole(mask, video.shape[2], video.shape[3], name)


def references_from(reference: torch.Tensor | None, reference_frames: str) -> dict[int, torch.Tensor] | None:
    """The ``reference`` IMAGE batch ``[R,H,W,3]`` and its comma-separated frame numbers -> ``{frame: [1,3,H,W]}``
    (None without a reference); ValueError when the numbers do not fit the batch."""
    if reference is None:
        return None
    images = image_to_model(reference, "reference")
    numbers = parse_reference_frames(reference_frames, images.shape[0])
    return {n: images[i:i + 1] for i, n in enumerate(numbers)}


def mask_to_comfy(mask: torch.Tensor) -> torch.Tensor:
    """``[T,1,H,W]`` -> ComfyUI MASK ``[T,H,W]`` on the intermediate device."""
    return rearrange(mask, "t 1 h w -> t h w").contiguous().to(intermediate_device())


def compute_device() -> torch.device:
    """The device ComfyUI computes on (CPU outside ComfyUI)."""
    return model_management.get_torch_device() if model_management else torch.device("cpu")


def intermediate_device() -> torch.device:
    """Where ComfyUI keeps IMAGE/MASK between nodes (CPU outside ComfyUI)."""
    return model_management.intermediate_device() if model_management else torch.device("cpu")


def frame_progress(total: int):
    """A per-frame callback for ``model.pipeline.engine``: checks for Cancel, then advances the progress bar.

    Raises ComfyUI's interruption exception between frames when the user pressed Cancel.
    """
    check_interrupted()
    bar = comfy_utils.ProgressBar(total) if comfy_utils else None

    def on_frame(_t: int) -> None:
        if bar is not None:
            bar.update(1)
        check_interrupted()

    return on_frame


def check_interrupted() -> None:
    """Raise if the user cancelled the run (no-op outside ComfyUI)."""
    if model_management:
        model_management.throw_exception_if_processing_interrupted()


def manage_network(network: torch.nn.Module):
    """A loaded network handed to ComfyUI's model management: a ModelPatcher that loads it onto the compute
    device when a stage needs it and lets ComfyUI offload it when another model needs the memory. Outside
    ComfyUI (scripts, tests) the network itself."""
    if model_management is None:
        return network
    import comfy.model_patcher
    return comfy.model_patcher.ModelPatcher(network, load_device=model_management.get_torch_device(),
                                            offload_device=model_management.unet_offload_device())


@functools.cache
def shipped_networks() -> dict:
    """The pack's trained networks (``weights/``), loaded once and kept, each wrapped for ComfyUI's model
    management (which may move them off the compute device between runs, never drops them: they stay
    referenced here, as a loader node's output stays in ComfyUI's cache). ValueError when weights/ is empty."""
    return {kind: manage_network(network) for kind, network in load_networks(DEFAULTS.replace(learned=True)).items()}


def network_from(model, needed: bool = True, source: str = "model: expected the output of a 'Load ... Network' node"):
    """The ``nn.Module`` a stage runs, from a loader's output: a ModelPatcher is first loaded onto the compute
    device through ``load_models_gpu`` (when ``needed``: the stage's method is ``network``); a bare module or
    None is returned as is. Anything else raises ValueError starting with ``source``."""
    if model is None or not needed or isinstance(model, torch.nn.Module):
        return model
    module = getattr(model, "model", None)
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"{source}, got {type(model).__name__}.")
    if model_management is not None:
        model_management.load_models_gpu([model])
    return module


def load_optical_flow(optical_flow) -> torch.nn.Module:
    """The RAFT module inside core ComfyUI's ``OPTICAL_FLOW`` (a ModelPatcher), loaded on the compute device.

    A bare ``nn.Module`` is returned as is (scripts and tests).
    """
    module = network_from(optical_flow, source="optical_flow: expected the output of Load Optical Flow Model")
    return module.to(compute_device())


def temp_directory() -> Path:
    """ComfyUI's temp folder (emptied when ComfyUI starts) + ``frvi/``, made if absent; outside ComfyUI the
    system's temp folder + ``frvi/``."""
    try:
        import folder_paths
        base = Path(folder_paths.get_temp_directory())
    except ImportError:
        base = Path(tempfile.gettempdir())
    folder = base / "frvi"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
