#!/usr/bin/env python3
"""Peak memory of inpaint_video.py against video length: it should not grow with the frame count.

Writes a synthetic 432x240 clip (``scripts/common.py``'s panning random texture with a moving box
hole painted magenta, plus its mask video) of each length, runs the CLI on it as a subprocess and
prints the child's peak resident set size (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a fresh
measuring process per length, which imports no torch) and its timings.

    python scripts/measure_cli_memory.py                 # 30 and 300 frames
    python scripts/measure_cli_memory.py --frames 30 300 1000 --estimator dis_fast
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scripts.common import PanningVideo, write_clip  # noqa: E402

WIDTH, HEIGHT = 432, 240


def swinging_box(t: int) -> np.ndarray:
    """The hole of frame ``t``: a 90x80 box swinging left and right, ``HEIGHT x WIDTH`` uint8 (255 = missing)."""
    hole = np.zeros((HEIGHT, WIDTH), np.uint8)
    x = 100 + int(60 * np.sin(t / 10))
    hole[80:160, x:x + 90] = 255
    return hole


def run(count: int, folder: Path, extra: list[str]) -> dict:
    """Run the CLI on a ``count``-frame clip; returns peak RSS (MiB), wall time and the CLI's timing line."""
    frames, masks = write_clip(folder, PanningVideo(WIDTH, HEIGHT), count, swinging_box, masks="video",
                               hole_colour=(255, 0, 255))
    command = [sys.executable, str(REPO / "inpaint_video.py"), str(frames), str(masks), "-o", str(folder / "out.mp4"),
               "--side-by-side", str(folder / "sbs.mp4"), *extra]
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"CLI failed on {count} frames:\n{stderr}")
    # the CLI is this process's only child (each length runs in its own measuring process, see main)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kib, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime  # KiB on Linux
    timing = next((line for line in stdout.splitlines() if line.startswith("time per frame")), "")
    return {"frames": count, "peak_rss_mib": peak_kib / 1024, "wall_s": wall, "cpu_s": cpu, "timing": timing}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[30, 300], help="clip lengths to measure")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one length and print it
    args, extra = parser.parse_known_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(args.one, Path(tmp), extra)
        print(f"{result['frames']:6d} frames  peak RSS {result['peak_rss_mib']:7.1f} MiB  "
              f"wall {result['wall_s']:6.1f} s  CPU {result['cpu_s']:6.1f} s  | {result['timing']}")
        return 0
    print(f"inpaint_video.py on a synthetic {WIDTH}x{HEIGHT} clip (mask video, mp4 + side-by-side output)")
    for count in args.frames:  # a fresh measuring process per length: RUSAGE_CHILDREN keeps the maximum
        subprocess.run([sys.executable, __file__, "--one", str(count), *extra], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
