"""The trained weights shipped in weights/: they load strictly, carry their card and terms, and the frame
network beats per-frame Telea on a real validation clip (never trained on) by the margin measured for it."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import read_clip
from model.evaluation import mask_generators, metrics
from model.stages.frame_inpaint import ClassicalFrameInpainter
from model.networks.weights import find_weights, load_network, read_metadata

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
SHIPPED = {"frame_inpaint": "frvi_frame_inpaint.safetensors", "flow_complete": "frvi_flow_complete.safetensors"}


@pytest.mark.parametrize("kind", SHIPPED)
def test_shipped_weights_load_strictly_with_their_card_and_terms(kind):
    path = WEIGHTS / SHIPPED[kind]
    network = load_network(path, kind)
    assert network.KIND == kind and not network.training
    metadata = read_metadata(path)
    assert int(metadata["training_steps"]) > 1000
    assert "research" in metadata["licence_note"] and "DAVIS" in metadata["training_data"]
    card = path.with_suffix(".md").read_text()
    assert path.name in card and "research" in card
    assert find_weights(WEIGHTS)[kind] == path


def test_the_frame_network_beats_telea_on_a_validation_clip():
    """Measured with the shipped file: +1.8 / +0.9 / +0.4 dB (fixed rectangle, random rectangle, strokes) on these
    8 frames, +1.0 mean; asked: +0.4."""
    frames, _ = read_clip("davis_blackswan", 8, (432, 240))
    frames = frames.permute(0, 3, 1, 2)
    network = load_network(WEIGHTS / SHIPPED["frame_inpaint"], "frame_inpaint")
    telea = ClassicalFrameInpainter("telea", 5)
    gains = []
    for protocol in mask_generators.PAPER_PROTOCOLS:
        hole = mask_generators.make_hole(protocol, 8, 240, 432, seed=0, key="davis_blackswan")
        corrupted = frames * (1 - hole) + 0.5 * hole
        with torch.no_grad():
            learned = torch.cat([network(corrupted[t:t + 1], hole[t:t + 1]) for t in range(8)])
        classical = torch.cat([telea(corrupted[t:t + 1], hole[t:t + 1]) for t in range(8)])
        gains.append(float(metrics.psnr(learned, frames, hole).mean() - metrics.psnr(classical, frames, hole).mean()))
        known = (hole < 0.5).expand_as(frames)
        assert torch.equal(learned[known], corrupted[known])
    assert sum(gains) / len(gains) > 0.4, gains


def test_the_flow_network_is_not_worse_than_the_laplacian_fill_on_held_back_synthetic_flow():
    """Measured with the shipped file on these 24 held-back samples: EPE 0.095 px against 0.098 (Laplacian): a
    small margin, as the network is at parity with the Laplacian fill (README, Training)."""
    data_root = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (data_root / "train_clips").is_dir():
        pytest.skip(f"training data not found at {data_root}")
    from training.data import TrainingData
    from training.stages import FlowValidation
    validation = FlowValidation(TrainingData.load(data_root, max_frames=10), None, synthetic=24)
    with torch.no_grad():
        scores = validation(load_network(WEIGHTS / SHIPPED["flow_complete"], "flow_complete"))
    assert scores["epe_synthetic"] < scores["epe_synthetic_laplacian"], scores
