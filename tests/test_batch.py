"""batch_inpaint.py: a shot list run as the CLI would run each shot, in local processes or on Ray."""
from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import batch.report
import batch.shots
import batch_inpaint
from batch.shots import ShotListError, read_shot_list
from batch.worker import DONE_MARKER, KILL_FLAG, KILL_SHOT, is_complete
from test_cli import make_clip

REPO = Path(__file__).resolve().parents[1]
SHOTS = [  # two good shots with their own options, and one whose input is not a video
    {"name": "A", "input": "a/frames", "mask": "a/masks", "output": "out/a", "grow": 2},
    {"name": "B", "input": "b/frames", "mask": "b/masks", "output": "out/b", "propagate": True, "working_size": 32},
    {"name": "broken", "input": "broken.mp4", "mask": "a/masks", "output": "out/c"},
]
CLI_ARGS = {"A": ["--grow", "2"], "B": ["--propagate", "--working-size", "32"]}


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Path:
    """Two 6-frame 64x48 clips, an unreadable 'video', and the plain CLI's output for each good shot in ref/."""
    root = tmp_path_factory.mktemp("footage")
    make_clip(root / "a", seed=0)
    make_clip(root / "b", seed=1)
    (root / "broken.mp4").write_bytes(b"not a video at all")
    for shot in SHOTS[:2]:
        done = subprocess.run([sys.executable, str(REPO / "inpaint_video.py"), shot["input"], shot["mask"], "-o",
                               f"ref/{shot['name']}", "--quiet", *CLI_ARGS[shot["name"]]],
                              cwd=root, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    return root


def write_shot_list(folder: Path, shots: list[dict], kind: str) -> Path:
    """``shots`` as ``folder/shots.csv`` (empty cells for absent keys) or ``folder/shots.json``."""
    if kind == "json":
        path = folder / "shots.json"
        path.write_text(json.dumps(shots))
        return path
    keys = list(dict.fromkeys(key for shot in shots for key in shot))
    lines = [",".join(keys)] + [",".join(str(shot.get(key, "")) for key in keys) for shot in shots]
    path = folder / "shots.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_same_pngs(result: Path, reference: Path) -> None:
    """The same PNG files, byte for byte (the marker aside)."""
    names = sorted(p.name for p in result.iterdir() if p.name != DONE_MARKER)
    assert names == sorted(p.name for p in reference.iterdir()) and names
    for name in names:
        assert (result / name).read_bytes() == (reference / name).read_bytes(), name


def assert_nothing_partial(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if ".frvi-partial" in p.name]


def run_batch(shot_list: Path, *options: str, capsys) -> tuple[int, str]:
    code = batch_inpaint.main([str(shot_list), "--max-retries", "1", *options])
    return code, capsys.readouterr().out


def status_of(out: str, name: str) -> str:
    """The status cell of shot ``name`` in the summary table."""
    line = next(line for line in out.splitlines() if line.split()[:1] == [name])
    return line.split()[3]


# --- the shot list -------------------------------------------------------------------------------------------

def test_shot_options_are_the_clis_own_with_relative_paths_from_the_list(tmp_path):
    path = write_shot_list(tmp_path, [{"input": "in.mp4", "mask": "m.png", "output": "o.mkv", "flow-working-size": 0,
                                       "codec": "ffv1", "learned": "no", "propagate": "yes", "max_distance": 4}], "csv")
    args = read_shot_list(path, ["--learned", "--grow", "3"])[0].args
    assert (args.input, args.output) == (str(tmp_path / "in.mp4"), str(tmp_path / "o.mkv"))
    assert (args.flow_working_size, args.codec, args.propagate, args.max_distance) == (0, "ffv1", True, 4)
    assert (args.learned, args.grow, args.quiet) == (False, 3, True)  # the shot's "no" beats --learned for all


@pytest.mark.parametrize("shot, message", [
    ({"input": "i", "mask": "m", "output": "o", "strenght": 1}, "unknown option 'strenght'"),
    ({"input": "i", "mask": "m", "output": "o", "codec": "h265"}, "invalid choice"),
    ({"input": "i", "mask": "m", "output": "o/", "codec": "ffv1"}, "--codec applies to video outputs"),
    ({"input": "i", "mask": "m"}, "give output"),
    ({"input": "i", "mask": "m", "output": "o", "propagate": "maybe"}, "give true or false"),
])
def test_a_bad_shot_fails_the_list_before_anything_runs_naming_its_line(tmp_path, shot, message):
    path = write_shot_list(tmp_path, [{"input": "x", "mask": "y", "output": "z"}, shot], "csv")
    with pytest.raises(ShotListError, match=message) as error:
        read_shot_list(path)
    assert "shots.csv line 3" in str(error.value)


def test_two_shots_writing_the_same_output_are_refused(tmp_path):
    path = write_shot_list(tmp_path, [{"input": "a", "mask": "m", "output": "o"}] * 2, "json")
    with pytest.raises(ShotListError, match="give each shot its own output"):
        read_shot_list(path)


def test_a_png_folder_counts_as_complete_only_with_its_marker(tmp_path):
    path = write_shot_list(tmp_path, [{"input": "a", "mask": "m", "output": "frames"}], "csv")
    shot = read_shot_list(path)[0]
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "00000.png").write_bytes(b"")  # frames of a run killed while moving them in
    assert not is_complete(shot)
    (tmp_path / "frames" / DONE_MARKER).write_text("{}")
    assert is_complete(shot)


@pytest.mark.parametrize("module", [batch.shots, batch.report])
def test_the_examples_in_the_docstrings_hold(module):
    assert doctest.testmod(module).failed == 0


def test_the_pack_and_the_batch_import_and_explain_themselves_without_ray(tmp_path):
    script = ("import sys; sys.modules['ray'] = None; import inpaint_video, batch_inpaint; "
              f"sys.exit(batch_inpaint.main([{str(tmp_path / 'shots.csv')!r}, '--ray', 'local']))")
    write_shot_list(tmp_path, [{"input": "a", "mask": "m", "output": "o"}], "csv")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "pip install ray" in done.stderr, done.stderr


def test_a_shot_on_cuda_reserves_a_gpu_and_a_request_no_machine_meets_is_announced(tmp_path, capsys):
    from batch.ray_cluster import _warn_if_infeasible, shot_resources

    shot = read_shot_list(write_shot_list(tmp_path, [{"input": "a", "mask": "m", "output": "o"}], "csv"))[0]
    assert shot_resources(shot, 2) == {"num_cpus": 2, "num_gpus": 0}
    # the CLI's --device, as a shot option: accepted on a head without a GPU (the workers may have one)
    (tmp_path / "gpu").mkdir()
    on_gpu = read_shot_list(write_shot_list(tmp_path / "gpu", [{"input": "a", "mask": "m", "output": "o",
                                                                "device": "cuda:0"}], "csv"))[0]
    assert on_gpu.args.device == "cuda:0"
    assert shot_resources(on_gpu, 2) == {"num_cpus": 2, "num_gpus": 1}

    class TwoCpuCluster:
        nodes = staticmethod(lambda: [{"Alive": True, "Resources": {"CPU": 2.0}}])

    _warn_if_infeasible(TwoCpuCluster, [{"num_cpus": 2, "num_gpus": 0}])
    assert capsys.readouterr().out == ""
    _warn_if_infeasible(TwoCpuCluster, [{"num_cpus": 4, "num_gpus": 0}])
    assert "no machine of the Ray cluster has the 4 CPUs" in capsys.readouterr().out


# --- local processes -----------------------------------------------------------------------------------------

def test_local_workers_match_the_cli_survive_a_killed_worker_report_a_broken_shot_and_resume(
        footage, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "local"
    folder.mkdir()
    monkeypatch.setenv(KILL_SHOT, "A")  # the workers inherit it: the first attempt of A dies after two frames
    monkeypatch.setenv(KILL_FLAG, str(tmp_path / "A-was-killed"))
    for name in ("a", "b", "broken.mp4"):
        os.symlink(footage / name, folder / name)
    shot_list = write_shot_list(folder, SHOTS, "csv")
    code, out = run_batch(shot_list, "--workers", "2", capsys=capsys)
    assert code == 1 and [status_of(out, s["name"]) for s in SHOTS] == ["done", "done", "failed:"], out
    assert "could not open this as a video" in out
    assert (tmp_path / "A-was-killed").exists(), "the first attempt of shot A was not killed"
    for name in CLI_ARGS:
        assert_same_pngs(folder / "out" / name.lower(), footage / "ref" / name)
    assert not (folder / "out" / "c").exists()
    assert_nothing_partial(folder)

    (folder / "out" / "a" / DONE_MARKER).unlink()  # as if A's run had died while moving its frames in
    code, out = run_batch(shot_list, "--workers", "2", capsys=capsys)
    assert [status_of(out, s["name"]) for s in SHOTS] == ["done", "skipped", "failed:"], out
    assert_same_pngs(folder / "out" / "a", footage / "ref" / "A")


# --- Ray -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A local Ray with 2 CPUs; its workers make the first attempt of shot A die after two frames."""
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install ray")
    from batch.ray_cluster import connect

    flag = tmp_path_factory.mktemp("kill") / "A-was-killed"
    os.environ.update({KILL_SHOT: "A", KILL_FLAG: str(flag)})
    try:
        connect("local", num_cpus=2)  # ships the code and the FRVI_ variables to the workers
    finally:
        del os.environ[KILL_SHOT], os.environ[KILL_FLAG]
    yield flag
    ray.shutdown()


def test_ray_tasks_match_the_cli_survive_a_killed_worker_report_a_broken_shot_and_resume(
        footage, ray_cluster, tmp_path, capsys):
    folder = tmp_path / "ray"
    folder.mkdir()
    shot_list = write_shot_list(folder, [{**shot, "input": str(footage / shot["input"]),
                                          "mask": str(footage / shot["mask"])} for shot in SHOTS], "json")
    code, out = run_batch(shot_list, "--ray", "auto", capsys=capsys)
    assert code == 1 and [status_of(out, s["name"]) for s in SHOTS] == ["done", "done", "failed:"], out
    assert ray_cluster.exists(), "the first attempt of shot A was not killed"
    for name in CLI_ARGS:
        assert_same_pngs(folder / "out" / name.lower(), footage / "ref" / name)
    assert_nothing_partial(folder)

    code, out = run_batch(shot_list, "--ray", "auto", capsys=capsys)
    assert [status_of(out, s["name"]) for s in SHOTS] == ["skipped", "skipped", "failed:"], out
