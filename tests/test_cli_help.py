"""``--help`` of every ``lbctl`` command reads as whole paragraphs at 80 columns.

Typer keeps the single line breaks of a docstring's later paragraphs, so a docstring wrapped
for the source file shows up as lines broken mid-sentence; :func:`lbctl.cli.main._paragraphs`
joins them and rich wraps at the terminal's width. Checked here for every command and
subcommand: no line wider than 80 columns, and no line of text broken before the width made
it break (a greedy wrap would have taken the next word), in the prose and in the help column
of the option, argument and command panels.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from lbctl.cli.main import app

WIDTH = 80
runner = CliRunner()


def _paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _paths(sub, (*path, name))


PATHS = list(_paths(typer.main.get_command(app)))


def _help(path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"], terminal_width=WIDTH,
                           env={"COLUMNS": str(WIDTH), "TERMINAL_WIDTH": str(WIDTH), "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def _early_breaks(lines: list[tuple[str, int]]) -> list[str]:
    """Lines of one wrapped block (``(text, room)``: the text and the columns it could fill)
    where the next line's first word would still have fitted: a hard line break."""
    odd = []
    for (text, room), (following, _) in pairwise(lines):
        word = following.split()[0]
        if len(text) + 1 + len(word) <= room:
            odd.append(f"{text!r} then {following!r}")
    return odd


def _prose_blocks(output: str) -> Iterator[list[tuple[str, int]]]:
    """Paragraphs outside the panels (the usage line is its own block)."""
    block: list[tuple[str, int]] = []
    for line in output.splitlines():
        if not line.strip() or line.lstrip()[:1] in "╭│╰" or line.lstrip().startswith("Usage:"):
            if block:
                yield block
            block = []
        else:
            block.append((line.strip(), WIDTH - 2))  # one column of padding on each side
    if block:
        yield block


def _panel_blocks(output: str) -> Iterator[list[tuple[str, int]]]:
    """The help column of each panel row with its continuation rows (blank left columns).
    Typer starts ``[env var: ...]`` on a line of its own; those rows start a new block."""
    block: list[tuple[str, int]] = []
    rows = [line for line in output.splitlines() if line.startswith("│") and line.endswith("│")]
    for row in rows:
        inner = row[1:-1]
        start = len(inner) - len(inner.lstrip())
        cells = inner.strip()
        continuation = bool(block) and start >= 2 and not inner[:start].strip() and \
            start == block[0][1]
        if continuation and not cells.startswith("["):
            block.append((cells, block[0][1]))
            continue
        if len(block) > 1:
            yield [(text, len(inner) - 1 - col) for text, col in block]
        block = []
        # the help text is the last run of text after two or more spaces
        _, sep, tail = inner.rstrip().rpartition("  ")
        if sep and tail.strip():
            col = len(inner.rstrip()) - len(tail.lstrip())
            block = [(tail.strip(), col)]
    if len(block) > 1:
        yield [(text, len(inner) - 1 - col) for text, col in block]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "lbctl")
def test_help_fits_80_columns(path: tuple[str, ...]) -> None:
    wide = [line for line in _help(path).splitlines() if len(line) > WIDTH]
    assert wide == []


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "lbctl")
def test_help_has_no_hard_line_breaks(path: tuple[str, ...]) -> None:
    output = _help(path)
    odd = [o for block in _prose_blocks(output) for o in _early_breaks(block)]
    odd += [o for block in _panel_blocks(output) for o in _early_breaks(block)]
    assert odd == [], output


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "lbctl")
def test_short_lines_end_a_paragraph(path: tuple[str, ...]) -> None:
    """A prose line under half the width is the last of its paragraph and ends a sentence."""
    for block in _prose_blocks(_help(path)):
        for i, (text, _) in enumerate(block):
            if len(text) < WIDTH // 2:
                assert i == len(block) - 1, f"short line {text!r} inside a paragraph"
                assert text[-1] in ".)!?:", f"short last line {text!r} ends no sentence"


def test_every_command_is_covered() -> None:
    names = {" ".join(p) for p in PATHS}
    assert {"import", "plan", "server drain", "token create", "exit-codes"} <= names


def test_hard_breaks_are_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself: without the reflow, ``import``'s docstring breaks show up."""
    import lbctl.cli.main

    monkeypatch.setattr(lbctl.cli.main, "_paragraphs", lambda text: text)
    output = _help(("import",))
    assert [o for block in _prose_blocks(output) for o in _early_breaks(block)]
