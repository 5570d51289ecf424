"""Helper nodes around inpainting: hole grow/feather, flow picture, composite inside the hole."""
from __future__ import annotations

import torch

from ..model.composite import composite_in_hole
from ..model.flow_vis import flow_to_rgb
from ..model.masks import feather as feather_mask, grow_hole
from .comfy_bridge import frame_progress, image_to_comfy, image_to_model, mask_to_comfy, mask_to_model, video_and_hole
from .types import CATEGORY, FLOW


class HoleGrowFeather:
    """Grow (or shrink) a hole mask by a disk and soften its edge."""

    DESCRIPTION = ("Grows the hole by `grow` pixels (negative shrinks it), then feathers its edge. Growing a little "
                   "past an object's outline removes halos and shadows.")
    CATEGORY = CATEGORY + "/utils"
    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("hole",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "hole": ("MASK",),
            "grow": ("INT", {"default": 4, "min": -256, "max": 256, "tooltip": "Pixels; negative shrinks."}),
            "feather": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 128.0, "step": 0.5,
                                  "tooltip": "Edge softness in pixels (0 = hard edge)."}),
        }}

    def run(self, hole, grow, feather):
        mask = mask_to_model(hole)
        if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
            raise ValueError("hole: mask values must be finite and lie in [0,1] (1 = hole).")
        out = torch.empty_like(mask)
        on_frame = frame_progress(mask.shape[0])
        for t in range(mask.shape[0]):
            out[t] = feather_mask(grow_hole(mask[t:t + 1], grow), feather)[0]
            on_frame(t)
        return (mask_to_comfy(out),)



class FlowVisualize:
    """Show a flow as colours: hue = direction, saturation = speed, white = no motion."""

    DESCRIPTION = "Colour-wheel picture of a flow (hue = direction, saturation = speed, white = still)."
    CATEGORY = CATEGORY + "/utils"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "flow": (FLOW,),
            "max_magnitude": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1000.0, "step": 0.5,
                                        "tooltip": "Speed (pixels) shown fully saturated; 0 = per-frame maximum."}),
        }}

    def run(self, flow, max_magnitude):
        frames = torch.empty(len(flow), 3, *flow.size)
        on_frame = frame_progress(len(flow))
        for t in range(len(flow)):
            frames[t] = flow_to_rgb(flow.at(t)[0], max_magnitude)[0].cpu()
            on_frame(t)
        return (image_to_comfy(frames),)


class HoleComposite:
    """Paste the inpainted frames into the original ones inside the hole only."""

    DESCRIPTION = ("Takes the inpainted pixels inside the hole and the original pixels everywhere else; a feather "
                   "blends the seam inside the hole (nothing outside the hole changes).")
    CATEGORY = CATEGORY + "/utils"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("frames",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "original": ("IMAGE",),
            "inpainted": ("IMAGE",),
            "hole": ("MASK",),
            "feather": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 128.0, "step": 0.5}),
        }}

    def run(self, original, inpainted, hole, feather):
        frames, mask = video_and_hole(original, hole)
        out = composite_in_hole(frames, image_to_model(inpainted, "inpainted"), mask, feather)
        return (image_to_comfy(out),)
