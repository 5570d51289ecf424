#!/usr/bin/env python3
"""Real removals, scored without a ground truth: each clip's own object masks, grown, filled by the configurations.

``scripts/evaluate.py`` scores fills against the truth under synthetic holes. Its E_warp follows the truth's motion,
so a fill of background that moves with the camera, where the truth held a subject moving otherwise, counts as
flicker there. A real removal has no truth; what is behind the object is what the fill should show. This script
measures what needs none, each against the real footage around the hole (known pixels within ``--ring`` px):

- **steadiness**: E_warp along the output's own flow (DIS; 0-255) over every pixel of the hole and of the ring. A
  fill that flickers or pops scores high; a sharp fill carried steadily scores like the footage around it.
- **detail**: the mean luminance gradient in the hole over the ring's (1 = as detailed as the surroundings).

Clips without ``masks/`` are skipped. Contact sheets (input | each configuration) go to ``OUT/sheets``.

    python scripts/removal_check.py ../shared/data/clips --size 432x240 --weights weights --out DIR \\
        --configs propagate_full_learned,propagate_auto_textured_full_learned
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from model.evaluation import mask_generators, metrics  # noqa: E402
from model.masks import fit_hole, grow_hole  # noqa: E402
from scripts.common import parse_size  # noqa: E402
from scripts.evaluate import (CLASSICAL_CONFIGS, HOLE_GREY, find_clips, join_tiles,  # noqa: E402
                              learned_configs, load_frames, tile, write_sheet)


def removal_hole(masks: np.ndarray, size: tuple[int, int], grow: int) -> torch.Tensor:
    """A clip's masks ``[T,h,w]`` in [0,1] -> the hole ``[T,1,H,W]`` 0/1 at ``size`` (W, H), grown by ``grow`` px
    (resized by :func:`model.masks.fit_hole`: nearest neighbour, ValueError for another aspect ratio)."""
    hole = fit_hole(torch.from_numpy(masks).float()[:, None], size[1], size[0], name="masks", warn=False)
    return grow_hole(hole, grow)


def ring_around(hole: torch.Tensor, pixels: int) -> torch.Tensor:
    """The known pixels within ``pixels`` of ``hole`` ``[T,1,H,W]`` -> ``[T,1,H,W]`` 0/1."""
    return grow_hole(hole, pixels) * (1.0 - (hole > 0.5).float())


def steadiness(output: torch.Tensor, regions: list[torch.Tensor]) -> list[float]:
    """E_warp of ``output`` ``[T,3,H,W]`` along its own flow over every pixel of each region ``[T,1,H,W]`` (0-255,
    mean over frames 1..T-1). No forward-backward check: a fill that flickers would fail it and go unscored."""
    flow, _ = metrics.ground_truth_flow(output)
    everywhere = torch.ones_like(output[:, :1])
    return [float(torch.nanmean(metrics.warping_error(output, region, flow, everywhere))) for region in regions]


def detail_ratio(output: torch.Tensor, hole: torch.Tensor, ring: torch.Tensor) -> float:
    """Mean luminance gradient of ``output`` in ``hole`` over that in ``ring`` (ratios of sums over the clip; NaN
    where the ring is flat)."""
    inside, inside_n = metrics.gradient_sums(output, hole)
    around, around_n = metrics.gradient_sums(output, ring)
    around_mean = around.sum() / around_n.sum().clamp_min(1)
    return float((inside.sum() / inside_n.sum().clamp_min(1)) / around_mean) if around_mean > 0 else float("nan")


def sheet_rows(corrupted: torch.Tensor, outputs: dict[str, torch.Tensor], clip: str, frames: list[int],
               width: int = 320) -> list[np.ndarray]:
    """Contact-sheet rows: the input and each configuration's output, at each of ``frames``."""
    rows = []
    for t in frames:
        tiles = [tile(corrupted[t], f"{clip} t={t}", width)]
        tiles += [tile(out[t], name, width) for name, out in outputs.items()]
        rows.append(join_tiles(tiles))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="+", help="clip folders (with frames/ and masks/) or folders of clips")
    parser.add_argument("--configs", default="propagate_full_learned,propagate_auto_textured_full_learned",
                        help="comma-separated rows of scripts/evaluate.py")
    parser.add_argument("--size", default="432x240", help="WxH, or source: each clip's own (default 432x240)")
    parser.add_argument("--weights", default="weights", help="the learned weights (default: weights)")
    parser.add_argument("--max-frames", type=int, default=24)
    parser.add_argument("--grow", type=int, default=4, help="px the masks are grown by (default 4)")
    parser.add_argument("--ring", type=int, default=24, help="px of real footage around the hole compared (24)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", help="write removal.md and sheets/ here")
    args = parser.parse_args(argv)
    try:
        size = parse_size(args.size, "--size", source_ok=True, min_side=8)
        if args.max_frames < 2 or args.ring < 1:
            raise ValueError("--max-frames must be at least 2 and --ring at least 1.")
        clips = find_clips(args.clips)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    learned, _ = learned_configs(args.weights)
    available = {**CLASSICAL_CONFIGS, **learned}
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        print(f"error: unknown or unavailable configuration(s) {unknown}; choose from {list(available)}.",
              file=sys.stderr)
        return 2
    lines = [f"{args.size}, {args.max_frames} frames, each clip's own masks grown by {args.grow} px; ring: the real "
             f"footage within {args.ring} px of the hole. Cells: E_warp along the output's own flow, hole / ring "
             "(0-255) · detail, hole over ring.", "",
             "| clip | hole % | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    totals: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    out_dir = Path(args.out) if args.out else None
    for clip in clips:
        if clip.masks_dir is None:
            print(f"{clip.name}: no masks/, skipped", file=sys.stderr)
            continue
        target = load_frames(clip, size, args.max_frames)
        masks = mask_generators.load_mask_sequence(clip.masks_dir, target.shape[0])
        if len(masks) < 2:
            print(f"{clip.name}: fewer than 2 masks, skipped", file=sys.stderr)
            continue
        target = target[:len(masks)]  # a clip with fewer masks than frames: the frames that have one
        try:
            hole = removal_hole(masks, (target.shape[-1], target.shape[-2]), args.grow)
        except ValueError as error:
            print(f"{clip.name}: {error} Skipped.", file=sys.stderr)
            continue
        ring = ring_around(hole, args.ring)
        corrupted = torch.where(hole > 0.5, torch.full_like(target, HOLE_GREY), target)
        outputs, cells = {}, []
        for name in names:
            with torch.inference_mode():
                output = available[name].make()(corrupted, hole).clamp(0, 1)
            inside, around = steadiness(output, [hole, ring])
            detail = detail_ratio(output, hole, ring)
            totals[name].append((inside, around, detail))
            outputs[name] = output
            cells.append(f"{inside:.2f} / {around:.2f} · {detail:.2f}")
        lines.append(f"| {clip.name} | {100 * float(hole.mean()):.1f} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
        if out_dir is not None:
            t_len = target.shape[0]
            write_sheet(out_dir / "sheets" / f"{clip.name}.png", f"{clip.name}: real removal, {args.size}",
                        sheet_rows(corrupted, outputs, clip.name, [t_len // 3, 2 * t_len // 3]))
    means = [tuple(float(np.mean([v[i] for v in totals[n]])) if totals[n] else float("nan") for i in range(3))
             for n in names]
    lines.append("| **mean** | | " + " | ".join(f"{a:.2f} / {b:.2f} · {d:.2f}" for a, b, d in means) + " |")
    print(lines[-1])
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "removal.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
