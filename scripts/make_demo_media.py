#!/usr/bin/env python3
"""Make the README pictures from the demo clip: an animated before/after and one still frame.

Runs inpaint_video.py on demo/dog_walk with the demo's settings, writing the side-by-side
comparison (input with the hole tinted | result) as PNG frames, then writes
``media/demo_before_after.gif`` (every 2nd frame at 15 fps: real speed, half the size) and ``media/demo_frame.png``.

    python scripts/make_demo_media.py [--frame 24] [--step 2] [--scale 1.0]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "demo" / "dog_walk"
MEDIA = REPO / "media"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frame", type=int, default=24, help="index of the frame for demo_frame.png")
    parser.add_argument("--scale", type=float, default=1.0, help="resize factor of the animation")
    parser.add_argument("--step", type=int, default=2, help="keep every N-th frame in the animation")
    parser.add_argument("--fps", type=float, default=15.0, help="animation frame rate (the clip is 29.97 fps)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, str(REPO / "inpaint_video.py"), "--demo", "-o", str(tmp / "result"),
                        "--side-by-side", str(tmp / "sbs")], cwd=tmp, check=True)
        files = sorted((tmp / "sbs").glob("*.png"))
        frames = [cv2.imread(str(p)) for p in files]
    MEDIA.mkdir(exist_ok=True)
    frames_all, frames = frames, frames[::args.step]
    cv2.imwrite(str(MEDIA / "demo_frame.png"), frames_all[args.frame], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if args.scale != 1.0:
        frames = [cv2.resize(f, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_AREA) for f in frames]
    animation = cv2.Animation()
    animation.frames = frames
    animation.durations = [int(round(1000 / args.fps))] * len(frames)
    animation.loop_count = 0
    if not cv2.imwriteanimation(str(MEDIA / "demo_before_after.gif"), animation):
        raise SystemExit("OpenCV could not write the GIF")
    for name in ("demo_before_after.gif", "demo_frame.png"):
        print(f"{MEDIA / name}: {(MEDIA / name).stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
