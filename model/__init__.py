"""Pure-PyTorch core of the pack: no ComfyUI imports here (usable from scripts and notebooks)."""
