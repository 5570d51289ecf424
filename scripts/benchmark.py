#!/usr/bin/env python3
"""Speed per node and for the whole graph, and peak memory against video length.

    python scripts/benchmark.py                                   # speed at 3 sizes + RSS for 30/300 frames
    python scripts/benchmark.py --sizes 432x240 --rss-frames 30,300,3000 --out bench_out
    python scripts/benchmark.py --rss-via engine                  # RSS without the CLI (engine in a subprocess)
    python scripts/benchmark.py --devices cuda --weights weights --propagate 96 --rss-frames ''   # a GPU table

Speed: a panning real (or synthetic) video with the fixed centred rectangle hole goes through
``model.pipeline.engine.StreamingInpainter`` one frame at a time. The engine's ``timer`` hook times each
stage, the flow estimator and completer are wrapped in the same timer, so each node's share and
the whole ``step`` are measured in the same runs: ``--warmup`` frames first, then ``--runs`` runs
of ``--frames`` frames; the table gives the median ms/frame over runs (and the min-max range).
On CUDA (when present, ``--devices cpu,cuda``) timers synchronise the device and the peak
device memory is reported. The input is cut from a real frame of the shared clips when they sit
next to the checkout (``../shared/data/clips/dog_walk``), else from a generated texture.

Memory: for each ``--rss-frames`` count a fresh subprocess streams that many frames and its peak
resident set size (``ru_maxrss`` from ``os.wait4``) is reported. ``--rss-via cli`` (default when
``inpaint_video.py`` exists) writes a synthetic clip (MJPG .avi) and one mask image and runs the
streaming CLI on them (``--cli-cmd`` is a template with ``{python} {input} {mask} {output}``);
``--rss-via engine`` runs the engine on frames generated in memory (no decoding or encoding).

Writes ``bench.json`` and ``bench.md`` to ``--out``. The timings depend on the machine's load:
the report names the CPU, core count and torch thread count.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model.evaluation import mask_generators  # noqa: E402
from model import stages  # noqa: E402
from model.pipeline.engine import StreamingInpainter  # noqa: E402
from model.propagate.whole_clip import PropagateConfig  # noqa: E402
from model.propagate.stream import StreamingPropagator  # noqa: E402
from scripts.common import DEFAULT_TEXTURE, PanningVideo, StageTimer, parse_size, peak_rss, write_clip  # noqa: E402

CLI = ROOT / "inpaint_video.py"
DEFAULT_CLI_CMD = "{python} inpaint_video.py {input} {mask} -o {output}"
NODES = [  # (key, label)
    ("frame_inpaint", "Frame Inpaint"),
    ("robust_flow", "Robust Flow (F^P and F^I)"),
    ("flow_estimate", "  of which DIS flow estimate"),
    ("flow_complete", "  of which F^I completion"),
    ("flow_blend", "Flow Blend"),
    ("refine", "Refine"),
    ("graph", "whole graph (StreamingInpainter.step)"),
    ("propagate", "Flow Propagate before the graph (`--propagate`; DIS medium, 12 frames each way; one stream)"),
]


# ------------------------------------------------------------------------------------------ speed
CLASSICAL = {"frame_inpaint": lambda: stages.frame_inpainter("telea"),
             "flow_complete": lambda: stages.flow_completer("laplacian"),
             "flow_blend": lambda: stages.flow_blender("confidence"),
             "convlstm_refine": lambda: stages.refiner("temporal_blend")}
CLASSICAL_NAMES = {"frame_inpaint": "Telea", "flow_complete": "Laplacian", "flow_blend": "confidence",
                   "convlstm_refine": "temporal blend"}


def learned_makers(weights_dir: Path | None) -> tuple[dict, list[str]]:
    """Makers of the learned stages whose weights are in ``weights_dir`` (found by their metadata; each network
    loaded once, strictly), and notes."""
    if not weights_dir:
        return {}, []
    from model.networks.weights import find_weights, load_network
    factories = {"frame_inpaint": lambda net: stages.frame_inpainter("network", network=net),
                 "flow_complete": lambda net: stages.flow_completer("network", net),
                 "flow_blend": lambda net: stages.flow_blender("network", net),
                 "convlstm_refine": lambda net: stages.refiner("network", network=net)}
    found = find_weights(Path(weights_dir))
    networks = {kind: load_network(path, kind) for kind, path in found.items()}
    makers = {kind: (lambda make=factories[kind], net=net: make(net)) for kind, net in networks.items()}
    return makers, [f"learned stages from {weights_dir}: " + ", ".join(f"{k}={p.name}" for k, p in found.items())]


def build_engine(device: str, timer: StageTimer | None = None, makers: dict | None = None, working_size: int = 0,
                 flow_working_size: int = 0) -> StreamingInpainter:
    """The pipeline (classical stages, or the learned ones in ``makers``); with a ``timer``, its stages and the flow
    estimator and completer inside Robust Flow are timed (keys of :data:`NODES`, but ``graph``).

    ``working_size``: long side of the classical frame fill; ``flow_working_size``: of Robust Flow (0 = full size).
    """
    stage = {**CLASSICAL, **(makers or {})}
    if working_size and "frame_inpaint" not in (makers or {}):
        stage["frame_inpaint"] = lambda: stages.frame_inpainter("telea", working_size=working_size)
    wrap = timer.wrap if timer else (lambda fn, name: fn)
    return StreamingInpainter(stage["frame_inpaint"](), wrap(stages.flow_estimator("dis_medium"), "flow_estimate"),
                              wrap(stage["flow_complete"](), "flow_complete"), stage["flow_blend"](),
                              stage["convlstm_refine"](), device=device, flow_working_size=flow_working_size,
                              timer=timer)


def pipeline_name(makers: dict) -> str:
    """E.g. ``"frame_inpaint: network, flow_complete: Laplacian, ..."``."""
    return ", ".join(f"{kind}: {'network' if kind in makers else CLASSICAL_NAMES[kind]}" for kind in CLASSICAL)


def time_size(width: int, height: int, device: str, warmup: int, runs: int, frames: int,
              texture: Path | None, mask: str, makers: dict | None = None, working_size: int = 0,
              flow_working_size: int = 0) -> dict:
    """Median ms/frame of every node and of the whole step at one size -> ``{"nodes": {key: {...}}, ...}``."""
    video = PanningVideo(width, height, texture)
    hole = mask_generators.make_hole(mask, warmup + runs * frames, height, width, seed=0, key="benchmark")
    timer = StageTimer(device)
    per_run: dict[str, list[float]] = {key: [] for key, _ in NODES if key != "propagate"}  # timed apart
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    engine = build_engine(device, timer, makers, working_size, flow_working_size)
    step = timer.wrap(engine.step, "graph")
    t = 0
    for _ in range(warmup):
        step(video.frame(t), hole[t:t + 1])
        t += 1
    for _ in range(runs):
        timer.clear()
        for _ in range(frames):
            step(video.frame(t), hole[t:t + 1])
            t += 1
        for key in per_run:
            per_run[key].append(1000.0 * timer.totals.get(key, 0.0) / frames)
    nodes = {key: {"median_ms": statistics.median(v), "min_ms": min(v), "max_ms": max(v)} for key, v in per_run.items()}
    result = {"width": width, "height": height, "device": device, "nodes": nodes,
              "fps": 1000.0 / nodes["graph"]["median_ms"], "coverage": float(hole.mean())}
    if device.startswith("cuda"):
        result["peak_device_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    return result


def device_name(device: str) -> str:
    """The processor behind ``device``, in words."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        import platform
        cpu = platform.processor() or platform.machine()
    return f"{cpu} ({os.cpu_count()} cores visible, torch {torch.get_num_threads()} threads)"


# ----------------------------------------------------------------------------------------- memory
def _rss_mib() -> float:
    """Current resident set size of this process, MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_child(frames: int, width: int, height: int, device: str, texture: Path | None) -> dict:
    """Stream ``frames`` generated frames through the classical engine in this process -> memory figures."""
    video = PanningVideo(width, height, texture)
    hole = mask_generators.make_hole("fixed_rect", 1, height, width)
    engine = build_engine(device)
    samples = []
    start = time.perf_counter()
    checkpoints = {min(frames, n) - 1 for n in (1, 10, 30, 100, 300, 1000, 3000, frames)}
    for t in range(frames):
        engine.step(video.frame(t), hole)
        if t in checkpoints:
            samples.append({"frame": t + 1, "rss_mib": _rss_mib()})
    out = {"samples": samples, "wall_s": time.perf_counter() - start}
    if device.startswith("cuda"):
        out["peak_device_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    return out


def measure_rss(frames: int, width: int, height: int, via: str, cli_cmd: str, device: str,
                texture: Path | None, threads: int = 0) -> dict:
    """Peak RSS of one fresh subprocess streaming ``frames`` frames (see module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if via == "cli":
            hole = (mask_generators.make_hole("fixed_rect", 1, height, width)[0, 0].numpy() * 255).astype(np.uint8)
            source, mask = write_clip(folder, PanningVideo(width, height, texture), frames, lambda t: hole)
            command = shlex.split(cli_cmd.format(python=shlex.quote(sys.executable), input=shlex.quote(str(source)),
                                                 mask=shlex.quote(str(mask)),
                                                 output=shlex.quote(str(folder / "output.mp4"))))
        else:
            command = [sys.executable, str(Path(__file__).resolve()), "--rss-child", str(frames),
                       "--sizes", f"{width}x{height}", "--devices", device, "--json-to", str(folder / "child.json")]
            if texture:
                command += ["--texture", str(texture)]
        code, peak, wall = peak_rss(command, ROOT, folder / "log.txt", threads)
        if code != 0:
            raise SystemExit(f"error: {' '.join(command)} failed ({code}):\n{(folder / 'log.txt').read_text()[-2000:]}")
        result = {"frames": frames, "width": width, "height": height, "via": via, "peak_rss_mib": peak,
                  "wall_s": wall, "ms_per_frame": 1000.0 * wall / frames, "command": " ".join(command)}
        if via == "engine":
            result.update(json.loads((folder / "child.json").read_text()))
            result["ms_per_frame"] = 1000.0 * result["wall_s"] / frames
    return result


# ----------------------------------------------------------------------------------------- report
def time_propagate(width: int, height: int, device: str, count: int, texture: Path | None, mask: str) -> dict:
    """ms/frame of Flow Propagate on a stream of ``count`` frames (``StreamingPropagator``, the CLI's settings):
    wall time from the first frame in to the last frame out, over ``count``; its outputs come in chunks,
    so one long stream is timed rather than single frames."""
    video = PanningVideo(width, height, texture)
    hole = mask_generators.make_hole(mask, count, height, width, seed=0, key="benchmark")
    propagator = StreamingPropagator(stages.flow_estimator("dis_medium"), stages.flow_completer("laplacian"),
                                     PropagateConfig(), device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    start = time.perf_counter()
    for _ in propagator.run((video.frame(t), hole[t:t + 1]) for t in range(count)):
        pass
    sync()
    ms = 1000.0 * (time.perf_counter() - start) / count
    return {"median_ms": ms, "min_ms": ms, "max_ms": ms}


def markdown(speed: list[dict], memory: list[dict], settings: dict) -> str:
    lines = ["# Benchmark results", "",
             f"{settings['date']} · torch {torch.__version__} · pipeline: {settings['pipeline']} (F^P: DIS medium) "
             f"· hole: {settings['mask']} "
             f"· input: {settings['texture']} · torch threads {settings['threads']} · load average at start "
             f"{', '.join(f'{v:.1f}' for v in settings['load_average'])}", ""]
    for device in dict.fromkeys(r["device"] for r in speed):
        rows = [r for r in speed if r["device"] == device]
        lines += [f"## ms/frame on {device}: {settings['devices'][device]}", "",
                  f"Median over {settings['runs']} runs of {settings['frames']} frames after {settings['warmup']} "
                  "warm-up frames (min-max in brackets).", "",
                  "| node | " + " | ".join(f"{r['width']}x{r['height']}" for r in rows) + " |",
                  "|---|" + "---|" * len(rows)]
        for key, label in NODES:
            if not all(key in r["nodes"] for r in rows):
                continue
            timings = [r["nodes"][key] for r in rows]
            cells = [f"{n['median_ms']:.1f} ({n['min_ms']:.1f}-{n['max_ms']:.1f})" for n in timings]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("| frames per second (whole graph) | " + " | ".join(f"{r['fps']:.1f}" for r in rows) + " |")
        if any("peak_device_mib" in r for r in rows):
            lines.append("| peak device memory (MiB) | "
                         + " | ".join(f"{r.get('peak_device_mib', 0):.0f}" for r in rows) + " |")
        lines.append("")
    if memory:
        via = memory[0]["via"]
        lines += [f"## Peak memory against length ({'streaming CLI inpaint_video.py' if via == 'cli' else 'engine'})",
                  "", "| frames | size | peak RSS (MiB) | wall (s) | ms/frame incl. start-up |",
                  "|---|---|---|---|---|"]
        for m in memory:
            lines.append(f"| {m['frames']} | {m['width']}x{m['height']} | {m['peak_rss_mib']:.0f} | {m['wall_s']:.1f} "
                         f"| {m['ms_per_frame']:.0f} |")
        lines += ["", f"Command: `{memory[0]['command']}`" if via == "cli" else "", ""]
    lines += [settings["note"], ""]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench_out", help="output folder (default: bench_out)")
    parser.add_argument("--sizes", default="128x128,432x240,1280x720", help="comma-separated WIDTHxHEIGHT")
    parser.add_argument("--devices", default=None, help="comma-separated (default: cpu, plus cuda if present)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up frames per size (default: 5)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per size (default: 5)")
    parser.add_argument("--frames", type=int, default=10, help="frames per timed run (default: 10)")
    parser.add_argument("--mask", default="fixed_rect", choices=mask_generators.PROTOCOLS[:-1],
                        help="hole protocol for the speed runs (default: fixed_rect)")
    parser.add_argument("--texture", type=Path, default=DEFAULT_TEXTURE if DEFAULT_TEXTURE.is_file() else None,
                        help="image the panning input is cut from (default: a dog_walk frame if present)")
    parser.add_argument("--rss-frames", default="30,300", help="comma-separated lengths for peak RSS ('' = skip)")
    parser.add_argument("--rss-size", default="432x240", help="frame size of the RSS runs (default: 432x240)")
    parser.add_argument("--rss-via", choices=("cli", "engine"), default="cli" if CLI.is_file() else "engine",
                        help="measure RSS through inpaint_video.py (default when present) or the engine")
    parser.add_argument("--cli-cmd", default=DEFAULT_CLI_CMD, help="CLI command template (run from the repo root)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads, also passed to the RSS subprocesses as OMP_NUM_THREADS (default: torch's "
                             "choice; on a loaded shared CPU 1 thread is far faster than oversubscribed threads)")
    parser.add_argument("--weights", type=Path, help="folder of learned weights: time the learned stages found there "
                                                     "(the RSS runs stay classical)")
    parser.add_argument("--skip-speed", action="store_true", help="only measure memory")
    parser.add_argument("--propagate", type=int, default=0, metavar="FRAMES",
                        help="also time Flow Propagate on a stream of FRAMES frames at each size (e.g. 96; default: 0 "
                             "= not timed)")
    parser.add_argument("--working-size", type=int, default=0,
                        help="long side of the classical frame fill in the speed runs (default: 0 = full size)")
    parser.add_argument("--flow-working-size", type=int, default=0,
                        help="long side of Robust Flow in the speed runs (default: 0 = full size)")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)  # internal: one engine RSS run
    parser.add_argument("--json-to", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    try:
        sizes = [parse_size(s, "--sizes") for s in args.sizes.split(",") if s]
        rss_size = parse_size(args.rss_size, "--rss-size")
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    if args.rss_child:
        width, height = sizes[0]
        args.json_to.write_text(json.dumps(rss_child(args.rss_child, width, height, devices[0], args.texture)))
        return 0
    makers, notes = learned_makers(args.weights)
    settings = {"date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "warmup": args.warmup, "runs": args.runs,
                "threads": torch.get_num_threads(), "load_average": os.getloadavg(),
                "frames": args.frames, "mask": args.mask, "texture": str(args.texture or "smoothed random texture"),
                "devices": {d: device_name(d) for d in devices}, "pipeline": pipeline_name(makers)
                + f"; frame fill at {args.working_size or 'full'} px, "
                  f"Robust Flow at {args.flow_working_size or 'full'} px",
                "note": "Timings are wall-clock per frame (batch of one frame, torch.inference_mode). "
                        "On a shared machine other jobs' load inflates them; compare figures from one run."
                        + "".join(f" {n}" for n in notes)}
    speed = []
    if not args.skip_speed:
        for device in devices:
            for width, height in sizes:
                print(f"timing {width}x{height} on {device} ...", file=sys.stderr)
                speed.append(time_size(width, height, device, args.warmup, args.runs, args.frames, args.texture,
                                       args.mask, makers, args.working_size, args.flow_working_size))
                if args.propagate:
                    speed[-1]["nodes"]["propagate"] = time_propagate(width, height, device, args.propagate,
                                                                     args.texture, args.mask)
                    if device.startswith("cuda"):  # the larger of the graph's and Flow Propagate's peaks
                        speed[-1]["peak_device_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    memory = []
    for count in [int(c) for c in args.rss_frames.split(",") if c.strip()]:
        print(f"peak RSS for {count} frames at {args.rss_size} via {args.rss_via} ...", file=sys.stderr)
        memory.append(measure_rss(count, *rss_size, args.rss_via, args.cli_cmd, devices[0], args.texture, args.threads))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = markdown(speed, memory, settings)
    (out / "bench.md").write_text(report)
    (out / "bench.json").write_text(json.dumps({"settings": settings, "speed": speed, "memory": memory}, indent=1))
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
