"""Read a shot list (CSV or JSON) into the CLI's own arguments, one ``argparse.Namespace`` per shot.

A shot has ``input``, ``mask`` and ``output`` (as ``inpaint_video.py INPUT MASK -o OUTPUT``), an
optional ``name``, and any option of ``inpaint_video.py`` by its long name, with ``_`` or ``-``
(``working_size``, ``flow-working-size``, ``codec``, ``propagate``...; switches as true/false,
yes/no, 1/0; an empty cell keeps the default). Options given to the batch after ``--`` apply to
every shot and a shot's own value wins. Relative paths are taken from the shot list's folder.
Every shot goes through the CLI's parser and checks, so a typo fails before any shot runs.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "shots.csv").write_text("input,mask,output,grow,propagate\\nclip.mp4,mask.png,out/,4,yes\\n")
>>> shot = read_shot_list(folder / "shots.csv")[0]
>>> shot.name, shot.args.grow, shot.args.propagate, shot.args.output == str(folder / "out")
('out', 4, True, True)
"""
from __future__ import annotations

import argparse
import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import inpaint_video

REQUIRED = ("input", "mask", "output")
PATH_OPTIONS = ("side_by_side",)  # options holding a path, resolved like input/mask/output
NOT_PER_SHOT = {"help", "demo", "output"}
TRUE, FALSE = {"1", "true", "yes", "on", "y"}, {"0", "false", "no", "off", "n"}


class ShotListError(ValueError):
    """A shot list that cannot run; the message names the line (CSV) or item (JSON) at fault."""


@dataclass
class Shot:
    """One shot: its place in the list, a ``name`` for the reports, where it comes from, its CLI arguments."""

    index: int
    name: str
    where: str
    args: argparse.Namespace

    @property
    def outputs(self) -> list[Path]:
        """The paths this shot writes: ``-o`` and, if given, ``--side-by-side``."""
        return [Path(p) for p in (self.args.output, self.args.side_by_side) if p]


def read_shot_list(path: str | os.PathLike, defaults: list[str] | tuple = ()) -> list[Shot]:
    """Every shot of the CSV or JSON file ``path``, validated; ``defaults``: CLI options for every shot.

    Raises ShotListError naming each bad line (unknown option, bad value, missing path) and
    outputs shared by two shots.
    """
    path = Path(path)
    parser = _raising_parser()
    options = per_shot_options(parser)
    shots, errors = [], []
    for where, row in _rows(path):
        try:
            shots.append(_shot(len(shots), row, where, path.resolve().parent, list(defaults), parser, options))
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


def per_shot_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The CLI's options by shot-list key: ``dest`` and each long name with ``_`` for ``-``."""
    table = {}
    for action in parser._actions:
        if action.option_strings and action.dest not in NOT_PER_SHOT:
            table[action.dest] = action
            table.update((name[2:].replace("-", "_"), action) for name in action.option_strings
                         if name.startswith("--") and not name.startswith("--no-"))
    return table


def _raising_parser() -> argparse.ArgumentParser:
    """The CLI's parser, raising ShotListError where it would print usage and exit."""
    parser = inpaint_video.build_parser()

    def error(message: str):
        raise ShotListError(message)

    parser.error = error
    return parser


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
    key = key.strip().lower().lstrip("-").replace("-", "_")
    return "output" if key == "o" else key


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _switch(key: str, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE | FALSE:
        return text in TRUE
    raise ShotListError(f"{key}: give true or false, got {value!r}.")


def _shot(index: int, row: dict, where: str, folder: Path, defaults: list[str], parser: argparse.ArgumentParser,
          options: dict[str, argparse.Action]) -> Shot:
    """One row -> a Shot: CLI arguments built from the row, parsed and checked as the CLI does."""
    if None in row:
        raise ShotListError("more cells than the header has columns.")
    row = {_key(key): value for key, value in row.items()}
    missing = [key for key in REQUIRED if _blank(row.get(key))]
    if missing:
        raise ShotListError(f"give {' and '.join(missing)} (every shot needs input, mask and output).")
    resolve = lambda value: os.path.normpath(folder / Path(str(value).strip()).expanduser())
    argv = [resolve(row["input"]), resolve(row["mask"]), "-o", resolve(row["output"]), *defaults]
    switches = {}
    for key, value in row.items():
        if key in (*REQUIRED, "name") or _blank(value):
            continue
        action = options.get(key)
        if action is None:
            raise ShotListError(f"unknown option {key!r}; the options are: name, {', '.join(REQUIRED)}, "
                                f"{', '.join(sorted({a.dest for a in options.values()}))}.")
        flag = next(name for name in action.option_strings if name.startswith("--"))
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(flag if _switch(key, value) else "--no-" + flag[2:])
        elif isinstance(action, argparse._StoreTrueAction):
            switches[action.dest] = _switch(key, value)  # also turns off a default given after --
        else:
            argv.append(f"{flag}={resolve(value) if action.dest in PATH_OPTIONS else value}")
    args = parser.parse_args(argv)
    vars(args).update(switches)
    inpaint_video.check_args(parser, args)
    args.quiet = True  # one progress bar over the shots, not one per shot
    output = os.path.relpath(args.output, folder)
    name = str(row["name"]).strip() if not _blank(row.get("name")) else \
        (args.output if output.startswith("..") else output)
    return Shot(index, name, where, args)
