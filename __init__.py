"""Frame-Recurrent Video Inpainting (Ding et al., 2019) for ComfyUI.

ComfyUI imports this folder as a package and reads the two mappings below.
"""
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
