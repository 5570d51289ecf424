"""Guarded entries to the native (OpenCV) calls that see user-sized images.

A crash inside native code takes the whole process with it: in ComfyUI, the server and every
queued job. Measured with OpenCV 5.0 (``opencv-python``): DIS optical flow on 8-bit frames with
a side under 32 pixels either raises its own error ("The input image must have either width
or height >= 12") or dies with a segmentation fault, depending on the preset and the other side
(e.g. 24x400 with the fast and ultrafast presets, 8x40 with every preset). Frames with both
sides of 32 pixels or more never failed (32-48 pixels against 8-4000, both ways, every
preset). DIS also sizes its pyramid by the short side, so a thin frame sees little motion: a
6-pixel shift of a 20-row strip measured 0.0 px as it is, 2.0 px padded to 32 rows, 4.1 px
to 64 and 5.9 px to 128. So :func:`dis_flow` pads any side under :data:`DIS_MIN_SIDE` (128)
by edge replication and crops the flow back; frames of 128x128 and more are untouched.
``cv2.inpaint`` ran on every size from 1x1 up, so :func:`inpaint` only checks its inputs.

The exemplar fill, OpenCV contrib's shift-map (``cv2.xphoto.inpaint``, :func:`exemplar_inpaint`), is
only in ``opencv-contrib-python(-headless)``. Measured with 5.1.0 (``opencv-contrib-python-headless``):
a mask with no pixel to fill kills the process (segmentation fault, every size from 1x1 to 64x64),
so the call is never made without one. With nothing known it returns zeros, and on images with a
side under about 32 pixels it leaves most of the hole unfilled (zeros) or fills it at random: those
go to Telea. Above 800x600 it shrinks the image itself and upsamples its result with code that, as
read in its source, can write one row past the image for a non-integer factor (not seen to crash on
801x601 to 1921x1081, holes at the edges); :func:`exemplar_inpaint` refuses a long side over
:data:`EXEMPLAR_MAX_SIDE` instead (callers fill at a working size). 150 random images and masks from
1x1 to 96x96 (constant, noise, checker) with at least one known and one hole pixel never crashed.

Nodes, the CLI and training reach OpenCV's DIS, inpainting and resizing of user-sized images
through these functions.
"""
from __future__ import annotations

from importlib import metadata

import cv2
import numpy as np

DIS_PRESETS = {
    "dis_ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "dis_fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "dis_medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
DIS_MIN_SIDE = 128  # sides under 32 crash DIS; under 128 its pyramid misses motion (module docstring)
INPAINT_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
EXEMPLAR_MIN_SIDE = 32  # shorter sides: the shift-map's 8-pixel patches leave the hole unfilled (docstring)
EXEMPLAR_MAX_SIDE = 800  # longer sides: OpenCV rescales internally with out-of-range indexing (docstring)
CONTRIB_PACKAGE = "opencv-contrib-python-headless"


def _grey_pair(target: np.ndarray, source: np.ndarray) -> None:
    for name, image in (("target", target), ("source", source)):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2:
            raise ValueError(f"dis_flow: {name} must be a 2-D uint8 grey image, got "
                             f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}.")
    if target.shape != source.shape:
        raise ValueError(f"dis_flow: the two frames differ in size ({target.shape} vs {source.shape}).")
    if min(target.shape) < 1:
        raise ValueError(f"dis_flow: empty frame {target.shape}.")


def dis_flow(target: np.ndarray, source: np.ndarray, preset: str) -> np.ndarray:
    """OpenCV DIS backward flow from ``target`` to ``source`` -> ``[H,W,2]`` float32 pixels (x, y).

    Args:
        target, source: ``[H,W]`` uint8 grey frames of one size (any size from 1x1).
        preset: a key of :data:`DIS_PRESETS`.
    Frames with a side under :data:`DIS_MIN_SIDE` are padded (edge pixels repeated) on the
    bottom/right first; the flow of the padding is cropped away.
    """
    if preset not in DIS_PRESETS:
        raise ValueError(f"unknown flow estimator {preset!r}; choose one of {sorted(DIS_PRESETS)}.")
    _grey_pair(target, source)
    h, w = target.shape
    pad_h, pad_w = max(0, DIS_MIN_SIDE - h), max(0, DIS_MIN_SIDE - w)
    if pad_h or pad_w:
        target, source = (cv2.copyMakeBorder(x, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE) for x in (target, source))
    flow = cv2.DISOpticalFlow_create(DIS_PRESETS[preset]).calc(np.ascontiguousarray(target),
                                                               np.ascontiguousarray(source), None)
    return np.ascontiguousarray(flow[:h, :w])


def check_inpaint_args(method: str, radius) -> None:
    """Raise ValueError unless ``method`` is ``"telea"``/``"ns"`` and ``radius`` a whole number of pixels >= 1."""
    if method not in INPAINT_METHODS:
        raise ValueError(f"Frame Inpaint: unknown method {method!r}; choose one of {sorted(INPAINT_METHODS)}.")
    if not isinstance(radius, (int, float, np.integer)) or int(radius) != radius or radius < 1:
        raise ValueError(f"Frame Inpaint: radius must be a whole number of pixels >= 1, got {radius!r}.")


def inpaint(image: np.ndarray, hole: np.ndarray, radius: int, method: str = "telea") -> np.ndarray:
    """OpenCV's single-image fill: ``image`` ``[H,W,3]`` uint8, ``hole`` ``[H,W]`` uint8 (non-zero = fill)
    -> ``[H,W,3]`` uint8. ``radius`` >= 1 pixels; ``method`` ``"telea"`` or ``"ns"``."""
    check_inpaint_args(method, radius)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or hole.shape != image.shape[:2] \
            or hole.dtype != np.uint8:
        raise ValueError(f"inpaint: expected a [H,W,3] uint8 image and a [H,W] uint8 hole, got "
                         f"{image.dtype} {image.shape} and {hole.dtype} {hole.shape}.")
    return cv2.inpaint(np.ascontiguousarray(image), np.ascontiguousarray(hole), int(radius), INPAINT_METHODS[method])


def resize(image: np.ndarray, size: tuple[int, int], interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """OpenCV resize of ``image`` ``[H,W]`` or ``[H,W,C]`` to ``size`` ``(width, height)``, both at least 1 pixel.

    OpenCV raises its own error for a zero size; this says which size was asked for instead.
    """
    width, height = (int(v) for v in size)
    if width < 1 or height < 1 or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ValueError(f"resize: cannot resize a {image.shape} image to {width}x{height}; both need at least 1 "
                         "pixel a side.")
    return cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=interpolation)


def _contrib_requirement() -> str:
    """The contrib build matching the installed OpenCV distribution, pinned to its version
    (``opencv-contrib-python-headless==5.1.0.95``; the GUI build ``opencv-python`` gets ``opencv-contrib-python``)."""
    for name, contrib in (("opencv-python-headless", CONTRIB_PACKAGE), ("opencv-python", "opencv-contrib-python"),
                          (CONTRIB_PACKAGE, CONTRIB_PACKAGE), ("opencv-contrib-python", "opencv-contrib-python")):
        try:
            return f"{contrib}=={metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return f"{CONTRIB_PACKAGE}=={cv2.__version__}.*"


def exemplar_available() -> bool:
    """Whether this OpenCV build has the contrib module ``xphoto`` (the exemplar fill)."""
    return callable(getattr(getattr(cv2, "xphoto", None), "inpaint", None))


def check_exemplar_available() -> None:
    """Raise ValueError, saying what to install, unless :func:`exemplar_available`."""
    if not exemplar_available():
        raise ValueError(
            f"Frame Inpaint: method 'exemplar' needs OpenCV's contrib modules (cv2.xphoto), which this OpenCV "
            f"{cv2.__version__} lacks. Install the contrib build of the same version into the Python that runs "
            f"this (it contains everything of the plain build): pip install {_contrib_requirement()} "
            "-- or choose another method (telea, ns).")


def exemplar_inpaint(image: np.ndarray, hole: np.ndarray, radius: int = 5) -> np.ndarray:
    """Exemplar (patch-copying) fill, OpenCV contrib's shift-map: real texture of the image is copied into the hole.

    Args:
        image: ``[H,W,3]`` uint8 RGB, long side at most :data:`EXEMPLAR_MAX_SIDE` (ValueError beyond).
        hole: ``[H,W]`` uint8, non-zero = fill.
        radius: Telea's radius for what the shift-map cannot fill (below).
    Returns:
        ``[H,W,3]`` uint8 RGB; pixels outside the hole bit-exact. The shift-map works in CIELab (8-bit),
        the colour space its documentation asks for (intensity first). No hole: a copy of ``image``.
        No known pixel, or a side under :data:`EXEMPLAR_MIN_SIDE`: Telea's fill instead; hole pixels the
        shift-map left unfilled (it marks them 0 in every Lab channel, which no RGB colour maps to: checked)
        are filled by Telea too. ValueError when ``cv2.xphoto`` is missing (:func:`check_exemplar_available`).
    """
    check_exemplar_available()
    check_inpaint_args("telea", radius)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or hole.shape != image.shape[:2] \
            or hole.dtype != np.uint8:
        raise ValueError(f"exemplar_inpaint: expected a [H,W,3] uint8 image and a [H,W] uint8 hole, got "
                         f"{image.dtype} {image.shape} and {hole.dtype} {hole.shape}.")
    if max(image.shape[:2]) > EXEMPLAR_MAX_SIDE:
        raise ValueError(f"exemplar_inpaint: the exemplar fill works on images up to {EXEMPLAR_MAX_SIDE} pixels "
                         f"a side, got {image.shape[1]}x{image.shape[0]}; fill at a smaller working size.")
    image = np.ascontiguousarray(image)
    missing = np.ascontiguousarray(hole) > 0
    if not missing.any():
        return image.copy()  # OpenCV's shift-map crashes on a mask without a hole pixel
    if missing.all() or min(image.shape[:2]) < EXEMPLAR_MIN_SIDE:
        return inpaint(image, hole, radius, "telea")
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    filled = np.zeros_like(lab)
    cv2.xphoto.inpaint(lab, np.where(missing, 0, 255).astype(np.uint8), filled, cv2.xphoto.INPAINT_SHIFTMAP)
    unfilled = missing & ~filled.any(axis=2)
    result = cv2.cvtColor(filled, cv2.COLOR_Lab2RGB)
    if unfilled.any():
        telea = inpaint(np.where(missing[..., None], result, image), unfilled.astype(np.uint8) * 255, radius, "telea")
        result[unfilled] = telea[unfilled]
    result[~missing] = image[~missing]
    return result
