"""Flow Propagate node: copy what other frames saw into the hole before Frame Inpaint.

Node id, input names and widget order are a public API (saved workflows use them): never change them.
"""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..model import stages
from ..model.pipeline.config import DEFAULTS
from ..model.propagate.keyframes import keyframe_inpainter
from ..model.propagate.whole_clip import PROPAGATE_COMPLETIONS, SEAM_METHODS, PropagateConfig, flow_propagate
from .comfy_bridge import (compute_device, frame_progress, image_to_comfy, mask_to_comfy, network_from, references_from,
                           shipped_networks, video_and_hole)
from .types import CATEGORY, FrameInpaintNet

PROPAGATION = DEFAULTS.propagation  # the widgets' defaults
KEYFRAME_CHOICES = ("off", "telea", "exemplar", "network", "textured")


def keyframe_fill(choice: str, model=None):
    """The fill of Flow Propagate's automatic keyframes for the ``keyframes`` widget, or None (``"off"``):
    ``network`` runs ``model`` (a loader's output) or the pack's shipped frame network on ComfyUI's device;
    ``textured`` runs the patch-based completion started from that network's colours."""
    if choice == "off":
        return None
    if choice not in KEYFRAME_CHOICES:
        raise ValueError(f"keyframes: expected one of {', '.join(KEYFRAME_CHOICES)}, got {choice!r}.")
    network = None
    if choice in ("network", "textured"):
        network = network_from(model if model is not None else shipped_networks().get("frame_inpaint"),
                               source="keyframe_model: expected the output of 'Load Frame Inpaint Network'")
    return keyframe_inpainter(choice, network=network)


class FlowPropagate(io.ComfyNode):
    """Bidirectional flow-guided pixel propagation (no weights); outputs the frames and the hole no frame saw."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FRVI_FlowPropagate",
            display_name="Flow Propagate",
            category=CATEGORY,
            description="Optional first stage: follows completed optical flow forwards and backwards through the clip "
                        "and copies into each hole the background that a nearby frame saw, at full resolution. Pixels "
                        "outside the hole are kept exactly. Connect its frames and remaining_hole to Frame Inpaint "
                        "(and the later stages) in place of the original ones: they only fill what no frame saw. "
                        "Optional reference: frames with the hole already filled (e.g. by an image inpainting model), "
                        "carried through the whole batch where no frame saw the background.",
            inputs=[
                io.Image.Input("frames", tooltip="Video frames [T,H,W,3] in 0..1."),
                io.Mask.Input("hole", tooltip="Hole mask, 1 = missing (thresholded at 0.5). One mask per frame, or a "
                                              "single mask for all frames. A mask of the frames' aspect ratio but "
                                              "another size is resized to them (with a warning)."),
                io.Combo.Input("estimator", options=list(stages.ESTIMATORS), default=DEFAULTS.estimator,
                               tooltip="OpenCV DIS presets: medium is the most accurate."),
                io.Int.Input("hole_dilation", default=PROPAGATION.hole_dilation, min=0, max=128,
                             tooltip="Pixels around the hole whose flow is completed instead of measured; raise it "
                                     "if the object's halo lies outside the mask."),
                io.Int.Input("max_distance", default=PROPAGATION.max_distance, min=0, max=10000,
                             tooltip="Frames to look forwards and backwards; 0 = the whole clip."),
                io.Float.Input("consistency", default=PROPAGATION.consistency, min=0.05, max=50.0, step=0.05,
                               tooltip="Forward-backward flow tolerance (pixels at the flow resolution): smaller "
                                       "copies less but refuses more occlusions."),
                io.Combo.Input("seam", options=list(SEAM_METHODS), default=PROPAGATION.seam,
                               tooltip="poisson: gradient-domain blending of pixels copied from different frames "
                                       "with their surroundings; none: raw copies."),
                io.Int.Input("flow_max_side", default=PROPAGATION.flow_max_side, min=16, max=8192,
                             tooltip="The flow working size: longest side for flow estimation; colour is always "
                                     "copied at the source resolution. Values under 64 run at 64 (the least that "
                                     "carries motion); saved workflows keep working."),
                io.Int.Input("context_before", optional=True, default=0, min=0, max=10000,
                             tooltip="For a video in chunks: the first N frames of the batch are only looked at, not "
                                     "output (the end of the previous chunk). Use max_distance for a seamless join; "
                                     "0 for the first chunk."),
                io.Int.Input("context_after", optional=True, default=0, min=0, max=10000,
                             tooltip="For a video in chunks: the last N frames of the batch are only looked at, not "
                                     "output (the start of the next chunk). Use max_distance for a seamless join; 0 "
                                     "for the last chunk."),
                io.Image.Input("reference", optional=True,
                               tooltip="Reference fills: one or more frames of this batch with their hole already "
                                       "filled (by you, an image inpainting model, or Frame Inpaint). What no frame "
                                       "within max_distance saw is carried from them along the motion, through the "
                                       "whole batch; real background that a frame saw still wins."),
                io.String.Input("reference_frames", optional=True, default="0",
                                tooltip="The frame number of each reference image in this batch (0 = the first "
                                        "frame, context frames included), comma-separated, in the reference batch's "
                                        "order."),
                io.Combo.Input("keyframes", optional=True, options=list(KEYFRAME_CHOICES), default="off",
                               tooltip="Automatic keyframes: what no frame (and no reference) saw is filled once on "
                                       "a keyframe and carried along the motion to the next frames, instead of "
                                       "being left to Frame Inpaint on every frame. textured: the texture around the "
                                       "hole continued into it with copies of the frame's pixels, started from the "
                                       "network's colours (sharp; seconds per keyframe); exemplar: OpenCV contrib's "
                                       "shift-map copies (needs OpenCV contrib; may paste a wrong object into a "
                                       "large hole). network uses keyframe_model, or the "
                                       "pack's frame network; telea is smooth. off: remaining_hole keeps it."),
                FrameInpaintNet.Input("keyframe_model", optional=True,
                                      tooltip="The frame network that fills keyframes when keyframes is 'network' "
                                              "or 'textured' (default: the pack's own)."),
                io.Combo.Input("completion", optional=True, options=list(PROPAGATE_COMPLETIONS),
                               default=PROPAGATION.completion,
                               tooltip="How the motion inside the hole, which no frame measured, is guessed. camera: "
                                       "the camera's motion fitted around the hole, except near a subject at its "
                                       "edge that the frames show moving otherwise (a hole on a still person the "
                                       "camera follows stays on them); laplacian: interpolated from the hole's edge "
                                       "(the pack's behaviour before 2026-12)."),
            ],
            outputs=[io.Image.Output("frames"), io.Mask.Output("remaining_hole")],
        )

    @classmethod
    def execute(cls, frames, hole, estimator, hole_dilation, max_distance, consistency, seam, flow_max_side,
                context_before=0, context_after=0, reference=None, reference_frames="0", keyframes="off",
                keyframe_model=None, completion=PROPAGATION.completion) -> io.NodeOutput:
        video, mask = video_and_hole(frames, hole)
        count = video.shape[0]
        if context_before + context_after >= count:
            raise ValueError(f"Flow Propagate: context_before ({context_before}) + context_after ({context_after}) "
                             f"leave none of the {count} frames to output; the batch must hold the chunk's own "
                             "frames plus the context frames.")
        config = PropagateConfig(max_distance, consistency, hole_dilation, flow_max_side, seam, completion)
        references = references_from(reference, reference_frames)
        fill = keyframe_fill(keyframes, keyframe_model)
        passes = 2 + 2 * bool(references) + (fill is not None)
        with torch.inference_mode():
            out, remaining = flow_propagate(video, mask, stages.flow_estimator(estimator), config, compute_device(),
                                            frame_progress(passes * count), references, fill)
        keep = slice(context_before, count - context_after)
        return io.NodeOutput(image_to_comfy(out[keep]), mask_to_comfy(remaining[keep]))
