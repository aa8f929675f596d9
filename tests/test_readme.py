"""The README stays what users were promised: at most 400 lines, and its exit-code table is the
program's own (`lbctl exit-codes --markdown`)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from lbctl.cli.main import app

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_at_most_400_lines() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 400


def test_readme_exit_codes_are_the_programs() -> None:
    result = CliRunner().invoke(app, ["exit-codes", "--markdown"])
    assert result.exit_code == 0, result.output
    table = result.stdout.strip()
    assert table.startswith("| code | meaning | errors |")
    assert table in README.read_text(encoding="utf-8")
