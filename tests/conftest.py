"""Shared fixtures: the pack loaded the way ComfyUI loads it, and small real clips."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CLIPS = SHARED / "data" / "clips"
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


def read_clip(name: str, count: int, size: tuple[int, int] | None = None):
    """First ``count`` frames ``[T,H,W,3]`` and masks ``[T,H,W]`` (zeros if none) of a shared clip, ComfyUI layout."""
    folder = CLIPS / name
    if not folder.is_dir():
        pytest.skip(f"shared clip {name} not found at {folder}")
    frame_files = sorted((folder / "frames").iterdir())[:count]
    mask_dir = folder / "masks"
    frames, masks = [], []
    for i, path in enumerate(frame_files):
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        mask = cv2.imread(str(sorted(mask_dir.iterdir())[i]), cv2.IMREAD_GRAYSCALE) if mask_dir.is_dir() \
            else np.zeros(image.shape[:2], np.uint8)
        if size is not None:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        frames.append(torch.from_numpy(image).float() / 255.0)
        masks.append(torch.from_numpy((mask >= 128).astype(np.float32)))
    return torch.stack(frames), torch.stack(masks)


def moving_box_video(t: int = 6, h: int = 48, w: int = 64, seed: int = 0):
    """A tiny textured video panning right 2 px/frame with a moving square hole (ComfyUI layout)."""
    gen = torch.Generator().manual_seed(seed)
    texture = torch.rand(1, 3, h // 4, (w + 2 * t) // 4, generator=gen)
    texture = torch.nn.functional.interpolate(texture, size=(h, w + 2 * t), mode="bilinear", align_corners=False)[0]
    frames = torch.stack([texture[:, :, 2 * i:2 * i + w] for i in range(t)]).permute(0, 2, 3, 1).contiguous()
    hole = torch.zeros(t, h, w)
    for i in range(t):
        hole[i, h // 4:h // 4 + h // 3, w // 4 + i:w // 4 + i + w // 3] = 1.0
    return frames.clamp(0, 1), hole
