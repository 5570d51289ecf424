"""Base of the networks' dataclass configs: validated fields and a JSON round trip for weight files."""
from __future__ import annotations

import dataclasses
import json
from typing import Any


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """A network's hyper-parameters. Subclasses add fields; tuples are stored as JSON lists."""

    def to_json(self) -> str:
        """The config as a JSON object (sorted keys), as written into a weights file's metadata."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config"):
        """Build a config from ``values``; raise ValueError naming ``source`` for unknown fields."""
        if not isinstance(values, dict):
            raise ValueError(f"{source}: the network config must be a JSON object, got {type(values).__name__}.")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"{source}: unknown config fields {unknown} for {cls.__name__} "
                             f"(known: {sorted(fields)}); the file was made by another version of the network.")
        converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        try:
            return cls(**converted)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source}: invalid config for {cls.__name__}: {error}") from error

    @classmethod
    def from_json(cls, text: str, source: str = "config"):
        """Inverse of :meth:`to_json`; raise ValueError naming ``source`` on bad JSON."""
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}: the network config is not valid JSON ({error}).") from error
        return cls.from_dict(values, source)


def check_widths(widths: tuple[int, ...], name: str = "widths", min_levels: int = 1) -> None:
    """Raise ValueError unless ``widths`` is a tuple of at least ``min_levels`` positive ints."""
    if not isinstance(widths, tuple) or len(widths) < min_levels or not all(
            isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"{name} must be {min_levels}+ positive integers, got {widths!r}.")


def check_working_size(scale: float, max_side: int) -> None:
    """Raise ValueError unless ``0 < scale <= 1`` and ``max_side >= 0`` (0 = no cap)."""
    if not (0.0 < float(scale) <= 1.0):
        raise ValueError(f"scale must lie in (0, 1], got {scale!r}.")
    if not isinstance(max_side, int) or max_side < 0:
        raise ValueError(f"max_side must be an integer >= 0 (0 = no cap), got {max_side!r}.")


def check_kernel(kernel: int, name: str = "first_kernel") -> None:
    """Raise ValueError unless ``kernel`` is a positive odd integer."""
    if not isinstance(kernel, int) or kernel % 2 != 1 or kernel < 1:
        raise ValueError(f"{name} must be a positive odd integer, got {kernel!r}.")
