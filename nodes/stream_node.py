"""Video Inpaint (streaming): a whole shot from VIDEO to VIDEO, one frame at a time, in flat memory.

The tensor graph (Flow Propagate -> Frame Inpaint -> Robust Flow -> Flow Blend -> ConvLSTM Refine) holds
every frame of a batch at once, several times over. This node runs the same pipeline description and
engine as the CLI (``model.pipeline``: :func:`~model.pipeline.job.run_sources`) over frames pulled one at a
time from the VIDEO's file and writes the result to a file in ComfyUI's temp folder, returned as a VIDEO
that core Save Video stores without decoding. Class key and input names are a public API: never rename them.
"""
from __future__ import annotations

import errno
import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import torch
from comfy_api.latest import InputImpl, io

from ..model import stages
from ..model.io.encode import CODECS
from ..model.io.sources import TensorFrames, TensorMasks, Window
from ..model.io.video import FrameSource, MaskSource
from ..model.networks import KINDS
from ..model.pipeline.config import DEFAULTS, KEYFRAME_FILLS, classical
from ..model.pipeline.job import Job, run_sources
from ..model.pipeline.run import Pipeline
from .comfy_bridge import (check_interrupted, compute_device, frame_progress, network_from, references_from,
                           shipped_networks, temp_directory)
from .types import CATEGORY, FlowBlendNet, FlowCompleteNet, FrameInpaintNet, RefineNet

# The optional network inputs, by network kind (model.networks.KINDS)
MODEL_INPUTS = {"frame_inpaint": "frame_model", "flow_complete": "completion_model", "flow_blend": "blend_model",
                "convlstm_refine": "refine_model"}
PROPAGATION = DEFAULTS.propagation


class VideoInpaintStream(io.ComfyNode):
    """Flow Propagate and the four stages over a VIDEO, one frame at a time; returns the inpainted VIDEO."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FRVI_VideoInpaintStream",
            display_name="Video Inpaint (streaming)",
            category=CATEGORY,
            description=(
                "The whole pipeline (Flow Propagate, Frame Inpaint, Robust Flow, Flow Blend, ConvLSTM Refine) over a "
                "video of any length and size in flat memory: frames are read from the video file, inpainted and "
                "written one at a time (the same engine as the pack's command line). Returns a video file that Save "
                "Video stores as it is (format and codec auto). For short clips you want to rewire with other "
                "nodes, use the separate stage nodes on IMAGE batches instead."),
            search_aliases=["video inpaint", "object removal", "long video", "streaming inpaint"],
            inputs=[
                io.Video.Input("video", tooltip="The frames: a video from Load Video (or any VIDEO). It is read "
                                                "frame by frame from its file, never loaded whole."),
                io.MultiType.Input("hole", types=[io.Video, io.Mask], tooltip=(
                    "The hole: a mask video (white = hole, one frame per video frame) or a MASK (1 = hole; one per "
                    "frame, or one for every frame). A mask of the video's aspect ratio but another size is "
                    "resized (with a warning).")),
                io.Boolean.Input("propagate", default=True, tooltip=(
                    "Flow Propagate first: copy into the hole what frames up to max_distance before and after saw; "
                    "the stages then fill only what no frame saw.")),
                io.Int.Input("max_distance", default=PROPAGATION.max_distance, min=1, max=1000, tooltip=(
                    "Frames Flow Propagate looks at before and after each frame (its window; memory grows with "
                    "it).")),
                io.Boolean.Input("learned", default=True, tooltip=(
                    "Run the pack's trained networks (weights/) for every stage whose model input is not "
                    "connected; off: the weight-free stages (frame_method, Laplacian flow completion, confidence "
                    "blend, temporal blend).")),
                io.Combo.Input("frame_method", options=list(classical(stages.FRAME_METHODS)),
                               default=DEFAULTS.frame_method, tooltip=(
                                   "Frame Inpaint without its network (learned off and no frame_model): "
                                   "telea / ns diffusion, or exemplar (copies texture, seconds a frame).")),
                io.Int.Input("grow", default=DEFAULTS.grow, min=-256, max=256, tooltip=(
                    "Pixels every hole is grown by first (negative shrinks): a little past an object's outline "
                    "removes halos.")),
                io.Boolean.Input("invert_hole", default=False, tooltip="The hole input marks the pixels to keep."),
                io.Combo.Input("codec", options=list(CODECS), default="h264", tooltip=(
                    "h264: plays everywhere (visually lossless, yuv420p). h264_lossless: bit-exact pixels (mp4; "
                    "FFmpeg-based players and editors, not browsers). ffv1: bit-exact, mkv.")),
                io.Combo.Input("estimator", options=list(classical(stages.ESTIMATORS)), default=DEFAULTS.estimator,
                               optional=True, tooltip="Optical flow (OpenCV DIS presets; medium is the most "
                                                      "accurate)."),
                FrameInpaintNet.Input("frame_model", optional=True,
                                           tooltip="Frame inpainting network (Load Frame Inpaint Network); "
                                                   "overrides learned for this stage."),
                FlowCompleteNet.Input("completion_model", optional=True,
                                                   tooltip="Flow completion network (Load Flow Completion "
                                                           "Network)."),
                FlowBlendNet.Input("blend_model", optional=True,
                                                tooltip="Flow blending network (Load Flow Blend Network)."),
                RefineNet.Input("refine_model", optional=True,
                                            tooltip="ConvLSTM refiner (Load ConvLSTM Refine Network)."),
                io.Image.Input("reference", optional=True, tooltip=(
                    "Reference fills: frames of the video with their hole already filled (by you or an image "
                    "inpainting model), carried by Flow Propagate to later frames (and earlier ones within its "
                    "window) where no frame saw the background.")),
                io.String.Input("reference_frames", default="0", optional=True, tooltip=(
                    "The frame number of each reference image (0 = the first frame of the video), "
                    "comma-separated, in the reference batch's order.")),
                io.Combo.Input("keyframes", options=list(KEYFRAME_FILLS), default=DEFAULTS.keyframes, optional=True,
                               tooltip=(
                    "With propagate: what no frame saw is filled once on automatic keyframes and carried along the "
                    "motion, instead of anew on every frame. textured: the texture around the hole continued into it "
                    "with copies of the frame's pixels, started from the frame fill above (sharp; seconds per "
                    "keyframe); exemplar: OpenCV contrib's shift-map copies (may paste a wrong object into a large "
                    "hole). "
                    "frame_inpaint uses the frame fill above.")),
            ],
            outputs=[io.Video.Output("video", tooltip="The inpainted video (a file in ComfyUI's temp folder; "
                                                      "connect Save Video to keep it).")],
        )

    @classmethod
    def execute(cls, video, hole, propagate, max_distance, learned, frame_method, grow, invert_hole, codec,
                estimator=DEFAULTS.estimator, frame_model=None, completion_model=None, blend_model=None,
                refine_model=None, reference=None, reference_frames="0",
                keyframes=DEFAULTS.keyframes) -> io.NodeOutput:
        models = {"frame_inpaint": frame_model, "flow_complete": completion_model, "flow_blend": blend_model,
                  "convlstm_refine": refine_model}
        config = DEFAULTS.replace(propagate=propagate, frame_method=frame_method, grow=grow, estimator=estimator,
                                  device=str(compute_device()), max_distance=max_distance,
                                  keyframes=keyframes if propagate else "off")
        references = references_from(reference, reference_frames)
        output = temp_directory() / f"frvi_stream_{uuid.uuid4().hex[:12]}{CODECS[codec].extensions[0]}"
        with opened(video, "video") as frames:
            with opened(hole, "hole", frames.info, invert_hole) as masks:
                networks = stage_networks(learned, models)
                job = Job(input=str(frames.path), mask=str(masks.path), output=str(output), codec=codec, quiet=True)
                pipeline = Pipeline(config.replace(learned=bool(networks)), networks=networks)
                try:  # as the CLI runs it (no inference_mode: Flow Propagate runs in a worker thread)
                    run_sources(job, frames, masks, config, pipeline, frame_progress(frames.info.frame_count or 1),
                                references, poll=check_interrupted)
                except OSError as error:
                    if error.errno == errno.ENOSPC:
                        raise ValueError(f"no space left on the disk of ComfyUI's temp folder ({output.parent}) "
                                         "while writing the video; free some space (a 1080p minute of H.264 "
                                         "takes about 100 MB, a lossless one several GB) and run again.") from None
                    raise
        return io.NodeOutput(InputImpl.VideoFromFile(str(output)))


def stage_networks(learned: bool, models: dict) -> dict:
    """The network each stage runs, by kind: a connected loader's, else (``learned``) the pack's shipped one,
    handed to ComfyUI's model management and loaded on its compute device; stages with neither run weight-free."""
    networks = {}
    for kind in KINDS:
        model = models.get(kind)
        if model is None and learned:
            model = shipped_networks().get(kind)
        if model is not None:
            networks[kind] = network_from(model, source=f"{MODEL_INPUTS[kind]}: expected the output of a "
                                                        "'Load ... Network' node")
    return networks


@contextmanager
def opened(value, what: str, info=None, invert: bool = False) -> Iterator:
    """A VIDEO (or MASK) input as a frame or hole source for a ``with`` block: a file-backed VIDEO is read
    from its file (a trimmed one: the frames in its window; an in-memory file: copied to a temporary file,
    removed at the end), a VIDEO made of images from those images, a MASK tensor held as one byte a pixel.

    ``info``: the frames' :class:`~model.io.video.VideoInfo`, given when opening a hole (masks are fitted to
    its size). ``what``: the input's name, for messages.
    """
    if isinstance(value, torch.Tensor):
        if info is None:
            raise ValueError(f"{what}: expected a VIDEO, got a tensor.")
        yield TensorMasks(value, info.width, info.height, f"{what} (MASK)", invert)
        return
    if not hasattr(value, "get_components"):
        raise ValueError(f"{what}: expected a VIDEO (or a MASK for the hole), got {type(value).__name__}.")
    if not isinstance(value, InputImpl.VideoFromFile):
        images = value.get_components().images  # already decoded in memory by the node that made it
        label = f"{what} (frames in memory)"
        yield (TensorFrames(images, float(value.get_frame_rate()), label) if info is None else
               TensorMasks(images.mean(dim=-1), info.width, info.height, label, invert))
        return
    path, copy = value.get_stream_source(), None
    if not isinstance(path, (str, os.PathLike)):  # an in-memory file (BytesIO): streamed from a copy on disk
        copy = temp_directory() / f"frvi_input_{uuid.uuid4().hex[:12]}"
        copy.write_bytes(path.getbuffer())
        path = copy
    try:
        source = FrameSource(path) if info is None else MaskSource(path, info.width, info.height, invert=invert)
        start, duration = value.get_active_trim_window()
        if start or duration:
            fps = source.info.fps
            source = Window(source, round(start * fps), round(duration * fps))
        yield source
    finally:
        if copy is not None:
            copy.unlink(missing_ok=True)
