"""Weight files: safetensors + metadata round trip, strict loading with clear errors, loader nodes,
and the pipeline nodes' learned path (refusing without weights, running with them)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from clips import REPO, synthetic_clip
from conftest import PACK_NAME, choices, declared_inputs, node_info
from model.networks import (ConvLSTMRefineConfig, ConvLSTMRefineNet, FlowBlendConfig, FlowBlendNet,
                            FlowCompleteConfig, FlowCompleteNet, FrameInpaintConfig, FrameInpaintNet)
from model.networks.weights import load_network, read_metadata, save_network

TINY = {
    "frame_inpaint": lambda: FrameInpaintNet(FrameInpaintConfig(widths=(4, 8, 8), first_kernel=3)),
    "flow_complete": lambda: FlowCompleteNet(FlowCompleteConfig(widths=(4, 8, 8), first_kernel=3)),
    "flow_blend": lambda: FlowBlendNet(FlowBlendConfig(widths=(4, 8, 8))),
    "convlstm_refine": lambda: ConvLSTMRefineNet(ConvLSTMRefineConfig(widths=(4, 8), hidden=8)),
}


def _saved(tmp_path: Path, kind: str, name: str | None = None) -> Path:
    path = tmp_path / (name or f"{kind}.safetensors")
    save_network(TINY[kind](), path)
    return path


def _resave(source: Path, target: Path, edit_tensors=None, edit_metadata=None) -> Path:
    """Copy a weights file through safetensors with its tensors/metadata edited."""
    from safetensors import safe_open
    with safe_open(str(source), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    if edit_tensors:
        edit_tensors(tensors)
    if edit_metadata:
        edit_metadata(metadata)
    save_file(tensors, str(target), metadata=metadata)
    return target


@pytest.mark.parametrize("kind", list(TINY))
def test_save_then_load_gives_the_same_network(tmp_path, kind):
    torch.manual_seed(1)
    net = TINY[kind]()
    path = tmp_path / "net.safetensors"
    save_network(net, path, extra={"note": "initialised in the test"})
    meta = read_metadata(path)
    assert meta["architecture"] == net.ARCHITECTURE and meta["kind"] == kind and meta["version"] == str(net.VERSION)
    assert json.loads(meta["config"]) == json.loads(net.config.to_json()) and meta["note"] == "initialised in the test"
    loaded = load_network(path, kind=kind)
    assert type(loaded) is type(net) and loaded.config == net.config and not loaded.training
    for (name, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_file_for_another_stage_is_rejected_naming_both(tmp_path):
    path = _saved(tmp_path, "flow_blend")
    with pytest.raises(ValueError, match=r"flow_blend.safetensors: holds a 'flow_blend' network .* 'frame_inpaint'"):
        load_network(path, kind="frame_inpaint")


def test_unknown_architecture_and_foreign_files_are_rejected(tmp_path):
    good = _saved(tmp_path, "frame_inpaint")
    alien = _resave(good, tmp_path / "alien.safetensors",
                    edit_metadata=lambda m: m.update(architecture="someone.elses.unet"))
    with pytest.raises(ValueError, match="alien.safetensors: unknown architecture 'someone.elses.unet'"):
        load_network(alien)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3)}, str(foreign))
    with pytest.raises(ValueError, match="foreign.safetensors: not a weights file of this pack"):
        load_network(foreign)


@pytest.mark.parametrize("keep", [0.5, 0.999, 7])
def test_truncated_or_garbage_files_are_rejected(tmp_path, keep):
    data = _saved(tmp_path, "convlstm_refine").read_bytes()
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(data[:int(len(data) * keep)] if keep < 1 else b"\x00" * keep)
    with pytest.raises(ValueError, match="broken.safetensors: .*truncated or corrupt"):
        load_network(broken)


def test_missing_unexpected_and_misshapen_tensors_are_listed(tmp_path):
    good = _saved(tmp_path, "frame_inpaint")
    name = "unet.encoder.0.conv.weight"

    def damage(tensors):
        del tensors[name]
        tensors["extra.weight"] = torch.zeros(2)
        tensors["unet.encoder.1.conv.weight"] = torch.zeros(1, 1, 3, 3)

    bad = _resave(good, tmp_path / "bad.safetensors", edit_tensors=damage)
    with pytest.raises(ValueError, match=rf"bad.safetensors: .*missing tensors \['{name}'\].*unexpected tensors "
                                         r"\['extra.weight'\].*wrong shapes \['unet.encoder.1.conv.weight"):
        load_network(bad)


def test_config_that_does_not_match_the_tensors_is_rejected(tmp_path):
    good = _saved(tmp_path, "flow_complete")
    other = json.dumps({**json.loads(read_metadata(good)["config"]), "widths": [4, 8, 16]})
    bad = _resave(good, tmp_path / "cfg.safetensors", edit_metadata=lambda m: m.update(config=other))
    with pytest.raises(ValueError, match="cfg.safetensors: .*wrong shapes"):
        load_network(bad)
    invalid = _resave(good, tmp_path / "cfg2.safetensors", edit_metadata=lambda m: m.update(config='{"depth": 3}'))
    with pytest.raises(ValueError, match="cfg2.safetensors: unknown config fields"):
        load_network(invalid)


def test_other_versions_and_non_finite_weights_are_rejected(tmp_path):
    good = _saved(tmp_path, "flow_blend")
    newer = _resave(good, tmp_path / "v9.safetensors", edit_metadata=lambda m: m.update(version="9"))
    with pytest.raises(ValueError, match="v9.safetensors: .*version '9'"):
        load_network(newer)
    nan = _resave(good, tmp_path / "nan.safetensors", edit_tensors=lambda t: t["head.bias"].fill_(float("nan")))
    with pytest.raises(ValueError, match="nan.safetensors: tensor head.bias contains NaN"):
        load_network(nan)
    with pytest.raises(ValueError, match="no such weights file"):
        load_network(tmp_path / "absent.safetensors")


def test_no_pickle_anywhere_in_the_pack():
    banned = ("torch.load(", "import pickle", "pickle.load")
    files = [p for folder in ("model", "nodes", "scripts") for p in (REPO / folder).rglob("*.py")]
    files += list(REPO.glob("*.py"))
    offenders = [str(p.relative_to(REPO)) for p in files if any(s in p.read_text() for s in banned)]
    assert not offenders, f"weights must load through safetensors only: {offenders}"


# ---- the nodes -------------------------------------------------------------------------------------------------

LOADERS = {"frame_inpaint": "FRVI_LoadFrameInpaintNetwork", "flow_complete": "FRVI_LoadFlowCompletionNetwork",
           "flow_blend": "FRVI_LoadFlowBlendNetwork", "convlstm_refine": "FRVI_LoadConvLSTMRefineNetwork"}


@pytest.fixture
def weights_dir(pack, tmp_path, monkeypatch):
    """The pack's loader module pointed at a temporary weights folder (ComfyUI absent)."""
    loader = sys.modules[f"{PACK_NAME}.nodes.loader_nodes"]
    monkeypatch.setattr(loader, "PACK_WEIGHTS", tmp_path)
    monkeypatch.setattr(loader, "folder_paths", None)
    return tmp_path


def test_loader_nodes_list_files_and_load_their_own_kind(classes, nodes, weights_dir):
    cls = classes["FRVI_LoadFrameInpaintNetwork"]
    assert choices(cls, "weights") == ["(no .safetensors in models/frvi or the pack's weights/)"]
    with pytest.raises(ValueError, match="No weights file to load"):
        nodes["FRVI_LoadFrameInpaintNetwork"].load(choices(cls, "weights")[0])
    for kind in TINY:
        _saved(weights_dir, kind)
    (weights_dir / "notes.txt").write_text("not weights")
    listed = choices(cls, "weights")
    assert listed == sorted(f"{kind}.safetensors" for kind in TINY)
    for kind, key in LOADERS.items():
        (net,) = nodes[key].load(f"{kind}.safetensors")
        assert net.KIND == kind
        assert node_info(classes[key])["output"][0].startswith("FRVI_")
    with pytest.raises(ValueError, match="holds a 'flow_blend' network"):
        nodes["FRVI_LoadConvLSTMRefineNetwork"].load("flow_blend.safetensors")
    with pytest.raises(ValueError, match="not found"):
        nodes["FRVI_LoadFlowBlendNetwork"].load("../outside.safetensors")


def test_each_loader_offers_the_pack_s_shipped_file_of_its_kind_first(classes, weights_dir):
    for kind in TINY:
        _saved(weights_dir, kind)
    for kind in ("frame_inpaint", "flow_complete"):
        (weights_dir / f"frvi_{kind}.safetensors").write_bytes((weights_dir / f"{kind}.safetensors").read_bytes())
    for key, first in (("FRVI_LoadFrameInpaintNetwork", "frvi_frame_inpaint.safetensors"),
                       ("FRVI_LoadFlowCompletionNetwork", "frvi_flow_complete.safetensors"),
                       ("FRVI_LoadFlowBlendNetwork", "convlstm_refine.safetensors")):  # none shipped: sorted
        files, default = choices(classes[key], "weights"), declared_inputs(classes[key])["weights"][1]["default"]
        assert files[0] == first == default
        assert sorted(files) == sorted(p.name for p in weights_dir.glob("*.safetensors"))


def test_pipeline_nodes_refuse_the_network_method_without_a_model(nodes):
    frames, hole = synthetic_clip(t=2, h=24, w=32).comfy()
    with pytest.raises(ValueError, match="Frame Inpaint: no trained weights"):
        nodes["FRVI_FrameInpaint"].run(frames, hole, "network", 5)
    (inpainted,) = nodes["FRVI_FrameInpaint"].run(frames, hole, "telea", 5)
    with pytest.raises(ValueError, match="Robust Flow: no trained weights"):
        nodes["FRVI_RobustFlow"].run(frames, hole, inpainted, "dis_ultrafast", "network", 4)
    flow_p, flow_i = nodes["FRVI_RobustFlow"].run(frames, hole, inpainted, "dis_ultrafast", "laplacian", 4)
    with pytest.raises(ValueError, match="Flow Blend: no trained weights"):
        nodes["FRVI_FlowBlend"].run(flow_p, flow_i, "network")
    with pytest.raises(ValueError, match="ConvLSTM Refine: no trained weights"):
        nodes["FRVI_ConvLSTMRefine"].run(frames, hole, inpainted, flow_p, "network", 0.6)


def test_pipeline_nodes_run_the_loaded_networks_in_chunks(nodes, weights_dir):
    for kind in TINY:
        _saved(weights_dir, kind)
    models = {kind: nodes[key].load(f"{kind}.safetensors")[0] for kind, key in LOADERS.items()}
    frames, hole = synthetic_clip(t=8).comfy()  # the node tests' chunking case (DIS objects carry state between calls)

    def graph(f, h, state=None):
        (p,) = nodes["FRVI_FrameInpaint"].run(f, h, "network", 5, model=models["frame_inpaint"])
        flow_p, flow_i = nodes["FRVI_RobustFlow"].run(f, h, p, "dis_medium", "network", 4, state=state,
                                                      completion_model=models["flow_complete"])
        (flow,) = nodes["FRVI_FlowBlend"].run(flow_p, flow_i, "network", model=models["flow_blend"])
        return nodes["FRVI_ConvLSTMRefine"].run(f, h, p, flow, "network", 0.6, state=state,
                                                model=models["convlstm_refine"])

    whole, state = graph(frames, hole)
    first, mid = graph(frames[:5], hole[:5])
    second, _ = graph(frames[5:], hole[5:], mid)
    known = (hole < 0.5)[..., None].expand_as(frames)
    assert whole.shape == frames.shape and torch.equal(whole[known], frames[known])
    assert set(state.memory) == {"h", "c"}
    assert torch.allclose(torch.cat((first, second)), whole, atol=1e-5)


def test_network_loaded_under_inference_mode_runs(tmp_path):
    """ComfyUI executes every node (the loaders too) inside torch.inference_mode()."""
    import model.stages as stages_module
    from model.networks import NETWORKS
    path = tmp_path / "frame.safetensors"
    save_network(NETWORKS["frame_inpaint"](), path)
    with torch.inference_mode():
        network = load_network(path, "frame_inpaint")
    hole = torch.zeros(1, 1, 32, 32)
    hole[..., 8:20, 8:20] = 1
    with torch.inference_mode():
        out = stages_module.frame_inpainter("network", 5, network)(torch.rand(1, 3, 32, 32), hole)
    assert out.shape == (1, 3, 32, 32)
