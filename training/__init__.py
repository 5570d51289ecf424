"""Staged training of the pack's networks (the paper's stage 1 and 2; stage 3 in part 2).

``data`` (training windows, crops, holes, synthetic motion with known flow), ``losses``,
``loop`` (one deterministic, resumable loop driven by a stage spec), ``checkpoint``
(safetensors + JSON), ``stages`` (the stage specs, validation and export). It imports
``model/``; nothing in ``model/``, ``nodes/`` or the pack's ``__init__.py`` imports it.
Entry point: ``scripts/train.py``.
"""
