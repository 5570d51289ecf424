"""Peak memory of the four pipeline nodes on T generated frames (432x240 unless --size), against the data they hold.

Runs the node graph in a fresh subprocess per length and prints peak RSS next to the size of the
tensors the graph itself keeps (IMAGE batches and flow fields, which ComfyUI holds between nodes).
The per-node working memory is the difference; it must not grow with T.

    python scripts/measure_node_memory.py 30 300
    python scripts/measure_node_memory.py --size 1280x720 100 300
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import importlib.util, json, resource, sys, time, torch
repo = sys.argv[1]
spec = importlib.util.spec_from_file_location("frvi", repo + "/__init__.py", submodule_search_locations=[repo])
pack = importlib.util.module_from_spec(spec); sys.modules["frvi"] = pack; spec.loader.exec_module(pack)
sys.path.insert(0, repo)
from scripts.common import PanningVideo
n, w, h = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
video = PanningVideo(w, h)
frames = torch.stack([torch.from_numpy(video.frame_array(t).copy()) for t in range(n)]).float() / 255  # [T,H,W,3]
hole = torch.zeros(n, h, w); hole[:, h // 3:2 * h // 3, 3 * w // 8:5 * w // 8] = 1
import gc, os; gc.collect()
baseline = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024  # current RSS, KiB
m = pack.NODE_CLASS_MAPPINGS
t0 = time.perf_counter()
(p,) = m["FRVI_FrameInpaint"]().run(frames, hole, "telea", 5)
fp, fi = m["FRVI_RobustFlow"]().run(frames, hole, p, "dis_medium", "laplacian", 8)
(f,) = m["FRVI_FlowBlend"]().run(fp, fi, "confidence")
out, state = m["FRVI_ConvLSTMRefine"]().run(frames, hole, p, f, "temporal_blend", 0.6)
seconds = time.perf_counter() - t0
held = (p, out, fp.flow, fp.confidence, fi.flow, fi.confidence, f.flow, f.confidence)
made = sum(x.numel() * x.element_size() for x in held)
print(json.dumps({"frames": n, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_graph_mb": baseline / 1024, "outputs_mb": made / 2**20,
                  "image_batch_mb": frames.numel() * 4 / 2**20, "ms_per_frame": 1000 * seconds / n}))
"""


def main(lengths: list[int], size: tuple[int, int] = (432, 240)) -> None:
    print(f"{size[0]}x{size[1]} frames")
    print("| frames | one IMAGE batch MB | node outputs held MB | RSS before graph MB | peak RSS MB | "
          "working memory MB (peak - before - outputs) | graph ms/frame |")
    print("|---|---|---|---|---|---|---|")
    for n in lengths:
        done = subprocess.run([sys.executable, "-c", CHILD, str(REPO), str(n), str(size[0]), str(size[1])],
                              capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        work = r["peak_rss_mb"] - r["rss_before_graph_mb"] - r["outputs_mb"]
        print(f"| {n} | {r['image_batch_mb']:.0f} | {r['outputs_mb']:.0f} | {r['rss_before_graph_mb']:.0f} | "
              f"{r['peak_rss_mb']:.0f} | {work:.0f} | {r['ms_per_frame']:.1f} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    size = (432, 240)
    if args[:1] == ["--size"]:
        size = tuple(int(v) for v in args[1].lower().split("x"))
        args = args[2:]
    main([int(a) for a in args] or [30, 300], size)
