"""The paper's four stages, each with its classical (weight-free) path and its learned path.

==========================  ===================  ==============================================
stage                       module               classical path / learned path
==========================  ===================  ==============================================
1. Frame Inpaint            ``frame_inpaint``    OpenCV Telea / NS / exemplar; ``FrameInpaintNet``
2. Robust Flow              ``robust_flow``      DIS (or RAFT, ``raft_flow``) + Laplacian fill
                                                 (or the camera's motion, ``camera_flow``);
                                                 ``FlowCompleteNet`` completes F^I
3. Flow Blend               ``flow_blend``       confidence / average blend; ``FlowBlendNet`` (H_f)
4. ConvLSTM Refine          ``convlstm_refine``  flow-warped temporal blend; ``ConvLSTMRefineNet``
==========================  ===================  ==============================================

``learned`` adapts each network to its classical stage's call signature. The functions below build a
stage object from its user-facing name (the names the nodes, the CLI and the pipeline description use).
"""
from __future__ import annotations

from functools import partial

from .robust_flow import DISFlowEstimator, LaplacianFlowCompleter
from .camera_flow import CameraFlowCompleter
from .flow_blend import CLASSICAL_BLENDS, blend_flows
from .frame_inpaint import ClassicalFrameInpainter, WorkingSizeInpainter, exemplar_inpainter
from .learned import NetworkFlowBlender, NetworkFlowCompleter, NetworkInpainter, NetworkRefiner
from .convlstm_refine import TemporalBlendRefiner

# "network" (the paper's learned stage) is last in every list, so the classical defaults stay first.
FRAME_METHODS = ("telea", "ns", "exemplar", "network")
ESTIMATORS = ("dis_medium", "dis_fast", "dis_ultrafast")
COMPLETIONS = ("laplacian", "camera", "network")
BLENDS = CLASSICAL_BLENDS + ("network",)
REFINE_METHODS = ("temporal_blend", "network")


def frame_inpainter(method: str = "telea", radius: int = 5, network=None, working_size: int = 0):
    """A per-frame inpainter: ``(frame [1,3,H,W], hole [1,1,H,W]) -> [1,3,H,W]``.

    ``method="network"`` needs ``network``, a loaded frame inpainting network (ValueError without one).
    ``method="exemplar"`` copies real texture from the frame (OpenCV contrib's shift-map: seconds a frame;
    ValueError naming the package to install when OpenCV lacks ``cv2.xphoto``); ``radius`` is then
    Telea's, for what it cannot fill.
    ``working_size``: long side in pixels at which the hole is filled (0 = full resolution for telea
    and ns, 432 for ``"exemplar"`` (which fills at 800 at most), the network's own working size for ``"network"``);
    the fill is upsampled (the exemplar's copies are redone from the full-size frame) and known pixels stay exact.
    """
    if method == "network":
        return NetworkInpainter(network, working_size)
    if method == "exemplar":
        return exemplar_inpainter(radius, working_size)
    inpainter = ClassicalFrameInpainter(method, radius)
    return WorkingSizeInpainter(inpainter, working_size) if working_size else inpainter


def flow_estimator(name: str):
    """A flow estimator: ``(target, source) -> backward flow [1,2,H,W]``."""
    return DISFlowEstimator(name)


def flow_completer(name: str = "laplacian", network=None):
    """A flow completer: ``(flow [1,2,H,W], unknown [1,1,H,W]) -> flow``.

    ``"laplacian"`` interpolates the flow on the hole's border; ``"camera"`` fills the hole with the camera's
    motion (one homography fitted to the flow around it; the Laplacian fill where no single motion fits).
    ``name="network"`` needs ``network``, a loaded flow completion network (ValueError without one).
    """
    if name == "network":
        return NetworkFlowCompleter(network)
    if name == "camera":
        return CameraFlowCompleter()
    if name != "laplacian":
        raise ValueError(f"Robust Flow: unknown completion {name!r}; choose one of {list(COMPLETIONS)}.")
    return LaplacianFlowCompleter()


def flow_blender(method: str = "confidence", network=None):
    """A blender: ``(flow_p, conf_p, flow_i, conf_i) -> (flow, conf)``, all ``[1,...]``.

    ``method="network"`` needs ``network``, a loaded H_f network (ValueError without one).
    """
    if method == "network":
        return NetworkFlowBlender(network)
    if method not in BLENDS:
        raise ValueError(f"Flow Blend: unknown method {method!r}; choose one of {list(BLENDS)}.")
    return partial(blend_flows, method=method)


def refiner(method: str = "temporal_blend", strength: float = 0.6, network=None):
    """A recurrent refiner: ``(frame, hole, P, flow, conf, state) -> (output, memory)``.

    ``method="network"`` needs ``network``, a loaded ConvLSTM refiner (ValueError without one).
    """
    if method == "network":
        return NetworkRefiner(network)
    if method != "temporal_blend":
        raise ValueError(f"ConvLSTM Refine: unknown method {method!r}; choose one of {list(REFINE_METHODS)}.")
    return TemporalBlendRefiner(strength=strength)
