"""Seeded random-but-legal node inputs, run in a child process (``python tests/fuzz_cases.py FIRST COUNT``).

Each case draws a video (1-6 frames, sizes from 2 px, thin strips both ways, odd sizes), a hole
(none, full, one pixel, noise, soft, moving box; one mask or one per frame) and a value for
every widget of every node anywhere in its declared range, then runs the whole graph through
the nodes' Python entries: the loaders (the pack's shipped weights), Frame Inpaint -> Robust
Flow -> Flow Blend -> ConvLSTM Refine, Flow Propagate, Hole Grow & Feather, Hole Composite and
Flow Visualize. It prints one JSON line per case as it starts and as it ends, so a crash of the
process names the case it died in. A case passes when every node returns results of the input's
frame count and size with the known pixels exact, or raises a ValueError with a message.
"""
from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import NodeCall, choices, declared_inputs, load_pack, node_classes  # noqa: E402

torch.set_num_threads(1)


def widget_values(cls, rng: np.random.Generator) -> dict:
    """A value anywhere in the declared range of every INT/FLOAT/BOOLEAN/combo input of node class ``cls``."""
    values = {}
    for name, (kind, options) in declared_inputs(cls).items():  # required, then optional
        if kind == "COMBO":
            values[name] = options["options"][int(rng.integers(len(options["options"])))]
        elif kind == "INT":
            low, high = options.get("min", 0), min(options.get("max", 64), 10_000)
            values[name] = int(rng.integers(low, high + 1)) if rng.random() < 0.5 else \
                int(rng.choice([low, high, options.get("default", low)]))
        elif kind == "FLOAT":
            low, high = options.get("min", 0.0), options.get("max", 1.0)
            values[name] = float(rng.uniform(low, high)) if rng.random() < 0.7 else float(rng.choice([low, high]))
        elif kind == "BOOLEAN":
            values[name] = bool(rng.integers(2))
    return values


def random_video(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``(frames [T,H,W,3], hole [T or 1,H,W], description)``."""
    t = int(rng.integers(1, 7))
    shape = rng.choice(["thin_rows", "thin_columns", "small", "moderate"])
    if shape == "thin_rows":
        h, w = int(rng.integers(2, 25)), int(rng.integers(2, 420))
    elif shape == "thin_columns":
        h, w = int(rng.integers(2, 420)), int(rng.integers(2, 25))
    elif shape == "small":
        h, w = int(rng.integers(2, 40)), int(rng.integers(2, 40))
    else:
        h, w = int(rng.integers(24, 160)), int(rng.integers(24, 160))
    frames = torch.from_numpy(rng.random((t, h, w, 3), dtype=np.float32))
    kind = rng.choice(["none", "full", "pixel", "noise", "soft", "moving"])
    masks = 1 if rng.random() < 0.3 else t
    hole = torch.zeros(masks, h, w)
    if kind == "full":
        hole[:] = 1.0
    elif kind == "pixel":
        hole[:, int(rng.integers(h)), int(rng.integers(w))] = 1.0
    elif kind == "noise":
        hole = torch.from_numpy((rng.random((masks, h, w)) < 0.3).astype(np.float32))
    elif kind == "soft":
        hole = torch.from_numpy(rng.random((masks, h, w), dtype=np.float32))
    elif kind == "moving":
        for i in range(masks):
            top, left = int(rng.integers(h)), int(rng.integers(w))
            hole[i, top:top + max(1, h // 3), left + i:left + i + max(1, w // 3)] = 1.0
    return frames, hole, f"{t}x{w}x{h} {shape}, hole {kind} x{masks}"


def check_video(name: str, out: torch.Tensor, frames: torch.Tensor, hole: torch.Tensor) -> None:
    """Raise AssertionError unless ``out`` has the frames' shape and their known pixels bit-exact."""
    assert out.shape == frames.shape, f"{name}: shape {tuple(out.shape)} != {tuple(frames.shape)}"
    assert torch.isfinite(out).all(), f"{name}: non-finite values"
    known = (hole.expand(frames.shape[:3]) < 0.5)[..., None].expand_as(frames)
    assert torch.equal(out[known], frames[known]), f"{name}: known pixels changed"


def run_case(pack, seed: int) -> str:
    """One case; returns ``"ok"`` or ``"value_error: ..."`` (any other exception propagates)."""
    rng = np.random.default_rng([seed, 11])
    frames, hole, _ = random_video(rng)
    classes = node_classes(pack)
    nodes = {key: NodeCall(cls) for key, cls in classes.items()}
    w = {key: widget_values(cls, rng) for key, cls in classes.items()}
    models = {}
    try:
        for key in ("FRVI_LoadFrameInpaintNetwork", "FRVI_LoadFlowCompletionNetwork"):
            models[key] = nodes[key].load(**w[key])[0]
    except ValueError:
        pass  # no shipped weights of that kind: the network methods then refuse with a ValueError
    loaded = {("FRVI_FrameInpaint", "method"): "FRVI_LoadFrameInpaintNetwork",
              ("FRVI_RobustFlow", "completion"): "FRVI_LoadFlowCompletionNetwork",
              ("FRVI_FlowBlend", "method"): None, ("FRVI_ConvLSTMRefine", "method"): None}
    for (key, name), loader in loaded.items():  # mostly the classical default where no weights exist
        if w[key][name] == "network" and models.get(loader) is None and rng.random() < 0.85:
            w[key][name] = choices(classes[key], name)[0]
    try:
        fw = w["FRVI_FrameInpaint"]
        (inpainted,) = nodes["FRVI_FrameInpaint"].run(frames, hole, fw["method"], fw["radius"],
                                                      models.get("FRVI_LoadFrameInpaintNetwork"), fw["working_size"])
        check_video("Frame Inpaint", inpainted, frames, hole)
        rw = w["FRVI_RobustFlow"]
        flow_p, flow_i = nodes["FRVI_RobustFlow"].run(
            frames, hole, inpainted, rw["estimator"], rw["completion"], rw["hole_dilation"],
            completion_model=models.get("FRVI_LoadFlowCompletionNetwork"), raft_iterations=rw["raft_iterations"],
            working_size=rw["working_size"])
        assert flow_p.flow.shape[0] == frames.shape[0]
        (image,) = nodes["FRVI_FlowVisualize"].run(flow_p, w["FRVI_FlowVisualize"]["max_magnitude"])
        assert image.shape == frames.shape
        (flow,) = nodes["FRVI_FlowBlend"].run(flow_p, flow_i, w["FRVI_FlowBlend"]["method"])
        cw = w["FRVI_ConvLSTMRefine"]
        out, _ = nodes["FRVI_ConvLSTMRefine"].run(frames, hole, inpainted, flow, cw["method"], cw["strength"])
        check_video("ConvLSTM Refine", out, frames, hole)
    except ValueError as error:
        assert str(error).strip(), "a ValueError without a message"
        first = f"value_error: {error}"
    else:
        first = "ok"
    pw = w["FRVI_FlowPropagate"]
    reference = {}
    if rng.random() < 0.5:  # a reference fill: noise (never flat), the frames' size or not, any frame number
        t_len, height, width = frames.shape[:3]
        size = (height, width) if rng.random() < 0.8 else (int(rng.integers(1, 64)), int(rng.integers(1, 64)))
        reference = {"reference": torch.rand(1, *size, 3, generator=torch.Generator().manual_seed(seed)),
                     "reference_frames": str(int(rng.integers(-1, t_len + 1)))}
    try:
        filled, remaining = nodes["FRVI_FlowPropagate"].run(frames, hole, pw["estimator"], pw["hole_dilation"],
                                                            pw["max_distance"], pw["consistency"], pw["seam"],
                                                            pw["flow_max_side"], pw["context_before"] % 3,
                                                            pw["context_after"] % 3, **reference)
        context = (pw["context_before"] % 3, pw["context_after"] % 3)
        if sum(context) < frames.shape[0]:
            kept = slice(context[0], frames.shape[0] - context[1])
            check_video("Flow Propagate", filled, frames[kept], hole if hole.shape[0] == 1 else hole[kept])
    except ValueError as error:
        assert str(error).strip(), "a ValueError without a message"
    gw = w["FRVI_HoleGrowFeather"]
    (grown,) = nodes["FRVI_HoleGrowFeather"].run(hole, gw["grow"], gw["feather"])
    assert grown.shape == hole.shape and float(grown.min()) >= 0 and float(grown.max()) <= 1
    (composite,) = nodes["FRVI_HoleComposite"].run(frames, torch.rand_like(frames), hole,
                                                   w["FRVI_HoleComposite"]["feather"])
    check_video("Hole Composite", composite, frames, hole)
    return first


def main(first: int, count: int) -> int:
    pack = load_pack()
    for seed in range(first, first + count):
        print(json.dumps({"case": seed, "event": "start"}), flush=True)
        try:
            result = run_case(pack, seed)
        except Exception:  # a failed case: not a ValueError with a message
            result = "failed: " + traceback.format_exc(limit=6)
        print(json.dumps({"case": seed, "event": "end", "result": result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
