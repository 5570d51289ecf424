#!/usr/bin/env python3
"""Flow end-point error inside the hole: a flow-completion weights file against the Laplacian fill.

    python scripts/eval_flow_completion.py weights/frvi_flow_complete.safetensors --synthetic 200

Two sets, at 432x240: held-back synthetic videos with true flow (camera paths over the stills and
train-clip frames with moving pieces; seeds that no training step draws), and DIS flow measured on
the clean frames of the validation clips (``clips/``; frame pairs 1-0 and 13-12) as a stand-in
for their true flow. Holes: the union of two consecutive holes of every kind, grown by 8 pixels,
as Robust Flow marks them. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model.networks.weights import load_network  # noqa: E402
from training.data import TrainingData  # noqa: E402
from training.stages import FlowValidation  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", help="a flow_complete .safetensors file")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"),
                        help="data root (default ../shared/data)")
    parser.add_argument("--synthetic", type=int, default=200, help="held-back synthetic samples (default 200)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        network = load_network(args.weights, "flow_complete")
        root = Path(args.data)
        validation = FlowValidation(TrainingData.load(root), root / "clips" if (root / "clips").is_dir() else None,
                                    args.synthetic)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with torch.no_grad():
        scores = validation(network)
    print("| set | samples | EPE network (px) | EPE Laplacian (px) | network / Laplacian |")
    print("|---|---|---|---|---|")
    for name, items in validation.sets.items():
        net, lap = scores[f"epe_{name}"], scores[f"epe_{name}_laplacian"]
        print(f"| {name} | {len(items)} | {net:.3f} | {lap:.3f} | {net / lap:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
