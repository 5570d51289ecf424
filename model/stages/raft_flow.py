"""Optical flow from a RAFT network (torchvision's RAFT, e.g. core ComfyUI's OPTICAL_FLOW model)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


class RaftFlowEstimator:
    """Backward flow with a torchvision-style RAFT module, as a drop-in for the DIS estimator.

    Args:
        raft: an ``nn.Module`` called as ``raft(image1, image2, num_flow_updates=n)`` on
            ``[1,3,H,W]`` images in [-1,1] (H, W multiples of 8), returning a list of flow
            predictions whose last item is ``[1,2,H,W]`` from image1 to image2.
        iterations: RAFT's refinement steps (12 is its default; fewer is faster).
        device: where RAFT runs; frames are moved there and the flow comes back to their device.
    """

    def __init__(self, raft: torch.nn.Module, iterations: int = 12, device: torch.device | str | None = None):
        self.raft = raft.eval()
        self.iterations = int(iterations)
        self.device = torch.device(device) if device is not None else next(raft.parameters()).device

    @torch.inference_mode()
    def __call__(self, target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """Backward flow from ``target`` to ``source`` (``[1,3,H,W]`` in [0,1]) -> ``[1,2,H,W]`` float32.

        The images are edge-padded to a multiple of 8 (never resized) and the flow is cropped back.
        """
        h, w = target.shape[-2:]
        pad = (0, (-w) % 8, 0, (-h) % 8)
        images = [F.pad(x.to(self.device, torch.float32) * 2.0 - 1.0, pad, mode="replicate") for x in (target, source)]
        flow = self.raft(images[0], images[1], num_flow_updates=self.iterations)[-1]
        return flow[:, :, :h, :w].float().to(target.device)
