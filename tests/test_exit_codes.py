"""``lbctl exit-codes`` and the table behind it: every :class:`LbctlError` subclass exits with
a code listed once in :data:`lbctl.cli.errors.EXIT_CODES`, next to that class."""

from __future__ import annotations

from typer.testing import CliRunner

from lbctl import errors as E
from lbctl.cli.errors import EXIT_CODES
from lbctl.cli.main import app

runner = CliRunner()


def _subclasses(cls: type[E.LbctlError]) -> list[type[E.LbctlError]]:
    found: list[type[E.LbctlError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _error_classes() -> list[type[E.LbctlError]]:
    """Every subclass of LbctlError defined in lbctl.errors."""
    return [c for c in _subclasses(E.LbctlError) if c.__module__ == E.__name__]


def test_every_code_appears_once() -> None:
    codes = [code for code, _, _ in EXIT_CODES]
    assert len(codes) == len(set(codes)), codes
    assert codes == sorted(codes)
    assert all(meaning for _, meaning, _ in EXIT_CODES)


def test_every_error_class_is_listed_with_its_exit_code() -> None:
    classes = _error_classes()
    assert len(classes) >= 15  # the tree drawn in lbctl/errors.py
    listed = {cls: code for code, _, group in EXIT_CODES for cls in group}
    for cls in classes:
        assert cls in listed, f"{cls.__name__} (exit {cls.exit_code}) is not in EXIT_CODES"
        assert listed[cls] == cls.exit_code, f"{cls.__name__}: exit_code {cls.exit_code}, listed {listed[cls]}"


def test_every_listed_class_is_an_lbctl_error_listed_once() -> None:
    listed = [cls for _, _, group in EXIT_CODES for cls in group]
    assert len(listed) == len(set(listed))
    assert all(issubclass(cls, E.LbctlError) for cls in listed)


def test_exit_codes_prints_every_code_and_class() -> None:
    result = runner.invoke(app, ["exit-codes"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for code, _, group in EXIT_CODES:
        assert any(line.split("│")[1].strip() == str(code)
                   for line in result.output.splitlines() if line.startswith("│")), code
        for cls in group:
            assert cls.__name__ in result.output


def test_exit_codes_markdown() -> None:
    result = runner.invoke(app, ["exit-codes", "--markdown"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "| code | meaning | errors |"
    assert lines[1].startswith("| ---")
    rows = [line.split(" | ") for line in lines[2:]]
    assert [int(r[0].lstrip("| ")) for r in rows] == [code for code, _, _ in EXIT_CODES]
    assert "| 6 | " in result.output and "`ReloadFailed`" in result.output
