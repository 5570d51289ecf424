"""Stage 3, Flow Blend: one flow F from F^P and F^I."""
from __future__ import annotations

import torch

CLASSICAL_BLENDS = ("average", "confidence", "flow_p", "flow_i")


def blend_flows(flow_p: torch.Tensor, conf_p: torch.Tensor, flow_i: torch.Tensor, conf_i: torch.Tensor,
                method: str = "confidence") -> tuple[torch.Tensor, torch.Tensor]:
    """Blend two flows ``[B,2,H,W]`` with their confidences ``[B,1,H,W]`` -> ``(flow, confidence)``.

    * ``average``: ½(F^P + F^I), the paper's blend without its network H_f.
    * ``confidence``: per-pixel average weighted by each flow's confidence.
    * ``flow_p`` / ``flow_i``: one of the two alone (ablations).
    """
    if method == "average":
        return 0.5 * (flow_p + flow_i), 0.5 * (conf_p + conf_i)
    if method == "confidence":
        weight = conf_p + conf_i
        w_p = torch.where(weight > 1e-6, conf_p / weight.clamp_min(1e-6), torch.full_like(conf_p, 0.5))
        return w_p * flow_p + (1.0 - w_p) * flow_i, torch.maximum(conf_p, conf_i)
    if method == "flow_p":
        return flow_p, conf_p
    if method == "flow_i":
        return flow_i, conf_i
    raise ValueError(f"Flow Blend: unknown method {method!r}; choose one of {list(CLASSICAL_BLENDS)}.")
