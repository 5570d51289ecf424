"""Read a shot list (CSV or JSON) into the pipeline's own description: a PipelineConfig and a Job per shot.

A shot has ``input``, ``mask`` and ``output`` (``o`` works too), an optional ``name``, and any
setting of the pipeline by its field name, with ``_`` or ``-``, in any case:

- :class:`~model.pipeline.config.PipelineConfig`: ``propagate``, ``learned``, ``weights_dir``,
  ``frame_method``, ``radius``, ``working_size``, ``estimator``, ``hole_dilation``,
  ``flow_working_size``, ``blend``, ``strength``, ``keyframes``, ``grow``, ``device``;
- Flow Propagate's :class:`~model.propagate.whole_clip.PropagateConfig`, by its own names
  (``max_distance``, ``consistency``, ``flow_max_side``, ``seam``, ``completion``; its ``hole_dilation`` as
  ``propagation_hole_dilation``, plain ``hole_dilation`` being stage 2's); these need ``propagate``;
- :class:`~model.pipeline.job.Job`: ``side_by_side``, ``fps``, ``codec`` (video outputs only),
  ``max_frames``, ``invert_mask``, ``references`` (``N:PATH`` items separated by ``;``; need ``propagate``).

Switches are true/false, yes/no, on/off, y/n or 1/0; an empty cell keeps the default
(``propagate`` off, ``learned`` on when the weights are there). Relative paths (``input``,
``mask``, ``output``, ``side_by_side``, ``weights_dir``, the PATHs of ``references``) are taken from the shot
list's folder.
Options given to the batch after ``--`` (``--propagate``, ``--no-learned``, ``--grow 3``,
``--codec=ffv1``; relative paths from the current folder) apply to every shot and a shot's own
value wins. Every shot is checked as the CLI checks its arguments, so a typo fails before any
shot runs. Shots run without a progress bar of their own (the batch shows one over the shots).

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "shots.csv").write_text("input,mask,output,Grow,propagate\\nclip.mp4,mask.png,out/,4,yes\\n")
>>> shot = read_shot_list(folder / "shots.csv", ["--max-distance", "6"])[0]
>>> shot.name, shot.config.grow, shot.config.propagate, shot.config.propagation.max_distance
('out', 4, True, 6)
>>> shot.job.output == str(folder / "out"), shot.job.quiet
(True, True)
"""
from __future__ import annotations

import csv
import json
import os
import typing
from dataclasses import dataclass, fields
from pathlib import Path

from model.io.encode import VIDEO_EXTENSIONS
from model.pipeline.config import PipelineConfig
from model.pipeline.job import Job, reference_items
from model.propagate.whole_clip import PropagateConfig

REQUIRED = ("input", "mask", "output")
PATHS = {"side_by_side", "weights_dir"}  # options holding a path, resolved like input/mask/output
PROPAGATION_PREFIX = "propagation_"
TRUE, FALSE = {"1", "true", "yes", "on", "y"}, {"0", "false", "no", "off", "n"}


def _settings() -> dict[str, tuple[str, str, type]]:
    """Every per-shot key -> ``(where, field, type)``: ``where`` is "config", "propagation" or "job"."""
    table: dict[str, tuple[str, str, type]] = {}
    for where, cls, skip in (("config", PipelineConfig, {"propagation"}),
                             ("job", Job, {*REQUIRED, "quiet"}), ("propagation", PropagateConfig, set())):
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            if f.name not in skip:
                kind = next(t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
                # a name of both (hole_dilation) is stage 2's; Flow Propagate's takes the prefix
                key = PROPAGATION_PREFIX + f.name if f.name in table else f.name
                table[key] = (where, f.name, kind)
    return table


SETTINGS = _settings()


class ShotListError(ValueError):
    """A shot list that cannot run; the message names the line (CSV) or item (JSON) at fault."""


@dataclass
class Shot:
    """One shot: its place in the list, a ``name`` for the reports, where it comes from (line or item),
    the pipeline it runs (``config``) and its files (``job``)."""

    index: int
    name: str
    where: str
    config: PipelineConfig
    job: Job

    @property
    def outputs(self) -> list[Path]:
        """The paths this shot writes: ``output`` and, if given, ``side_by_side``."""
        return self.job.outputs


def read_shot_list(path: str | os.PathLike, defaults: list[str] | tuple = ()) -> list[Shot]:
    """Every shot of the CSV or JSON file ``path``, validated; ``defaults``: options for every shot, as given
    to the batch after ``--`` (``--propagate``, ``--no-learned``, ``--grow 3``, ``--codec=ffv1``).

    Raises ShotListError naming each bad line (unknown option, bad value, missing path) and
    outputs shared by two shots.
    """
    path = Path(path)
    common = parse_options(list(defaults))
    shots, errors = [], []
    for where, row in _rows(path):
        try:
            shots.append(_shot(len(shots), row, where, path.resolve().parent, common))
        except ShotListError as error:
            errors.append(f"{where}: {error}")
    seen: dict[Path, str] = {}
    for shot in shots:
        for output in shot.outputs:
            if output in seen:
                errors.append(f"{shot.where}: writes {output}, as {seen[output]} does; give each shot its own output.")
            seen.setdefault(output, shot.where)
    if errors:
        raise ShotListError("\n".join(errors))
    if not shots:
        raise ShotListError(f"{path}: no shots; give one row (CSV) or object (JSON) per shot.")
    return shots


def parse_options(argv: list[str]) -> dict[str, object]:
    """Options for every shot (``--key value``, ``--key=value``, ``--switch``, ``--no-switch``) -> ``{key: value}``
    with shot-list keys and values converted; relative paths are from the current folder.

    >>> parse_options(["--propagate", "--codec=ffv1", "--grow", "-3", "--no-learned"])
    {'propagate': True, 'codec': 'ffv1', 'grow': -3, 'learned': False}
    """
    options: dict[str, object] = {}
    tokens = iter(argv)
    for token in tokens:
        if not token.startswith("--") or token == "--":
            raise ShotListError(f"options after --: expected --option, got {token!r}.")
        name, has_value, value = token[2:].partition("=")
        key = _key(name)
        negated = key not in SETTINGS and key.startswith("no_") and key[3:] in SETTINGS and SETTINGS[key[3:]][2] is bool
        if negated:
            key = key[3:]
        if key not in SETTINGS:
            raise ShotListError(f"options after --: {_unknown(token.partition('=')[0], shot_list=False)}")
        kind = SETTINGS[key][2]
        if negated or (kind is bool and not has_value):
            if has_value:
                raise ShotListError(f"options after --: {token.partition('=')[0]} takes no value.")
            options[key] = not negated
            continue
        if not has_value:
            value = next(tokens, None)
            if value is None:
                raise ShotListError(f"options after --: {token} needs a value.")
        options[key] = _convert(key, value)
        if key in PATHS:
            options[key] = os.path.abspath(os.path.expanduser(str(options[key])))
    return options


def _unknown(key: str, shot_list: bool = True) -> str:
    keys = ["name", *REQUIRED] if shot_list else []
    return f"unknown option {key!r}; the options are: {', '.join(keys + sorted(SETTINGS))}."


def _rows(path: Path) -> list[tuple[str, dict]]:
    """``(where, row)`` for each shot of a CSV (header: the keys) or JSON (a list of objects) file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ShotListError(f"{path}: cannot read the shot list ({error.strerror}).") from None
    if path.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as error:
            raise ShotListError(f"{path}: not valid JSON ({error}).") from None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ShotListError(f"{path}: give a JSON list of objects, one per shot.")
        return [(f"{path.name} item {i}", item) for i, item in enumerate(items, 1)]
    reader = csv.DictReader(text.splitlines())
    rows = []
    for row in reader:
        if any((value or "").strip() for key, value in row.items() if key is not None):
            rows.append((f"{path.name} line {reader.line_num}", row))
    return rows


def _key(key: str) -> str:
    key = str(key).strip().lower().lstrip("-").replace("-", "_")
    return "output" if key == "o" else key


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _convert(key: str, value) -> object:
    """A cell (CSV text or a JSON value) as the type of the setting ``key`` (ShotListError when it is not one)."""
    kind = SETTINGS[key][2]
    text = value.strip() if isinstance(value, str) else value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(text).lower() in TRUE | FALSE:
            return str(text).lower() in TRUE
        raise ShotListError(f"{key}: give true or false, got {value!r}.")
    if isinstance(value, (bool, list, dict)):
        raise ShotListError(f"{key}: give a {kind.__name__}, got {value!r}.")
    if kind is str:
        return str(text)
    try:
        number = float(text) if kind is float else int(text)
    except (TypeError, ValueError):
        number = None
    if kind is int and isinstance(value, float):
        number = int(value) if value.is_integer() else None
    if number is None:
        raise ShotListError(f"{key}: give {'a whole number' if kind is int else 'a number'}, got {value!r}.")
    return number


def _shot(index: int, row: dict, where: str, folder: Path, common: dict[str, object]) -> Shot:
    """One row -> a Shot: its settings over ``common`` (the options after ``--``), checked as the CLI checks."""
    if None in row:
        raise ShotListError("more cells than the header has columns.")
    row = {_key(key): value for key, value in row.items()}
    missing = [key for key in REQUIRED if _blank(row.get(key))]
    if missing:
        raise ShotListError(f"give {' and '.join(missing)} (every shot needs input, mask and output).")
    resolve = lambda value: os.path.normpath(folder / Path(str(value).strip()).expanduser())
    values = dict(common)
    for key, value in row.items():
        if key in (*REQUIRED, "name") or _blank(value):
            continue
        if key not in SETTINGS:
            raise ShotListError(_unknown(key))
        values[key] = resolve(_convert(key, value)) if key in PATHS else _convert(key, value)
        if key == "references":  # N:PATH items: each PATH from the list's folder too
            values[key] = ";".join(f"{n}:{resolve(path)}" for n, path in reference_items(values[key]))
    parts: dict[str, dict[str, object]] = {"config": {}, "propagation": {}, "job": {}}
    for key, value in values.items():
        part, name, _ = SETTINGS[key]
        parts[part][name] = value
    if not values.get("propagate"):
        given = [key for key in values if SETTINGS[key][0] == "propagation"]
        if given:
            raise ShotListError(f"{', '.join(given)} only applies with propagate; set propagate to true or drop it.")
    try:
        config = PipelineConfig(**parts["config"], propagation=PropagateConfig(**parts["propagation"]))
        job = Job(*(resolve(row[key]) for key in REQUIRED), quiet=True, **parts["job"])  # one bar over all shots
    except ValueError as error:
        raise ShotListError(str(error)) from None
    if "codec" in values and not job.writes_video:
        raise ShotListError(f"codec applies to video outputs ({' '.join(VIDEO_EXTENSIONS)}); this shot writes PNG "
                            "frames (already lossless).")
    output = os.path.relpath(job.output, folder)
    name = str(row["name"]).strip() if not _blank(row.get("name")) else \
        (job.output if output.startswith("..") else output)
    return Shot(index, name, where, config, job)
