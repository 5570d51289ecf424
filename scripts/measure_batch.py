#!/usr/bin/env python3
"""Throughput of batch_inpaint.py over 8 short shots, and whether its PNGs equal the plain CLI's.

The shots are 24-frame windows of demo/dog_walk (432x240) starting 3 frames apart, every other
one with --propagate, copied into FOLDER (never into the repository). The first run writes the
plain CLI's output of each shot (one subprocess per shot) to FOLDER/cli; each run then times the
batch into FOLDER/<label> and compares every PNG with the CLI's, byte for byte.

    python scripts/measure_batch.py /tmp/frvi_batch --workers 2 --label local2
    ray start --head --port=6390 --num-cpus=1
    RAY_AUTH_MODE=token python scripts/measure_batch.py /tmp/frvi_batch --ray 127.0.0.1:6390 --label ray1
    RAY_AUTH_MODE=token ray start --address=127.0.0.1:6390 --num-cpus=1      # a second worker node
    RAY_AUTH_MODE=token python scripts/measure_batch.py /tmp/frvi_batch --ray 127.0.0.1:6390 --label ray2
    ray stop
"""
from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import batch_inpaint  # noqa: E402

DEMO = REPO / "demo" / "dog_walk"
SHOTS, FRAMES, STRIDE = 8, 24, 3


def make_shots(folder: Path) -> Path:
    """Copy the 8 windows of the demo into ``folder/clips`` and write ``folder/shots.csv`` (output: OUT/shNN)."""
    frames, masks = sorted((DEMO / "frames").iterdir()), sorted((DEMO / "masks").iterdir())
    rows = []
    for k in range(SHOTS):
        clip = folder / "clips" / f"sh{k:02d}"
        for kind, files in (("frames", frames), ("masks", masks)):
            (clip / kind).mkdir(parents=True, exist_ok=True)
            for path in files[STRIDE * k:STRIDE * k + FRAMES]:
                shutil.copy(path, clip / kind / path.name)
        rows.append({"name": f"sh{k:02d}", "input": f"clips/sh{k:02d}/frames", "mask": f"clips/sh{k:02d}/masks",
                     "output": f"OUT/sh{k:02d}", "propagate": "yes" if k % 2 == 0 else ""})
    with open(folder / "shots.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "shots.csv"


def cli_references(folder: Path, shot_list: Path) -> None:
    """The plain CLI's output of every shot in ``folder/cli/shNN`` (skipped when there)."""
    for row in csv.DictReader(shot_list.open()):
        out = folder / "cli" / row["name"]
        if not out.exists():
            extra = ["--propagate"] if row["propagate"] else []
            subprocess.run([sys.executable, str(REPO / "inpaint_video.py"), row["input"], row["mask"], "-o", str(out),
                            "--quiet", *extra], cwd=folder, check=True)


def same_as_cli(folder: Path, label: str) -> tuple[int, int]:
    """``(PNG files equal to the CLI's, PNG files of the CLI)`` over all shots."""
    reference = sorted((folder / "cli").glob("*/*.png"))
    equal = sum((folder / label / p.parent.name / p.name).is_file() and
                (folder / label / p.parent.name / p.name).read_bytes() == p.read_bytes() for p in reference)
    return equal, len(reference)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the shots and outputs go (outside the repository)")
    parser.add_argument("--label", required=True, help="name of this run's output folder")
    parser.add_argument("--workers", type=int, default=1, help="local processes (without --ray)")
    parser.add_argument("--ray", metavar="ADDRESS", help="run on this Ray cluster")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    shot_list = args.folder / "shots.csv" if (args.folder / "shots.csv").exists() else make_shots(args.folder)
    cli_references(args.folder, shot_list)
    run_list = args.folder / f"shots_{args.label}.csv"
    run_list.write_text(shot_list.read_text().replace("OUT/", f"{args.label}/"))
    shutil.rmtree(args.folder / args.label, ignore_errors=True)
    mode = ["--ray", args.ray] if args.ray else ["--workers", str(args.workers)]
    start = time.perf_counter()
    code = batch_inpaint.main([str(run_list), *mode])
    seconds = time.perf_counter() - start
    equal, total = same_as_cli(args.folder, args.label)
    print(f"{args.label}: {SHOTS} shots x {FRAMES} frames in {seconds:.1f} s = {SHOTS * FRAMES / seconds:.2f} "
          f"frames/s (including start-up); PNGs equal to the CLI's: {equal}/{total}")
    return code


if __name__ == "__main__":
    sys.exit(main())
