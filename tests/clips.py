"""The tests' clips, made or found in one place.

:func:`synthetic_clip` is the one synthetic clip of the suite: a smooth random texture seen by a camera
that pans (``pan`` px per frame, or a path of camera positions), behind a box or disk hole that moves
(``hole_motion``), as tensors (:class:`Clip`, :meth:`Clip.comfy` for ComfyUI's layout) or written as PNG
folders the way the CLI reads them (:meth:`Clip.write`: the object painted magenta, one mask a frame).

:func:`read_clip` reads a real clip: one of ``../shared/data/clips`` (``$FRVI_SHARED`` names another
folder for ``shared``) or, by the name ``"demo"``, the demo clip the repo ships (``demo/dog_walk``, 48
frames at 432x240), which real-clip tests fall back to when the shared data is absent
(:func:`real_clips`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ["FRVI_SHARED"]) if os.environ.get("FRVI_SHARED") else REPO.parent / "shared"
CLIPS = SHARED / "data" / "clips"
DEMO = REPO / "demo" / "dog_walk"
MAGENTA = (255, 0, 255)  # the object painted into written frames (the CLI must remove it)


# ------------------------------------------------------------------------------------------ synthetic
def texture(h: int, w: int, seed: int = 0, cell: int = 4) -> torch.Tensor:
    """A smooth random RGB texture ``[3,H,W]`` in [0,1]: uniform noise on a grid of ``cell`` px, upsampled
    bicubically (structure everywhere for optical flow, no detail finer than the grid)."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // cell + 1, w // cell + 1, generator=gen)
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)[0]


def _path(motion: int | Sequence[int], t: int) -> list[int]:
    """Per-frame positions: ``motion`` px per frame from 0, or the ``t`` positions given."""
    if isinstance(motion, int):
        return [motion * i for i in range(t)]
    positions = [int(p) for p in motion]
    if len(positions) != t:
        raise ValueError(f"{len(positions)} positions for {t} frames")
    return positions


def hole_mask(t: int, h: int, w: int, box: tuple[int, int, int, int] | None = None,
              motion: int | Sequence[int] = 1, shape: str = "box") -> torch.Tensor:
    """A hole ``[T,1,H,W]`` (0/1): ``box = (top, left, height, width)`` in frame 0 (default: a third of the
    frame, a quarter in from the top left) moved ``motion`` px per frame to the right (or to the left offsets
    given per frame); ``shape`` ``"box"`` fills the box, ``"disk"`` the ellipse inscribed in it."""
    top, left, height, width = box if box is not None else (h // 4, w // 4, h // 3, w // 3)
    hole = torch.zeros(t, 1, h, w)
    if shape == "disk":
        y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                              indexing="ij")
    elif shape != "box":
        raise ValueError(f"shape must be box or disk, got {shape!r}")
    for i, offset in enumerate(_path(motion, t)):
        x0 = left + offset
        if shape == "box":
            hole[i, :, max(top, 0):top + height, max(x0, 0):max(x0 + width, 0)] = 1.0
        else:
            cy, cx, ry, rx = top + (height - 1) / 2, x0 + (width - 1) / 2, height / 2, width / 2
            hole[i, 0] = (((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0).float()
    return hole


def to_bgr(frames: torch.Tensor) -> np.ndarray:
    """Frames ``[T,3,H,W]`` (or one ``[3,H,W]``) in [0,1] -> uint8 BGR ``[T,H,W,3]`` (``[H,W,3]``), as OpenCV
    reads them."""
    rgb = (frames.clamp(0, 1) * 255).round().to(torch.uint8).movedim(-3, -1).numpy()
    return np.ascontiguousarray(rgb[..., ::-1])


class ClipFiles(NamedTuple):
    """A clip written by :meth:`Clip.write`: folders and the pixels in them (uint8 BGR, as ``cv2.imread`` reads)."""

    frames: Path  # folder of PNG frames 00000.png ...
    masks: Path  # folder of PNG masks (255 = hole)
    written: np.ndarray  # [T,H,W,3] the frames as written, the object painted into the hole
    truth: np.ndarray  # [T,H,W,3] the scene without the object
    holes: np.ndarray  # [T,H,W] bool


@dataclass(frozen=True)
class Clip:
    """A synthetic clip: ``frames [T,3,H,W]`` in [0,1] (the scene, nothing in front of it) and ``hole [T,1,H,W]``."""

    frames: torch.Tensor
    hole: torch.Tensor

    def comfy(self) -> tuple[torch.Tensor, torch.Tensor]:
        """ComfyUI's layout: ``(IMAGE [T,H,W,3], MASK [T,H,W])``."""
        return self.frames.permute(0, 2, 3, 1).contiguous(), self.hole[:, 0].contiguous()

    def write(self, folder: Path, masks: int | None = None, paint: tuple[int, int, int] = MAGENTA) -> ClipFiles:
        """PNG frames with the object (the hole) painted ``paint`` (RGB) in ``folder/frames`` and masks in
        ``folder/masks`` (only the first ``masks`` of them if given)."""
        truth = to_bgr(self.frames)
        holes = self.hole[:, 0].numpy() > 0.5
        written = truth.copy()
        written[holes] = paint[::-1]
        (folder / "frames").mkdir(parents=True)
        (folder / "masks").mkdir()
        for i, (frame, hole) in enumerate(zip(written, holes)):
            cv2.imwrite(str(folder / "frames" / f"{i:05d}.png"), frame)
            if masks is None or i < masks:
                cv2.imwrite(str(folder / "masks" / f"{i:05d}.png"), hole.astype(np.uint8) * 255)
        return ClipFiles(folder / "frames", folder / "masks", written, truth, holes)


def synthetic_clip(t: int = 6, h: int = 48, w: int = 64, *, pan: int | Sequence[int] = 2, seed: int = 0,
                   cell: int = 4, hole: tuple[int, int, int, int] | None = None,
                   hole_motion: int | Sequence[int] = 1, shape: str = "box") -> Clip:
    """``t`` frames of ``h x w`` of one :func:`texture` seen by a panning camera, and a moving hole.

    ``pan``: the camera's motion, px per frame to the right (a scene point at x in frame i is at x - pan in
    frame i+1; 0 = a static camera), or its ``t`` positions in px. ``seed``, ``cell``: the texture's.
    ``hole``, ``hole_motion``, ``shape``: see :func:`hole_mask` (default: a box a third of the frame moving
    1 px per frame to the right).
    """
    positions = _path(pan, t)
    low = min(positions)
    scene = texture(h, w + max(positions) - low, seed, cell)
    frames = torch.stack([scene[:, :, p - low:p - low + w] for p in positions]).contiguous()
    return Clip(frames, hole_mask(t, h, w, hole, hole_motion, shape))


# ------------------------------------------------------------------------------------------ real clips
def clip_folder(name: str) -> Path:
    """The folder of the real clip ``name``: ``demo`` = the repo's demo clip, else one of the shared clips."""
    return DEMO if name == "demo" else CLIPS / name


def real_clips(*names: str) -> list[str]:
    """Those of the shared clips ``names`` that are here, or ``["demo"]`` when none is (no ../shared)."""
    return [name for name in names if clip_folder(name).is_dir()] or ["demo"]


def read_clip(name: str, count: int, size: tuple[int, int] | None = None):
    """First ``count`` frames ``[T,H,W,3]`` and masks ``[T,H,W]`` (zeros if none) of a real clip (see
    :func:`clip_folder`), ComfyUI layout; ``size = (w, h)`` resizes (area for frames, nearest for masks)."""
    folder = clip_folder(name)
    if not folder.is_dir():
        pytest.skip(f"shared clip {name} not found at {folder}")
    frame_files = sorted((folder / "frames").iterdir())[:count]
    mask_dir = folder / "masks"
    mask_files = sorted(mask_dir.iterdir()) if mask_dir.is_dir() else []
    frames, masks = [], []
    for i, path in enumerate(frame_files):
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        mask = cv2.imread(str(mask_files[i]), cv2.IMREAD_GRAYSCALE) if mask_files \
            else np.zeros(image.shape[:2], np.uint8)
        if size is not None:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        frames.append(torch.from_numpy(image).float() / 255.0)
        masks.append(torch.from_numpy((mask >= 128).astype(np.float32)))
    return torch.stack(frames), torch.stack(masks)
