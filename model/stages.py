"""Build the stage objects of the pipeline from their user-facing names."""
from __future__ import annotations

from functools import partial

from .flow import DISFlowEstimator, LaplacianFlowCompleter
from .flow_blend import CLASSICAL_BLENDS, blend_flows
from .frame_inpaint import ClassicalFrameInpainter
from .refine import TemporalBlendRefiner

FRAME_METHODS = ("telea", "ns")
ESTIMATORS = ("dis_medium", "dis_fast", "dis_ultrafast")
COMPLETIONS = ("laplacian",)
BLENDS = CLASSICAL_BLENDS
REFINE_METHODS = ("temporal_blend",)


def frame_inpainter(method: str = "telea", radius: int = 5):
    """A per-frame inpainter: ``(frame [1,3,H,W], hole [1,1,H,W]) -> [1,3,H,W]``."""
    return ClassicalFrameInpainter(method, radius)


def flow_estimator(name: str = "dis_medium"):
    """A flow estimator: ``(target, source) -> backward flow [1,2,H,W]``."""
    return DISFlowEstimator(name)


def flow_completer(name: str = "laplacian"):
    """A flow completer: ``(flow [1,2,H,W], unknown [1,1,H,W]) -> flow``."""
    if name != "laplacian":
        raise ValueError(f"Robust Flow: unknown completion {name!r}; choose one of {list(COMPLETIONS)}.")
    return LaplacianFlowCompleter()


def flow_blender(method: str = "confidence"):
    """A blender: ``(flow_p, conf_p, flow_i, conf_i) -> (flow, conf)``, all ``[1,...]``."""
    if method not in BLENDS:
        raise ValueError(f"Flow Blend: unknown method {method!r}; choose one of {list(BLENDS)}.")
    return partial(blend_flows, method=method)


def refiner(method: str = "temporal_blend", strength: float = 0.6):
    """A recurrent refiner: ``(frame, hole, P, flow, conf, state) -> (output, memory)``."""
    if method != "temporal_blend":
        raise ValueError(f"ConvLSTM Refine: unknown method {method!r}; choose one of {list(REFINE_METHODS)}.")
    return TemporalBlendRefiner(strength=strength)
