"""What a fresh install pulls: an OpenCV that imports on servers without a display stack."""
from __future__ import annotations

import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import cv2
import pytest

REPO = Path(__file__).resolve().parents[1]


def test_requirements_name_the_headless_opencv_build():
    for text in ((REPO / "requirements.txt").read_text(), (REPO / "pyproject.toml").read_text()):
        assert "opencv-python-headless" in text
        assert "opencv-python>" not in text and '"opencv-python"' not in text


def test_installed_cv2_needs_no_libgl():
    """opencv-python links libGL/GLib and fails to import on minimal servers, taking the whole pack down."""
    if shutil.which("ldd") is None:
        pytest.skip("ldd not available on this system")
    libraries = sorted(Path(cv2.__file__).parent.glob("cv2*.so"))
    assert libraries, f"no cv2 binary next to {cv2.__file__}"
    linked = subprocess.run(["ldd", str(libraries[0])], capture_output=True, text=True).stdout
    assert "libGL.so" not in linked and "libgthread" not in linked, linked
    installed = {d.metadata["Name"].lower() for d in metadata.distributions()}
    assert "opencv-python-headless" in installed
