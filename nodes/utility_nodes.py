"""Helper nodes around inpainting: hole grow/feather, flow picture, composite inside the hole."""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..model.composite import composite_in_hole
from ..model.flow_vis import flow_to_rgb
from ..model.masks import feather as feather_mask, grow_hole
from .comfy_bridge import frame_progress, image_to_comfy, image_to_model, mask_to_comfy, mask_to_model, video_and_hole
from .types import CATEGORY, Flow

UTILS = CATEGORY + "/utils"


class HoleGrowFeather(io.ComfyNode):
    """Grow (or shrink) a hole mask by a disk and soften its edge."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FRVI_HoleGrowFeather",
            display_name="Hole Grow & Feather",
            category=UTILS,
            description="Grows the hole by `grow` pixels (negative shrinks it), then feathers its edge. Growing a "
                        "little past an object's outline removes halos and shadows.",
            inputs=[
                io.Mask.Input("hole"),
                io.Int.Input("grow", default=4, min=-256, max=256, tooltip="Pixels; negative shrinks."),
                io.Float.Input("feather", default=0.0, min=0.0, max=128.0, step=0.5,
                               tooltip="Edge softness in pixels (0 = hard edge)."),
            ],
            outputs=[io.Mask.Output("hole")],
        )

    @classmethod
    def execute(cls, hole, grow, feather) -> io.NodeOutput:
        mask = mask_to_model(hole)
        if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
            raise ValueError("hole: mask values must be finite and lie in [0,1] (1 = hole).")
        out = torch.empty_like(mask)
        on_frame = frame_progress(mask.shape[0])
        for t in range(mask.shape[0]):
            out[t] = feather_mask(grow_hole(mask[t:t + 1], grow), feather)[0]
            on_frame(t)
        return io.NodeOutput(mask_to_comfy(out))


class FlowVisualize(io.ComfyNode):
    """Show a flow as colours: hue = direction, saturation = speed, white = no motion."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FRVI_FlowVisualize",
            display_name="Flow Visualize",
            category=UTILS,
            description="Colour-wheel picture of a flow (hue = direction, saturation = speed, white = still).",
            inputs=[
                Flow.Input("flow"),
                io.Float.Input("max_magnitude", default=0.0, min=0.0, max=1000.0, step=0.5,
                               tooltip="Speed (pixels) shown fully saturated; 0 = per-frame maximum."),
            ],
            outputs=[io.Image.Output("image")],
        )

    @classmethod
    def execute(cls, flow, max_magnitude) -> io.NodeOutput:
        frames = torch.empty(len(flow), 3, *flow.size)
        on_frame = frame_progress(len(flow))
        for t in range(len(flow)):
            frames[t] = flow_to_rgb(flow.at(t)[0], max_magnitude)[0].cpu()
            on_frame(t)
        return io.NodeOutput(image_to_comfy(frames))


class HoleComposite(io.ComfyNode):
    """Paste the inpainted frames into the original ones inside the hole only."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FRVI_HoleComposite",
            display_name="Hole Composite",
            category=UTILS,
            description="Takes the inpainted pixels inside the hole and the original pixels everywhere else; a "
                        "feather blends the seam inside the hole (nothing outside the hole changes).",
            inputs=[
                io.Image.Input("original"),
                io.Image.Input("inpainted"),
                io.Mask.Input("hole"),
                io.Float.Input("feather", default=0.0, min=0.0, max=128.0, step=0.5),
            ],
            outputs=[io.Image.Output("frames")],
        )

    @classmethod
    def execute(cls, original, inpainted, hole, feather) -> io.NodeOutput:
        frames, mask = video_and_hole(original, hole)
        out = composite_in_hole(frames, image_to_model(inpainted, "inpainted"), mask, feather)
        return io.NodeOutput(image_to_comfy(out))
