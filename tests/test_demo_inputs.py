"""The template inputs the pack ships, and their copy into ComfyUI's input folder (nodes/demo_inputs.py)."""
from __future__ import annotations

import logging
import sys
import types

import av
import cv2
import numpy as np
import pytest

from clips import DEMO


@pytest.fixture
def demo_inputs(pack):
    return pack.nodes.demo_inputs


@pytest.fixture
def input_dir(pack, monkeypatch, tmp_path):
    """A fake ``folder_paths`` whose input folder is ``tmp_path / "input"`` (the pack is imported first, without it)."""
    fake = types.ModuleType("folder_paths")
    fake.get_input_directory = lambda: str(tmp_path / "input")
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    return tmp_path / "input"


def test_absent_inputs_are_copied_with_one_log_line(demo_inputs, input_dir, caplog):
    with caplog.at_level(logging.INFO):
        written = demo_inputs.copy_demo_inputs()
    assert sorted(p.name for p in written) == sorted(demo_inputs.NAMES)
    for name in demo_inputs.NAMES:
        assert (input_dir / name).read_bytes() == (demo_inputs.SHIPPED / name).read_bytes()
    (line,) = [r.getMessage() for r in caplog.records]
    assert str(input_dir) in line and all(name in line for name in demo_inputs.NAMES)


def test_a_file_already_there_is_left_untouched(demo_inputs, input_dir, caplog):
    input_dir.mkdir()
    (input_dir / "frvi_demo.mp4").write_bytes(b"the user's own video")
    with caplog.at_level(logging.INFO):
        written = demo_inputs.copy_demo_inputs()
    assert (input_dir / "frvi_demo.mp4").read_bytes() == b"the user's own video"
    assert sorted(p.name for p in written) == sorted(set(demo_inputs.NAMES) - {"frvi_demo.mp4"})
    assert demo_inputs.copy_demo_inputs() == [], "a second load writes nothing"


def test_an_unwritable_input_folder_logs_a_warning_and_raises_nothing(demo_inputs, input_dir, caplog):
    input_dir.parent.mkdir(exist_ok=True)
    input_dir.write_bytes(b"")  # a file where the folder should be: no file can be made inside it
    with caplog.at_level(logging.INFO):
        assert demo_inputs.copy_demo_inputs() == []
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "could not copy" in record.getMessage()


def test_without_comfyui_it_copies_nothing_quietly(demo_inputs, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "folder_paths", None)  # "import folder_paths" raises ImportError
    with caplog.at_level(logging.INFO):
        assert demo_inputs.copy_demo_inputs() == []
    assert caplog.records == []  # importing the pack in a script or a test is not worth a warning


def test_shipped_inputs_are_small_and_match_the_demo_clip(demo_inputs):
    files = {name: demo_inputs.SHIPPED / name for name in demo_inputs.NAMES}
    assert all(path.stat().st_size < 700_000 for path in files.values())
    frames = {name: np.stack([f.to_ndarray(format="rgb24") for f in av.open(str(path)).decode(video=0)])
              for name, path in files.items() if not name.endswith("mask.png")}
    assert frames["frvi_demo.mp4"].shape == frames["frvi_demo_mask.mp4"].shape == (12, 240, 432, 3)
    assert frames["frvi_demo_frames.png"].shape == (8, 240, 432, 3)
    masks = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) >= 128
                      for p in sorted((DEMO / "masks").glob("*.png"))[:12]])
    assert np.array_equal(frames["frvi_demo_mask.mp4"][..., 0] >= 128, masks), "the mask video is not crisp"
    union = cv2.imread(str(files["frvi_demo_mask.png"]), cv2.IMREAD_GRAYSCALE) >= 128
    assert np.array_equal(union, masks[:8].any(axis=0))
