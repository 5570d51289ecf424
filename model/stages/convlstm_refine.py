"""Stage 4, ConvLSTM Refine: recurrent, flow-warped refinement of P_t, frame by frame."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..checks import keep_known
from ..harmonic import harmonic_fill
from ..warp import warp


@dataclass
class RecurrentState:
    """Everything frame t needs from frame t-1, so a long video can run in chunks without a seam.

    All tensors ``[1,C,H,W]`` on the compute device: ``frame`` (corrupted input, [0,1]),
    ``hole`` (binary), ``inpainted`` (P), ``output`` (the refined result, [0,1]) of the last
    frame, and ``memory``: the refiner's own recurrent tensors (ConvLSTM h and c), by name.
    """

    frame: torch.Tensor
    hole: torch.Tensor
    inpainted: torch.Tensor
    output: torch.Tensor
    memory: dict[str, torch.Tensor] = field(default_factory=dict)

    def check_size(self, height: int, width: int) -> None:
        """Raise ValueError if the state was made for another frame size."""
        h, w = self.frame.shape[-2:]
        if (h, w) != (height, width):
            raise ValueError(f"state: made for {w}x{h} frames but these are {width}x{height}; "
                             "connect the state of a chunk of the same video, or leave it unconnected.")


class TemporalBlendRefiner:
    """Weight-free stand-in for the ConvLSTM: blend the previous output, warped along F, into the hole.

    At frame t the previous output is warped to t. Inside the hole the result is
    ``w * warped + (1 - w) * P_t`` with ``w = valid * confidence * s``, where ``s`` is
    ``known_weight`` if the warped point was a known pixel at t-1 (real background seen
    before) and ``strength`` if it was itself filled (temporal smoothing of the fill). An
    occlusion/consistency check lowers ``w`` where the previous frame warped by F disagrees
    with the current frame: measured on the pixels both frames know and interpolated into
    the hole from its border, so a flow that breaks at the hole's edge is not trusted inside.

    Args:
        strength: weight of a previously filled pixel, 0 (off) .. 1.
        known_weight: weight of a pixel that was known in the previous frame.
    """

    def __init__(self, strength: float = 0.6, known_weight: float = 0.95, tolerance: float = 0.1):
        self.strength = float(strength)
        self.known_weight = float(known_weight)
        self.tolerance = tolerance

    def __call__(self, frame: torch.Tensor, hole: torch.Tensor, inpainted: torch.Tensor, flow: torch.Tensor,
                 confidence: torch.Tensor, state: RecurrentState | None) -> tuple[torch.Tensor, dict]:
        """One step: frame/inpainted ``[1,3,H,W]``, hole ``[1,1,H,W]``, flow ``[1,2,H,W]``,
        confidence ``[1,1,H,W]``, the state of frame t-1 (or None) -> ``(output [1,3,H,W], memory)``.

        This refiner keeps no memory of its own beyond the previous output (``memory = {}``).
        """
        if state is None or (self.strength <= 0 and self.known_weight <= 0):
            return keep_known(inpainted, frame, hole), {}
        warped, valid = warp(torch.cat((state.output, state.hole, state.frame), 1), flow)
        prev_output, prev_hole, prev_frame = warped[:, :3], warped[:, 3:4], warped[:, 4:]
        both_known = (1.0 - hole) * (prev_hole < 0.5)
        colour_error = (prev_frame - frame).abs().mean(1, keepdim=True)
        agrees = (colour_error < self.tolerance).to(frame.dtype)
        agrees = harmonic_fill(agrees, both_known < 0.5, iterations=4)  # spread the check into the hole
        source_weight = torch.where(prev_hole < 0.5, torch.full_like(hole, self.known_weight),
                                    torch.full_like(hole, self.strength))
        weight = valid * confidence.clamp(0, 1) * source_weight * agrees
        blended = weight * prev_output + (1.0 - weight) * inpainted
        return keep_known(blended, frame, hole), {}
