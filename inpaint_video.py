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
validation clips the full learned graph beat the weight-free one on every mask kind
(docs/evaluation.md). The weights carry research / non-commercial terms (weights/README.md);
--no-learned runs the weight-free stages.

The options are the fields of the pipeline description, model/pipeline/config.py (PipelineConfig,
defaults written there once), and of the job, model/pipeline/job.py (paths, codec, frame rate).
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from model import runtime

runtime.set_up()  # before torch loads (model/runtime.py)

from model import stages  # noqa: E402
from model.io.encode import CODECS  # noqa: E402
from model.pipeline.config import DEFAULTS, KEYFRAME_FILLS, PipelineConfig, classical  # noqa: E402
from model.pipeline.job import Job, run_job  # noqa: E402
from model.pipeline.run import Pipeline  # noqa: E402
from model.propagate.whole_clip import PROPAGATE_COMPLETIONS  # noqa: E402

ROOT = Path(__file__).resolve().parent
DEMO_CLIP = ROOT / "demo" / "dog_walk"  # made by scripts/make_demo_clip.py
DEMO_OUTPUT = Path("demo_output")
DEMO_GROW = 0  # the demo masks already keep a margin around the person and the dog
DEMO_FPS = 29.97  # the demo clip's frame rate (a folder of frames has none)
DEMO_KEYFRAMES = "textured"  # the person stands on one spot over hedge and paving: one sharp fill, carried


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
    parser.add_argument("--frame-method", choices=classical(stages.FRAME_METHODS), default=DEFAULTS.frame_method,
                        help="per-frame fill (stage 1) of the weight-free stages (--no-learned): OpenCV Telea, "
                             "Navier-Stokes, or exemplar (OpenCV contrib's shift-map: copies texture, seconds a frame, "
                             "needs opencv-contrib-python-headless) (default: telea)")
    parser.add_argument("--radius", type=int, default=DEFAULTS.radius,
                        help="neighbourhood of the per-frame fill, pixels (default: 5)")
    parser.add_argument("--working-size", type=int, default=DEFAULTS.working_size, metavar="PIXELS",
                        help="long side at which the per-frame fill runs; the fill is upsampled and known pixels "
                             "stay exact (default: 0 = full resolution)")
    parser.add_argument("--estimator", choices=classical(stages.ESTIMATORS), default=DEFAULTS.estimator,
                        help=f"optical flow (stage 2), OpenCV DIS preset (default: {DEFAULTS.estimator})")
    parser.add_argument("--flow-working-size", type=int, default=DEFAULTS.flow_working_size, metavar="PIXELS",
                        help="long side at which Robust Flow computes its flows, upsampled after; 0 = full "
                             "resolution (default: 640, as good as full resolution on 480p-720p clips and 3x faster "
                             "at 720p)")
    parser.add_argument("--blend", choices=classical(stages.BLENDS), default=DEFAULTS.blend,
                        help="how the two flows are combined (stage 3) (default: confidence)")
    parser.add_argument("--strength", type=float, default=DEFAULTS.strength,
                        help="0..1, how much of the previous frame's fill is carried along the flow (default: 0.6)")
    parser.add_argument("--propagate", action=argparse.BooleanOptionalAction, default=None,
                        help="first copy into the hole what other frames saw (Flow Propagate, forwards and "
                             "backwards in time); the stages then fill only what no frame saw (default: off; "
                             "demo: on)")
    parser.add_argument("--max-distance", type=int, default=None,
                        help=f"with --propagate: frames searched each way (default: "
                             f"{DEFAULTS.propagation.max_distance}); more finds more background but holds more "
                             "frames in memory")
    parser.add_argument("--propagate-completion", choices=PROPAGATE_COMPLETIONS, default=None,
                        help="with --propagate: how the motion inside the hole is guessed: camera (the camera's motion "
                             "fitted around the hole) or laplacian (interpolated from the hole's edge) (default: "
                             f"{DEFAULTS.propagation.completion})")
    parser.add_argument("--reference", action="append", default=[], metavar="N:PATH",
                        help="with --propagate: frame N (from 0) of the input with its hole already filled (by you or "
                             "an image inpainting model); what no nearby frame saw is carried from it along the motion "
                             "through every later frame (earlier frames: within --max-distance). Repeatable")
    parser.add_argument("--keyframes", choices=KEYFRAME_FILLS, default=None,
                        help="with --propagate: fill what no frame saw once, on automatic keyframes, and carry that "
                             "fill along the motion instead of filling it anew on every frame: by Frame Inpaint's own "
                             "fill (frame_inpaint), the exemplar fill (exemplar: OpenCV contrib's shift-map, sharp, "
                             "may paste wrong objects), or the patch-based completion that continues the texture "
                             "around the hole from Frame Inpaint's colours (textured; seconds per keyframe) "
                             f"(default: {DEFAULTS.keyframes}; demo: {DEMO_KEYFRAMES})")
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
    parser.add_argument("--device", default=DEFAULTS.device,
                        help="where the networks, warps, Flow Propagate's tracing and the refiner run: cpu (default), "
                             "cuda or cuda:N (OpenCV's DIS and Telea stay on the CPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (for batches and logs)")
    return parser


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[PipelineConfig, Job]:
    """The demo filled in, then the pipeline description and the job the arguments give (argparse exits with
    code 2 on impossible values)."""
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
        if args.keyframes is None and args.propagate:
            args.keyframes = DEMO_KEYFRAMES
    elif args.input is None or args.mask is None or args.output is None:
        parser.error("give INPUT, MASK and -o OUTPUT (or no arguments for the demo).")
    if args.reference and not args.propagate:
        parser.error("--reference is carried by Flow Propagate; add --propagate.")
    args.keyframes = args.keyframes or DEFAULTS.keyframes
    if args.keyframes != "off" and not args.propagate:
        parser.error("--keyframes are made by Flow Propagate; add --propagate.")
    if args.max_distance is not None and not args.propagate:
        parser.error("--max-distance only applies with --propagate; add --propagate or drop it.")
    if args.propagate_completion is not None and not args.propagate:
        parser.error("--propagate-completion only applies with --propagate; add --propagate or drop it.")
    try:
        config, job = settings(args)
    except ValueError as error:
        parser.error(str(error))
    if args.codec is not None and not job.writes_video:
        parser.error("--codec applies to video outputs; OUTPUT is a folder of PNG frames (already lossless).")
    return config, job


def settings(args: argparse.Namespace) -> tuple[PipelineConfig, Job]:
    """The pipeline description and the job of parsed arguments (ValueError naming a bad value)."""
    config = DEFAULTS.replace(
        propagate=bool(args.propagate), learned=args.learned, frame_method=args.frame_method, radius=args.radius,
        working_size=args.working_size, estimator=args.estimator, flow_working_size=args.flow_working_size,
        blend=args.blend, strength=args.strength, keyframes=args.keyframes, grow=args.grow or 0, device=args.device,
        max_distance=DEFAULTS.propagation.max_distance if args.max_distance is None else args.max_distance,
        completion=args.propagate_completion or DEFAULTS.propagation.completion)
    job = Job(args.input, args.mask, args.output, args.side_by_side, args.fps, max_frames=args.max_frames,
              invert_mask=args.invert_mask, quiet=args.quiet,
              references=";".join(args.reference), **({"codec": args.codec} if args.codec else {}))
    return config, job


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config, job = check_args(parser, args)
    plain_warnings, warnings.formatwarning = warnings.formatwarning, _one_line_warning
    try:
        pipeline = Pipeline(config)
        if pipeline.learned:
            print("stages: the pack's trained networks (research / non-commercial terms, see weights/README.md); "
                  "--no-learned runs the weight-free stages", file=sys.stderr)
        report = run_job(job, config, pipeline)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; nothing was written to {job.output} (a previous output there is untouched).",
              file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = plain_warnings  # main() may be called as a function: leave the process as it was
    n = max(report["frames"], 1)
    print(f"wrote {report['frames']} frames of {report['width']}x{report['height']} at {report['fps']:g} fps "
          f"to {Path(job.output).resolve()}")
    if job.side_by_side:
        print(f"side-by-side (input with the hole tinted | result): {Path(job.side_by_side).resolve()}")
    propagation = ""
    if config.propagate:
        alongside = (f" (in a second thread, alongside the stages, which waited for it {1000 * report['wait'] / n:.1f} "
                     "ms)") if report["overlapped"] else ""
        propagation = f"propagation {1000 * report['propagate'] / n:.1f} ms{alongside}, "
    if config.keyframes != "off":
        shown = ", ".join(map(str, pipeline.keyframes[:12])) + (", ..." if len(pipeline.keyframes) > 12 else "")
        print(f"automatic keyframes ({config.keyframes}): {len(pipeline.keyframes)}" + (f" (frames {shown})" if shown
                                                                                        else ""))
    print(f"time per frame: {propagation}inpainting {1000 * report['inpaint'] / n:.1f} ms, "
          f"reading {1000 * report['read'] / n:.1f} ms, writing {1000 * report['write'] / n:.1f} ms; "
          f"in all {1000 * report['seconds'] / n:.1f} ms")
    return 0


def _one_line_warning(message, *_args, **_kwargs) -> str:
    return f"warning: {message}\n"


if __name__ == "__main__":
    sys.exit(main())
