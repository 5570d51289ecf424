#!/usr/bin/env python3
"""Train the pack's networks stage by stage, pack the training data, export weights.

    python scripts/train.py --stage frame --minutes 60 --resume            # stage 1, CPU, resumable
    python scripts/train.py --stage flow --minutes 30 --resume --threads 1  # stage 2
    python scripts/train.py --stage recurrent --minutes 90 --resume         # stage 3: H_f + ConvLSTM (frozen 1-2)
    python scripts/train.py --stage frame --device cuda --data packed/ --minutes 8 --batch 48
    python scripts/train.py pack-data packed/        # the training set in one small folder (for a GPU box)
    python scripts/train.py export --stage frame --out weights/frvi_frame_inpaint.safetensors
    python scripts/train.py export --stage blend --out weights/frvi_flow_blend.safetensors     # from runs/recurrent
    python scripts/train.py export --stage refine --out weights/frvi_convlstm_refine.safetensors

Training reads ``--data`` (``../shared/data`` by default, or a folder written by ``pack-data``):
``train_clips/`` and ``images/`` for training, ``clips/`` for the validation score only. A run
lives in ``--run-dir`` (default ``runs/<stage>``): a checkpoint every ``--checkpoint-minutes``
(and on Ctrl-C or SIGTERM), ``log.jsonl`` with losses and validation scores. The same command
with ``--resume`` continues it with the same batches and learning-rate schedule.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model import runtime  # noqa: E402

# Before torch loads OpenMP: idle threads sleep instead of spinning, so a run in the background
# shares a small machine with other work (spinning made 3 threads on 2 cores 3-4x slower, measured).
runtime.set_up()

import cv2  # noqa: E402
import torch  # noqa: E402

from model.pipeline.config import DEFAULTS  # noqa: E402
from model.stages import flow_estimator  # noqa: E402
from training import data as training_data  # noqa: E402
from training.loop import train  # noqa: E402
from training.recurrent import FrozenFront, recurrent_stage  # noqa: E402
from training.stages import EXPORTS, STAGES, export_weights, flow_stage, frame_stage, run_of, weight_card  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
DATA_TERMS = ("DAVIS 2016 train clips (research use only; the weights inherit these terms), Kodak24, CBSD68 "
              "and McMaster stills; see shared/data SOURCE.txt files")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=STAGES, required=True,
                        help="frame (stage 1), flow (stage 2) or recurrent (stage 3: blend + refiner)")
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget of this call (default 30)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop at this step (default: no cap)")
    parser.add_argument("--total-steps", type=int, default=None,
                        help="step at which the learning rate has decayed (frame 40000, flow 20000, "
                             "recurrent 12000)")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --run-dir")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="training data root (default ../shared/data)")
    parser.add_argument("--run-dir", default=None, help="checkpoint folder (default runs/<stage>)")
    parser.add_argument("--init-from", default=None, metavar="RUN_DIR",
                        help="start a fresh run from another run's model weights (e.g. after an architecture change "
                             "that keeps most tensors)")
    parser.add_argument("--batch", type=int, default=None, help="samples per step (default 8; recurrent 4 windows)")
    parser.add_argument("--window", type=int, default=5, help="recurrent stage: frames per window (default 5)")
    parser.add_argument("--frame-weights", default=str(ROOT / "weights" / "frvi_frame_inpaint.safetensors"),
                        help="recurrent stage: the frozen frame network (default the shipped file)")
    parser.add_argument("--flow-weights", default=str(ROOT / "weights" / "frvi_flow_complete.safetensors"),
                        help="recurrent stage: the frozen flow completion network (default the shipped file)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    parser.add_argument("--checkpoint-minutes", type=float, default=3.0, help="minutes between checkpoints")
    parser.add_argument("--val-every", type=int, default=1000, help="steps between validation scores (0 = never)")
    parser.add_argument("--max-frames", type=int, default=None, help="frames read per training clip (tests)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run_training(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no CUDA GPU; use --device cpu.", file=sys.stderr)
        return 2
    root = Path(args.data)
    started = time.monotonic()
    data = training_data.TrainingData.load(root, max_frames=args.max_frames)
    validation = root / "clips" if (root / "clips").is_dir() else None
    print(f"data: {len(data.clips)} clips ({sum(len(c.frames) for c in data.clips)} frames), "
          f"{len(data.stills)} stills; validation: {validation or 'none'} ({time.monotonic() - started:.0f} s)")
    if args.stage == "frame":
        stage = frame_stage(data, args.batch or 8, validation, args.total_steps or 40_000, args.lr)
    elif args.stage == "flow":
        flows = training_data.clip_flows(data, flow_estimator(DEFAULTS.estimator))
        stage = flow_stage(data, flows, args.batch or 8, validation, args.total_steps or 20_000, args.lr)
    else:
        from model.networks.weights import load_network
        front = FrozenFront(load_network(args.frame_weights, "frame_inpaint"),
                            load_network(args.flow_weights, "flow_complete"))
        stage = recurrent_stage(data, front, args.batch or 4, validation, args.total_steps or 12_000, args.lr,
                                num_frames=args.window)
    run_dir = Path(args.run_dir or ROOT / "runs" / args.stage)
    try:
        summary = train(stage, run_dir, args.minutes, args.max_steps, args.resume, args.device, args.seed,
                        args.checkpoint_minutes, args.val_every, progress=not args.quiet, init_from=args.init_from)
    except KeyboardInterrupt:
        print(f"interrupted; the checkpoint in {run_dir} holds the last step: continue with --resume.",
              file=sys.stderr)
        return 130
    print(f"stopped at step {summary['step']} after {summary['seconds']:.0f} s"
          + (f"; last validation {summary['validation'][-1]}" if summary["validation"] else ""))
    return 0


def pack_data(argv: list[str]) -> int:
    """``pack-data DIR``: the training set (train clips: JPEG frames, PNG masks; stills as JPEG) and the
    validation windows (first 24 frames of each clip) at the training scale, in one small folder."""
    parser = argparse.ArgumentParser(prog="train.py pack-data", description=pack_data.__doc__)
    parser.add_argument("out", help="folder to write")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="source data root (default ../shared/data)")
    parser.add_argument("--quality", type=int, default=92, help="JPEG quality (default 92)")
    args = parser.parse_args(argv)
    source, out = Path(args.data), Path(args.out)
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, args.quality]
    count = 0
    for part, frames in (("train_clips", None), ("clips", 24)):
        for clip in sorted(p for p in (source / part).glob("*") if (p / "frames").is_dir()):
            for sub in ("frames", "masks"):
                for path in training_data._images(clip / sub)[:frames]:
                    target = out / part / clip.name / sub / path.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if sub == "frames":
                        image = cv2.cvtColor(training_data._read_rgb(path, training_data.LONG_SIDE), cv2.COLOR_RGB2BGR)
                        cv2.imwrite(str(target.with_suffix(".jpg")), image, jpeg)
                    else:
                        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                        scale = training_data.LONG_SIDE / max(mask.shape)
                        if scale < 1:
                            mask = cv2.resize(mask, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                        cv2.imwrite(str(target.with_suffix(".png")), mask)
                    count += 1
    for path in training_data._images(source / "images"):
        target = (out / "images" / path.relative_to(source / "images")).with_suffix(".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        image = training_data._read_rgb(path, training_data.STILL_LONG_SIDE)
        cv2.imwrite(str(target), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), jpeg)
        count += 1
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {count} files, {size / 2 ** 20:.1f} MiB to {out}")
    return 0


def export(argv: list[str]) -> int:
    """``export --stage S --out FILE``: the checkpoint's network as a weights file of the pack."""
    parser = argparse.ArgumentParser(prog="train.py export", description=export.__doc__)
    parser.add_argument("--stage", choices=sorted(EXPORTS), required=True,
                        help="frame, flow, or blend / refine (both from the recurrent stage's run)")
    parser.add_argument("--run-dir", default=None, help="checkpoint folder (default runs/<stage>, runs/recurrent "
                                                         "for blend and refine)")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    parser.add_argument("--device-note", default="cpu (2 cores)", help="where it was trained, for the metadata")
    parser.add_argument("--note", action="append", default=[], metavar="KEY=TEXT",
                        help="a line for the card and the metadata (e.g. warm_start='from runs/x at step 818'); "
                             "repeatable")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                        help="a config field that changes how the network runs, not its tensors, e.g. "
                             "thin_radius=24 (tuned with scripts/evaluate.py); repeatable")
    args = parser.parse_args(argv)
    settings = {}
    for item in args.set:
        field, _, value = item.partition("=")
        try:
            settings[field] = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"--set {item!r}: give FIELD=VALUE with a JSON value, e.g. thin_radius=24.") from None
    run_dir = Path(args.run_dir or ROOT / "runs" / run_of(args.stage))
    path = export_weights(args.stage, run_dir, args.out,
                          {"training_data": DATA_TERMS, "training_device": args.device_note,
                           "licence_note": "trained on research-use DAVIS footage: research / non-commercial use",
                           **{f"note_{key}": text for key, _, text in (n.partition("=") for n in args.note)}},
                          settings)
    card = path.with_suffix(".md")
    card.write_text(weight_card(path, run_dir))
    print(f"wrote {path} and its card {card}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] == "pack-data":
            return pack_data(argv[1:])
        if argv and argv[0] == "export":
            return export(argv[1:])
        return run_training(build_parser().parse_args(argv))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
