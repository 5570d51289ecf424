#!/usr/bin/env python3
"""Speed and memory of the pipeline: one tool, a subcommand per measurement; each prints its numbers.

    python scripts/benchmark.py stages                            # ms/frame per stage at 3 sizes (bench.md/json)
    python scripts/benchmark.py stages --devices cuda --weights weights --propagate 96 --sizes 432x240,1280x720
    python scripts/benchmark.py networks --sizes 128x128 432x240  # each network alone and the full learned graph
    python scripts/benchmark.py memory --frames 30 300 3000       # peak RSS of inpaint_video.py against length
    python scripts/benchmark.py memory --size 1280x720 --frames 100 300 --cli-args=--propagate
    python scripts/benchmark.py node-memory --size 1280x720 100 300   # the ComfyUI nodes' working memory
    python scripts/benchmark.py batch /tmp/frvi_batch --workers 2 --label local2   # batch_inpaint.py throughput
    python scripts/benchmark.py server --size 1920x1080 --frames 300 600 --cli   # the long-shot template in ComfyUI

Every row is built from the pipeline description (``model/pipeline/config.py``'s ``DEFAULTS``, the CLI's
settings, and ``model/pipeline/run.py``'s ``build_stages``). The input is a panning crop of a real frame
(``../shared/data/clips/dog_walk`` when it sits next to the checkout) or of a generated texture
(``scripts/common.py``). Timings depend on the machine's load: the reports name the CPU, the thread
count and the load average. Nothing here asserts a timing.

stages
    The streaming engine, one frame at a time, with the ``--mask`` hole: each stage timed through the
    engine's ``timer`` hook (the flow estimate and completion inside Robust Flow too) in the same runs as the
    whole ``step``: ``--warmup`` frames, then ``--runs`` runs of ``--frames`` frames; median ms/frame over runs
    (min-max). The classical stages, or with ``--weights DIR`` the network of every stage whose weights are
    there. ``--propagate FRAMES`` also times Flow Propagate on a stream. On CUDA timers synchronise the device
    and the peak device memory is reported. Writes ``bench.md`` and ``bench.json`` to ``--out``.
networks
    Each network alone and the full learned graph (all four networks, random weights: speed does not
    depend on them), on a panning video with a moving box hole (or ``--clip DIR`` frames).
memory
    Peak resident set size of ``inpaint_video.py`` (a fresh process per length, measured by a small
    launcher so it is the CLI's own) on a panning clip of ``--size`` with a moving box hole (MJPG .avi and
    PNG masks), or on ``--real-frames DIR``, with ``--cli-args`` (e.g. ``--propagate``). It must not grow
    with the length.
node-memory
    The four ComfyUI pipeline nodes (the widgets' defaults) on T generated frames held in memory: peak RSS
    next to the tensors the graph keeps (IMAGE batches and flow fields); the difference, their working
    memory, must not grow with T.
server
    An API workflow (default: the long-shot template) through a real ComfyUI server started by
    ``../shared/tools/comfyui-up`` (restarted per length, so its peak is this run's): the server process's
    idle and peak RSS (``/proc``, the whole process) and ms/frame, on a panning clip with a moving box
    hole written as two MJPG .avi files. ``--cli`` also runs ``inpaint_video.py`` with the streaming node's
    settings on the same files (peak RSS, ms/frame including start-up) and compares the two outputs frame by
    frame (equal with ``--codec h264_lossless`` when both run on the same torch thread count).
batch
    ``batch_inpaint.py`` over 8 short shots of ``demo/dog_walk`` (every other one with ``--propagate``),
    copied into FOLDER (never into the repository), locally or on a Ray cluster; checks that its PNGs equal
    the plain CLI's, byte for byte (both on ``--cpus-per-shot`` threads a shot)::

        ray start --head --port=6390 --num-cpus=1
        RAY_AUTH_MODE=token python scripts/benchmark.py batch /tmp/frvi_batch --ray 127.0.0.1:6390 --label ray1
        ray stop
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model import runtime  # noqa: E402

runtime.set_up()  # before torch loads (model/runtime.py)

import torch  # noqa: E402

from model import stages  # noqa: E402
from model.evaluation import mask_generators  # noqa: E402
from model.networks import NETWORKS  # noqa: E402
from model.networks.weights import find_weights  # noqa: E402
from model.pipeline.config import DEFAULTS, PipelineConfig, classical, device_problem  # noqa: E402
from model.pipeline.run import Pipeline, Stages, build_stages, load_networks  # noqa: E402
from model.stages.convlstm_refine import RecurrentState  # noqa: E402
from scripts.common import (DEFAULT_TEXTURE, PanningVideo, StageTimer, make_engine, moving_box,  # noqa: E402
                            parse_size, parse_sizes, peak_rss, write_clip)

CLI = ROOT / "inpaint_video.py"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def load_average() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


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


# ------------------------------------------------------------------------------------------------ stages
NODES = [  # (key, label)
    ("frame_inpaint", "Frame Inpaint"),
    ("robust_flow", "Robust Flow (F^P and F^I)"),
    ("flow_estimate", "  of which DIS flow estimate"),
    ("flow_complete", "  of which F^I completion"),
    ("flow_blend", "Flow Blend"),
    ("refine", "Refine"),
    ("graph", "whole graph (StreamingInpainter.step)"),
    ("propagate", "Flow Propagate before the graph (`--propagate`; the CLI's settings; one stream)"),
]


def pipeline_name(config: PipelineConfig, networks: dict) -> str:
    """E.g. ``"frame_inpaint: network, flow_complete: laplacian, ..."``."""
    paths = {"frame_inpaint": config.frame_method, "flow_complete": "laplacian", "flow_blend": config.blend,
             "convlstm_refine": f"temporal blend {config.strength}"}
    return ", ".join(f"{kind}: {'network' if kind in networks else path}" for kind, path in paths.items())


def time_size(width: int, height: int, config: PipelineConfig, networks: dict, warmup: int, runs: int, frames: int,
              texture: Path | None, mask: str) -> dict:
    """Median ms/frame of every stage and of the whole step at one size -> ``{"nodes": {key: {...}}, ...}``."""
    video = PanningVideo(width, height, texture)
    hole = mask_generators.make_hole(mask, warmup + runs * frames, height, width, seed=0, key="benchmark")
    timer = StageTimer(config.device)
    per_run: dict[str, list[float]] = {key: [] for key, _ in NODES if key != "propagate"}  # timed apart
    if config.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    engine = make_engine(config, networks, timer, lambda s: s._replace(
        estimator=timer.wrap(s.estimator, "flow_estimate"), completer=timer.wrap(s.completer, "flow_complete")))
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
    result = {"width": width, "height": height, "device": config.device, "nodes": nodes,
              "fps": 1000.0 / nodes["graph"]["median_ms"], "coverage": float(hole.mean())}
    if config.device.startswith("cuda"):
        result["peak_device_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    return result


def time_propagate(width: int, height: int, config: PipelineConfig, count: int, texture: Path | None,
                   mask: str) -> dict:
    """ms/frame of Flow Propagate (``Pipeline(config).propagator()``, the CLI's stream) on ``count`` frames: wall
    time from the first frame in to the last frame out, over ``count``; its outputs come in chunks, so one long
    stream is timed rather than single frames."""
    video = PanningVideo(width, height, texture)
    hole = mask_generators.make_hole(mask, count, height, width, seed=0, key="benchmark")
    propagator = Pipeline(config, networks={}).propagator()
    sync = torch.cuda.synchronize if config.device.startswith("cuda") else (lambda: None)
    start = time.perf_counter()
    for _ in propagator.run((video.frame(t), hole[t:t + 1]) for t in range(count)):
        pass
    sync()
    ms = 1000.0 * (time.perf_counter() - start) / count
    return {"median_ms": ms, "min_ms": ms, "max_ms": ms}


def stages_markdown(speed: list[dict], settings: dict) -> str:
    lines = ["# Benchmark results", "",
             f"{settings['date']} · torch {torch.__version__} · pipeline: {settings['pipeline']} · hole: "
             f"{settings['mask']} · input: {settings['texture']} · torch threads {settings['threads']} · load average "
             f"at start {settings['load_average']}", ""]
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
    return "\n".join(lines + [settings["note"], ""])


def _long_side(pixels: int) -> str:
    return f"{pixels} px long side" if pixels else "full size"


def run_stages(args: argparse.Namespace) -> int:
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        if device_problem(device):
            raise ValueError(device_problem(device))
    config = DEFAULTS.replace(learned=args.weights is not None, weights_dir=str(args.weights or DEFAULTS.weights_dir),
                              working_size=args.working_size, flow_working_size=args.flow_working_size)
    networks = load_networks(config)
    found = ", ".join(f"{kind}={path.name}" for kind, path in find_weights(config.weights_dir).items())
    settings = {"date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "warmup": args.warmup, "runs": args.runs,
                "threads": torch.get_num_threads(), "load_average": load_average(),
                "frames": args.frames, "mask": args.mask, "texture": str(args.texture or "smoothed random texture"),
                "devices": {d: device_name(d) for d in devices},
                "pipeline": f"{pipeline_name(config, networks)}; F^P: {config.estimator}; frame fill at "
                            f"{_long_side(config.working_size)}, Robust Flow at {_long_side(config.flow_working_size)}",
                "note": "Timings are wall-clock per frame (batch of one frame, torch.inference_mode). "
                        "On a shared machine other jobs' load inflates them; compare figures from one run."
                        + (f" Learned stages from {args.weights}: {found}." if networks else "")}
    speed = []
    for device in devices:
        here = config.replace(device=device)
        for width, height in args.sizes:
            print(f"timing {width}x{height} on {device} ...", file=sys.stderr)
            speed.append(time_size(width, height, here, networks, args.warmup, args.runs, args.frames, args.texture,
                                   args.mask))
            if args.propagate:
                speed[-1]["nodes"]["propagate"] = time_propagate(width, height, here, args.propagate, args.texture,
                                                                 args.mask)
                if device.startswith("cuda"):  # the larger of the graph's and Flow Propagate's peaks
                    speed[-1]["peak_device_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = stages_markdown(speed, settings)
    (out / "bench.md").write_text(report)
    (out / "bench.json").write_text(json.dumps({"settings": settings, "speed": speed}, indent=1))
    print(report)
    return 0


# ---------------------------------------------------------------------------------------------- networks
def synthetic_video(frames: int, width: int, height: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The panning smoothed random texture with the moving box hole -> ``[(frame [1,3,H,W], hole [1,1,H,W])]``."""
    panning, hole = PanningVideo(width, height), moving_box(width, height)
    return [(panning.frame(t), torch.from_numpy(hole(t) / 255.0).float()[None, None]) for t in range(frames)]


def clip_video(folder: Path, frames: int, width: int, height: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Frames of an image folder resized to ``width x height``, with the moving box hole."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:frames]
    if not files:
        raise SystemExit(f"error: {folder}: no .jpg/.png frames found")
    hole, video = moving_box(width, height), []
    for t, path in enumerate(files):
        rgb = cv2.resize(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), (width, height),
                         interpolation=cv2.INTER_AREA)
        video.append((torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0,
                       torch.from_numpy(hole(t) / 255.0).float()[None, None]))
    return video


def per_network(video, parts: Stages, warmup: int, repeats: int) -> dict[str, float]:
    """Median ms of each network (and the DIS flow) alone on frame 1 of ``video``."""
    inpainter, estimator, completer, blender, refiner = parts
    (f0, h0), (f1, h1) = video[0], video[1]
    p0, p1 = inpainter(f0, h0), inpainter(f1, h1)
    flow = estimator(p1, p0)
    conf = torch.rand_like(h1)
    _, memory = refiner(f0, h0, p0, torch.zeros_like(flow), torch.zeros_like(conf), None)
    state = RecurrentState(f0, h0, p0, p0, memory)
    calls = {
        "frame_inpaint": lambda: inpainter(f1, h1),
        "flow_complete": lambda: completer(flow, torch.maximum(h0, h1)),
        "flow_blend": lambda: blender(flow, conf, flow, conf),
        "convlstm_refine": lambda: refiner(f1, h1, p1, flow, conf, state),
        "dis_flow": lambda: estimator(p1, p0),
    }
    result = {}
    for name, call in calls.items():
        for _ in range(warmup):
            call()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1000.0)
        result[name] = statistics.median(times)
    return result


def full_graph(video, config: PipelineConfig, networks: dict, warmup: int,
               passes: int) -> tuple[list[float], list[float], dict[str, list[float]]]:
    """Per-frame wall ms and CPU ms (all threads) of ``StreamingInpainter.step`` (frames after the first
    ``warmup`` of each pass, a fresh engine each pass), and the wall ms of every call of each stage."""
    timer = StageTimer()
    names = ("frame_inpaint", "dis_flow", "flow_complete", "flow_blend", "convlstm_refine")
    frame_times, cpu_times = [], []
    for _ in range(passes):
        engine = make_engine(config, networks, swap=lambda s: Stages(*map(timer.wrap, s, names)))
        for t, (frame, hole) in enumerate(video):
            start, cpu_start = time.perf_counter(), time.process_time()
            engine.step(frame, hole)
            if t >= warmup:
                frame_times.append((time.perf_counter() - start) * 1000.0)
                cpu_times.append((time.process_time() - cpu_start) * 1000.0)
    return frame_times, cpu_times, {name: [1000.0 * s for s in calls] for name, calls in timer.calls.items()}


def run_networks(args: argparse.Namespace) -> int:
    torch.manual_seed(0)
    networks = {kind: cls() for kind, cls in NETWORKS.items()}
    config = DEFAULTS.replace(estimator=args.estimator)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY')}, load average {load_average()}")
    print("parameters: " + ", ".join(f"{k} {n.parameter_count() / 1e6:.3f} M" for k, n in networks.items())
          + f"; total {sum(n.parameter_count() for n in networks.values()) / 1e6:.3f} M")
    for width, height in args.sizes:
        video = (clip_video(args.clip, args.frames, width, height) if args.clip
                 else synthetic_video(args.frames, width, height))
        with torch.inference_mode():
            alone = per_network(video, build_stages(config, networks), args.warmup, args.repeats)
            frame_times, cpu_times, log = full_graph(video, config, networks, args.warmup, args.passes)
        median = statistics.median(frame_times)
        p10, p90 = (sorted(frame_times)[int(q * (len(frame_times) - 1))] for q in (0.1, 0.9))
        print(f"\n{width}x{height}: full learned graph {median:.2f} ms/frame median wall time "
              f"(p10 {p10:.2f}, p90 {p90:.2f}, n={len(frame_times)}; CPU time {statistics.median(cpu_times):.2f} ms "
              f"over all threads), load average {load_average()}")
        print(f"  alone (median of {args.repeats} calls):  " + ", ".join(f"{k} {v:.2f}" for k, v in alone.items()))
        stage_ms = {k: statistics.median(v[args.warmup:] or v) for k, v in log.items()}
        other = median - sum(stage_ms.values())
        print("  inside the graph (median ms): " + ", ".join(f"{k} {v:.2f}" for k, v in stage_ms.items())
              + f", rest (warps, confidence, hole growing, checks) {other:.2f}")
        if args.profile:
            from torch.profiler import ProfilerActivity, profile
            with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
                engine = make_engine(config, networks)
                for frame, hole in video[:15]:
                    engine.step(frame, hole)
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    return 0


# ------------------------------------------------------------------------------------------------ memory
def run_memory(args: argparse.Namespace) -> int:
    if args.real_frames:
        real = sorted(f for f in Path(args.real_frames).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not real:
            raise SystemExit(f"error: no .jpg/.png frames in {args.real_frames}")
        height, width = cv2.imread(str(real[0])).shape[:2]
        counts, source = [len(real)], f"the {len(real)} frames of {args.real_frames}"
    else:
        width, height = args.size
        video = PanningVideo(width, height, args.texture, pad=max(24, width // 20))
        counts, source = args.frames, f"a panning clip ({video.source}, MJPG .avi)"
    hole = moving_box(width, height)
    extra = shlex.split(args.cli_args)
    print(f"inpaint_video.py {' '.join(extra) or '(defaults)'} on {source} at {width}x{height}, a moving box hole "
          f"(PNG masks); OMP_NUM_THREADS={args.threads or os.environ.get('OMP_NUM_THREADS', 'unset')}\n")
    print("| frames | peak RSS (MiB) | wall (s) | ms/frame incl. start-up | load before -> after | the CLI's timing |")
    print("|---|---|---|---|---|---|")
    for count in counts:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            folder = Path(tmp)
            if args.real_frames:  # the real frames as they are, the moving box as masks
                frames, masks = Path(args.real_frames), folder / "masks"
                masks.mkdir()
                for t in range(count):
                    cv2.imwrite(str(masks / f"{t:05d}.png"), hole(t))
            else:
                frames, masks = write_clip(folder, video, count, hole)
            command = [sys.executable, str(CLI), str(frames), str(masks), "-o", str(folder / "out.mp4"), *extra]
            if args.side_by_side:
                command += ["--side-by-side", str(folder / "side_by_side.mp4")]
            before = os.getloadavg()[0]
            code, peak, wall = peak_rss(command, ROOT, folder / "log.txt", args.threads)
            log = (folder / "log.txt").read_text()
            if code != 0:
                raise SystemExit(f"error: {shlex.join(command)} failed ({code}):\n{log[-2000:]}")
            timing = next((line for line in log.splitlines() if line.startswith("time per frame")), "")
            print(f"| {count} | {peak:.0f} | {wall:.1f} | {1000 * wall / count:.0f} | {before:.1f} -> "
                  f"{os.getloadavg()[0]:.1f} | {timing} |", flush=True)
    return 0


# ------------------------------------------------------------------------------------------- node-memory
NODE_CHILD = r"""
import importlib.util, json, os, sys, time, torch
repo = sys.argv[1]
# The nodes are ComfyUI V3 nodes: comfy_api.latest from the ComfyUI source tree; ComfyUI's runtime modules are kept
# out (None in sys.modules: ImportError), so the nodes run on their outside-ComfyUI path (CPU, no progress bar)
sys.path.append(sys.argv[5])
import comfy_api.latest
for name in ("comfy.model_management", "comfy.utils", "comfy.model_patcher", "folder_paths"):
    sys.modules[name] = None
spec = importlib.util.spec_from_file_location("frvi", repo + "/__init__.py", submodule_search_locations=[repo])
pack = importlib.util.module_from_spec(spec); sys.modules["frvi"] = pack; spec.loader.exec_module(pack)
sys.path.insert(0, repo)
from frvi.model.pipeline.config import DEFAULTS as d
from scripts.common import PanningVideo
n, w, h = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
video = PanningVideo(w, h)
frames = torch.stack([torch.from_numpy(video.frame_array(t).copy()) for t in range(n)]).float() / 255  # [T,H,W,3]
hole = torch.zeros(n, h, w); hole[:, h // 3:2 * h // 3, 3 * w // 8:5 * w // 8] = 1
import gc; gc.collect()
baseline = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20  # current RSS, MiB
from frvi.nodes.pipeline_nodes import ConvLSTMRefine, FlowBlend, FrameInpaint, RobustFlow
t0 = time.perf_counter()
(p,) = FrameInpaint.execute(frames, hole, d.frame_method, d.radius).result
fp, fi = RobustFlow.execute(frames, hole, p, d.estimator, "laplacian", d.hole_dilation).result
(f,) = FlowBlend.execute(fp, fi, d.blend).result
out, state = ConvLSTMRefine.execute(frames, hole, p, f, "temporal_blend", d.strength).result
seconds = time.perf_counter() - t0
held = (p, out, fp.flow, fp.confidence, fi.flow, fi.confidence, f.flow, f.confidence)
made = sum(x.numel() * x.element_size() for x in held)
print(json.dumps({"rss_before_graph_mib": baseline, "outputs_mib": made / 2**20,
                  "image_batch_mib": frames.numel() * 4 / 2**20, "ms_per_frame": 1000 * seconds / n}))
"""


def run_node_memory(args: argparse.Namespace) -> int:
    if not (COMFYUI_SOURCE / "comfy_api").is_dir():
        raise SystemExit(f"error: node-memory needs the ComfyUI source at {COMFYUI_SOURCE} (the nodes import its "
                         "comfy_api.latest)")
    width, height = args.size
    print(f"the four pipeline nodes (widget defaults) on {width}x{height} frames; load average {load_average()}\n")
    print("| frames | one IMAGE batch MiB | node outputs held MiB | RSS before graph MiB | peak RSS MiB | "
          "working memory MiB (peak - before - outputs) | graph ms/frame |")
    print("|---|---|---|---|---|---|---|")
    for n in args.lengths:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "log.txt"
            code, peak, _ = peak_rss([sys.executable, "-c", NODE_CHILD, str(ROOT), str(n), str(width), str(height),
                                      str(COMFYUI_SOURCE)], ROOT, log, args.threads)
            text = log.read_text()
            if code != 0:
                raise SystemExit(f"error: the node graph failed on {n} frames ({code}):\n{text[-2000:]}")
            r = json.loads(next(line for line in reversed(text.splitlines()) if line.startswith("{")))
        work = peak - r["rss_before_graph_mib"] - r["outputs_mib"]
        print(f"| {n} | {r['image_batch_mib']:.0f} | {r['outputs_mib']:.0f} | {r['rss_before_graph_mib']:.0f} | "
              f"{peak:.0f} | {work:.0f} | {r['ms_per_frame']:.1f} |", flush=True)
    return 0


# ------------------------------------------------------------------------------------------------ server
HARNESS = ROOT.parent / "shared" / "tools"
COMFYUI_SOURCE = ROOT.parent / "shared" / "comfyui"  # node-memory imports the nodes' comfy_api.latest from here


def write_videos(folder: Path, width: int, height: int, count: int, texture: Path | None) -> tuple[Path, Path]:
    """A panning clip and its moving-box hole as two MJPG .avi files (24 fps) in ``folder`` -> their paths."""
    video, hole = PanningVideo(width, height, texture, pad=max(24, width // 20)), moving_box(width, height)
    paths = folder / "frames.avi", folder / "hole_mask.avi"
    writers = [cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, (width, height)) for p in paths]
    for t in range(count):
        writers[0].write(cv2.cvtColor(np.ascontiguousarray(video.frame_array(t)), cv2.COLOR_RGB2BGR))
        writers[1].write(cv2.cvtColor(hole(t), cv2.COLOR_GRAY2BGR))
    for writer in writers:
        writer.release()
    return paths


def proc_status(pid: int, key: str) -> float:
    """``VmRSS`` / ``VmHWM`` (peak) of process ``pid`` in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"{key} not in /proc/{pid}/status")


def stream_cli_args(graph: dict) -> list[str]:
    """The CLI options that match the graph's Video Inpaint (streaming) widgets."""
    node = next(n["inputs"] for n in graph.values() if n["class_type"] == "FRVI_VideoInpaintStream")
    flag = lambda on, name: f"--{name}" if on else f"--no-{name}"  # noqa: E731
    return [flag(node["propagate"], "propagate"), flag(node["learned"], "learned"), "--max-distance",
            str(node["max_distance"]), "--frame-method", node["frame_method"], "--grow", str(node["grow"]),
            "--codec", node["codec"], "--estimator", node.get("estimator", DEFAULTS.estimator)]


def decoded(path: Path) -> list[np.ndarray]:
    """Every frame of a video file as OpenCV decodes it."""
    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, image = capture.read()
        if not ok:
            return frames
        frames.append(image)


def post(url: str, route: str, body: dict) -> dict:
    """POST ``body`` as JSON to the server; its JSON answer."""
    request = urllib.request.Request(url + route, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read()
    return json.loads(text) if text.strip() else {}


def cancel_time(url: str, graph: dict, after: float) -> tuple[float, str]:
    """Queue ``graph``, press Cancel (POST /interrupt) ``after`` seconds later -> (seconds until the prompt ended,
    its status)."""
    prompt_id = post(url, "/prompt", {"prompt": graph, "client_id": "frvi-benchmark"})["prompt_id"]
    time.sleep(after)
    pressed = time.perf_counter()
    post(url, "/interrupt", {})
    while True:
        with urllib.request.urlopen(f"{url}/history/{prompt_id}", timeout=60) as response:
            entry = json.load(response).get(prompt_id)
        if entry and entry.get("status", {}).get("completed") is not None:
            return time.perf_counter() - pressed, entry["status"].get("status_str", "?")
        time.sleep(0.02)


def run_server(args: argparse.Namespace) -> int:
    width, height = args.size
    graph = json.loads(args.workflow.read_text())
    loaders = {n["_meta"]["title"]: i for i, n in graph.items() if n["class_type"] == "LoadVideo"}
    mask_id = next(i for title, i in loaders.items() if "mask" in title.lower())
    frames_id = next(i for i in loaders.values() if i != mask_id)
    streaming = any(n["class_type"] == "FRVI_VideoInpaintStream" for n in graph.values())
    if args.codec and streaming:
        next(n for n in graph.values() if n["class_type"] == "FRVI_VideoInpaintStream")["inputs"]["codec"] = args.codec
    print(f"{args.workflow.name} through a real ComfyUI server (--cpu) on a panning clip at {width}x{height} with a "
          f"moving box hole (MJPG .avi files); load average {load_average()}\n")
    print("| frames | server RSS idle MiB | server peak RSS MiB | ms/frame (queue to done) | "
          "CLI peak RSS MiB | CLI ms/frame | output equal to the CLI's |")
    print("|---|---|---|---|---|---|---|")
    for count in args.frames:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            folder = Path(tmp)
            frames, mask = write_videos(folder, width, height, count, args.texture)
            up = subprocess.run([str(HARNESS / "comfyui-up"), str(ROOT), str(args.port)], capture_output=True,
                                text=True)
            if up.returncode != 0:
                raise SystemExit(f"error: comfyui-up failed ({up.returncode}):\n{up.stdout[-2000:]}{up.stderr[-2000:]}")
            env = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
            pid, inputs = int(env["COMFYUI_PID"]), Path(env["COMFYUI_INPUT"])
            try:
                names = {frames_id: f"frvi_bench_{count}.avi", mask_id: f"frvi_bench_{count}_mask.avi"}
                shutil.copyfile(frames, inputs / names[frames_id])
                shutil.copyfile(mask, inputs / names[mask_id])
                for node_id, name in names.items():
                    graph[node_id]["inputs"]["file"] = name
                (folder / "graph.json").write_text(json.dumps(graph))
                idle = proc_status(pid, "VmRSS")
                if args.cancel_after:
                    seconds, status = cancel_time(env["COMFYUI_URL"], graph, args.cancel_after)
                    temp = Path(env["COMFYUI_HOME"]) / "temp" / "frvi"
                    left = sorted(p.name for p in [*Path(env["COMFYUI_OUTPUT"]).rglob("*"), *temp.glob("*")]
                                  if p.is_file())
                    print(f"| {count} | Cancel pressed after {args.cancel_after:g} s: the prompt ended {seconds:.2f} s "
                          f"later ({status}); files left in output/ and temp/frvi/: {left or 'none'} |", flush=True)
                    continue
                queued = subprocess.run([sys.executable, str(HARNESS / "comfyui-queue"), env["COMFYUI_URL"],
                                         str(folder / "graph.json"), "--timeout", str(args.timeout), "--quiet"],
                                        capture_output=True, text=True)
                if queued.returncode != 0:
                    raise SystemExit(f"error: the workflow failed ({queued.returncode}):\n{queued.stdout[-3000:]}")
                summary = json.loads(queued.stdout[queued.stdout.index("{"):])  # the JSON report, maybe indented
                peak = proc_status(pid, "VmHWM")
                saved = [Path(env["COMFYUI_OUTPUT"]) / f for out in summary["outputs"].values() for f in out["files"]]
                cli_cells = ["", "", ""]
                if args.cli and streaming:
                    out = folder / f"cli{saved[0].suffix if saved else '.mp4'}"
                    command = [sys.executable, str(CLI), str(frames), str(mask), "-o", str(out), "--quiet",
                               *stream_cli_args(graph)]
                    code, cli_peak, wall = peak_rss(command, ROOT, folder / "cli.log", args.threads)
                    if code != 0:
                        raise SystemExit(f"error: the CLI failed ({code}):\n{(folder / 'cli.log').read_text()[-2000:]}")
                    same = ""
                    if saved:
                        a, b = decoded(saved[0]), decoded(out)
                        same = "yes" if len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b)) else \
                            f"no ({len(a)} vs {len(b)} frames)"
                    cli_cells = [f"{cli_peak:.0f}", f"{1000 * wall / count:.0f}", same]
                print(f"| {count} | {idle:.0f} | {peak:.0f} | {1000 * summary['seconds'] / count:.0f} | "
                      + " | ".join(cli_cells) + " |", flush=True)
                for path in saved:
                    path.unlink(missing_ok=True)
                for name in names.values():
                    (inputs / name).unlink(missing_ok=True)
            finally:
                subprocess.run([str(HARNESS / "comfyui-down"), str(args.port)], capture_output=True)
    return 0


# ------------------------------------------------------------------------------------------------- batch
DEMO = ROOT / "demo" / "dog_walk"
SHOTS, SHOT_FRAMES, STRIDE = 8, 24, 3


def make_shots(folder: Path) -> Path:
    """Copy the 8 windows of the demo into ``folder/clips`` and write ``folder/shots.csv`` (output: OUT/shNN)."""
    frames, masks = sorted((DEMO / "frames").iterdir()), sorted((DEMO / "masks").iterdir())
    rows = []
    for k in range(SHOTS):
        clip = folder / "clips" / f"sh{k:02d}"
        for kind, files in (("frames", frames), ("masks", masks)):
            (clip / kind).mkdir(parents=True, exist_ok=True)
            for path in files[STRIDE * k:STRIDE * k + SHOT_FRAMES]:
                shutil.copy(path, clip / kind / path.name)
        rows.append({"name": f"sh{k:02d}", "input": f"clips/sh{k:02d}/frames", "mask": f"clips/sh{k:02d}/masks",
                     "output": f"OUT/sh{k:02d}", "propagate": "yes" if k % 2 == 0 else ""})
    with open(folder / "shots.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "shots.csv"


def cli_references(folder: Path, shot_list: Path, threads: int) -> Path:
    """The plain CLI's output of every shot on ``threads`` threads (as each shot of the batch: another count sums
    in another order, which changes the last bit of some pixels) in ``folder/cli_<threads>t/shNN`` (skipped when
    there) -> that folder."""
    references = folder / f"cli_{threads}t"
    for row in csv.DictReader(shot_list.open()):
        out = references / row["name"]
        if not out.exists():
            extra = ["--propagate"] if row["propagate"] else []
            subprocess.run([sys.executable, str(CLI), row["input"], row["mask"], "-o", str(out), "--quiet", *extra],
                           cwd=folder, check=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return references


def same_as_cli(references: Path, outputs: Path) -> tuple[int, int]:
    """``(PNG files equal to the CLI's, PNG files of the CLI)`` over all shots."""
    reference = sorted(references.glob("*/*.png"))
    equal = sum((outputs / p.parent.name / p.name).is_file() and
                (outputs / p.parent.name / p.name).read_bytes() == p.read_bytes() for p in reference)
    return equal, len(reference)


def run_batch(args: argparse.Namespace) -> int:
    import batch_inpaint
    args.folder.mkdir(parents=True, exist_ok=True)
    shot_list = args.folder / "shots.csv" if (args.folder / "shots.csv").exists() else make_shots(args.folder)
    references = cli_references(args.folder, shot_list, args.cpus_per_shot)
    run_list = args.folder / f"shots_{args.label}.csv"
    run_list.write_text(shot_list.read_text().replace("OUT/", f"{args.label}/"))
    shutil.rmtree(args.folder / args.label, ignore_errors=True)
    mode = ["--ray", args.ray] if args.ray else ["--workers", str(args.workers)]
    mode += ["--cpus-per-shot", str(args.cpus_per_shot)]
    start = time.perf_counter()
    code = batch_inpaint.main([str(run_list), *mode])
    seconds = time.perf_counter() - start
    equal, total = same_as_cli(references, args.folder / args.label)
    print(f"{args.label}: {SHOTS} shots x {SHOT_FRAMES} frames in {seconds:.1f} s = "
          f"{SHOTS * SHOT_FRAMES / seconds:.2f} frames/s (including start-up); "
          f"PNGs equal to the CLI's: {equal}/{total}")
    return code


# ------------------------------------------------------------------------------------------------ parser
def _sizes(option: str):
    def parse(text: str) -> list[tuple[int, int]]:
        try:
            return parse_sizes([text], option)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text, "--size")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class _Flatten(argparse.Action):
    """``--sizes A,B C`` -> ``[A, B, C]`` (each value a list of sizes)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, [size for value in values for size in value])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    texture = DEFAULT_TEXTURE if DEFAULT_TEXTURE.is_file() else None
    threads = "torch threads, also OMP_NUM_THREADS of the measured processes (default: torch's choice)"

    def command(name: str, run, summary: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.set_defaults(run=run)
        if name != "batch":
            sub.add_argument("--threads", type=int, default=0, help=threads)
        return sub

    sub = command("stages", run_stages, "ms/frame of each stage and of the whole graph; writes bench.md/bench.json")
    sub.add_argument("--out", default="bench_out", help="output folder (default: bench_out)")
    sub.add_argument("--sizes", nargs="+", type=_sizes("--sizes"), action=_Flatten, metavar="WxH",
                     default=parse_sizes(["128x128,432x240,1280x720"]),
                     help="frame sizes, comma- or space-separated (default: 128x128,432x240,1280x720)")
    sub.add_argument("--devices", default=None, help="comma-separated (default: cpu, plus cuda if present)")
    sub.add_argument("--warmup", type=int, default=5, help="warm-up frames per size (default: 5)")
    sub.add_argument("--runs", type=int, default=5, help="timed runs per size (default: 5)")
    sub.add_argument("--frames", type=int, default=10, help="frames per timed run (default: 10)")
    sub.add_argument("--mask", default="fixed_rect", choices=mask_generators.PROTOCOLS[:-1],
                     help="hole protocol (default: fixed_rect)")
    sub.add_argument("--texture", type=Path, default=texture,
                     help="image the panning input is cut from (default: a dog_walk frame if present)")
    sub.add_argument("--weights", type=Path, help="folder of trained weights: each stage whose weights are there "
                                                  "runs its network (default: the classical stages)")
    sub.add_argument("--propagate", type=int, default=0, metavar="FRAMES",
                     help="also time Flow Propagate on a stream of FRAMES frames at each size (e.g. 96; default: 0 "
                          "= not timed)")
    sub.add_argument("--working-size", type=int, default=DEFAULTS.working_size,
                     help=f"long side of the frame fill (default: {DEFAULTS.working_size} = full size)")
    sub.add_argument("--flow-working-size", type=int, default=DEFAULTS.flow_working_size,
                     help=f"long side of Robust Flow (default: the CLI's {DEFAULTS.flow_working_size}; 0 = full size)")

    sub = command("networks", run_networks, "each network alone and the full learned graph (random weights)")
    sub.add_argument("--sizes", nargs="+", type=_sizes("--sizes"), action=_Flatten, metavar="WxH",
                     default=parse_sizes(["128x128,432x240"]), help="frame sizes (default: 128x128 432x240)")
    sub.add_argument("--frames", type=int, default=30, help="frames per pass of the full graph (default: 30)")
    sub.add_argument("--passes", type=int, default=3, help="passes over the video, a new engine each (default: 3)")
    sub.add_argument("--warmup", type=int, default=5, help="untimed frames/calls first (default: 5)")
    sub.add_argument("--repeats", type=int, default=30, help="timed calls per network (default: 30)")
    sub.add_argument("--estimator", default=DEFAULTS.estimator, choices=classical(stages.ESTIMATORS),
                     help=f"DIS preset of the flow estimate (default: {DEFAULTS.estimator})")
    sub.add_argument("--clip", type=Path, help="folder of frames to use instead of the synthetic video")
    sub.add_argument("--profile", action="store_true", help="print a torch.profiler table of the full graph")

    sub = command("memory", run_memory, "peak RSS of inpaint_video.py against the video length")
    sub.add_argument("--frames", type=int, nargs="+", default=[30, 300], help="clip lengths (default: 30 300)")
    sub.add_argument("--size", type=_size, default=(432, 240), help="frame size WxH (default: 432x240)")
    sub.add_argument("--cli-args", default="", help="options of inpaint_video.py, one string (e.g. "
                                                    "--cli-args=--propagate; default: none, the CLI's defaults)")
    sub.add_argument("--side-by-side", action="store_true", help="the CLI also writes a side-by-side video")
    sub.add_argument("--real-frames", metavar="DIR", help="a folder of real frames instead of the panning video "
                                                          "(its size and count; --frames and --size are ignored)")
    sub.add_argument("--texture", type=Path, default=texture,
                     help="image the panning input is cut from (default: a dog_walk frame if present)")
    sub.add_argument("--workdir", help="where the clips go (default: a temporary folder)")

    sub = command("node-memory", run_node_memory, "the four ComfyUI pipeline nodes' working memory against T")
    sub.add_argument("lengths", type=int, nargs="*", default=[30, 300], help="frame counts T (default: 30 300)")
    sub.add_argument("--size", type=_size, default=(432, 240), help="frame size WxH (default: 432x240)")

    sub = command("server", run_server, "a workflow through a real ComfyUI server: its peak RSS and ms/frame, "
                                        "beside the CLI's")
    sub.add_argument("--workflow", type=Path, default=ROOT / "workflows" / "api" / "long_shot_streaming_api.json",
                     help="API workflow whose two Load Video nodes (one titled ...mask...) get the clip")
    sub.add_argument("--frames", type=int, nargs="+", default=[300, 600], help="clip lengths (default: 300 600)")
    sub.add_argument("--size", type=_size, default=(1920, 1080), help="frame size WxH (default: 1920x1080)")
    sub.add_argument("--codec", choices=["h264", "h264_lossless", "ffv1"], help="the streaming node's codec")
    sub.add_argument("--cli", action="store_true", help="also run inpaint_video.py with the streaming node's "
                                                        "settings and compare the outputs")
    sub.add_argument("--cancel-after", type=float, default=0, metavar="SECONDS",
                     help="press Cancel (POST /interrupt) this long after queueing and time how soon the run ends")
    sub.add_argument("--port", type=int, default=8320, help="the server's port (default: 8320)")
    sub.add_argument("--timeout", type=int, default=7200, help="seconds a workflow may run (default: 7200)")
    sub.add_argument("--texture", type=Path, default=texture, help="image the clip pans over")
    sub.add_argument("--workdir", help="where the clips go (default: a temporary folder)")

    sub = command("batch", run_batch, "batch_inpaint.py over 8 short shots, its PNGs compared with the CLI's")
    sub.add_argument("--cpus-per-shot", type=int, default=1, help="batch_inpaint.py's option, also the threads of the "
                                                                  "CLI runs it is compared with (default: 1)")
    sub.add_argument("folder", type=Path, help="where the shots and outputs go (outside the repository)")
    sub.add_argument("--label", required=True, help="name of this run's output folder")
    sub.add_argument("--workers", type=int, default=1, help="local processes (without --ray; default: 1)")
    sub.add_argument("--ray", metavar="ADDRESS", help="run on this Ray cluster")
    return parser


def glued(argv: list[str], option: str = "--cli-args") -> list[str]:
    """``--cli-args VALUE`` as ``--cli-args=VALUE``: argparse reads a VALUE such as ``--propagate`` as an option."""
    argv = list(argv)
    if option in argv[:-1]:
        at = argv.index(option)
        argv[at:at + 2] = [f"{option}={argv[at + 1]}"]
    return argv


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(glued(sys.argv[1:] if argv is None else argv))
    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    try:
        return args.run(args)
    except ValueError as error:  # a setting the pipeline refuses (a device, a weights folder), in a sentence
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
