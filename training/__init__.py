"""Staged training of the pack's networks, the paper's three stages: stage 1 the frame network,
stage 2 the flow completion network, stage 3 the flow blend H_f and the ConvLSTM refiner trained
together (the first two frozen).

``data`` (training windows, crops, holes, synthetic motion with known flow), ``losses``,
``loop`` (one deterministic, resumable loop driven by a stage spec), ``checkpoint``
(safetensors + JSON), ``stages`` (the stage specs, validation and export), ``recurrent``
(stage 3 on K-frame windows). It imports ``model/``; nothing in ``model/``, ``nodes/`` or the
pack's ``__init__.py`` imports it.
Entry point: ``scripts/train.py``.
"""
