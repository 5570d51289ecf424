"""End to end through a real ComfyUI server: the pack loads, every API workflow runs, the outputs are right.

Uses the harness in ``<repo>/../shared/tools`` (or ``$FRVI_SHARED/tools``): ``comfyui-up`` starts an
unmodified ComfyUI (CPU) with this repo linked into ``custom_nodes/``; ``comfyui-queue`` posts a
workflow to ``/prompt`` and waits; ``comfyui-ui-check`` loads a UI workflow in the real frontend
(headless Chromium). The inputs are the template inputs the pack ships (``demo/comfyui_inputs/``: 12
frames of the ``dog_walk`` demo clip at 432x240, Apache-2.0; 8 of them as an animated PNG), which the
pack copies into ComfyUI's ``input/`` when it loads; stale copies are removed before the server starts.

Run: ``pytest -m e2e tests/test_comfyui_e2e.py``. Port: ``$FRVI_COMFYUI_PORT`` or the first free
one in 8301-8310.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from clips import REPO, SHARED
from conftest import choices, declared_inputs, load_script, node_classes, node_info

pytestmark = pytest.mark.e2e
encode, decode = load_script("make_comfyui_inputs").encode, load_script("make_comfyui_inputs").decode  # one copy

WORKFLOWS = REPO / "workflows"
API_FILES = sorted((WORKFLOWS / "api").glob("*.json"))
UI_FILES = sorted(WORKFLOWS.glob("*.json"))
# The six templates as saved while the nodes were V1 (never edited): they must load and run like the shipped ones.
BEFORE_V3 = REPO / "tests" / "fixtures" / "workflows_before_v3"
BEFORE_V3_API_FILES = sorted((BEFORE_V3 / "api").glob("*.json"))
BEFORE_V3_UI_FILES = sorted(BEFORE_V3.glob("*.json"))
# GET /object_info for the pack's nodes as ComfyUI served the V1 nodes (recorded before the move to V3)
OBJECT_INFO_BEFORE_V3 = REPO / "tests" / "fixtures" / "object_info_before_v3.json"
N_FRAMES, IMAGE_FRAMES, SHORT_MASK, FPS = 12, 8, 5, 24  # frames in frvi_demo.mp4 and in frvi_demo_frames.png
SHIPPED = REPO / "demo" / "comfyui_inputs"
DEMO_INPUTS = ("frvi_demo.mp4", "frvi_demo_mask.mp4", "frvi_demo_frames.png", "frvi_demo_mask.png")
PIPELINE_NAMES = {"FRVI_FrameInpaint": "Frame Inpaint", "FRVI_RobustFlow": "Robust Flow",
                  "FRVI_FlowBlend": "Flow Blend", "FRVI_ConvLSTMRefine": "ConvLSTM Refine"}
# h264 tolerance outside the hole, in 0..255 levels: the saved video is a second h264 generation of the
# input, so it may differ from the decoded input by the codec's own error (measured: mean 2.5, p99 12).
VIDEO_MEAN_TOL, VIDEO_P99_TOL = 4.0, 20.0
CODEC_MARGIN = 8  # pixels around the hole left out of the "unchanged" check (h264 blocks straddle its edge)


TOOLS = SHARED / "tools"  # <repo>/../shared (CI clones the repo with shared/ beside it), or $FRVI_SHARED


# ---------------------------------------------------------------- inputs: the template inputs the pack ships
def comfyui_home(port: int) -> Path:
    return Path(os.environ.get("COMFYUI_WORK", f"/tmp/comfyui-{port}")) / "ComfyUI"


def remove_demo_inputs(input_dir: Path) -> None:
    """Delete earlier copies of the template inputs, so that the pack has to copy them when it loads."""
    if os.environ.get("COMFYUI_REUSE") != "1":  # a reused server does not load the pack again
        for name in DEMO_INPUTS:
            (input_dir / name).unlink(missing_ok=True)


def complete_demo_inputs(input_dir: Path) -> list[str]:
    """The template inputs the pack put into ``input_dir`` (returned); copies any missing so the other tests
    run, and writes frvi_demo_mask_short.mp4 (too few masks) for the error path."""
    copied = [name for name in DEMO_INPUTS if (input_dir / name).is_file()]
    for name in set(DEMO_INPUTS) - set(copied):
        shutil.copyfile(SHIPPED / name, input_dir / name)
    hole = decode(input_dir / "frvi_demo_mask.mp4")
    encode(input_dir / "frvi_demo_mask_short.mp4", hole[:SHORT_MASK], "libx264", "yuv420p", {"crf": "10"})
    return copied


# ---------------------------------------------------------------- the server
def free_port() -> int | None:
    if os.environ.get("FRVI_COMFYUI_PORT"):
        return int(os.environ["FRVI_COMFYUI_PORT"])
    for port in range(8301, 8311):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    return None


def comfyui_up(port: int) -> subprocess.CompletedProcess:
    # One torch thread unless told otherwise: on a shared or small CI machine, OpenMP threads that spin
    # while other processes hold the cores made the per-frame loops up to 30x slower (measured on 2 cores).
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    run = lambda: subprocess.run([str(TOOLS / "comfyui-up"), str(REPO), str(port)], capture_output=True,
                                 text=True, timeout=900, env=env)
    home = comfyui_home(port)
    if (home / "main.py").is_file():
        (home / "custom_nodes").mkdir(exist_ok=True)
    result = run()
    # The harness's ComfyUI source has no custom_nodes/ folder; its first copy then stops at linking the
    # pack. The copy is kept, so making the folder and starting again is enough.
    if result.returncode == 1 and "custom_nodes" in result.stderr and (home / "main.py").is_file():
        (home / "custom_nodes").mkdir(exist_ok=True)
        result = run()
    return result


def import_error(log_path: str | None) -> str:
    """The pack's import traceback from the server log (or the log's last lines)."""
    lines = Path(log_path).read_text(errors="replace").splitlines() if log_path else []
    ends = [i for i, line in enumerate(lines) if "Cannot import" in line]
    starts = [i for i, line in enumerate(lines[:ends[-1]] if ends else []) if "Traceback" in line]
    return "\n".join(lines[starts[-1]:ends[-1] + 1] if starts else lines[-60:])


@pytest.fixture(scope="session")
def comfyui(request):
    """A running ComfyUI with this pack and the demo inputs: dict of COMFYUI_URL/INPUT/OUTPUT/LOG/HOME, and
    copied_at_load (the template inputs the pack copied into input/ when it loaded)."""
    if not (TOOLS / "comfyui-up").is_file():
        pytest.skip(f"ComfyUI harness not found at {TOOLS} (set FRVI_SHARED to the folder holding tools/)")
    port = free_port()
    if port is None:
        pytest.skip("no free port in 8301-8310 for ComfyUI (set FRVI_COMFYUI_PORT)")
    request.addfinalizer(lambda: subprocess.run([str(TOOLS / "comfyui-down"), str(port)], capture_output=True,
                                                timeout=60))
    remove_demo_inputs(comfyui_home(port) / "input")
    result = comfyui_up(port)
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if line.startswith("COMFYUI_"))
    if result.returncode == 3:
        pytest.fail("ComfyUI started but the pack failed to import:\n" + import_error(env.get("COMFYUI_LOG")))
    if result.returncode != 0:
        pytest.skip(f"ComfyUI could not start (comfyui-up exit {result.returncode}):\n{result.stderr[-3000:]}")
    env["copied_at_load"] = complete_demo_inputs(Path(env["COMFYUI_INPUT"]))
    return env


def queue(comfyui: dict, workflow: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "workflow_api.json"
    path.write_text(json.dumps(workflow))
    return subprocess.run([sys.executable, str(TOOLS / "comfyui-queue"), comfyui["COMFYUI_URL"], str(path),
                           "--timeout", "300", "--quiet"], capture_output=True, text=True, timeout=360)


# ---------------------------------------------------------------- reading a workflow back to its inputs
def clip_length(graph: dict) -> int:
    """Frames of the clip a workflow loads: the video's, or the animated PNG's (Load Image)."""
    loads_png = any(node["class_type"] == "LoadImage" and node["inputs"]["image"] == "frvi_demo_frames.png"
                    for node in graph.values())
    return IMAGE_FRAMES if loads_png else N_FRAMES


def preview_length(graph: dict, node_id: str) -> int:
    """Frames a preview node shows: those of the clip, or of a Get Image from Batch (a keyframe) upstream of it."""
    inputs = graph[node_id]["inputs"]
    if graph[node_id]["class_type"] == "ImageFromBatch":
        return int(inputs["length"])
    for name in ("images", "image", "frames", "mask"):
        if isinstance(inputs.get(name), list):
            return preview_length(graph, inputs[name][0])
    return clip_length(graph)


def trace(graph: dict, link: list, comfyui: dict) -> tuple[np.ndarray, int]:
    """Follow a frames or hole link back to its file; returns (``[T,H,W,3]`` uint8 pixels, total grow in px)."""
    node = graph[link[0]]
    kind, inputs = node["class_type"], node["inputs"]
    if kind == "FRVI_HoleGrowFeather":
        pixels, grow = trace(graph, inputs["hole"], comfyui)
        return pixels, grow + max(int(inputs["grow"]), 0) + int(np.ceil(float(inputs["feather"])))
    if kind in ("ImageToMask", "LoadImageMask"):
        pixels, grow = (trace(graph, inputs["image"], comfyui) if kind == "ImageToMask"
                        else (decode(Path(comfyui["COMFYUI_INPUT"]) / inputs["image"]), 0))
        channel = {"red": 0, "green": 1, "blue": 2}[inputs["channel"]]
        return np.repeat(pixels[..., channel:channel + 1], 3, axis=-1), grow
    if kind == "FRVI_FlowPropagate":  # known pixels are its input's; remaining_hole lies inside its input hole
        return trace(graph, inputs["frames" if link[1] == 0 else "hole"], comfyui)
    if kind == "ImageFromBatch":  # one chunk of the clip
        pixels, grow = trace(graph, inputs["image"], comfyui)
        return pixels[int(inputs["batch_index"]):int(inputs["batch_index"]) + int(inputs["length"])], grow
    if kind == "GetVideoComponents" and link[1] == 0:
        return trace(graph, inputs["video"], comfyui)
    if kind in ("LoadVideo", "LoadImage") and link[1] == 0:
        return decode(Path(comfyui["COMFYUI_INPUT"]) / inputs["file" if kind == "LoadVideo" else "image"]), 0
    pytest.fail(f"the test cannot trace {kind} output {link[1]}; teach trace() this node")


STREAM = "FRVI_VideoInpaintStream"


def saved_frames(graph: dict, node_id: str) -> list | None:
    """The link to the frames a SaveVideo/SaveImage node writes, or None for other nodes."""
    node = graph[node_id]
    if node["class_type"] == "SaveImage":
        return node["inputs"]["images"]
    if node["class_type"] == "SaveVideo":
        video = node["inputs"]["video"]
        return video if graph[video[0]]["class_type"] == STREAM else graph[video[0]]["inputs"]["images"]
    return None


def refine_nodes(graph: dict, link: list) -> list[str]:
    """Ids of the ConvLSTM Refine nodes whose frames a saved link shows, in frame order (through chunk joins)."""
    node = graph[link[0]]
    if node["class_type"] == "BatchImagesNode":  # autogrow inputs images.image0, images.image1, ...
        keys = sorted(node["inputs"], key=lambda key: int(key.rsplit("image", 1)[1]))
        return [refine for key in keys for refine in refine_nodes(graph, node["inputs"][key])]
    if node["class_type"] == "ImageBatch":
        return refine_nodes(graph, node["inputs"]["image1"]) + refine_nodes(graph, node["inputs"]["image2"])
    assert node["class_type"] in ("FRVI_ConvLSTMRefine", STREAM), f"saves {node['class_type']}, not ConvLSTM Refine"
    return [link[0]]


def refine_inputs(graph: dict, link: list, comfyui: dict) -> tuple[np.ndarray, np.ndarray, int]:
    """Input frames ``[T,H,W,3]`` uint8 and hole ``[T,H,W]`` bool behind a saved link, and the largest grow (px)."""
    frames, holes, grows = [], [], []
    for refine in refine_nodes(graph, link):
        inputs = graph[refine]["inputs"]
        frames_in, _ = trace(graph, inputs["frames" if "frames" in inputs else "video"], comfyui)
        mask_in, grow = trace(graph, inputs["hole"], comfyui)
        grow += max(int(inputs.get("grow", 0)), 0)  # the streaming node grows the hole itself
        frames.append(frames_in)
        holes.append(np.broadcast_to(mask_in[..., 0] >= 128, frames_in.shape[:3]))
        grows.append(grow)
    return np.concatenate(frames), np.concatenate(holes), max(grows)


def grown(hole: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate a boolean ``[T,H,W]`` hole by a disk of radius ``pixels``."""
    if pixels <= 0:
        return hole
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return np.stack([cv2.dilate(h.astype(np.uint8), disk) > 0 for h in hole])


def workflow_id(path: Path) -> str:
    """A test id naming the folder: ``workflows/api/x_api.json``, ``workflows_before_v3/api/x_api.json``."""
    return str(path.relative_to(BEFORE_V3.parent if path.is_relative_to(BEFORE_V3) else REPO))


def object_info(comfyui: dict) -> dict:
    with urllib.request.urlopen(comfyui["COMFYUI_URL"] + "/object_info", timeout=60) as response:
        return json.load(response)


# Keys a V3 input's options carry that the V1 declarations left out, with the value that means what absence meant.
V3_INPUT_DEFAULTS = {"multiselect": False, "multiline": False}


def comparable_input(declaration: list) -> tuple[str, dict]:
    """An /object_info input as ``(type, options)``: a V1 choice ``[[choices...], {...}]`` as V3 serves one,
    ``["COMBO", {"options": [choices...], ...}]``; a V1 socket declared without options gets ``{}``."""
    kind, options = declaration[0], dict(declaration[1]) if len(declaration) > 1 else {}
    if isinstance(kind, list):
        kind, options = "COMBO", {**options, "options": kind}
    return kind, options


# ---------------------------------------------------------------- tests
def test_object_info_lists_every_pack_node(comfyui, classes):
    info = object_info(comfyui)
    for key, name in PIPELINE_NAMES.items():
        assert info[key]["display_name"] == name
    for key, cls in classes.items():
        assert key in info, f"{key} is not served by ComfyUI"
        assert info[key]["display_name"] == node_info(cls)["display_name"]
        assert info[key]["input_order"] == node_info(cls)["input_order"]


# Combos that gained a choice since V1 (every saved value is still offered, the default unchanged): 2026-12 Robust
# Flow's camera completion.
GROWN_CHOICES = {("FRVI_RobustFlow", "required", "completion")}


def appended_only(old: dict, new: dict) -> bool:
    """Whether the inputs ``new`` (section -> names in order) are ``old``'s, plus optional ones at the end only (a saved
    workflow stores widget values by position: an optional widget appended last keeps every old value in place)."""
    return (set(new) <= {"required", "optional", "hidden"} and set(old) <= set(new)
            and all(new[section] == old.get(section, []) for section in new if section != "optional")
            and new.get("optional", [])[:len(old.get("optional", []))] == old.get("optional", []))


def test_object_info_of_every_node_is_what_the_v1_nodes_served(comfyui):
    """/object_info is what the frontend builds a node's sockets and widgets from (UI workflows store widget values
    by position) and what /prompt checks API workflows against: for each node it must match the recorded V1
    answer in input names, types, required/optional split, widget order, defaults, ranges, choices and tooltips,
    and in outputs, display name, category and description; new optional inputs may only be appended (Flow
    Propagate's keyframes), a combo listed in GROWN_CHOICES may gain a choice. V3 adds keys of its own that say
    nothing new (output_tooltips of None, flags that are False, ``multiselect``/``multiline`` False): allowed. The
    loaders' weights choices are the files present: the recorded ones must still be offered, with the same default."""
    before = json.loads(OBJECT_INFO_BEFORE_V3.read_text())["nodes"]
    info = object_info(comfyui)
    for key, old in before.items():
        new = info[key]
        for field in ("name", "display_name", "category", "description", "output", "output_name",
                      "output_is_list", "output_node", "is_input_list", "has_intermediate_output"):
            assert new[field] == old[field], (key, field, old[field], new[field])
        assert appended_only(old["input_order"], new["input_order"]), key
        assert new["python_module"].startswith("custom_nodes.") and not new["search_aliases"], key
        for field in set(new) - set(old):  # what V3 adds
            assert new[field] in (None, False) or new[field] == [None] * len(new["output"]), (key, field, new[field])
        assert list(new["input"]) == list(old["input"]), key
        for section, inputs in old["input"].items():
            assert appended_only({section: list(inputs)}, {section: list(new["input"][section])}), (key, section)
            for name, declaration in inputs.items():
                where = (key, section, name)
                old_kind, old_options = comparable_input(declaration)
                kind, options = comparable_input(new["input"][section][name])
                assert kind == old_kind, where
                if name == "weights":  # the files there are now
                    assert set(old_options.pop("options")) <= set(options.pop("options")), where
                if where in GROWN_CHOICES:  # a saved value is still a choice, in the same order
                    assert [o for o in options.pop("options") if o in old_options["options"]] == \
                        old_options.pop("options"), where
                    old_options.pop("tooltip"), options.pop("tooltip")  # the tooltip names the new choice
                assert {field: options.get(field) for field in old_options} == old_options, where
                added = {field: value for field, value in options.items() if field not in old_options}
                assert all(V3_INPUT_DEFAULTS.get(field, ...) == value for field, value in added.items()), (where, added)


def test_pack_copies_its_template_inputs_into_the_input_folder_at_load(comfyui):
    if os.environ.get("COMFYUI_REUSE") == "1":
        pytest.skip("COMFYUI_REUSE=1: the server did not load the pack again")
    assert sorted(comfyui["copied_at_load"]) == sorted(DEMO_INPUTS)
    for name in DEMO_INPUTS:
        assert (Path(comfyui["COMFYUI_INPUT"]) / name).read_bytes() == (SHIPPED / name).read_bytes(), name
    log = Path(comfyui["COMFYUI_LOG"]).read_text(errors="replace")
    assert f"wrote the template inputs {', '.join(DEMO_INPUTS)} into {comfyui['COMFYUI_INPUT']}" in log


def test_template_browser_lists_the_ui_workflows_with_previews(comfyui):
    with urllib.request.urlopen(comfyui["COMFYUI_URL"] + "/workflow_templates", timeout=30) as response:
        templates = json.load(response)
    assert sorted(templates.get(REPO.name, [])) == sorted(p.stem for p in UI_FILES), templates
    for path in UI_FILES:
        for suffix, kind in ((".json", "application/json"), (".jpg", "image/jpeg")):  # the browser's thumbnail
            url = f"{comfyui['COMFYUI_URL']}/api/workflow_templates/{REPO.name}/{path.stem}{suffix}"
            with urllib.request.urlopen(url, timeout=30) as response:
                assert response.status == 200 and response.headers["Content-Type"].startswith(kind), url


@pytest.mark.parametrize("path", API_FILES + BEFORE_V3_API_FILES, ids=workflow_id)
def test_api_workflow_runs_and_keeps_known_pixels(comfyui, path, tmp_path):
    graph = json.loads(path.read_text())
    if path.name == SAM3_API:
        graph = sam3_with_mask_video(graph)  # SAM3's weights are the user's: its mask comes from the mask video
    drop_node_cache(comfyui, tmp_path)  # every node runs (a twin queued before would come from the cache)
    result = queue(comfyui, graph, tmp_path)
    assert result.returncode == 0, f"{path.name} failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
    summary = json.loads(result.stdout)
    assert summary["status"] == "success"
    roots = {"output": Path(comfyui["COMFYUI_OUTPUT"]), "temp": Path(comfyui["COMFYUI_HOME"]) / "temp"}
    checked = 0
    for node_id, out in summary["outputs"].items():
        files = [roots[out["type"]] / name for name in out["files"]]
        assert files and all(f.is_file() for f in files), f"node {node_id}: missing files {out}"
        link = saved_frames(graph, node_id)
        if link is None:  # a preview (e.g. the flow picture): one image per frame it shows
            n = preview_length(graph, node_id)
            assert len(files) == n, f"node {node_id}: {len(files)} previews for {n} frames"
            continue
        frames_in, hole, grow = refine_inputs(graph, link, comfyui)
        if len(files) == 1 and files[0].suffix == ".mp4":
            out_frames, exact = decode(files[0]), False
        else:
            out_frames = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in sorted(files)])
            exact = True
        assert out_frames.shape == frames_in.shape == (clip_length(graph), 240, 432, 3)
        diff = np.abs(out_frames.astype(np.int16) - frames_in.astype(np.int16))
        known = ~grown(hole, grow + (1 if exact else CODEC_MARGIN))
        if exact:  # PNG in, PNG out: untouched pixels must come back bit-exact
            assert np.array_equal(out_frames[known], frames_in[known]), \
                f"{np.count_nonzero(diff[known])} known pixel values changed"
        else:
            mean, p99 = diff[known].mean(), np.percentile(diff[known], 99)
            assert mean < VIDEO_MEAN_TOL and p99 < VIDEO_P99_TOL, f"outside the hole: mean {mean:.2f}, p99 {p99:.1f}"
        inside = diff[hole].mean()
        assert inside > 10 and inside > 3 * diff[known].mean(), f"the hole barely changed: mean {inside:.1f}"
        checked += 1
    assert checked, f"{path.name} saves no inpainted frames"


SAM3_API = "object_removal_sam3_api.json"
SAM3_NODES = ("CheckpointLoaderSimple", "CLIPTextEncode", "SAM3_VideoTrack", "SAM3_TrackToMask", "SAM3_TrackPreview")


def sam3_with_mask_video(graph: dict) -> dict:
    """The SAM3 template from the mask onward: its SAM3 nodes replaced by the demo's mask video (Load Video ->
    Get Video Components -> Convert Image to Mask), everything after the mask unchanged."""
    sam3 = [key for key, node in graph.items() if node["class_type"] in SAM3_NODES]
    assert len(sam3) == len(SAM3_NODES), f"the SAM3 template changed: {sam3}"
    mask_links = [(key, name) for key, node in graph.items() for name, value in node["inputs"].items()
                  if isinstance(value, list) and graph[value[0]]["class_type"] == "SAM3_TrackToMask"
                  and key not in sam3]
    assert [graph[key]["class_type"] for key, _ in mask_links] == ["FRVI_HoleGrowFeather"]
    graph = {key: node for key, node in graph.items() if key not in sam3}
    graph.update({
        "m1": {"class_type": "LoadVideo", "inputs": {"file": "frvi_demo_mask.mp4"}},
        "m2": {"class_type": "GetVideoComponents", "inputs": {"video": ["m1", 0]}},
        "m3": {"class_type": "ImageToMask", "inputs": {"image": ["m2", 0], "channel": "red"}},
    })
    for key, name in mask_links:
        graph[key]["inputs"][name] = ["m3", 0]
    return graph


def saved_pngs(comfyui: dict, summary: dict, node_id: str) -> np.ndarray:
    """The PNGs a SaveImage node wrote, in order, as ``[T,H,W,3]`` uint8 RGB."""
    files = sorted(Path(comfyui["COMFYUI_OUTPUT"]) / name for name in summary["outputs"][node_id]["files"])
    return np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])


LEARNED_STAGES = {  # node -> (widget that picks the network, loader input, loader node)
    "FRVI_FrameInpaint": ("method", "model", "FRVI_LoadFrameInpaintNetwork"),
    "FRVI_RobustFlow": ("completion", "completion_model", "FRVI_LoadFlowCompletionNetwork"),
    "FRVI_FlowBlend": ("method", "model", "FRVI_LoadFlowBlendNetwork"),
    "FRVI_ConvLSTMRefine": ("method", "model", "FRVI_LoadConvLSTMRefineNetwork"),
}


def on_learned_path(graph: dict) -> dict:
    """Every pipeline node of ``graph`` switched to its network, each fed by a loader of the shipped weights."""
    for i, (_, _, loader) in enumerate(LEARNED_STAGES.values()):
        graph[f"80{i}"] = {"class_type": loader, "inputs": {}}  # weights set by the caller
    loaders = {kind: f"80{i}" for i, kind in enumerate(LEARNED_STAGES)}
    for node in graph.values():
        if node["class_type"] in LEARNED_STAGES:
            widget, socket, _ = LEARNED_STAGES[node["class_type"]]
            node["inputs"].update({widget: "network", socket: [loaders[node["class_type"]], 0]})
    return graph


@pytest.mark.parametrize("learned", [False, True], ids=["classical", "learned"])
def test_chunks_joined_through_state_equal_one_run(comfyui, classes, tmp_path, learned):
    """long_video_chunks: chunk 2 continues from chunk 1's state, so the joined frames are those of one run, on
    the classical path and on the learned one (the ConvLSTM's memory crosses the join in the state).

    The single run is made here from the workflow's first chunk (same nodes and settings, every frame);
    both results are saved as PNG (lossless) in one queued graph and compared bit for bit.
    """
    graph = json.loads((WORKFLOWS / "api" / "long_video_chunks_api.json").read_text())
    if learned:
        for kind in ("frame_inpaint", "flow_complete", "flow_blend", "convlstm_refine"):
            if not (REPO / "weights" / f"frvi_{kind}.safetensors").is_file():
                pytest.skip(f"no shipped weights for {kind}")
        graph = on_learned_path(graph)
        for i, (_, _, loader) in enumerate(LEARNED_STAGES.values()):
            graph[f"80{i}"]["inputs"] = {"weights": declared_inputs(classes[loader])["weights"][1]["default"]}
    (join_id,) = [key for key, node in graph.items() if node["class_type"] in ("BatchImagesNode", "ImageBatch")]
    first, second = refine_nodes(graph, [join_id, 0])
    assert graph[second]["inputs"]["state"] == [first, 1], "chunk 2's ConvLSTM Refine must take chunk 1's state"
    flow_of_second = graph[graph[graph[second]["inputs"]["flow"][0]]["inputs"]["flow_p"][0]]
    assert flow_of_second["class_type"] == "FRVI_RobustFlow" and flow_of_second["inputs"]["state"] == [first, 1]
    spans = sorted({(node["inputs"]["batch_index"], node["inputs"]["length"]) for node in graph.values()
                    if node["class_type"] == "ImageFromBatch"})
    assert spans[0][0] == 0 and sum(length for _, length in spans) == N_FRAMES and \
        all(a + n == b for (a, n), (b, _) in zip(spans, spans[1:])), f"chunks do not tile the clip: {spans}"

    def upstream(key: str) -> set[str]:  # chunk 1's own nodes: everything between the video loaders and its refine
        node = graph[key]
        if node["class_type"] in ("LoadVideo", "GetVideoComponents"):
            return set()
        return {key}.union(*(upstream(v[0]) for v in node["inputs"].values() if isinstance(v, list)))

    single = {key: f"10{key}" for key in upstream(first)}
    for key, new in single.items():
        node = json.loads(json.dumps(graph[key]))
        node["inputs"] = {name: [single.get(v[0], v[0]), v[1]] if isinstance(v, list) else v
                          for name, v in node["inputs"].items()}
        if node["class_type"] == "ImageFromBatch":
            node["inputs"].update(batch_index=0, length=N_FRAMES)
        graph[new] = node
    for key in [key for key, node in graph.items() if node["class_type"] in ("CreateVideo", "SaveVideo")]:
        del graph[key]
    for key, images, prefix in (("900", [join_id, 0], "chunked"), ("901", [single[first], 0], "one_run")):
        graph[key] = {"class_type": "SaveImage", "inputs": {"images": images, "filename_prefix": f"frvi_e2e/{prefix}"}}
    result = queue(comfyui, graph, tmp_path)
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stderr[-4000:]}"
    summary = json.loads(result.stdout)
    chunked, one_run = saved_pngs(comfyui, summary, "900"), saved_pngs(comfyui, summary, "901")
    assert chunked.shape == one_run.shape == (N_FRAMES, 240, 432, 3)
    frames_in, hole, _ = refine_inputs(graph, [single[first], 0], comfyui)
    assert np.abs(one_run.astype(int) - frames_in)[hole].mean() > 10, "the single run did not fill the hole"
    diff = np.abs(chunked.astype(int) - one_run.astype(int))
    assert diff.max() == 0, f"chunked != one run: {np.count_nonzero(diff)} values differ, max {diff.max()}, " \
                            f"frames {sorted(set(np.nonzero(diff)[0].tolist()))}"


def test_mask_with_other_frame_count_gives_the_value_error(comfyui, pack, tmp_path):
    graph = json.loads((WORKFLOWS / "api" / "frame_recurrent_inpaint_api.json").read_text())
    for node in graph.values():
        if node["class_type"] == "LoadVideo" and node["inputs"]["file"] == "frvi_demo_mask.mp4":
            node["inputs"]["file"] = "frvi_demo_mask_short.mp4"
    with pytest.raises(ValueError) as expected:  # the message the user must see, from the pack itself
        pack.model.checks.check_hole(torch.zeros(SHORT_MASK, 1, 240, 432), torch.zeros(N_FRAMES, 3, 240, 432))
    result = queue(comfyui, graph, tmp_path)
    assert result.returncode == 1, f"expected an execution error, got exit {result.returncode}:\n{result.stderr}"
    assert "ValueError" in result.stderr
    assert str(expected.value) in result.stderr, result.stderr[-3000:]


def widget_defaults(cls) -> list:
    """The defaults of a node's widgets (the inputs the frontend draws as widgets), in order."""
    return [(declaration[1] if len(declaration) > 1 else {}).get("default")
            for declaration in declared_inputs(cls).values()
            if declaration[0] in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")]


def ui_check_python() -> str | None:
    """A Python that has Playwright (this one, or the repo's .venv), or None."""
    for python in (sys.executable, str(REPO / ".venv" / "bin" / "python")):
        if Path(python).is_file() and subprocess.run([python, "-c", "import playwright.sync_api"],
                                                     capture_output=True).returncode == 0:
            return python
    return None


@pytest.mark.parametrize("path", UI_FILES + BEFORE_V3_UI_FILES, ids=workflow_id)
def test_ui_workflow_loads_in_the_real_frontend(comfyui, classes, path, tmp_path):
    """The frontend knows every node, shows no error, and saving the loaded graph again (as "Save" would) gives
    every pack node back with the same widget values (matched by position to the widgets the nodes declare now; a
    widget appended since the file was saved comes back with its default),
    every saved input with its type and link, every declared input (a file saved before an input existed gets it)
    and the same outputs with their links."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("no Chromium for the frontend check (apt-get install -y chromium)")
    python = ui_check_python()
    if python is None:
        pytest.skip("no Playwright for the frontend check (pip install playwright)")
    result = subprocess.run([python, str(TOOLS / "comfyui-ui-check"), comfyui["COMFYUI_URL"], str(path),
                             str(tmp_path / "screen.png"), "--save-ui", str(tmp_path / "saved.json")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stdout}\n{result.stderr[-3000:]}"
    info = json.loads(result.stdout)
    assert info["missing"] == [] and info["page_errors"] == [], info
    graph = json.loads(path.read_text())
    assert info["nodes"] == len(graph["nodes"])
    assert (tmp_path / "screen.png").stat().st_size > 10_000
    saved = {node["id"]: node for node in json.loads((tmp_path / "saved.json").read_text())["nodes"]}
    inputs = lambda node: {slot["name"]: (slot["type"], slot.get("link")) for slot in node.get("inputs") or []}
    outputs = lambda node: [(slot["name"], slot["type"], sorted(slot.get("links") or [])) for slot in node["outputs"]]
    for node in graph["nodes"]:
        if node["type"] in classes:
            again, where = saved[node["id"]], f"node {node['id']} ({node['type']})"
            kept, added = again["widgets_values"][:len(node["widgets_values"])], again["widgets_values"][
                len(node["widgets_values"]):]
            assert kept == node["widgets_values"], where
            assert added == widget_defaults(classes[node["type"]])[len(kept):], where  # widgets added since
            assert inputs(node).items() <= inputs(again).items(), where
            assert set(inputs(again)) == set(declared_inputs(classes[node["type"]])), where
            assert outputs(again) == outputs(node), where


# ---------------------------------------------------------------- learned path and core RAFT through the server
def images_graph() -> dict:
    return json.loads((WORKFLOWS / "api" / "frame_recurrent_inpaint_images_api.json").read_text())


def check_png_result(comfyui: dict, graph: dict, tmp_path: Path) -> np.ndarray:
    """Queue an images graph (node 6 = ConvLSTM Refine, 7 = SaveImage); assert success and exact known pixels."""
    result = queue(comfyui, graph, tmp_path)
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stderr[-4000:]}"
    files = sorted(Path(comfyui["COMFYUI_OUTPUT"]) / f for f in json.loads(result.stdout)["outputs"]["7"]["files"])
    out = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])
    frames_in, _ = trace(graph, graph["6"]["inputs"]["frames"], comfyui)
    mask_in, _ = trace(graph, graph["6"]["inputs"]["hole"], comfyui)
    hole = np.broadcast_to(mask_in[..., 0] >= 128, out.shape[:3])
    assert out.shape == frames_in.shape == (IMAGE_FRAMES, 240, 432, 3)
    assert np.array_equal(out[~hole], frames_in[~hole])
    return out


def learned_graph(comfyui: dict, pack) -> dict:
    """The images graph with every stage on its network, each from its loader node: the pack's shipped weights
    file where there is one (the loaders' default), else weights initialised here in models/frvi/."""
    folder = Path(comfyui["COMFYUI_HOME"]) / "models" / "frvi"
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    classes = node_classes(pack)
    loaders = {"frame_inpaint": "FRVI_LoadFrameInpaintNetwork", "flow_complete": "FRVI_LoadFlowCompletionNetwork",
               "flow_blend": "FRVI_LoadFlowBlendNetwork", "convlstm_refine": "FRVI_LoadConvLSTMRefineNetwork"}
    graph = images_graph()
    for i, (kind, loader) in enumerate(loaders.items()):
        name = f"frvi_{kind}.safetensors"
        if not (REPO / "weights" / name).is_file():
            name = f"e2e_{kind}.safetensors"
            pack.model.networks.weights.save_network(pack.model.networks.NETWORKS[kind](), folder / name)
        assert name in choices(classes[loader], "weights") or name.startswith("e2e_")
        graph[str(20 + i)] = {"class_type": loader, "inputs": {"weights": name}}
    graph["3"]["inputs"].update(method="network", model=["20", 0])
    graph["4"]["inputs"].update(completion="network", completion_model=["21", 0])
    graph["5"]["inputs"].update(method="network", model=["22", 0])
    graph["6"]["inputs"].update(method="network", model=["23", 0])
    return graph


def post(comfyui: dict, route: str, body: dict) -> None:
    request = urllib.request.Request(comfyui["COMFYUI_URL"] + route, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=60).read()


def drop_node_cache(comfyui: dict, tmp_path: Path) -> None:
    """Empty the server's cache of node outputs (and unload its models), so the next graph runs every node.

    ``POST /free`` only sets a flag, which the prompt worker applies after its current or next prompt: a one-node
    graph queued and awaited here makes sure it has been applied before the caller queues its own graph.
    """
    post(comfyui, "/free", {"unload_models": True, "free_memory": True})
    probe = {"1": {"class_type": "LoadImageMask", "inputs": {"image": "frvi_demo_mask.png", "channel": "red"}},
             "2": {"class_type": "MaskPreview", "inputs": {"mask": ["1", 0]}}}
    result = queue(comfyui, probe, tmp_path)
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stderr[-2000:]}"


def test_learned_path_runs_twice_and_again_after_comfyui_unloads_its_models(comfyui, pack, tmp_path):
    """The four networks go through ComfyUI's model management (ModelPatcher, load_models_gpu): the graph runs,
    runs again, and runs a third time after ``POST /free`` unloaded every model and dropped the node cache, with
    the same pixels each time."""
    graph = learned_graph(comfyui, pack)
    first = check_png_result(comfyui, graph, tmp_path)
    graph["6"]["inputs"]["strength"] = 0.5  # not read by the network refiner: re-runs it on the loaded models
    again = check_png_result(comfyui, graph, tmp_path)
    post(comfyui, "/free", {"unload_models": True, "free_memory": True})
    after_unload = check_png_result(comfyui, graph, tmp_path)
    assert np.array_equal(first, again) and np.array_equal(first, after_unload)


def test_core_optical_flow_model_drives_robust_flow(comfyui, tmp_path):
    """Core ComfyUI's Load Optical Flow Model (RAFT-large, initialised here: no download) feeds Robust Flow."""
    python = Path(os.environ.get("COMFYUI_VENV", "/tmp/comfyui-venv")) / "bin" / "python"
    folder = Path(comfyui["COMFYUI_HOME"]) / "models" / "optical_flow"
    folder.mkdir(parents=True, exist_ok=True)
    make = ("import sys, torch; from torchvision.models.optical_flow import raft_large; "
            "from safetensors.torch import save_file; torch.manual_seed(0); "
            "save_file({k: v.contiguous() for k, v in raft_large(weights=None).state_dict().items()}, sys.argv[1])")
    made = subprocess.run([str(python), "-c", make, str(folder / "e2e_raft_large.safetensors")],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    graph = images_graph()
    graph["30"] = {"class_type": "OpticalFlowLoader", "inputs": {"model_name": "e2e_raft_large.safetensors"}}
    graph["4"]["inputs"].update(optical_flow=["30", 0], raft_iterations=2)
    check_png_result(comfyui, graph, tmp_path)


# ---------------------------------------------------------------- random legal graphs: the server never dies
SERVER_FUZZ_CASES = int(os.environ.get("FRVI_SERVER_FUZZ_CASES", "10"))


def fuzz_graph(case: int, pack, input_dir: Path) -> dict:
    """A seeded random-but-legal graph (tests/fuzz_cases.py's draws) with its inputs written into ``input_dir``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fuzz_cases import random_video, widget_values
    rng = np.random.default_rng([case, 29])
    frames, hole, _ = random_video(rng)
    encode(input_dir / f"fuzz_{case}_frames.png", (frames.numpy() * 255).round().astype(np.uint8), "apng", "rgb24")
    encode(input_dir / f"fuzz_{case}_mask.png", (hole.numpy() * 255).round().astype(np.uint8), "apng", "rgb24")
    classes = node_classes(pack)
    w = {key: widget_values(cls, rng) for key, cls in classes.items()}
    for key, name in (("FRVI_FlowBlend", "method"), ("FRVI_ConvLSTMRefine", "method")):  # no weights shipped
        if w[key][name] == "network" and rng.random() < 0.85:
            w[key][name] = choices(classes[key], name)[0]
    pw = w["FRVI_FlowPropagate"]
    for key, name in (("FRVI_FrameInpaint", "method"), ("FRVI_FlowPropagate", "keyframes")):
        # ComfyUI's OpenCV may lack contrib (the exemplar fills then give a clear error); textured keyframes take
        # seconds: both are mostly drawn again
        if w[key][name] in ("exemplar", "textured") and rng.random() < 0.85:
            w[key][name] = choices(classes[key], name)[0]
    context = {"context_before": 0, "context_after": 0}
    if rng.random() < 0.3:  # a chunk with context frames; now and then more than the batch holds (a clear error)
        context = {"context_before": int(rng.integers(3)), "context_after": int(rng.integers(3))}
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": f"fuzz_{case}_frames.png"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": f"fuzz_{case}_mask.png"}},
        "3": {"class_type": "ImageToMask", "inputs": {"image": ["2", 0], "channel": "red"}},
        "11": {"class_type": "FRVI_LoadFrameInpaintNetwork", "inputs": {
            "weights": "frvi_frame_inpaint.safetensors",
            "working_size": w["FRVI_LoadFrameInpaintNetwork"]["working_size"]}},
        "12": {"class_type": "FRVI_LoadFlowCompletionNetwork", "inputs": {"weights": "frvi_flow_complete.safetensors"}},
        "4": {"class_type": "FRVI_FrameInpaint", "inputs": {"frames": ["1", 0], "hole": ["3", 0], "model": ["11", 0],
                                                            **w["FRVI_FrameInpaint"]}},
        "5": {"class_type": "FRVI_RobustFlow", "inputs": {
            "frames": ["1", 0], "hole": ["3", 0], "inpainted": ["4", 0], "completion_model": ["12", 0],
            **{k: v for k, v in w["FRVI_RobustFlow"].items() if k != "raft_iterations"}}},
        "6": {"class_type": "FRVI_FlowBlend", "inputs": {"flow_p": ["5", 0], "flow_i": ["5", 1],
                                                         **w["FRVI_FlowBlend"]}},
        "7": {"class_type": "FRVI_ConvLSTMRefine", "inputs": {"frames": ["1", 0], "hole": ["3", 0],
                                                              "inpainted": ["4", 0], "flow": ["6", 0],
                                                              **w["FRVI_ConvLSTMRefine"]}},
        "8": {"class_type": "SaveImage", "inputs": {"images": ["7", 0], "filename_prefix": f"fuzz/case{case}"}},
        "9": {"class_type": "FRVI_FlowPropagate", "inputs": {
            "frames": ["1", 0], "hole": ["3", 0], **{k: v for k, v in pw.items() if not k.startswith("context")},
            **context}},
        "10": {"class_type": "PreviewImage", "inputs": {"images": ["9", 0]}},
    }


def test_random_legal_graphs_end_in_results_or_value_errors_and_the_server_lives(comfyui, pack, tmp_path):
    """FRVI_SERVER_FUZZ_CASES seeded graphs (default 10; 200 were run by hand, see the README)."""
    outcomes, errors = [], []
    for case in range(SERVER_FUZZ_CASES):
        graph = fuzz_graph(case, pack, Path(comfyui["COMFYUI_INPUT"]))
        result = queue(comfyui, graph, tmp_path)
        assert result.returncode in (0, 1), f"case {case}: exit {result.returncode}\n{result.stderr[-3000:]}"
        if result.returncode == 1:
            assert "ValueError" in result.stderr, f"case {case}: not a ValueError\n{result.stderr[-3000:]}"
        outcomes.append(result.returncode)
        errors.extend(line for line in result.stderr.splitlines() if "ValueError" in line)
        with urllib.request.urlopen(comfyui["COMFYUI_URL"] + "/system_stats", timeout=30) as response:
            assert response.status == 200, f"the server died after case {case}"
    print(f"{outcomes.count(0)} results, {outcomes.count(1)} clear errors of {len(outcomes)} cases", *errors,
          sep="\n")
    assert outcomes.count(0) >= len(outcomes) // 2
