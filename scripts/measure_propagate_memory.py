#!/usr/bin/env python3
"""Peak RSS and speed of ``inpaint_video.py --propagate`` against video length (1280x720 by default).

Input: a panning crop of a real 1280x720 frame (dog_walk when ../shared sits next to the checkout,
else a generated texture; ``scripts/common.py``'s PanningVideo) as MJPG .avi, and a folder of PNG
masks with a box that moves left and right. Each length runs in a fresh child started by
``scripts/common.py``'s small launcher (its ru_maxrss is the CLI's own).

    OMP_NUM_THREADS=1 python scripts/measure_propagate_memory.py --frames 100 300
    ... --size 432x240 --frames 60 --cli-args "--propagate"      # speed only
    ... --real-frames ../shared/data/clips/dog_walk/frames        # a real clip (80 frames of 1280x720)
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scripts.common import DEFAULT_TEXTURE, PanningVideo, parse_size, peak_rss, write_clip  # noqa: E402


def moving_box(width: int, height: int):
    """``hole(t)``: a box of 3/16 x 5/12 of the frame swinging left and right (period 120 frames), uint8 255."""
    bw, bh = width * 3 // 16, height * 5 // 12

    def hole(t: int) -> np.ndarray:
        x = int(width / 2 - bw / 2 + 0.3 * width * np.sin(2 * np.pi * t / 120))
        mask = np.zeros((height, width), np.uint8)
        mask[height // 3:height // 3 + bh, x:x + bw] = 255
        return mask
    return hole


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--cli-args", default="--propagate")
    parser.add_argument("--workdir", default=None, help="where the clips go (default: a temporary folder)")
    parser.add_argument("--real-frames", metavar="DIR",
                        help="a folder of real frames to use instead of the panning video (its size and count; "
                             "--frames and --size are ignored), e.g. ../shared/data/clips/dog_walk/frames")
    args = parser.parse_args()
    if args.real_frames:
        frames = sorted(f for f in Path(args.real_frames).glob("*") if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not frames:
            raise SystemExit(f"error: no frames in {args.real_frames}")
        height, width = cv2.imread(str(frames[0])).shape[:2]
        args.frames = [len(frames)]
    else:
        width, height = parse_size(args.size, "--size")
        video = PanningVideo(width, height, DEFAULT_TEXTURE, pad=max(24, width // 20))
    for count in args.frames:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            folder = Path(tmp)
            if args.real_frames:  # the real frames as they are, the moving box as masks
                source, masks = Path(args.real_frames), folder / "masks"
                masks.mkdir()
                hole = moving_box(width, height)
                for t in range(count):
                    cv2.imwrite(str(masks / f"{t:05d}.png"), hole(t))
            else:
                source, masks = write_clip(folder, video, count, moving_box(width, height), masks="folder")
            command = [sys.executable, str(REPO / "inpaint_video.py"), str(source), str(masks), "-o",
                       str(folder / "out.mp4"), *shlex.split(args.cli_args)]
            load = os.getloadavg()
            code, peak, wall = peak_rss(command, REPO, folder / "log.txt")
            log = (folder / "log.txt").read_text()
            timing = next((line for line in log.splitlines() if line.startswith("time per frame")), log[-500:])
            print(f"{width}x{height} {count:5d} frames  {args.cli_args!r:28s} exit {code}  peak RSS {peak:7.1f} MiB  "
                  f"wall {wall:7.1f} s ({1000 * wall / count:.0f} ms/frame)  load {load[0]:.2f}->"
                  f"{os.getloadavg()[0]:.2f}  | {timing}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
