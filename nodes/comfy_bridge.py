"""The only place that talks to ComfyUI: layouts, devices, progress and interruption.

Works without ComfyUI installed (CPU, no progress bar), so the node contracts can be tested
on their own.
"""
from __future__ import annotations

import torch
from einops import rearrange

try:  # inside ComfyUI
    import comfy.model_management as model_management
    import comfy.utils as comfy_utils
except ImportError:  # plain Python (tests, scripts)
    model_management = None
    comfy_utils = None


def image_to_model(image: torch.Tensor) -> torch.Tensor:
    """ComfyUI IMAGE ``[T,H,W,C]`` -> ``[T,C,H,W]`` float32 (same device)."""
    if not torch.is_tensor(image) or image.ndim != 4:
        shape = tuple(image.shape) if torch.is_tensor(image) else type(image).__name__
        raise ValueError(f"expected an IMAGE batch [T,H,W,3], got {shape}.")
    return rearrange(image, "t h w c -> t c h w").float()


def image_to_comfy(frames: torch.Tensor) -> torch.Tensor:
    """``[T,C,H,W]`` -> ComfyUI IMAGE ``[T,H,W,C]`` float32, contiguous, on the intermediate device."""
    return rearrange(frames, "t c h w -> t h w c").contiguous().to(intermediate_device())


def mask_to_model(mask: torch.Tensor) -> torch.Tensor:
    """ComfyUI MASK ``[T,H,W]`` (or ``[H,W]``) -> ``[T,1,H,W]`` float32."""
    if not torch.is_tensor(mask) or mask.ndim not in (2, 3):
        shape = tuple(mask.shape) if torch.is_tensor(mask) else type(mask).__name__
        raise ValueError(f"expected a MASK [T,H,W], got {shape}.")
    if mask.ndim == 2:
        mask = mask[None]
    return rearrange(mask, "t h w -> t 1 h w").float()


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
    """A per-frame callback for ``model.engine``: checks for Cancel, then advances the progress bar.

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


def load_optical_flow(optical_flow) -> torch.nn.Module:
    """The RAFT module inside core ComfyUI's ``OPTICAL_FLOW`` (a ModelPatcher), loaded on the compute device.

    A bare ``nn.Module`` is returned as is (scripts and tests).
    """
    if isinstance(optical_flow, torch.nn.Module):
        return optical_flow.to(compute_device())
    module = getattr(optical_flow, "model", None)
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"optical_flow: expected the output of Load Optical Flow Model, got {type(optical_flow).__name__}.")
    if model_management is not None:
        model_management.load_models_gpu([optical_flow])
    return module.to(compute_device())
