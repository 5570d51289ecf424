#!/usr/bin/env python3
"""Make the template inputs the pack ships, demo/comfyui_inputs/, from the demo clip demo/dog_walk.

The workflows load these files by name from ComfyUI's input folder; the pack copies them there when
ComfyUI loads it (nodes/demo_inputs.py), so a template opened from the browser runs as it is:

- ``frvi_demo.mp4``: the first 12 frames (the chunk template cuts 6 + 6), h264 yuv420p, crf 18;
- ``frvi_demo_mask.mp4``: their hole masks, white = hole, h264 at crf 10, so that thresholding at
  128 gives the masks back exactly (checked here);
- ``frvi_demo_frames.png``: the first 8 frames as a lossless animated PNG. Outside the union of their
  holes every frame carries frame 0's pixels (a tripod shot: only noise differs there), so the file
  stores little more than what moves;
- ``frvi_demo_mask.png``: one mask for those 8 frames, the union of their holes (255 = hole).

    python scripts/make_comfyui_inputs.py [--demo demo/dog_walk] [--out demo/comfyui_inputs]
"""
from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
VIDEO_FRAMES, IMAGE_FRAMES = 12, 8
FPS = Fraction(30000, 1001)  # the demo clip's 29.97 fps
MASK_CRF = 10


def read_demo(folder: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    """First ``count`` frames ``[T,H,W,3]`` uint8 RGB and holes ``[T,H,W]`` bool of a demo folder."""
    frames = sorted((folder / "frames").glob("*.jpg"))[:count]
    masks = sorted((folder / "masks").glob("*.png"))[:count]
    if len(frames) < count or len(masks) < count:
        raise SystemExit(f"{folder}: need {count} frames and masks, found {len(frames)} and {len(masks)}")
    rgb = np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in frames])
    hole = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) >= 128 for p in masks])
    return rgb, hole


def encode(path: Path, frames: np.ndarray, codec: str, pix_fmt: str, options: dict | None = None) -> None:
    """Write ``[T,H,W,3]`` uint8 RGB (or ``[T,H,W]`` grey) with PyAV at :data:`FPS` (``codec`` "apng": an
    animated PNG)."""
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=-1)
    with av.open(str(path), "w", format="apng" if codec == "apng" else None) as out:
        stream = out.add_stream(codec, rate=FPS, options=options or {})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        out.mux(stream.encode())


def decode(path: Path) -> np.ndarray:
    """Every frame of a video or animated image as ``[T,H,W,3]`` uint8 RGB."""
    with av.open(str(path)) as src:
        return np.stack([f.to_ndarray(format="rgb24") for f in src.decode(video=0)])


def still_background(frames: np.ndarray, hole: np.ndarray, margin: int = 4) -> np.ndarray:
    """``frames`` with every pixel outside the union of ``hole`` (grown by ``margin``) set to frame 0's."""
    moving = cv2.dilate(hole.any(axis=0).astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)) > 0
    still = frames.copy()
    still[:, ~moving] = frames[0][~moving]
    return still


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=REPO / "demo" / "dog_walk", help="demo clip folder")
    parser.add_argument("--out", type=Path, default=REPO / "demo" / "comfyui_inputs", help="folder to write")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rgb, hole = read_demo(args.demo, VIDEO_FRAMES)
    white = np.repeat(hole[..., None], 3, axis=-1).astype(np.uint8) * 255
    encode(args.out / "frvi_demo.mp4", rgb, "libx264", "yuv420p", {"crf": "18"})
    encode(args.out / "frvi_demo_mask.mp4", white, "libx264", "yuv420p", {"crf": str(MASK_CRF)})
    wrong = np.count_nonzero((decode(args.out / "frvi_demo_mask.mp4")[..., 0] >= 128) != hole)
    if wrong:
        raise SystemExit(f"frvi_demo_mask.mp4: {wrong} mask pixels flip after h264; lower MASK_CRF")
    still = still_background(rgb[:IMAGE_FRAMES], hole[:IMAGE_FRAMES])
    encode(args.out / "frvi_demo_frames.png", still, "apng", "rgb24")
    cv2.imwrite(str(args.out / "frvi_demo_mask.png"), hole[:IMAGE_FRAMES].any(axis=0).astype(np.uint8) * 255,
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    for path in sorted(args.out.glob("frvi_demo*")):
        print(f"{path}: {path.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
