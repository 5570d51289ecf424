"""Frame-Recurrent Video Inpainting (Ding et al., 2019) for ComfyUI.

ComfyUI imports this folder as a package and calls ``comfy_entrypoint`` (the V3 node API); the pack
exports no ``NODE_CLASS_MAPPINGS``, which ComfyUI would take instead.
"""
import logging

try:
    from .nodes import comfy_entrypoint
except ModuleNotFoundError as missing:
    # Only outside ComfyUI (ComfyUI always has comfy_api): plain Python importing the repo as a package, as pytest
    # does with a checkout that has no ComfyUI source beside it. model/ and the command line need no nodes.
    if missing.name != "comfy_api":
        raise
    logging.getLogger(__name__).warning("ComfyUI's comfy_api is not importable: the pack's nodes are not loaded")
    __all__ = []
else:
    __all__ = ["comfy_entrypoint"]
