"""The README and docs/: the front door stays short, links resolve, and every documented command parses.

A command in a ```bash block that runs one of the pack's Python scripts is parsed by that script's own
argparse parser (the script is run up to its ``parse_args`` and stopped there), so a renamed script,
subcommand or option in the docs fails here. Commands that need data, a GPU or a server are not run.
"""
from __future__ import annotations

import argparse
import re
import runpy
import shlex
import sys

import pytest
from clips import REPO

DOCS = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").rglob("*.md")),
        *sorted((REPO / "weights").glob("*.md"))]
FRONT_DOOR_LINES = 250
BASH_BLOCK = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def documented_commands() -> list[tuple[str, list[str]]]:
    """``(where, argv)`` of every command in a bash block that runs a Python file of the repository."""
    found = []
    for doc in DOCS:
        for block in BASH_BLOCK.findall(doc.read_text(encoding="utf-8")):
            for line in block.splitlines():
                for words in _commands(line):
                    if len(words) >= 2 and words[0].split("/")[-1].startswith("python") and \
                            words[1].endswith(".py"):
                        found.append((f"{doc.relative_to(REPO)}: {shlex.join(words)}", words[1:]))
    return found


def _commands(line: str) -> list[list[str]]:
    """The commands of one shell line (split at ``&&``, ``||``, ``;`` and ``|``; comments dropped)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, words = [], []
    for token in lexer:
        if token in ("&&", "||", ";", "|"):
            commands.append(words)
            words = []
        else:
            words.append(token)
    return [*commands, words]


class Parsed(Exception):
    """Raised where the script would start its work: its arguments parsed."""


def test_the_front_door_is_short_and_the_rest_exists():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= FRONT_DOOR_LINES, f"README.md has {len(lines)} lines; move detail to docs/"
    for name in ("nodes", "command-line", "batch", "training", "evaluation", "performance"):
        assert (REPO / "docs" / f"{name}.md").is_file(), name
    assert (REPO / "CHANGELOG.md").is_file() and (REPO / "docs" / "results" / "README.md").is_file()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc):
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{doc.relative_to(REPO)} links to {target}, which does not exist"


COMMANDS = documented_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 20  # the parser above finds them (a broken pattern would skip every check)


@pytest.mark.parametrize("where, argv", COMMANDS, ids=[where for where, _ in COMMANDS])
def test_documented_command_parses(where, argv, monkeypatch):
    script = REPO / argv[0]
    assert script.is_file(), f"{where}: there is no {argv[0]}"
    if "argparse" not in script.read_text(encoding="utf-8"):
        pytest.skip(f"{argv[0]} reads its arguments without argparse")

    def parse(self, args=None, namespace=None):
        result = original(self, args, namespace)
        raise Parsed(result)

    original = argparse.ArgumentParser.parse_args
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse)
    monkeypatch.setattr(sys, "argv", [str(script), *argv[1:]])
    monkeypatch.syspath_prepend(str(REPO))
    with pytest.raises(Parsed):
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as error:  # argparse refused the arguments (it prints why)
            pytest.fail(f"{where}: the script's parser refused it (exit {error.code})")
