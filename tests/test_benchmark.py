"""scripts/benchmark.py: every subcommand parses its documented commands and runs at a tiny size (seconds)."""
import json
import shlex

import pytest
import torch

from clips import REPO
from conftest import load_script

benchmark = load_script("benchmark")
WEIGHTS = REPO / "weights"
DOCUMENTED = [  # the commands the docs and the script's own help give
    "stages",
    "stages --sizes 128x128,432x240,1280x720",
    "stages --sizes 1280x720 --flow-working-size 640",
    "stages --weights weights --threads 1",
    "stages --devices cuda --weights weights --propagate 96 --sizes 432x240,1280x720,1920x1080",
    "networks --sizes 128x128 432x240",
    "networks --clip ../shared/data/clips/dog_walk/frames --profile",
    "memory --frames 30 300 3000",
    "memory --size 1280x720 --frames 100 300 1000 --cli-args=--propagate",
    "memory --size 432x240 --frames 60 --cli-args --propagate",
    "memory --size 1920x1080 --frames 300 --cli-args '--propagate --max-distance 6'",
    "memory --real-frames ../shared/data/clips/dog_walk/frames --cli-args=--propagate",
    "memory --frames 30 300 1000 --side-by-side",
    "node-memory --size 1280x720 100 300",
    "batch /tmp/frvi_batch --workers 2 --label local2",
    "batch /tmp/frvi_batch --ray 127.0.0.1:6390 --label ray1",
]


@pytest.fixture(autouse=True)
def one_thread():
    """The subcommands run with --threads 1 (much faster on a loaded shared CPU); restore torch's setting after."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("command", DOCUMENTED)
def test_documented_commands_parse(command):
    args = benchmark.build_parser().parse_args(benchmark.glued(shlex.split(command)))
    assert args.command == command.split()[0] and callable(args.run)


def test_sizes_may_be_comma_or_space_separated_and_cli_args_may_look_like_options():
    parse = benchmark.build_parser().parse_args
    assert parse(["stages", "--sizes", "64x48,32x24", "16x8"]).sizes == [(64, 48), (32, 24), (16, 8)]
    assert parse(["networks"]).sizes == [(128, 128), (432, 240)]
    assert parse(benchmark.glued(["memory", "--cli-args", "--propagate"])).cli_args == "--propagate"
    with pytest.raises(SystemExit):
        parse(["stages", "--sizes", "64by48"])


def test_stages_times_every_node_inside_the_whole_graph(tmp_path):
    out = tmp_path / "bench"
    assert benchmark.main(["stages", "--sizes", "48x32", "--warmup", "1", "--runs", "2", "--frames", "2",
                           "--devices", "cpu", "--texture", "", "--threads", "1", "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    (speed,) = report["speed"]
    nodes = {k: v["median_ms"] for k, v in speed["nodes"].items()}
    assert all(v > 0 for v in nodes.values()), nodes
    parts = nodes["frame_inpaint"] + nodes["robust_flow"] + nodes["flow_blend"] + nodes["refine"]
    assert parts <= nodes["graph"] * 1.05  # the stages run inside step()
    assert nodes["flow_estimate"] + nodes["flow_complete"] <= nodes["robust_flow"] * 1.05
    assert "frame_inpaint: telea" in report["settings"]["pipeline"]
    assert "| whole graph (StreamingInpainter.step) |" in (out / "bench.md").read_text()


def test_stages_times_the_shipped_networks_and_flow_propagate(tmp_path):
    out = tmp_path / "bench"
    assert benchmark.main(["stages", "--sizes", "64x48", "--warmup", "1", "--runs", "1", "--frames", "2",
                           "--devices", "cpu", "--texture", "", "--threads", "1", "--out", str(out),
                           "--weights", str(WEIGHTS), "--propagate", "6"]) == 0
    report = json.loads((out / "bench.json").read_text())
    (speed,) = report["speed"]
    assert speed["nodes"]["propagate"]["median_ms"] > 0
    assert "frame_inpaint: network" in report["settings"]["pipeline"]
    assert "convlstm_refine: network" in report["settings"]["pipeline"]
    assert "| Flow Propagate before the graph" in (out / "bench.md").read_text()


def test_networks_times_each_network_and_the_learned_graph(capsys):
    assert benchmark.main(["networks", "--sizes", "64x48", "--frames", "3", "--passes", "1", "--warmup", "1",
                           "--repeats", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "64x48: full learned graph" in out and "inside the graph (median ms): frame_inpaint" in out


def test_memory_measures_the_cli(capsys):
    assert benchmark.main(["memory", "--size", "64x48", "--frames", "3", "--cli-args", "--propagate",
                           "--texture", "", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "inpaint_video.py --propagate on a panning clip" in out
    row = out.strip().splitlines()[-1].split("|")
    assert row[1].strip() == "3" and float(row[2]) > 50 and "time per frame: propagation" in row[6]


def test_node_memory_measures_the_nodes(capsys):
    if not (benchmark.COMFYUI_SOURCE / "comfy_api").is_dir():
        pytest.skip(f"ComfyUI source not found at {benchmark.COMFYUI_SOURCE}: the nodes import its comfy_api")
    assert benchmark.main(["node-memory", "--size", "64x48", "3", "--threads", "1"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1].split("|")
    assert row[1].strip() == "3" and float(row[5]) > 50  # peak RSS, MiB


def test_panning_video_is_deterministic_and_moves():
    video = benchmark.PanningVideo(40, 30, None)
    assert torch.equal(video.frame(3), video.frame(3))
    assert not torch.equal(video.frame(0), video.frame(1))
    assert video.frame(1000).shape == (1, 3, 30, 40)
