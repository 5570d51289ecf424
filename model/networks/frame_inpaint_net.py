"""The frame inpainting network: a partial-convolution U-Net that fills one frame's hole (P_t)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..checks import keep_known
from ..masks import hole_radius
from ..resample import resize_image, shrink_known, working_size
from .base import Network
from .config import NetworkConfig, check_kernel, check_widths, check_working_size
from .partial_conv import PConvUNet


@dataclass(frozen=True)
class FrameInpaintConfig(NetworkConfig):
    """Hyper-parameters of :class:`FrameInpaintNet`.

    Attributes:
        widths: encoder widths per level (stride 2 each); the input is padded to ``2 ** len``.
        first_kernel: window of the first partial conv.
        scale: working size as a fraction of the frame size (<= 1).
        max_side: cap on the working size's long side in pixels (0 = no cap); larger frames are
            filled at this size and the fill is upsampled (known pixels stay exact).
        thin_radius: 0 = off. Otherwise a frame whose hole is thin runs at a larger working size:
            just large enough that the hole's widest point (the radius of the largest disk inside
            it) measures ``thin_radius`` pixels there, never smaller than ``scale``/``max_side``
            give, at most ``thin_max_side`` on the long side (0 = the frame's size). Large holes
            gain context from a small working size, thin ones keep detail at a large one.
        thin_max_side: cap of that larger working size's long side (0 = none).
    """

    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    first_kernel: int = 5
    scale: float = 0.5
    max_side: int = 256
    thin_radius: float = 0.0
    thin_max_side: int = 0

    def __post_init__(self):
        check_widths(self.widths)
        check_working_size(self.scale, self.max_side)
        check_working_size(1.0, self.thin_max_side)
        if not self.thin_radius >= 0:
            raise ValueError(f"thin_radius must be >= 0 pixels (0 = off), got {self.thin_radius!r}.")
        check_kernel(self.first_kernel)


class FrameInpaintNet(Network):
    """Fill a frame's hole with a :class:`PConvUNet` at the working size.

    The U-Net sees the known colours (centred on 0: ``(frame - 0.5) * known``) and the known
    mask; its prediction plus 0.5 fills the hole, upsampled to the frame size if the working
    size is smaller, and every known pixel is returned bit-exact.
    """

    ARCHITECTURE = "frvi.frame_inpaint.pconv_unet"
    VERSION = 1
    KIND = "frame_inpaint"
    Config = FrameInpaintConfig

    def __init__(self, config: FrameInpaintConfig | None = None):
        super().__init__(config)
        self.unet = PConvUNet(3, 3, self.config.widths, self.config.first_kernel)

    def fill_at_working_size(self, frame: torch.Tensor, hole: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The U-Net's prediction at the working size: ``frame`` ``[B,3,H,W]`` in [0,1], ``hole``
        ``[B,1,H,W]`` binary -> ``(fill [B,3,h,w], hole [B,1,h,w])``.

        ``fill`` is about [0,1] (not clamped) at every pixel; the small hole covers every small
        pixel that touches the hole. Training scores it against the frame reduced to ``(h, w)``.
        """
        small, small_hole = shrink_known(frame, hole, self.working_size_for(hole))
        return self.unet(small - 0.5, 1.0 - small_hole) + 0.5, small_hole  # the U-Net ignores hole pixels

    def working_size_for(self, hole: torch.Tensor) -> tuple[int, int]:
        """``(h, w)`` at which the hole ``[B,1,H,W]`` (binary) is filled (see the config's ``thin_radius``)."""
        height, width = hole.shape[-2:]
        size = working_size(height, width, self.config.scale, self.config.max_side)
        if not self.config.thin_radius or not bool((hole > 0.5).any()):
            return size
        radius = max(hole_radius(h) for h in hole)
        factor = min(1.0, self.config.thin_radius / max(radius, 1e-6))
        larger = working_size(height, width, factor, self.config.thin_max_side)
        return larger if larger[0] * larger[1] > size[0] * size[1] else size

    def predict(self, frame: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """:meth:`fill_at_working_size` brought to the frame size -> ``[B,3,H,W]`` (known pixels not yet kept)."""
        return resize_image(self.fill_at_working_size(frame, hole)[0], tuple(frame.shape[-2:]))

    def forward(self, frame: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """``frame`` ``[B,3,H,W]`` in [0,1], ``hole`` ``[B,1,H,W]`` binary (1 = missing) -> ``[B,3,H,W]`` in [0,1].

        Outside the hole the output equals ``frame`` bit-exact.
        """
        return keep_known(self.predict(frame, hole), frame, hole)
