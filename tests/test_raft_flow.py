"""The RAFT adapter: padding to multiples of 8, flow direction, crop back (with a stand-in network)."""
from __future__ import annotations

import torch

from clips import synthetic_clip
from model.stages.raft_flow import RaftFlowEstimator


class ConstantShiftRaft(torch.nn.Module):
    """Stand-in with RAFT's call signature: returns a constant flow and records the input sizes."""

    def __init__(self, dx: float, dy: float):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.shift = (dx, dy)
        self.seen = []

    def forward(self, image1, image2, num_flow_updates: int = 12):
        assert image1.shape[-2] % 8 == 0 and image1.shape[-1] % 8 == 0
        assert -1.0 <= image1.min() and image1.max() <= 1.0
        self.seen.append((tuple(image1.shape), num_flow_updates))
        flow = torch.empty(1, 2, *image1.shape[-2:])
        flow[:, 0], flow[:, 1] = self.shift
        return [flow * 0.5, flow]


def test_raft_adapter_pads_to_multiples_of_8_and_crops_back():
    raft = ConstantShiftRaft(1.5, -2.0)
    estimator = RaftFlowEstimator(raft, iterations=4)
    flow = estimator(torch.rand(1, 3, 37, 53), torch.rand(1, 3, 37, 53))
    assert flow.shape == (1, 2, 37, 53) and flow.dtype == torch.float32
    assert torch.all(flow[:, 0] == 1.5) and torch.all(flow[:, 1] == -2.0)
    assert raft.seen == [((1, 3, 40, 56), 4)]


def test_robust_flow_node_uses_a_connected_optical_flow_model(nodes):
    frames, hole = synthetic_clip(t=3).comfy()
    (inpainted,) = nodes["FRVI_FrameInpaint"].run(frames, hole, "telea", 5)
    raft = ConstantShiftRaft(3.0, 1.0)
    flow_p, flow_i = nodes["FRVI_RobustFlow"].run(frames, hole, inpainted, "dis_medium", "laplacian", 8,
                                                 optical_flow=raft, raft_iterations=3)
    assert torch.all(flow_p.flow[1:, 0] == 3.0) and torch.all(flow_p.flow[1:, 1] == 1.0)
    assert torch.allclose(flow_i.flow[1:], flow_p.flow[1:])  # a constant field completes to itself
    assert [seen[1] for seen in raft.seen] == [3, 3]
