"""Speed of the learned path: each network alone and the full learned graph, ms per frame.

Run from the repo root:

    python scripts/benchmark_networks.py                       # synthetic video, 128x128 and 432x240
    python scripts/benchmark_networks.py --clip path/to/frames --profile

The networks get their default configs and random weights (speed does not depend on the
weights). The full graph is ``model.pipeline.engine.StreamingInpainter`` with all four networks, DIS
flow and the warps, one frame at a time (batch 1) under ``torch.inference_mode``, as the CLI
runs it. Timings are medians over frames after a warm-up; the load average is printed
because other processes on a shared machine slow the numbers down.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# As in the CLI: idle OpenMP threads sleep instead of spinning (on a busy machine spinning
# threads make every frame many times slower). Set the variable yourself to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.pipeline.engine import StreamingInpainter  # noqa: E402
from model.stages.robust_flow import DISFlowEstimator  # noqa: E402
from model.networks import NETWORKS  # noqa: E402
from model.stages.learned import (NetworkFlowBlender, NetworkFlowCompleter, NetworkInpainter,  # noqa: E402
                                    NetworkRefiner)
from model.stages.convlstm_refine import RecurrentState  # noqa: E402
from scripts.common import PanningVideo, StageTimer, parse_size  # noqa: E402


def synthetic_video(frames: int, height: int, width: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The panning smoothed random texture of :class:`scripts.common.PanningVideo` with a box hole drifting
    across.

    Returns ``[(frame [1,3,H,W] in [0,1], hole [1,1,H,W] 0/1)]``.
    """
    panning = PanningVideo(width, height)
    video = []
    for t in range(frames):
        frame = panning.frame(t)
        hole = torch.zeros(1, 1, height, width)
        hh, hw = height // 4, width // 5
        top, left = height // 3, (width // 6 + t) % (width - hw)
        hole[..., top:top + hh, left:left + hw] = 1.0
        video.append((frame, hole))
    return video


def clip_video(folder: Path, frames: int, height: int, width: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Frames of an image folder resized to ``height x width``, with a centred box hole."""
    import cv2
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:frames]
    if not files:
        raise SystemExit(f"{folder}: no .jpg/.png frames found")
    video = []
    for path in files:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        frame = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
        hole = torch.zeros(1, 1, height, width)
        hole[..., height // 3:height // 3 + height // 4, width // 3:width // 3 + width // 5] = 1.0
        video.append((frame, hole))
    return video


def build_stages(estimator: str):
    nets = {kind: cls() for kind, cls in NETWORKS.items()}
    return nets, (NetworkInpainter(nets["frame_inpaint"]), DISFlowEstimator(estimator),
                  NetworkFlowCompleter(nets["flow_complete"]), NetworkFlowBlender(nets["flow_blend"]),
                  NetworkRefiner(nets["convlstm_refine"]))


def per_network(video, stages, warmup: int, repeats: int) -> dict[str, float]:
    """Median ms of each network alone on frame 1 of ``video`` (inputs made by the classical-free graph)."""
    inpainter, estimator, completer, blender, refiner = stages
    (f0, h0), (f1, h1) = video[0], video[1]
    p0, p1 = inpainter(f0, h0), inpainter(f1, h1)
    flow = estimator(p1, p0)
    conf = torch.rand_like(h1)
    state = RecurrentState(f0, h0, p0, p0, {})
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


def full_graph(video, stages, warmup: int, passes: int) -> tuple[list[float], list[float], dict[str, list[float]]]:
    """Per-frame wall ms and CPU ms (all threads) of ``StreamingInpainter.step`` (frames after the first
    ``warmup`` of each pass), and the wall ms of every call of each stage."""
    timer = StageTimer()
    names = ("frame_inpaint", "dis_flow", "flow_complete", "flow_blend", "convlstm_refine")
    timed = [timer.wrap(fn, name) for fn, name in zip(stages, names)]
    frame_times, cpu_times = [], []
    for _ in range(passes):
        engine = StreamingInpainter(*timed)
        for t, (frame, hole) in enumerate(video):
            start, cpu_start = time.perf_counter(), time.process_time()
            engine.step(frame, hole)
            if t >= warmup:
                frame_times.append((time.perf_counter() - start) * 1000.0)
                cpu_times.append((time.process_time() - cpu_start) * 1000.0)
    return frame_times, cpu_times, {name: [1000.0 * s for s in calls] for name, calls in timer.calls.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["128x128", "432x240"], help="WxH sizes to time")
    parser.add_argument("--frames", type=int, default=30, help="frames per pass of the full graph")
    parser.add_argument("--passes", type=int, default=3, help="passes over the video (new engine each pass)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed frames/calls first")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per network")
    parser.add_argument("--estimator", default="dis_medium", help="DIS preset of the flow estimate")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--clip", type=Path, help="folder of frames to use instead of the synthetic video")
    parser.add_argument("--profile", action="store_true", help="print a torch.profiler table of the full graph")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    nets, _ = build_stages(args.estimator)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY')}, load average {os.getloadavg()}")
    print("parameters: " + ", ".join(f"{k} {n.parameter_count() / 1e6:.3f} M" for k, n in nets.items())
          + f"; total {sum(n.parameter_count() for n in nets.values()) / 1e6:.3f} M")
    for size in args.sizes:
        width, height = parse_size(size, "--sizes")
        video = (clip_video(args.clip, args.frames, height, width) if args.clip
                 else synthetic_video(args.frames, height, width))
        _, stages = build_stages(args.estimator)
        with torch.inference_mode():
            alone = per_network(video, stages, args.warmup, args.repeats)
            frame_times, cpu_times, log = full_graph(video, stages, args.warmup, args.passes)
        median = statistics.median(frame_times)
        p10, p90 = (sorted(frame_times)[int(q * (len(frame_times) - 1))] for q in (0.1, 0.9))
        print(f"\n{width}x{height}: full learned graph {median:.2f} ms/frame median wall time "
              f"(p10 {p10:.2f}, p90 {p90:.2f}, n={len(frame_times)}; CPU time {statistics.median(cpu_times):.2f} ms "
              f"over all threads), load average {os.getloadavg()}")
        print("  alone (median of %d calls):  " % args.repeats
              + ", ".join(f"{k} {v:.2f}" for k, v in alone.items()))
        stage_ms = {k: statistics.median(v[args.warmup:] or v) for k, v in log.items()}
        other = median - sum(stage_ms.values())
        print("  inside the graph (median ms): " + ", ".join(f"{k} {v:.2f}" for k, v in stage_ms.items())
              + f", rest (warps, confidence, hole growing, checks) {other:.2f}")
        if args.profile:
            from torch.profiler import ProfilerActivity, profile
            with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
                engine = StreamingInpainter(*stages)
                for frame, hole in video[:min(len(video), 15)]:
                    engine.step(frame, hole)
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
