"""What every network of the pack declares, so weight files can name and rebuild it."""
from __future__ import annotations

import copy
import dataclasses
from typing import ClassVar

import torch
import torch.nn as nn

from .config import NetworkConfig

# The four learned stages of the paper, by the names the weight files and loader nodes use.
KINDS = ("frame_inpaint", "flow_complete", "flow_blend", "convlstm_refine")


class Network(nn.Module):
    """An ``nn.Module`` with a name, a version and a dataclass config (all stored in weight files).

    Subclasses set ``ARCHITECTURE`` (unique name), ``VERSION`` (bumped when the layout of the
    weights changes), ``KIND`` (one of :data:`KINDS`) and ``Config`` (a :class:`NetworkConfig`).
    """

    ARCHITECTURE: ClassVar[str]
    VERSION: ClassVar[int]
    KIND: ClassVar[str]
    Config: ClassVar[type[NetworkConfig]]

    def __init__(self, config: NetworkConfig | None = None):
        super().__init__()
        config = self.Config() if config is None else config
        if not isinstance(config, self.Config):
            raise ValueError(f"{type(self).__name__}: expected a {self.Config.__name__}, got {type(config).__name__}.")
        self.config = config

    def with_working_size(self, long_side: int) -> "Network":
        """This network, sharing its parameters, set to run with a long side of ``long_side`` pixels.

        ``long_side = 0`` returns the network itself (the working size of its config). Otherwise the
        copy's config has ``scale = 1`` and ``max_side = long_side`` (and no size that adapts to
        the hole): frames larger than that are reduced to it, smaller ones run at their own size.
        Trained weights run at other sizes
        than the one they were tuned for; score a choice with the harness first
        (``scripts/evaluate.py --configs pconv_only,pconv_only@512 --weights DIR``).
        """
        if not isinstance(long_side, int) or long_side < 0:
            raise ValueError(f"working_size must be 0 (as stored in the weights file) or a positive number of "
                             f"pixels, got {long_side!r}.")
        if long_side == 0 or not {"scale", "max_side"} <= {f.name for f in dataclasses.fields(self.config)}:
            return self
        clone = copy.copy(self)  # a new object whose submodules (and so parameters) are the same objects
        fixed = {"thin_radius": 0.0} if "thin_radius" in {f.name for f in dataclasses.fields(self.config)} else {}
        clone.config = dataclasses.replace(self.config, scale=1.0, max_side=long_side, **fixed)
        return clone

    def parameter_count(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def memory_format_of(module: nn.Module) -> torch.memory_format:
    """``torch.channels_last`` if the first 4-D weight of ``module`` is stored channels-last, else contiguous.

    Networks convert their input to this format so every layer runs in one layout (oneDNN's
    fast path on CPU is channels-last; set with ``module.to(memory_format=torch.channels_last)``).
    """
    for parameter in module.parameters():
        if parameter.ndim == 4:
            channels_last = parameter.is_contiguous(memory_format=torch.channels_last) and not parameter.is_contiguous()
            return torch.channels_last if channels_last else torch.contiguous_format
    return torch.contiguous_format
