"""The example workflows match the nodes: no server needed, runs in well under a second.

Saved graphs break silently when a node or input is renamed, a widget is added in the middle
(the UI format stores widget values by position) or a choice disappears; these tests catch that.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clips import REPO, SHARED
from conftest import declared_inputs, node_info

WORKFLOWS = REPO / "workflows"
UI_FILES = sorted(WORKFLOWS.glob("*.json"))
API_FILES = sorted((WORKFLOWS / "api").glob("*.json"))
# Frontend-only node types: they live in the browser and never reach the server.
FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
# Core node types the workflows may use, checked against the ComfyUI source when it is beside the repo.
CORE_USED = {"LoadVideo", "GetVideoComponents", "ImageToMask", "CreateVideo", "SaveVideo", "PreviewImage",
             "LoadImage", "LoadImageMask", "SaveImage", "MaskPreview", "ImageFromBatch", "BatchImagesNode",
             # the SAM3 template: ComfyUI 0.27's own video segmentation (its weights are the user's)
             "CheckpointLoaderSimple", "CLIPTextEncode", "SAM3_VideoTrack", "SAM3_TrackToMask", "SAM3_TrackPreview",
             "SAM3_Detect", "PrimitiveStringMultiline",
             # the clean-plate template's bypassed group: a keyframe filled by a diffusion inpainting model
             "InpaintModelConditioning", "KSampler", "VAEDecode"}
MODEL_FILE = re.compile(r"\.(safetensors|ckpt|pt|pth|bin|gguf)$")
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def comfyui_source() -> Path:
    return SHARED / "comfyui"


def core_node_types(src: Path) -> set[str]:
    """Node class keys defined by a ComfyUI source tree (``nodes.py`` and ``comfy_extras/``), read as text."""
    names = set()
    for path in [src / "nodes.py", *sorted((src / "comfy_extras").rglob("*.py"))]:
        text = path.read_text(encoding="utf-8", errors="replace")
        names |= set(re.findall(r"node_id\s*=\s*[\"']([^\"']+)[\"']", text))
        for block in re.findall(r"NODE_CLASS_MAPPINGS\s*=\s*\{(.*?)\n\}", text, re.S):
            names |= set(re.findall(r"^\s*[\"']([^\"']+)[\"']\s*:", block, re.M))
    return names


def is_widget(declaration: tuple) -> bool:
    return declaration[0] in WIDGET_TYPES


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_there_are_ui_and_api_workflows_with_previews():
    assert UI_FILES and API_FILES
    for path in UI_FILES:
        # The frontend's template browser asks custom packs for <name>.jpg (frontend 1.45, ComfyUI 0.27).
        assert path.with_suffix(".jpg").is_file(), f"{path.name} needs a preview image {path.stem}.jpg beside it"
        assert (WORKFLOWS / "api" / f"{path.stem}_api.json").is_file(), f"{path.name} has no API twin"


def test_workflow_files_are_in_the_right_format():
    for path in UI_FILES:
        graph = load(path)
        assert "nodes" in graph and "links" in graph, f"{path.name}: workflows/*.json must be UI format"
    for path in API_FILES:
        graph = load(path)
        assert all("class_type" in node and "inputs" in node for node in graph.values()), \
            f"{path.name}: workflows/api/*.json must be API format"


@pytest.mark.parametrize("path", UI_FILES + API_FILES, ids=lambda p: p.name)
def test_workflows_use_only_core_or_pack_nodes(classes, path):
    graph = load(path)
    is_ui = "nodes" in graph
    used = {n["type"] for n in graph["nodes"]} if is_ui else {n["class_type"] for n in graph.values()}
    allowed = set(classes) | CORE_USED | (FRONTEND_ONLY if is_ui else set())
    assert used <= allowed, f"{path.name}: unknown node types {sorted(used - allowed)}"


def test_core_nodes_used_exist_in_comfyui():
    src = comfyui_source()
    if not (src / "nodes.py").is_file():
        pytest.skip(f"ComfyUI source not found at {src} (set FRVI_SHARED)")
    missing = CORE_USED - core_node_types(src)
    assert not missing, f"not in ComfyUI at {src}: {sorted(missing)}"


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: p.name)
def test_api_workflow_inputs_match_the_pack_nodes(classes, path):
    graph = load(path)
    for node_id, node in graph.items():
        cls = classes.get(node["class_type"])
        if cls is None:
            continue
        declared = declared_inputs(cls)
        required = set(node_info(cls)["input"].get("required", {}))
        where = f"{path.name} node {node_id} ({node['class_type']})"
        assert set(node["inputs"]) <= set(declared), f"{where}: unknown inputs {set(node['inputs']) - set(declared)}"
        assert required <= set(node["inputs"]), f"{where}: missing required inputs {required - set(node['inputs'])}"
        for name, value in node["inputs"].items():
            if isinstance(value, list):  # a link ["node id", output index]
                source = graph[value[0]]
                assert value[1] >= 0, where
                if source["class_type"] in classes:
                    out_type = node_info(classes[source["class_type"]])["output"][value[1]]
                    assert out_type == declared[name][0], f"{where}: {name} is {declared[name][0]}, linked {out_type}"
                continue
            kind, opts = declared[name]
            if kind == "COMBO":
                assert value in opts["options"], f"{where}: {name}={value!r} is not one of {opts['options']}"
            elif kind in ("INT", "FLOAT"):
                in_range = opts.get("min", value) <= value <= opts.get("max", value)
                assert in_range, f"{where}: {name}={value} out of range"


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_workflow_widgets_match_the_pack_nodes_and_the_api_twin(classes, path):
    """UI graphs store widget values by position: their count and values must fit the declared widgets."""
    graph = load(path)
    api = load(WORKFLOWS / "api" / f"{path.stem}_api.json")
    for node in graph["nodes"]:
        cls = classes.get(node["type"])
        if cls is None:
            continue
        widgets = [name for name, decl in declared_inputs(cls).items() if is_widget(decl)]
        where = f"{path.name} node {node['id']} ({node['type']})"
        assert len(node.get("widgets_values", [])) == len(widgets), f"{where}: widgets {widgets}"
        socket_names = {slot["name"] for slot in node.get("inputs", [])}
        assert socket_names <= set(declared_inputs(cls)), f"{where}: unknown inputs {socket_names}"
        twin = api.get(str(node["id"]))
        assert twin and twin["class_type"] == node["type"], f"{where}: no matching node in the API twin"
        assert node["widgets_values"] == [twin["inputs"][name] for name in widgets], \
            f"{where}: widget values differ from the API twin"


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_nodes_that_load_a_model_file_say_where_to_download_it(classes, path):
    """A core loader naming a model file ComfyUI does not ship carries its name, folder and download address in
    ``properties["models"]``: the frontend's missing-model dialog then offers the download (the pack's own loaders
    list the weights the pack ships)."""
    for node in load(path)["nodes"]:
        if node["type"] in classes:
            continue
        files = [v for v in node.get("widgets_values") or [] if isinstance(v, str) and MODEL_FILE.search(v)]
        sources = {m.get("name"): m for m in node.get("properties", {}).get("models", [])}
        for name in files:
            where = f"{path.name} node {node['id']} ({node['type']}): {name}"
            assert name in sources, f"{where} has no properties.models entry"
            assert sources[name].get("directory"), where
            assert sources[name]["url"].startswith("https://") and sources[name]["url"].endswith("/" + name), where
