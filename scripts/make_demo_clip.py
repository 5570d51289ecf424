#!/usr/bin/env python3
"""Make the shipped demo clip demo/dog_walk: frames at 432x240 and hole masks of the person and the dog.

Source: the shared ``dog_walk`` clip (facebookresearch/sam2, Apache-2.0; 80 frames, 1280x720, tripod
camera), which has no masks. The masks are a background difference, worked out at 640x360:

1. background = per-pixel median of all 80 frames (the dog, the leash and the ball keep moving), but
   above the person's waist the median of frames 0-5, when she bends low (``CLEAR_BOX``): she
   stands there in most later frames, so the median of all frames holds her;
2. hole = colour difference to it: blobs that reach ``THRESHOLD`` with every connected pixel above
   ``WEAK_THRESHOLD`` (hysteresis), opened (noise), closed (gaps), small blobs dropped;
3. her legs stay on one spot in nearly every frame, so no frame shows the background behind them
   and the difference misses them: a hand-set polygon around them (``LEG_ZONE``) joins every hole;
4. holes inside the hole filled, then down to 432x240 and grown by ``GROW`` pixels.

Frames are saved as JPEG q95 (``frames/00000.jpg``), masks as PNG, 255 = hole (``masks/00000.png``).

    python scripts/make_demo_clip.py [--source ../shared/data/clips/dog_walk] [--out demo/dog_walk]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "clips" / "dog_walk"
FRAMES = 48  # frames 0..47: the dog jumps for the ball, the person throws it (1.6 s at 29.97 fps)
SIZE = (432, 240)  # output width, height
WORK = (640, 360)  # where the difference is computed
THRESHOLD = 25  # max-channel difference to the background, 0..255, after a 5x5 blur: a blob must reach it
WEAK_THRESHOLD = 12  # ... and then takes every connected pixel above this one (the white dog on pale paving)
MIN_AREA = 40  # smallest moving blob kept, pixels at WORK size (the thrown ball is about 200)
GROW = 3  # pixels added around every hole at the output size
# The person bends low in frames 0-5, leaving the background above her waist free: there the background is
# the median of those frames (box in source pixels, 1280x720: x0, y0, x1, y1).
CLEAR_FRAMES, CLEAR_BOX = 6, (224, 60, 400, 200)
# Below her waist she stands on the same spot in nearly every frame, so no frame shows the background there
# and the difference misses her legs: a hand-set polygon around them joins every hole (source pixels).
LEG_ZONE = np.array([(232, 200), (340, 200), (384, 224), (390, 280), (360, 300), (372, 380), (390, 460),
                     (400, 500), (436, 516), (436, 550), (300, 560), (230, 556), (224, 510), (232, 400),
                     (232, 300)], np.int32)


def disk(radius: int) -> np.ndarray:
    """Elliptic structuring element of the given radius."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def read_frames(folder: Path, size: tuple[int, int]) -> np.ndarray:
    """Every ``*.jpg`` of ``folder`` in name order, resized (area) to ``size``: ``[T,H,W,3]`` uint8 BGR."""
    paths = sorted(folder.glob("*.jpg"))
    if not paths:
        raise SystemExit(f"no frames in {folder}")
    return np.stack([cv2.resize(cv2.imread(str(p)), size, interpolation=cv2.INTER_AREA) for p in paths])


def moving(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Pixels of ``frame`` ``[H,W,3]`` unlike the blurred ``background`` (float32): ``[H,W]`` uint8 0/1."""
    diff = np.abs(cv2.GaussianBlur(frame.astype(np.float32), (5, 5), 0) - background).max(axis=2)
    weak = cv2.morphologyEx((diff > WEAK_THRESHOLD).astype(np.uint8), cv2.MORPH_OPEN, disk(1))
    weak = cv2.morphologyEx(weak, cv2.MORPH_CLOSE, disk(3))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(weak)
    strong = np.bincount(labels.ravel(), weights=(diff > THRESHOLD).ravel(), minlength=len(stats))
    keep = (strong >= MIN_AREA) & (stats[:, cv2.CC_STAT_AREA] >= MIN_AREA)
    keep[0] = False
    return keep[labels].astype(np.uint8)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` ``[H,W]`` 0/1 with every region it encloses set to 1."""
    padded = np.pad(mask, 1)
    outside = padded.copy()
    cv2.floodFill(outside, None, (0, 0), 1)  # every 0 reachable from the border becomes 1
    return (padded | (1 - outside))[1:-1, 1:-1]


def scaled(points: np.ndarray, source_size: tuple[int, int]) -> np.ndarray:
    """Source-pixel coordinates ``[N,2]`` (x, y) at :data:`WORK` size, int32."""
    return np.round(points * np.array(WORK) / np.array(source_size)).astype(np.int32)


def background(work: np.ndarray, source_size: tuple[int, int]) -> np.ndarray:
    """The empty scene behind ``work`` ``[T,H,W,3]`` uint8, blurred 5x5: ``[H,W,3]`` float32 (see step 1)."""
    plate = np.median(work, axis=0)
    (x0, y0), (x1, y1) = scaled(np.reshape(CLEAR_BOX, (2, 2)), source_size)
    plate[y0:y1, x0:x1] = np.median(work[:CLEAR_FRAMES, y0:y1, x0:x1], axis=0)
    return cv2.GaussianBlur(plate.astype(np.float32), (5, 5), 0)


def hole_masks(work: np.ndarray, count: int, source_size: tuple[int, int]) -> np.ndarray:
    """Holes of the first ``count`` frames of ``work`` ``[T,H,W,3]`` (all frames make the background).

    Returns ``[count, SIZE[1], SIZE[0]]`` uint8, 255 = hole.
    """
    scene = background(work, source_size)
    legs = cv2.fillPoly(np.zeros(work.shape[1:3], np.uint8), [scaled(LEG_ZONE, source_size)], 1)
    masks = []
    for frame in work[:count]:
        hole = cv2.morphologyEx(moving(frame, scene) | legs, cv2.MORPH_CLOSE, disk(3))
        hole = cv2.resize(fill_holes(hole).astype(np.float32), SIZE, interpolation=cv2.INTER_AREA) > 0.25
        masks.append(cv2.dilate(hole.astype(np.uint8), disk(GROW)) * 255)
    return np.stack(masks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=SOURCE, help="folder holding the clip's frames/")
    parser.add_argument("--out", type=Path, default=REPO / "demo" / "dog_walk", help="demo folder to write")
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames to keep, from the first")
    args = parser.parse_args()
    first = cv2.imread(str(sorted((args.source / "frames").glob("*.jpg"))[0]))
    source_size = (first.shape[1], first.shape[0])
    masks = hole_masks(read_frames(args.source / "frames", WORK), args.frames, source_size)
    frames = read_frames(args.source / "frames", SIZE)[:args.frames]
    for sub in ("frames", "masks"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
        for old in (args.out / sub).glob("*.*"):
            old.unlink()
    for i, (frame, mask) in enumerate(zip(frames, masks)):
        cv2.imwrite(str(args.out / "frames" / f"{i:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(args.out / "masks" / f"{i:05d}.png"), mask, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{args.out}: {len(frames)} frames {SIZE[0]}x{SIZE[1]}, hole {np.mean(masks > 0):.1%} of the pixels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
