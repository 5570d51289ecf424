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
import dying_writer
from batch.shots import ShotListError, parse_options, read_shot_list
from batch.worker import DONE_MARKER, is_complete
from model.pipeline.config import DEFAULTS
from clips import REPO, synthetic_clip

SHOTS = [  # two good shots with their own options, and one whose input is not a video
    {"name": "A", "input": "a/frames", "mask": "a/masks", "output": "out/a", "grow": 2},
    {"name": "B", "input": "b/frames", "mask": "b/masks", "output": "out/b", "propagate": True, "working_size": 32},
    {"name": "broken", "input": "broken.mp4", "mask": "a/masks", "output": "out/c"},
]
CLI_ARGS = {"A": ["--grow", "2"], "B": ["--propagate", "--working-size", "32"]}
THREADS = 1  # torch threads of the CLI's reference runs and of each batch shot (--cpus-per-shot)


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Path:
    """Two 6-frame 64x48 clips, an unreadable 'video', and the plain CLI's output for each good shot in ref/.

    The CLI runs on THREADS torch threads, as each batch shot does: the learned stages' results may differ in the
    last bit between thread counts (torch splits its reductions by thread), so the outputs match bit for bit only
    when the stages run on as many threads."""
    root = tmp_path_factory.mktemp("footage")
    synthetic_clip(seed=0).write(root / "a")
    synthetic_clip(seed=1).write(root / "b")
    (root / "broken.mp4").write_bytes(b"not a video at all")
    for shot in SHOTS[:2]:
        done = subprocess.run([sys.executable, str(REPO / "inpaint_video.py"), shot["input"], shot["mask"], "-o",
                               f"ref/{shot['name']}", "--quiet", *CLI_ARGS[shot["name"]]],
                              cwd=root, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "OMP_NUM_THREADS": str(THREADS)})  # torch's default thread count
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
    code = batch_inpaint.main([str(shot_list), "--max-retries", "1", "--cpus-per-shot", str(THREADS), *options])
    return code, capsys.readouterr().out


def status_of(out: str, name: str) -> str:
    """The status cell of shot ``name`` in the summary table."""
    line = next(line for line in out.splitlines() if line.split()[:1] == [name])
    return line.split()[3]


# --- the shot list -------------------------------------------------------------------------------------------

def test_shot_keys_are_the_pipeline_descriptions_fields_with_relative_paths_from_the_list(tmp_path):
    path = write_shot_list(tmp_path, [{"input": "in.mp4", "mask": "m.png", "O": "o.mkv", "flow-working-size": 0,
                                       "codec": "ffv1", "learned": "no", "Propagate": "yes", "max_distance": 4,
                                       "side_by_side": "sbs.mp4", "weights-dir": "w", "Seam": "none",
                                       "propagation_hole_dilation": 3, "hole_dilation": 5, "fps": "12.5",
                                       "invert_mask": "on"}], "csv")
    shot = read_shot_list(path, ["--learned", "--grow", "3", "--strength=0.25", "--no-invert-mask"])[0]
    config, job = shot.config, shot.job
    assert (job.input, job.output, job.side_by_side) == tuple(str(tmp_path / p) for p in ("in.mp4", "o.mkv", "sbs.mp4"))
    assert config.weights_dir == str(tmp_path / "w")
    assert (config.flow_working_size, job.codec, config.propagate) == (0, "ffv1", True)
    assert config.propagation.max_distance == 4
    assert (config.learned, config.grow, config.strength, job.quiet) == (False, 3, 0.25, True)  # the shot's "no" wins
    assert (config.hole_dilation, config.propagation.hole_dilation, config.propagation.seam) == (5, 3, "none")
    assert (job.fps, job.invert_mask, shot.outputs) == (12.5, True, [tmp_path / "o.mkv", tmp_path / "sbs.mp4"])
    assert shot.name == "o.mkv"


def test_blank_cells_keep_the_defaults_and_json_takes_native_values(tmp_path):
    path = write_shot_list(tmp_path, [{"input": "a", "mask": "m", "output": "o", "propagate": True, "grow": -2,
                                       "strength": 1, "max_frames": 10.0, "learned": None, "name": " shot 1 "},
                                      {"input": "b", "mask": "m", "output": "p", "propagate": "", "grow": ""}], "json")
    first, second = read_shot_list(path)
    assert (first.config.propagate, first.config.grow, first.config.strength) == (True, -2, 1.0)
    assert first.job.max_frames == 10
    assert first.config.learned is None and first.name == "shot 1"
    assert (second.config, second.job.codec, second.job.fps) == (DEFAULTS, "h264", None)


def test_the_shot_list_doc_names_every_key():
    assert [key for key in batch.shots.SETTINGS if f"``{key}``" not in batch.shots.__doc__] == []


def test_options_after_the_double_dash_are_read_without_argparse():
    assert parse_options(["--propagate", "--max-distance", "6", "--codec=ffv1", "--grow", "-3", "--no-learned",
                          "--learned=yes", "--device", "cuda:1"]) == \
        {"propagate": True, "max_distance": 6, "codec": "ffv1", "grow": -3, "learned": True, "device": "cuda:1"}
    assert parse_options(["--side-by-side", "x/sbs.mp4"])["side_by_side"] == os.path.abspath("x/sbs.mp4")
    for argv, message in [(["--strenght", "1"], "unknown option '--strenght'; the options are: blend, codec"),
                          (["--quiet"], "unknown option"), (["-o", "x"], "expected --option"),
                          (["--grow"], "--grow needs a value"), (["--no-grow"], "unknown option '--no-grow'"),
                          (["--propagate", "yes"], "expected --option, got 'yes'"),
                          (["--no-propagate=1"], "takes no value"), (["--grow", "two"], "grow: give a whole number")]:
        with pytest.raises(ShotListError, match=message):
            parse_options(argv)


@pytest.mark.parametrize("shot, message", [
    ({"input": "i", "mask": "m", "output": "o", "strenght": 1}, "unknown option 'strenght'; the options are: name, "
                                                                "input, mask, output, blend, codec, completion"),
    ({"input": "i", "mask": "m", "output": "o", "quiet": "no"}, "unknown option 'quiet'"),
    ({"input": "i", "mask": "m", "output": "o", "codec": "h265"}, "codec must be one of h264"),
    ({"input": "i", "mask": "m", "output": "o/", "codec": "ffv1"}, "codec applies to video outputs"),
    ({"input": "i", "mask": "m"}, "give output"),
    ({"input": "i", "mask": "m", "output": "o", "propagate": "maybe"}, "propagate: give true or false"),
    ({"input": "i", "mask": "m", "output": "o", "max_distance": 4}, "max_distance only applies with propagate"),
    ({"input": "i", "mask": "m", "output": "o", "propagate": "no", "seam": "none"}, "seam only applies with propagate"),
    ({"input": "i", "mask": "m", "output": "o", "strength": 2}, "strength must lie in 0..1, got 2.0"),
    ({"input": "i", "mask": "m", "output": "o", "radius": "2.5"}, "radius: give a whole number"),
    ({"input": "i", "mask": "m", "output": "o", "frame_method": "network"}, "frame_method must be one of"),
    ({"input": "i", "mask": "m", "output": "i"}, "the outputs must differ from INPUT"),
    ({"input": "i", "mask": "m", "output": "o", "device": "tpu"}, "expected cpu, cuda or cuda:N"),
])
def test_a_bad_shot_fails_the_list_before_anything_runs_naming_its_line(tmp_path, shot, message):
    path = write_shot_list(tmp_path, [{"input": "x", "mask": "y", "output": "z"}, shot], "csv")
    with pytest.raises(ShotListError, match=message) as error:
        read_shot_list(path)
    assert "shots.csv line 3" in str(error.value)


def test_options_for_every_shot_are_checked_with_each_shot(tmp_path):
    path = write_shot_list(tmp_path, [{"input": "a", "mask": "m", "output": "o", "propagate": "yes"},
                                      {"input": "b", "mask": "m", "output": "p", "propagate": "no"}], "json")
    with pytest.raises(ShotListError, match=r"shots.json item 2: max_distance only applies") as error:
        read_shot_list(path, ["--max-distance", "4"])
    assert "item 1" not in str(error.value)
    with pytest.raises(ShotListError, match="options after --: unknown option '--demo'"):
        read_shot_list(path, ["--demo"])


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
    assert on_gpu.config.device == "cuda:0"
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
    # the workers (spawned) inherit these: the first attempt of shot A dies after writing two frames
    for key, value in dying_writer.environment(tmp_path / "site", folder / "out" / "a",
                                               tmp_path / "A-was-killed").items():
        monkeypatch.setenv(key, value)
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

    folder = tmp_path_factory.mktemp("ray")
    flag = folder / "A-was-killed"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in dying_writer.environment(folder / "site", folder / "out" / "a", flag).items():
            patch.setenv(key, value)
        connect("local", num_cpus=2)  # Ray's processes, started here, inherit the environment
    yield folder, flag
    ray.shutdown()


def test_ray_tasks_match_the_cli_survive_a_killed_worker_report_a_broken_shot_and_resume(footage, ray_cluster, capsys):
    folder, flag = ray_cluster
    shot_list = write_shot_list(folder, [{**shot, "input": str(footage / shot["input"]),
                                          "mask": str(footage / shot["mask"])} for shot in SHOTS], "json")
    code, out = run_batch(shot_list, "--ray", "auto", capsys=capsys)
    assert code == 1 and [status_of(out, s["name"]) for s in SHOTS] == ["done", "done", "failed:"], out
    assert flag.exists(), "the first attempt of shot A was not killed"
    for name in CLI_ARGS:
        assert_same_pngs(folder / "out" / name.lower(), footage / "ref" / name)
    assert_nothing_partial(folder)

    code, out = run_batch(shot_list, "--ray", "auto", capsys=capsys)
    assert [status_of(out, s["name"]) for s in SHOTS] == ["skipped", "skipped", "failed:"], out
