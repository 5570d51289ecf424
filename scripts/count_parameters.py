"""Parameters of the paper's four networks, per network and in total (paper: 2.95 M).

Run from the repo root:

    python scripts/count_parameters.py                        # default configs
    python scripts/count_parameters.py weights/*.safetensors  # networks stored in weight files
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.networks import NETWORKS  # noqa: E402
from model.networks.weights import load_network  # noqa: E402

PAPER_TOTAL = 2.95e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", nargs="*", type=Path, help="weight files (default: the default configs)")
    args = parser.parse_args()
    nets = [(str(p), load_network(p)) for p in args.weights] if args.weights else \
        [(kind, cls()) for kind, cls in NETWORKS.items()]
    total = 0
    print(f"{'network':<24} {'architecture':<36} {'parameters':>12}")
    for name, net in nets:
        count = net.parameter_count()
        total += count
        print(f"{name:<24} {net.ARCHITECTURE:<36} {count:>12,}")
        children = list(net.named_children())
        if len(children) == 1:  # a wrapper around one U-Net: show its encoder and decoder
            children = [(f"{parent_name}.{sub}", module) for parent_name, parent in children
                        for sub, module in parent.named_children()]
        for child_name, child in children:
            child_count = sum(p.numel() for p in child.parameters())
            print(f"{'':<26}{child_name:<34} {child_count:>12,}")
    ratio = total / PAPER_TOTAL
    print(f"{'total':<61} {total:>12,}  ({total / 1e6:.2f} M = {ratio:.2f} x the paper's 2.95 M"
          f"{'' if 0.5 <= ratio <= 2.0 else ', OUTSIDE the 2x band'})")


if __name__ == "__main__":
    main()
