"""What a fresh install pulls: an OpenCV that imports on servers without a display stack."""
from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import cv2
import pytest

from clips import REPO


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


def test_importing_cv2_maps_no_libgl_into_the_process():
    """What the dynamic loader actually maps on ``import cv2`` (a fresh interpreter, nothing else imported)."""
    if not Path("/proc/self/maps").exists():
        pytest.skip("/proc/self/maps exists on Linux only; the ldd test above covers the linked libraries")
    script = "import cv2; print(open('/proc/self/maps').read())"
    maps = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert maps.returncode == 0, maps.stderr
    mapped = {line.split()[-1] for line in maps.stdout.splitlines() if "/" in line}
    assert any("cv2" in path for path in mapped), "cv2's binary is not among the mapped files"
    display = sorted(path for path in mapped if any(name in Path(path).name
                                                    for name in ("libGL.so", "libGLX", "libgthread", "libX11")))
    assert not display, f"import cv2 loaded display libraries: {display}"


def test_the_code_passes_the_linter():
    """ruff with the rules in pyproject.toml (pyflakes, pycodestyle, bugbear): what the code follows."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install -r requirements-test.txt)")
    done = subprocess.run([ruff, "check", "--no-cache", str(REPO)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:]
