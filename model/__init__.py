"""Pure-PyTorch core of the pack: no ComfyUI imports here (usable from scripts and notebooks).

- ``pipeline``: the one pipeline description (``PipelineConfig``), built into stages and run over a frame
  stream by one function; the CLI, batch, the nodes and the measurement scripts all use it.
- ``stages``: the paper's four stages (Frame Inpaint, Robust Flow, Flow Blend, ConvLSTM Refine), each with
  its classical and learned path.
- ``propagate``: Flow Propagate, over a whole clip or a stream.
- ``networks``: the four networks and their weight files.
- ``io``: reading and writing videos, frame folders and masks, audio.
- ``evaluation``: metrics and hole-mask generators.
- ``runtime``: process set-up every entry point does before torch loads.
- small shared helpers: ``checks`` (data contracts), ``masks``, ``resample``, ``warp``, ``harmonic``,
  ``native`` (guarded OpenCV calls), ``composite``, ``flow_vis``.
"""
