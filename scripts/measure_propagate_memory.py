#!/usr/bin/env python3
"""Peak RSS and speed of ``inpaint_video.py --propagate`` against video length (1280x720 by default).

Input: a panning crop of a real 1280x720 frame (dog_walk, via scripts/benchmark.py's PanningVideo)
as MJPG .avi, and a folder of PNG masks with a box that moves left and right. Each length runs in
a fresh child started by scripts/benchmark.py's small launcher (its ru_maxrss is the CLI's own).

    OMP_NUM_THREADS=1 python scripts/measure_propagate_memory.py --frames 100 300
    ... --size 432x240 --frames 60 --cli-args "--propagate"      # speed only
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("frvi_benchmark", REPO / "scripts" / "benchmark.py")
benchmark = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = benchmark
spec.loader.exec_module(benchmark)


def write_clip(folder: Path, count: int, width: int, height: int) -> tuple[Path, Path]:
    video = benchmark.PanningVideo(width, height, benchmark.DEFAULT_TEXTURE, pad=max(24, width // 20))
    path, masks = folder / "input.avi", folder / "masks"
    masks.mkdir()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, (width, height))
    bw, bh = width * 3 // 16, height * 5 // 12
    for t in range(count):
        writer.write(cv2.cvtColor(np.ascontiguousarray(video.frame_array(t)), cv2.COLOR_RGB2BGR))
        x = int(width / 2 - bw / 2 + 0.3 * width * np.sin(2 * np.pi * t / 120))
        mask = np.zeros((height, width), np.uint8)
        mask[height // 3:height // 3 + bh, x:x + bw] = 255
        cv2.imwrite(str(masks / f"{t:05d}.png"), mask)
    writer.release()
    return path, masks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--cli-args", default="--propagate")
    parser.add_argument("--workdir", default=None, help="where the clips go (default: a temporary folder)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    for count in args.frames:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            folder = Path(tmp)
            source, masks = write_clip(folder, count, width, height)
            command = [sys.executable, str(REPO / "inpaint_video.py"), str(source), str(masks), "-o",
                       str(folder / "out.mp4"), *shlex.split(args.cli_args)]
            load = os.getloadavg()
            start = time.perf_counter()
            report = subprocess.run([sys.executable, "-c", benchmark._LAUNCHER, str(folder / "log.txt"), *command],
                                    cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
            wall = time.perf_counter() - start
            log = (folder / "log.txt").read_text()
            code, peak = int(report[0]), int(report[1]) / 1024
            timing = next((line for line in log.splitlines() if line.startswith("time per frame")), log[-500:])
            print(f"{width}x{height} {count:5d} frames  {args.cli_args!r:28s} exit {code}  peak RSS {peak:7.1f} MiB  "
                  f"wall {wall:7.1f} s ({1000 * wall / count:.0f} ms/frame)  load {load[0]:.2f}->"
                  f"{os.getloadavg()[0]:.2f}  | {timing}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
