"""Score Flow Propagate on real clips: propagate -> Telea against per-frame Telea, inside the hole.

Holes whose ground truth is known: (a) "object": the moving object masks of ANOTHER clip,
(b) "rect": a static centred rectangle (a quarter of the width, a third of the height).
Run from the repo root:

    .venv/bin/python scripts/eval_propagate.py                      # all shared clips, 432x240, 24 frames
    .venv/bin/python scripts/eval_propagate.py --clips davis_camel --size 854x480 --flow-max-side 432

Prints one row per clip and mask kind, then the means: hole PSNR (dB, pooled over the
window's hole pixels) of Telea alone and of propagate -> Telea per seam method, the fraction of
hole pixels filled by propagation, the PSNR of the propagated pixels alone against Telea on
the same pixels, and the CPU milliseconds per frame of propagation (process time, so other
jobs on a shared machine do not inflate it; the last seam method's run).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model import stages  # noqa: E402
from model.frame_inpaint import ClassicalFrameInpainter  # noqa: E402
from model.propagate import PropagateConfig, flow_propagate  # noqa: E402

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"
MASK_DONORS = ["davis_bmx-trees", "davis_blackswan", "davis_car-roundabout", "davis_camel",
               "davis_horsejump-high", "tennis", "schoolgirls", "dogs_jump"]


def read_frames(folder: Path, start: int, count: int, size: tuple[int, int], grey: bool = False) -> list[np.ndarray]:
    files = sorted(folder.iterdir())[start:start + count]
    if grey:
        return [cv2.resize(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), size, interpolation=cv2.INTER_NEAREST)
                for f in files]
    return [cv2.resize(cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB), size, interpolation=cv2.INTER_AREA)
            for f in files]


def object_masks(clip: str, count: int, size: tuple[int, int]) -> torch.Tensor:
    """Masks ``[T,1,H,W]`` of the next donor clip after ``clip`` (never its own)."""
    donors = [d for d in MASK_DONORS if d != clip]
    donor = donors[sum(map(ord, clip)) % len(donors)]
    masks = read_frames(CLIPS / donor / "masks", 0, count, size, grey=True)
    return torch.from_numpy((np.stack(masks) >= 128).astype(np.float32))[:, None]


def rect_mask(count: int, size: tuple[int, int]) -> torch.Tensor:
    w, h = size
    mask = torch.zeros(count, 1, h, w)
    mask[:, :, h // 2 - h // 6:h // 2 + h // 6, w // 2 - w // 8:w // 2 + w // 8] = 1.0
    return mask


def telea(frames: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    fill = ClassicalFrameInpainter("telea", 5)
    return torch.cat([fill(frames[t:t + 1], hole[t:t + 1]) for t in range(frames.shape[0])])


def psnr(a: torch.Tensor, b: torch.Tensor, where: torch.Tensor) -> float:
    where = where.expand_as(a)
    if not where.any():
        return float("nan")
    a8, b8 = (a * 255).round(), (b * 255).round()  # score what a saved video would hold
    mse = ((a8 - b8)[where] ** 2).mean().item()
    return 10 * math.log10(255 ** 2 / max(mse, 1e-10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", nargs="*", default=None, help="clip names (default: all in shared/data/clips)")
    parser.add_argument("--size", default="432x240")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--masks", nargs="*", default=["object", "rect"])
    parser.add_argument("--seams", nargs="*", default=["none", "poisson"])
    parser.add_argument("--estimator", default="dis_medium")
    parser.add_argument("--max-distance", type=int, default=12)
    parser.add_argument("--consistency", type=float, default=1.0)
    parser.add_argument("--hole-dilation", type=int, default=1)
    parser.add_argument("--flow-max-side", type=int, default=640)
    parser.add_argument("--threads", type=int, default=1, help="torch/OpenCV threads (1 is fastest on a busy machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    size = tuple(int(v) for v in args.size.split("x"))
    clips = args.clips or sorted(p.name for p in CLIPS.iterdir() if (p / "frames").is_dir())
    torch.set_grad_enabled(False)
    rows = []
    header = f"{'clip':22s} {'mask':6s} {'telea':>6s} " + " ".join(f"{'prop+' + s:>13s}" for s in args.seams) + \
        f" {'filled':>6s} {'propPx':>6s} {'teleaPx':>7s} {'ms/fr':>6s}"
    print(header)
    for clip in clips:
        frames = torch.from_numpy(np.stack(read_frames(CLIPS / clip / "frames", args.start, args.frames, size)))
        frames = frames.permute(0, 3, 1, 2).float() / 255.0
        for kind in args.masks:
            hole = object_masks(clip, frames.shape[0], size) if kind == "object" else rect_mask(frames.shape[0], size)
            inside = hole > 0.5
            base = telea(frames, hole)
            row = {"clip": clip, "mask": kind, "telea": psnr(base, frames, inside)}
            for seam in args.seams:
                config = PropagateConfig(args.max_distance, args.consistency, args.hole_dilation, args.flow_max_side,
                                         seam)
                start = time.process_time()
                propagated, remaining = flow_propagate(frames, hole, stages.flow_estimator(args.estimator),
                                                       stages.flow_completer("laplacian"), config)
                row["ms"] = 1000 * (time.process_time() - start) / frames.shape[0]
                row[seam] = psnr(telea(propagated, remaining), frames, inside)
                filled = inside & (remaining < 0.5)
                row["filled"] = filled.sum().item() / max(inside.sum().item(), 1)
                row["propPx"] = psnr(propagated, frames, filled)
                row["teleaPx"] = psnr(base, frames, filled)
            rows.append(row)
            print(f"{clip:22s} {kind:6s} {row['telea']:6.2f} " + " ".join(f"{row[s]:13.2f}" for s in args.seams)
                  + f" {row['filled']:6.1%} {row['propPx']:6.2f} {row['teleaPx']:7.2f} {row['ms']:6.0f}", flush=True)
    for kind in args.masks:
        sel = [r for r in rows if r["mask"] == kind]
        if not sel:
            continue
        mean = {k: float(np.nanmean([r[k] for r in sel])) for k in ["telea", *args.seams, "filled", "propPx",
                                                                   "teleaPx", "ms"]}
        print(f"{'MEAN':22s} {kind:6s} {mean['telea']:6.2f} " + " ".join(f"{mean[s]:13.2f}" for s in args.seams)
              + f" {mean['filled']:6.1%} {mean['propPx']:6.2f} {mean['teleaPx']:7.2f} {mean['ms']:6.0f}")


if __name__ == "__main__":
    main()
