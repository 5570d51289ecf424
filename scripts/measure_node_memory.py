"""Peak memory of the four pipeline nodes on T generated 432x240 frames, against the data they hold.

Runs the node graph in a fresh subprocess per length and prints peak RSS next to the size of the
tensors the graph itself keeps (IMAGE batches and flow fields, which ComfyUI holds between nodes).
The per-node working memory is the difference; it must not grow with T.

    python scripts/measure_node_memory.py 30 300
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import importlib.util, json, resource, sys, time, torch
spec = importlib.util.spec_from_file_location("frvi", sys.argv[1] + "/__init__.py", submodule_search_locations=[sys.argv[1]])
pack = importlib.util.module_from_spec(spec); sys.modules["frvi"] = pack; spec.loader.exec_module(pack)
n, h, w = int(sys.argv[2]), 240, 432
torch.manual_seed(0)
base = torch.nn.functional.interpolate(torch.rand(1, 3, h // 8, (w + 2 * n) // 8), size=(h, w + 2 * n), mode="bilinear")[0]
frames = torch.stack([base[:, :, 2 * t:2 * t + w] for t in range(n)]).permute(0, 2, 3, 1).contiguous()
hole = torch.zeros(n, h, w); hole[:, 80:160, 150:250] = 1
import gc, os; gc.collect()
baseline = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024  # current RSS, KiB
m = pack.NODE_CLASS_MAPPINGS
t0 = time.perf_counter()
(p,) = m["FRVI_FrameInpaint"]().run(frames, hole, "telea", 5)
fp, fi = m["FRVI_RobustFlow"]().run(frames, hole, p, "dis_medium", "laplacian", 8)
(f,) = m["FRVI_FlowBlend"]().run(fp, fi, "confidence")
out, state = m["FRVI_ConvLSTMRefine"]().run(frames, hole, p, f, "temporal_blend", 0.6)
seconds = time.perf_counter() - t0
made = sum(x.numel() * x.element_size() for x in (p, out, fp.flow, fp.confidence, fi.flow, fi.confidence, f.flow, f.confidence))
print(json.dumps({"frames": n, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_graph_mb": baseline / 1024, "outputs_mb": made / 2**20,
                  "image_batch_mb": frames.numel() * 4 / 2**20, "ms_per_frame": 1000 * seconds / n}))
"""


def main(lengths: list[int]) -> None:
    print("| frames | one IMAGE batch MB | node outputs held MB | RSS before graph MB | peak RSS MB | "
          "working memory MB (peak - before - outputs) | graph ms/frame |")
    print("|---|---|---|---|---|---|---|")
    for n in lengths:
        done = subprocess.run([sys.executable, "-c", CHILD, str(REPO), str(n)], capture_output=True, text=True,
                              check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        work = r["peak_rss_mb"] - r["rss_before_graph_mb"] - r["outputs_mb"]
        print(f"| {n} | {r['image_batch_mb']:.0f} | {r['outputs_mb']:.0f} | {r['rss_before_graph_mb']:.0f} | "
              f"{r['peak_rss_mb']:.0f} | {work:.0f} | {r['ms_per_frame']:.1f} |")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [30, 300])
