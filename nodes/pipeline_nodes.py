"""The four pipeline nodes of the paper: Frame Inpaint, Robust Flow, Flow Blend, ConvLSTM Refine.

Node ids and input names are a public API (saved workflows use them): never rename them. Widget order
too: UI workflows store widget values by position, so inputs are listed required first, then optional,
each in the order they always had.
"""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..model import stages
from ..model.pipeline.engine import blend_flow_fields, inpaint_frames, refine_frames, robust_flow
from ..model.pipeline.config import DEFAULTS
from ..model.stages.robust_flow import FLOW_STORAGE_DTYPE
from ..model.stages.raft_flow import RaftFlowEstimator
from .comfy_bridge import (compute_device, frame_progress, image_to_comfy, image_to_model, load_optical_flow,
                           network_from, video_and_hole)
from .types import CATEGORY, Flow, FlowBlendNet, FlowCompleteNet, FrameInpaintNet, OpticalFlow, RefineNet, State


def video_inputs() -> list[io.Input]:
    """The ``frames`` and ``hole`` inputs every video node starts with."""
    return [
        io.Image.Input("frames", tooltip="Video frames [T,H,W,3] in 0..1."),
        io.Mask.Input("hole", tooltip="Hole mask, 1 = missing (thresholded at 0.5). One mask per frame, or a single "
                                      "mask for all frames. A mask of the frames' aspect ratio but another size is "
                                      "resized to them (with a warning)."),
    ]


def inpainted_input() -> io.Input:
    return io.Image.Input("inpainted", tooltip="Output of Frame Inpaint for these frames.")


def state_input() -> io.Input:
    return State.Input("state", optional=True, tooltip="State of the previous chunk (from ConvLSTM Refine).")


class FrameInpaint(io.ComfyNode):
    """Fill each frame's hole on its own (P_t). Classical: OpenCV Telea, Navier-Stokes or exemplar (shift-map)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FRVI_FrameInpaint",
            display_name="Frame Inpaint",
            category=CATEGORY,
            description="Stage 1: fills the hole of every frame on its own. Pixels outside the hole are kept exactly.",
            inputs=[
                *video_inputs(),
                io.Combo.Input("method", options=list(stages.FRAME_METHODS), default=DEFAULTS.frame_method,
                               tooltip="telea / ns: OpenCV diffusion fills (no weights). exemplar: copies real "
                                       "texture from the frame (OpenCV contrib shift-map, no weights; needs "
                                       "opencv-contrib-python-headless). Sharp on textured surroundings, may paste "
                                       "whole objects into large holes; seconds a frame, so for keyframes; fills at "
                                       "working size 432 when that is 0 (at most 800). network: the frame "
                                       "inpainting network (model)."),
                io.Int.Input("radius", default=DEFAULTS.radius, min=1, max=64,
                             tooltip="Neighbourhood (pixels) the classical fill looks at."),
                FrameInpaintNet.Input("model", optional=True,
                                      tooltip="Frame inpainting network (Load Frame Inpaint Network), used when "
                                              "method is network."),
                io.Int.Input("working_size", optional=True, default=DEFAULTS.working_size, min=0, max=8192, step=8,
                             tooltip="Long side (pixels) at which the hole is filled; the fill is upsampled and "
                                     "known pixels stay exact. 0 = full resolution for telea/ns, 432 for exemplar, "
                                     "the network's own size (set on its loader) for network. Lower is faster on "
                                     "large frames and blurrier inside the hole."),
            ],
            outputs=[io.Image.Output("inpainted")],
        )

    @classmethod
    def execute(cls, frames, hole, method, radius, model=None, working_size=DEFAULTS.working_size) -> io.NodeOutput:
        video, mask = video_and_hole(frames, hole)
        with torch.inference_mode():
            inpainter = stages.frame_inpainter(method, radius, network_from(model, method == "network"), working_size)
            out = inpaint_frames(video, mask, inpainter, compute_device(),
                                 frame_progress(video.shape[0]))
        return io.NodeOutput(image_to_comfy(out))


class RobustFlow(io.ComfyNode):
    """Two backward flows per frame: F^P on the inpainted frames, F^I completed inside the hole."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FRVI_RobustFlow",
            display_name="Robust Flow",
            category=CATEGORY,
            description="Stage 2: optical flow between neighbouring frames. flow_p is measured on the inpainted "
                        "frames; flow_i is measured outside the (grown) hole and completed inside it. Connect the "
                        "state of the previous chunk to continue a long video without a seam.",
            inputs=[
                *video_inputs(),
                inpainted_input(),
                io.Combo.Input("estimator", options=list(stages.ESTIMATORS), default=DEFAULTS.estimator,
                               tooltip="OpenCV DIS presets: medium is the most accurate."),
                io.Combo.Input("completion", options=list(stages.COMPLETIONS), default=stages.COMPLETIONS[0],
                               tooltip="How flow_i is filled inside the hole: laplacian interpolates the hole's "
                                       "edge; camera takes the camera's motion fitted around the hole; network runs "
                                       "completion_model."),
                io.Int.Input("hole_dilation", default=DEFAULTS.hole_dilation, min=0, max=128,
                             tooltip="Pixels around the hole whose flow is also re-filled for flow_i."),
                state_input(),
                FlowCompleteNet.Input("completion_model", optional=True,
                                      tooltip="Flow completion network (Load Flow Completion Network), used when "
                                              "completion is network."),
                OpticalFlow.Input("optical_flow", optional=True,
                                  tooltip="Core ComfyUI optical flow model (Load Optical Flow Model, RAFT-large). "
                                          "When connected it replaces the DIS estimator for both flows: slower, more "
                                          "accurate."),
                io.Int.Input("raft_iterations", optional=True, default=12, min=1, max=32,
                             tooltip="RAFT refinement steps (only with optical_flow)."),
                io.Int.Input("working_size", optional=True, default=DEFAULTS.flow_working_size, min=0, max=8192,
                             step=8,
                             tooltip="The flow working size: long side (pixels) at which both flows are computed, "
                                     "then upsampled; 0 = full resolution. 640 scored as well as full resolution on "
                                     "480p-720p clips and makes Robust Flow 3x faster at 720p. Values from 1 to 63 "
                                     "run at 64."),
            ],
            outputs=[Flow.Output("flow_p"), Flow.Output("flow_i")],
        )

    @classmethod
    def execute(cls, frames, hole, inpainted, estimator, completion, hole_dilation, state=None,
                completion_model=None, optical_flow=None, raft_iterations=12,
                working_size=DEFAULTS.flow_working_size) -> io.NodeOutput:
        video, mask = video_and_hole(frames, hole)
        device = compute_device()
        if optical_flow is not None:
            flow_estimator = RaftFlowEstimator(load_optical_flow(optical_flow), raft_iterations, device)
        else:
            flow_estimator = stages.flow_estimator(estimator)
        with torch.inference_mode():
            completer = stages.flow_completer(completion, network_from(completion_model, completion == "network"))
            flow_p, flow_i = robust_flow(video, mask, image_to_model(inpainted, "inpainted"), flow_estimator,
                                         completer, hole_dilation, state, device,
                                         frame_progress(video.shape[0]), working_size, FLOW_STORAGE_DTYPE)
        return io.NodeOutput(flow_p, flow_i)


class FlowBlend(io.ComfyNode):
    """Blend F^P and F^I into the flow F that the refiner follows."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FRVI_FlowBlend",
            display_name="Flow Blend",
            category=CATEGORY,
            description="Stage 3: one flow from flow_p and flow_i. average = the paper's mean; confidence = weighted "
                        "by how well each flow explains the frames; flow_p / flow_i = one alone.",
            inputs=[
                Flow.Input("flow_p"),
                Flow.Input("flow_i"),
                io.Combo.Input("method", options=list(stages.BLENDS), default=DEFAULTS.blend),
                FlowBlendNet.Input("model", optional=True,
                                   tooltip="Flow blending network H_f (Load Flow Blend Network), used when method is "
                                           "network."),
            ],
            outputs=[Flow.Output("flow")],
        )

    @classmethod
    def execute(cls, flow_p, flow_i, method, model=None) -> io.NodeOutput:
        with torch.inference_mode():
            blender = stages.flow_blender(method, network_from(model, method == "network"))
            flow = blend_flow_fields(flow_p, flow_i, blender,
                                     frame_progress(len(flow_p)), compute_device())
        return io.NodeOutput(flow)


class ConvLSTMRefine(io.ComfyNode):
    """Walk the frames in order, carry the previous output along the flow, refine P_t; known pixels kept."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FRVI_ConvLSTMRefine",
            display_name="ConvLSTM Refine",
            category=CATEGORY,
            description="Stage 4: recurrent refinement in frame order. Outputs the final frames and a state; connect "
                        "the state to the next chunk's Robust Flow and ConvLSTM Refine to process a long video in "
                        "pieces.",
            inputs=[
                *video_inputs(),
                inpainted_input(),
                Flow.Input("flow", tooltip="Output of Flow Blend."),
                io.Combo.Input("method", options=list(stages.REFINE_METHODS), default=stages.REFINE_METHODS[0],
                               tooltip="temporal_blend: flow-warped blend of the previous output (no weights)."),
                io.Float.Input("strength", default=DEFAULTS.strength, min=0.0, max=1.0, step=0.05,
                               tooltip="How much of the previous (warped) fill is kept: more = steadier."),
                state_input(),
                RefineNet.Input("model", optional=True,
                                tooltip="ConvLSTM refiner (Load ConvLSTM Refine Network), used when method is "
                                        "network."),
            ],
            outputs=[io.Image.Output("frames"), State.Output("state")],
        )

    @classmethod
    def execute(cls, frames, hole, inpainted, flow, method, strength, state=None, model=None) -> io.NodeOutput:
        video, mask = video_and_hole(frames, hole)
        with torch.inference_mode():
            out, new_state = refine_frames(video, mask, image_to_model(inpainted, "inpainted"), flow,
                                           stages.refiner(method, strength, network_from(model, method == "network")),
                                           state, compute_device(),
                                           frame_progress(video.shape[0]))
        return io.NodeOutput(image_to_comfy(out), new_state)
