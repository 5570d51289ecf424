#!/usr/bin/env python3
"""What a perfect reference fill is worth: Flow Propagate given the ground truth of frame 0 (an ideal painter).

For each clip (a static centred rectangle, ``--rect-fraction`` of each side, the evaluation's ``fixed_rect``), the
default learned graph with Flow Propagate runs twice, without and with frame 0's ground truth as its reference, and
frames 1 .. T-1 are scored (frame 0 itself would be the truth). ``--whole-frame-0`` adds a third run with frame 0
given whole instead (its hole emptied: real pixels, carried only ``max_distance`` frames), the experiment the reference
fills were asked to beat. Each clip is called static or panning by the median
length of its ground-truth flow outside the hole (``--pan-threshold`` px per frame).

    python scripts/reference_gain.py ../shared/data/clips --size 432x240 --weights weights --out reference_gain.md

Prints (and writes) a markdown table: hole PSNR, detail and E_warp per clip, and the mean gain per camera kind.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from model.evaluation import mask_generators, metrics  # noqa: E402
from scripts.evaluate import BASE, HOLE_GREY, find_clips, learned_configs, load_frames, propagated  # noqa: E402
from scripts.common import parse_size  # noqa: E402


def full_learned(weights: str):
    """The ``make`` of the full learned graph's row (scripts/evaluate.py) and its networks."""
    rows, notes = learned_configs(weights)
    if "full_learned" not in rows:
        raise SystemExit(f"no full learned graph from --weights {weights}: {notes}")
    return rows["full_learned"].make


def painter(truth: torch.Tensor):
    """The ``keyframe`` maker of :func:`scripts.evaluate.propagated` whose fill is ``truth`` ``[1,3,H,W]`` (an ideal
    painter of frame 0)."""
    return lambda: (lambda frame, hole: truth)


def camera(flow: torch.Tensor, hole: torch.Tensor, threshold: float) -> str:
    """``"panning"`` when the median ground-truth motion outside the hole exceeds ``threshold`` px/frame."""
    length = flow[1:].norm(dim=1, keepdim=True)[hole[1:].expand_as(flow[1:, :1]) < 0.5]
    return "panning" if float(length.median()) > threshold else "static"


def cells(scores: list[dict[str, float]], key: str, form: str) -> str:
    """One table cell: ``scores``' values of ``key``, formatted with ``form``, separated by slashes."""
    return " / ".join(format(score[key], form) for score in scores)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="+", help="clip folders (with frames/) or folders of clips")
    parser.add_argument("--size", default="432x240", help="WxH (default 432x240)")
    parser.add_argument("--weights", default="weights", help="the learned weights (default: weights)")
    parser.add_argument("--max-frames", type=int, default=24)
    parser.add_argument("--rect-fraction", type=float, default=0.5)
    parser.add_argument("--pan-threshold", type=float, default=1.0)
    parser.add_argument("--whole-frame-0", action="store_true",
                        help="also run with frame 0 given whole (no hole) instead of as a reference")
    parser.add_argument("--out", help="also write the table here")
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    make = full_learned(args.weights)
    whole = " / whole" if args.whole_frame_0 else ""
    lines = [f"Frames 1-{args.max_frames - 1} scored; {args.size}; centred rectangle {args.rect_fraction:.0%} of each "
             "side; the default learned graph with Flow Propagate" + ("; \"whole\": frame 0 given whole (no hole) "
                                                                       "instead of as a reference" if whole else "")
             + ".", "",
             f"| clip | camera | hole PSNR without / with{whole} | gain (dB){whole} | detail without / with{whole} | "
             f"E_warp without / with{whole} |", "|---|---|---|---|---|---|"]
    gains: dict[str, list[float]] = {}
    whole_gains: dict[str, list[float]] = {}
    for clip in find_clips(args.clips):
        target = load_frames(clip, size, args.max_frames)
        t_len, _, h, w = target.shape
        hole = mask_generators.make_hole("fixed_rect", t_len, h, w, 0, clip.name, fraction=args.rect_fraction)
        corrupted = torch.where(hole > 0.5, torch.full_like(target, HOLE_GREY), target)
        flow = metrics.ground_truth_flow(target)
        kind = camera(flow[0], hole, args.pan_threshold)
        consistent = flow[1][1:].clone()
        consistent[0] = 0  # frame 1 has no scored frame before it
        scored = (flow[0][1:], consistent)
        runs = [(corrupted, hole, None), (corrupted, hole, painter(target[:1]))]
        if args.whole_frame_0:
            opened = hole.clone()
            opened[0] = 0
            runs.append((torch.where(opened > 0.5, corrupted, target), opened, None))
        scores = []
        for frames, given_hole, reference in runs:
            output = propagated(BASE, make, reference)()(frames, given_hole)
            scores.append(metrics.score_video(output[1:], target[1:], hole[1:], scored))
        gain = [s["psnr_hole"] - scores[0]["psnr_hole"] for s in scores[1:]]
        gains.setdefault(kind, []).append(gain[0])
        if args.whole_frame_0:
            whole_gains.setdefault(kind, []).append(gain[1])
        lines.append(f"| {clip.name} | {kind} | {cells(scores, 'psnr_hole', '.2f')} | "
                     f"{' / '.join(f'{g:+.2f}' for g in gain)} | {cells(scores, 'detail', '.3f')} | "
                     f"{cells(scores, 'ewarp', '.2f')} |")
        print(lines[-1], flush=True)
    lines += [""] + [f"- {kind}: mean gain {sum(g) / len(g):+.2f} dB over {len(g)} clips (min {min(g):+.2f})"
                     for kind, g in sorted(gains.items())]
    lines += [f"- {kind}, frame 0 given whole: mean gain {sum(g) / len(g):+.2f} dB (min {min(g):+.2f})"
              for kind, g in sorted(whole_gains.items())]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
