#!/usr/bin/env python3
"""Remove objects from a video without ComfyUI, streaming one frame at a time.

    python inpaint_video.py INPUT MASK -o OUTPUT [options]
    python inpaint_video.py            # or --demo: the shipped clip -> demo_output/

INPUT is a video file or a folder of frames; MASK is a mask video, a folder of masks or one
mask image for every frame (white / >= 128 = hole; see model/io/video.py). OUTPUT is a video
file (.mp4, .m4v, .mov, .mkv, .avi; H.264 that plays everywhere, or a lossless --codec, with the
input video's audio) or a folder of PNG frames (lossless: pixels outside the hole are the
input's, bit-exact). Memory stays constant whatever the video length.

With --propagate, Flow Propagate first copies into the hole what the frames up to
--max-distance before and after saw (model/propagate/stream.py: a bounded number of frames
held, so memory stays flat too); the four stages then fill only what no frame saw. With two or
more torch threads it runs in a worker thread beside the stages (model/pipeline/background.py). The demo
uses it; --no-propagate turns it off.

By default each stage whose trained weights the pack ships in weights/ runs its network (all
four: frame inpainting, flow completion, the flow blend H_f and the ConvLSTM refiner): on the
validation clips the full learned graph beat the weight-free one on every mask kind (README,
"Evaluation"). The weights carry research / non-commercial terms (weights/README.md);
--no-learned runs the weight-free stages.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from contextlib import closing, contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

import torch
from tqdm import tqdm

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. On a busy machine
# (more runnable threads than cores) spinning made each frame 10-20x slower; set the variable
# yourself to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from model import stages  # noqa: E402
from model.pipeline.background import in_background  # noqa: E402
from model.pipeline.engine import StreamingInpainter  # noqa: E402
from model.stages.robust_flow import FLOW_WORKING_SIZE  # noqa: E402
from model.masks import grow_hole  # noqa: E402
from model.pipeline.memory import release_free_memory  # noqa: E402
from model.propagate.whole_clip import PropagateConfig  # noqa: E402
from model.propagate.stream import StreamingPropagator  # noqa: E402
from model.io.encode import CODECS, VIDEO_EXTENSIONS  # noqa: E402
from model.io.video import FrameSource, FrameWriter, MaskSource, paired, side_by_side, tint_hole  # noqa: E402
from model.networks import KINDS  # noqa: E402
from model.networks.weights import find_weights, load_network  # noqa: E402

ROOT = Path(__file__).resolve().parent
DEMO_CLIP = ROOT / "demo" / "dog_walk"  # made by scripts/make_demo_clip.py
DEMO_OUTPUT = Path("demo_output")
DEMO_GROW = 0  # the demo masks already keep a margin around the person and the dog
DEMO_FPS = 29.97  # the demo clip's frame rate (a folder of frames has none)
DEFAULT_MAX_DISTANCE = PropagateConfig.max_distance  # as the Flow Propagate node


PACK_WEIGHTS = ROOT / "weights"


def classical(names) -> list[str]:
    """The weight-free choices of a stage (the learned "network" path is chosen with --learned)."""
    return [name for name in names if name != "network"]


def learned_networks(folder: Path = PACK_WEIGHTS) -> dict:
    """The trained networks shipped in ``weights/``, by kind (loaded strictly); ValueError if there are none."""
    found = find_weights(folder)
    if not found:
        raise ValueError(f"--learned: no trained weights in {folder}; use --no-learned to run the classical stages.")
    return {kind: load_network(path, kind) for kind, path in found.items()}


# Frames between hand-backs of the allocator's free memory. The pages handed back are faulted in again later:
# every 4 frames cost ~35 % speed at 720p, every 12 stayed within run-to-run noise and saved ~200 MB at 300 frames.
TRIM_EVERY = 12


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Frame-recurrent video inpainting (Ding et al. 2019): the pack's trained networks by default, "
                    "the weight-free stages with --no-learned. With no arguments it runs the shipped demo clip.")
    parser.add_argument("input", nargs="?", help="video file or folder of frames (jpg/png/webp/bmp/tif)")
    parser.add_argument("mask", nargs="?", help="mask video, mask folder, or one mask image for all frames; "
                                                "white (>= 128) = hole; RGBA: transparent = hole")
    parser.add_argument("-o", "--output", help="output video (.mp4/.m4v/.mov/.mkv/.avi: see --codec; the input video's "
                                               "audio is copied) or folder for PNG frames")
    parser.add_argument("--demo", action="store_true", help="run the shipped demo clip into demo_output/")
    parser.add_argument("--learned", action=argparse.BooleanOptionalAction, default=None,
                        help="run the trained network of every stage whose weights the pack ships in weights/ "
                             "(frame inpainting, flow completion, flow blend, ConvLSTM refiner; research-use terms, "
                             "see weights/README.md). Default: on when the pack ships all four; --no-learned runs "
                             "the weight-free stages (OpenCV Telea, DIS, Laplacian fill, temporal blend)")
    parser.add_argument("--frame-method", choices=classical(stages.FRAME_METHODS), default="telea",
                        help="per-frame fill (stage 1) of the weight-free stages (--no-learned): OpenCV Telea or "
                             "Navier-Stokes (default: telea)")
    parser.add_argument("--radius", type=int, default=5,
                        help="neighbourhood of the per-frame fill, pixels (default: 5)")
    parser.add_argument("--working-size", type=int, default=0, metavar="PIXELS",
                        help="long side at which the per-frame fill runs; the fill is upsampled and known pixels "
                             "stay exact (default: 0 = full resolution)")
    parser.add_argument("--estimator", choices=classical(stages.ESTIMATORS), default="dis_medium",
                        help="optical flow (stage 2), OpenCV DIS preset (default: dis_medium)")
    parser.add_argument("--flow-working-size", type=int, default=FLOW_WORKING_SIZE, metavar="PIXELS",
                        help="long side at which Robust Flow computes its flows, upsampled after; 0 = full "
                             "resolution (default: 640, as good as full resolution on 480p-720p clips and 3x faster "
                             "at 720p)")
    parser.add_argument("--blend", choices=classical(stages.BLENDS), default="confidence",
                        help="how the two flows are combined (stage 3) (default: confidence)")
    parser.add_argument("--strength", type=float, default=0.6,
                        help="0..1, how much of the previous frame's fill is carried along the flow (default: 0.6)")
    parser.add_argument("--propagate", action=argparse.BooleanOptionalAction, default=None,
                        help="first copy into the hole what other frames saw (Flow Propagate, forwards and "
                             "backwards in time); the stages then fill only what no frame saw (default: off; "
                             "demo: on)")
    parser.add_argument("--max-distance", type=int, default=None,
                        help=f"with --propagate: frames searched each way (default: {DEFAULT_MAX_DISTANCE}); more "
                             "finds more background but holds more frames in memory")
    parser.add_argument("--grow", type=int, default=None,
                        help="grow (or, negative, shrink) every hole by N pixels first (default: 0; demo: "
                             f"{DEMO_GROW})")
    parser.add_argument("--invert-mask", action="store_true", help="the mask marks the pixels to keep, not the hole")
    parser.add_argument("--side-by-side", metavar="PATH",
                        help="also write input (hole tinted red) | result next to each other to PATH")
    parser.add_argument("--fps", type=float, help="output frame rate (default: the input's; 24 for frame folders); "
                                                   "a rate other than the input video's drops its audio")
    parser.add_argument("--codec", choices=list(CODECS), default=None,
                        help="for video outputs: h264 = H.264 yuv420p at CRF 18 that plays everywhere (default; odd "
                             "sizes padded by one pixel); h264_lossless = bit-exact H.264 RGB (qp 0; VLC, mpv, "
                             "ffmpeg and editors play it, browsers do not); ffv1 = bit-exact FFV1 in .mkv/.avi. The "
                             "input video's audio is copied either way")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames (default: all)")
    parser.add_argument("--device", default="cpu",
                        help="where the networks, warps, Flow Propagate's tracing and the refiner run: cpu (default), "
                             "cuda or cuda:N (OpenCV's DIS and Telea stay on the CPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (for batches and logs)")
    return parser


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill in the demo and reject impossible values (argparse exits with code 2)."""
    if args.demo or (args.input is None and args.mask is None and args.output is None):
        if args.input or args.mask:
            parser.error("--demo takes no INPUT/MASK; drop them or drop --demo.")
        args.demo = True
        args.input, args.mask = str(DEMO_CLIP / "frames"), str(DEMO_CLIP / "masks")
        args.output = args.output or str(DEMO_OUTPUT / f"{DEMO_CLIP.name}_inpainted.mp4")
        args.side_by_side = args.side_by_side or str(DEMO_OUTPUT / f"{DEMO_CLIP.name}_side_by_side.mp4")
        args.fps = args.fps or DEMO_FPS
        args.grow = DEMO_GROW if args.grow is None else args.grow
        args.propagate = True if args.propagate is None else args.propagate
    elif args.input is None or args.mask is None or args.output is None:
        parser.error("give INPUT, MASK and -o OUTPUT (or no arguments for the demo).")
    args.grow = args.grow or 0
    args.propagate = bool(args.propagate)
    if args.learned is None:
        args.learned = set(find_weights(PACK_WEIGHTS)) >= set(KINDS)
    if not 0.0 <= args.strength <= 1.0:
        parser.error(f"--strength must lie in 0..1, got {args.strength}.")
    if args.radius < 1:
        parser.error(f"--radius must be at least 1, got {args.radius}.")
    if args.flow_working_size < 0:
        parser.error(f"--flow-working-size must be 0 (full resolution) or a positive number of pixels, got "
                     f"{args.flow_working_size}.")
    if args.working_size < 0:
        parser.error(f"--working-size must be 0 (full resolution) or a positive number of pixels, got "
                     f"{args.working_size}.")
    if args.max_frames < 0:
        parser.error(f"--max-frames must be 0 (all) or more, got {args.max_frames}.")
    problem = device_problem(args.device, here=False)  # the name; whether this machine has it: inpaint()
    if problem:
        parser.error(problem)
    if args.max_distance is not None and not args.propagate:
        parser.error("--max-distance only applies with --propagate; add --propagate or drop it.")
    args.max_distance = DEFAULT_MAX_DISTANCE if args.max_distance is None else args.max_distance
    if args.max_distance < 1:
        parser.error(f"--max-distance must be at least 1 frame, got {args.max_distance}.")
    if args.fps is not None and args.fps <= 0:
        parser.error(f"--fps must be positive, got {args.fps}.")
    videos = [p for p in (args.output, args.side_by_side) if p and Path(p).suffix.lower() in VIDEO_EXTENSIONS]
    if args.codec is not None and not videos:
        parser.error("--codec applies to video outputs; OUTPUT is a folder of PNG frames (already lossless).")
    args.codec = args.codec or "h264"
    outputs = [Path(p).resolve() for p in (args.output, args.side_by_side) if p]
    if any(out in (Path(args.input).resolve(), Path(args.mask).resolve()) for out in outputs) or \
            len(set(outputs)) < len(outputs):
        parser.error("the outputs must differ from INPUT, MASK and each other.")


def device_problem(name: str, here: bool = True) -> str | None:
    """Why ``--device name`` cannot run (a sentence), or None when it can.

    ``here=False`` checks the name only: a batch parses its shots on a machine that may have no GPU, for
    workers that do; each shot checks its device again where it runs (:func:`inpaint`).
    """
    try:
        device = torch.device(name)
    except RuntimeError:
        return f"--device {name!r}: expected cpu, cuda or cuda:N."
    if device.type == "cpu":
        return None
    if device.type != "cuda":
        return f"--device {name!r}: only cpu and cuda devices are supported."
    if not here:
        return None
    if not torch.cuda.is_available():
        return f"--device {name}: this torch build or machine has no CUDA device; use --device cpu."
    if device.index is not None and device.index >= torch.cuda.device_count():
        return f"--device {name}: there are only {torch.cuda.device_count()} CUDA devices (cuda:0 ..)."
    return None


def read(args: argparse.Namespace, pairs, timing: dict):
    """Yield ``(frame, hole)`` pairs with the hole grown by ``--grow``; reading time goes to ``timing["read"]``."""
    while True:
        start = time.perf_counter()
        pair = next(pairs, None)
        if pair is None:
            return
        frame, hole = pair
        if args.grow:
            hole = grow_hole(hole, args.grow)
        timing["read"] += time.perf_counter() - start
        yield frame, hole


def pipeline_stages(args: argparse.Namespace) -> tuple:
    """The four stages the options ask for: ``(frame inpainter, estimator, completer, blender, refiner)``.

    With ``--learned`` each stage whose trained weights are shipped runs its network.
    """
    networks = learned_networks() if args.learned else {}
    net = networks.get
    frame = (stages.frame_inpainter("network", network=net("frame_inpaint"), working_size=args.working_size)
             if net("frame_inpaint") else stages.frame_inpainter(args.frame_method, args.radius,
                                                                  working_size=args.working_size))
    completer = stages.flow_completer("network" if net("flow_complete") else "laplacian", net("flow_complete"))
    blender = stages.flow_blender("network", net("flow_blend")) if net("flow_blend") else \
        stages.flow_blender(args.blend)
    refiner = stages.refiner("network", network=net("convlstm_refine")) if net("convlstm_refine") else \
        stages.refiner("temporal_blend", args.strength)
    return frame, stages.flow_estimator(args.estimator), completer, blender, refiner


def timed(items, timing: dict, key: str):
    """Yield ``items``, adding the seconds spent making each to ``timing[key]``, less the reading time
    (``timing["read"]``) spent meanwhile."""
    items = iter(items)
    while True:
        start, read_before = time.perf_counter(), timing["read"]
        item = next(items, None)
        timing[key] += time.perf_counter() - start - (timing["read"] - read_before)
        if item is None:
            return
        yield item


def audio_source(frames: FrameSource, fps: float):
    """The input video whose audio the output videos copy, or None (frame folders; a changed frame rate, warned)."""
    if frames.kind != "video":
        return None
    if abs(fps - frames.info.fps) > 1e-3 * frames.info.fps:
        warnings.warn(f"--fps {fps:g} differs from the input's {frames.info.fps:g} fps: the video plays at another "
                      "speed, so its audio is not copied.", stacklevel=2)
        return None
    return frames.path


def inpaint(args: argparse.Namespace) -> dict:
    """Stream INPUT/MASK through [Flow Propagate and] the four stages into the writers; returns counts and timings."""
    problem = device_problem(args.device)
    if problem:
        raise ValueError(problem)
    frames = FrameSource(args.input)
    info = frames.info
    masks = MaskSource(args.mask, info.width, info.height, invert=args.invert_mask)
    pairs = paired(frames, masks, args.max_frames)  # checks the counts before any output is created
    fps = args.fps or info.fps
    audio = audio_source(frames, fps)
    engine = StreamingInpainter(*pipeline_stages(args), flow_working_size=args.flow_working_size, device=args.device)
    if args.learned:
        print("stages: the pack's trained networks (research / non-commercial terms, see weights/README.md); "
              "--no-learned runs the weight-free stages", file=sys.stderr)
    total = info.frame_count or None
    if args.max_frames:
        total = min(total or args.max_frames, args.max_frames)
    gap = 4
    threads, began = torch.get_num_threads(), time.perf_counter()
    overlapped = args.propagate and threads >= 2
    timing = {"read": 0.0, "propagate": 0.0, "wait": 0.0, "inpaint": 0.0, "write": 0.0}
    video = read(args, pairs, timing)
    if args.propagate:  # (input, hole, frame with propagated pixels, hole left for the stages)
        propagator = StreamingPropagator(stages.flow_estimator(args.estimator), stages.flow_completer("laplacian"),
                                         PropagateConfig(max_distance=args.max_distance), device=args.device)
        propagated = timed(propagator.run(video), timing, "propagate")
        if overlapped:  # Flow Propagate (and reading) in a worker thread, the stages here: they overlap in time.
            # One torch thread for it: its many small operations ran slower on two (196 vs 260 ms/frame at
            # 720p under OMP_WAIT_POLICY=PASSIVE); the stages' convolutions get the other threads.
            # A chunk's frames come out together: room for all of them (compact, ~4 bytes a pixel each)
            # lets the worker go on reading and tracing while the stages work through them.
            propagated = in_background(propagated, depth=propagator.chunk, threads=1)
        items = ((p.frame, p.hole, p.filled, p.remaining) for p in propagated)
    else:
        items = ((frame, hole, frame, hole) for frame, hole in video)
    with FrameWriter(args.output, info.width, info.height, fps, info.names, args.codec, audio) as writer, \
            (FrameWriter(args.side_by_side, 2 * info.width + gap, info.height, fps, info.names, args.codec, audio)
             if args.side_by_side else nullcontext()) as comparison, \
            tqdm(total=total, unit="frame", desc="inpainting", dynamic_ncols=True, disable=args.quiet) as bar, \
            closing(items), _restored_threads(threads):
        if overlapped:
            torch.set_num_threads(threads - 1)
        while True:
            start = time.perf_counter()
            item = next(items, None)
            middle = time.perf_counter()
            timing["wait"] += middle - start
            if item is None:
                break
            frame, hole, filled, remaining = item
            result = engine.step(filled, remaining)
            end = time.perf_counter()
            writer.write(result)
            if comparison is not None:
                comparison.write(side_by_side(tint_hole(frame, hole), result, gap))
            timing["inpaint"] += end - middle
            if writer.count % TRIM_EVERY == 0:
                release_free_memory()  # keeps the resident size flat over long videos (see model/pipeline/memory.py)
            timing["write"] += time.perf_counter() - end
            bar.update(1)
    return {"frames": writer.count, "width": info.width, "height": info.height, "fps": fps,
            "seconds": time.perf_counter() - began, "overlapped": overlapped, **timing}


@contextmanager
def _restored_threads(threads: int) -> Iterator[None]:
    """Set torch's CPU threads back to ``threads`` on the way out (the stages may run with fewer meanwhile)."""
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    try:
        report = inpaint(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; nothing was written to {args.output} (a previous output there is untouched).",
              file=sys.stderr)
        return 130
    n = max(report["frames"], 1)
    print(f"wrote {report['frames']} frames of {report['width']}x{report['height']} at {report['fps']:g} fps "
          f"to {Path(args.output).resolve()}")
    if args.side_by_side:
        print(f"side-by-side (input with the hole tinted | result): {Path(args.side_by_side).resolve()}")
    propagation = ""
    if args.propagate:
        alongside = (f" (in a second thread, alongside the stages, which waited for it {1000 * report['wait'] / n:.1f} "
                     "ms)") if report["overlapped"] else ""
        propagation = f"propagation {1000 * report['propagate'] / n:.1f} ms{alongside}, "
    print(f"time per frame: {propagation}inpainting {1000 * report['inpaint'] / n:.1f} ms, "
          f"reading {1000 * report['read'] / n:.1f} ms, writing {1000 * report['write'] / n:.1f} ms; "
          f"in all {1000 * report['seconds'] / n:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
