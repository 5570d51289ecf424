"""Random but legal inputs to every node (tests/fuzz_cases.py), in a child process so a native crash fails
the test instead of ending the run; and the sizes that crashed OpenCV's DIS before it was guarded."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
CASES = 48  # seeded: the same cases on every run; about 30 s on one core


def run_child(code: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *code], capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)


@pytest.mark.parametrize("first", range(0, CASES, CASES // 2))
def test_random_legal_inputs_give_results_or_clear_errors_and_never_crash(pack, first):  # pack: skips without ComfyUI
    child = run_child([str(HERE / "fuzz_cases.py"), str(first), str(CASES // 2)])
    events = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    ended = {e["case"]: e["result"] for e in events if e["event"] == "end"}
    started = [e["case"] for e in events if e["event"] == "start"]
    assert child.returncode == 0, (f"the process died (return code {child.returncode}) in case {started[-1:]}: "
                                   f"{child.stderr[-2000:]}")
    assert len(ended) == CASES // 2, child.stderr[-2000:]
    failed = {case: result for case, result in ended.items() if result.startswith("failed")}
    assert not failed, "\n".join(f"case {c}: {r}" for c, r in failed.items())
    assert sum(r == "ok" for r in ended.values()) >= CASES // 8  # most legal inputs give results, not errors


CRASHING_DIS_SIZES = [(24, 400, "dis_fast"), (16, 100, "dis_ultrafast"), (8, 40, "dis_medium"), (12, 400, "dis_fast"),
                      (400, 8, "dis_medium"), (2, 2, "dis_medium"), (1, 1, "dis_fast")]


def test_dis_sizes_that_crashed_opencv_now_give_a_flow_of_the_frame_size():
    """Each of these killed the process (segfault) or raised OpenCV's own error before model/native.py."""
    script = ("import sys, numpy as np; sys.path.insert(0, '.'); from model.native import dis_flow\n"
              "for h, w, preset in %r:\n"
              "    a = np.random.default_rng(0).integers(0, 255, (h, w), dtype=np.uint8)\n"
              "    flow = dis_flow(a, np.roll(a, 1, 1), preset)\n"
              "    assert flow.shape == (h, w, 2) and np.isfinite(flow).all(), (h, w, flow.shape)\n"
              "print('survived')" % CRASHING_DIS_SIZES)
    child = run_child(["-c", script], timeout=120)
    assert child.returncode == 0 and "survived" in child.stdout, child.stderr[-2000:]


def test_dis_flow_of_a_padded_thin_strip_still_sees_the_motion():
    from model.native import dis_flow
    rng = np.random.default_rng(0)
    columns = np.repeat(rng.integers(0, 255, 70, dtype=np.uint8), 6)[:400]  # random stripes 6 px wide
    strip = np.ascontiguousarray(np.broadcast_to(columns, (20, 400)))
    flow = dis_flow(np.ascontiguousarray(strip[:, 6:]), np.ascontiguousarray(strip[:, :-6]), "dis_medium")
    assert flow.shape == (20, 394, 2)
    assert abs(float(np.median(flow[..., 0])) - 6.0) < 1.0  # target pixel x is source pixel x + 6


def test_cli_on_a_thin_strip_with_the_fast_estimator_finishes(tmp_path):
    """The CLI died with signal 11 on a 400x24 clip with --estimator dis_fast."""
    import cv2
    rng = np.random.default_rng(1)
    (tmp_path / "frames").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "frames" / f"{i:03d}.png"), rng.integers(0, 255, (24, 400, 3), dtype=np.uint8))
    mask = np.zeros((24, 400), np.uint8)
    mask[6:18, 100:200] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    child = run_child([str(HERE.parent / "inpaint_video.py"), str(tmp_path / "frames"), str(tmp_path / "mask.png"),
                       "-o", str(tmp_path / "out"), "--estimator", "dis_fast", "--flow-working-size", "0"], timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    assert len(list((tmp_path / "out").glob("*.png"))) == 3
