"""``lbctl exit-codes``: the table of every exit code of ``lbctl`` (:data:`EXIT_CODES`), as a
rich table or, with ``--markdown``, a Markdown table (the one in the README)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lbctl.cli.errors import EXIT_CODES

__all__ = ["exit_codes", "markdown_table", "register"]


def _classes(classes: tuple[type, ...]) -> str:
    return ", ".join(c.__name__ for c in classes) or "-"


def markdown_table() -> str:
    """:data:`EXIT_CODES` as a Markdown table: ``| code | meaning | errors |``, one row per
    code, error class names in backticks; ends with a newline."""
    rows = ["| code | meaning | errors |", "| ---: | --- | --- |"]
    for code, meaning, classes in EXIT_CODES:
        names = ", ".join(f"`{c.__name__}`" for c in classes) or "-"
        cell = meaning.replace("|", "\\|")
        rows.append(f"| {code} | {cell} | {names} |")
    return "\n".join(rows) + "\n"


def exit_codes(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
) -> None:
    """Every exit code of lbctl: the code, what it means, and the errors that exit with it.

    Each code means one thing. A command prints `TypeName: message` on stderr for an error, so
    the error class names here are the ones it shows.
    """
    if markdown:
        typer.echo(markdown_table(), nl=False)
        return
    table = Table(title="lbctl exit codes")
    table.add_column("code", justify="right")
    table.add_column("meaning")
    table.add_column("errors")
    for code, meaning, classes in EXIT_CODES:
        table.add_row(str(code), meaning, _classes(classes))
    # The terminal's width (80 columns when not a terminal), unlike the 160 of cli.options.console.
    Console(highlight=False, markup=False).print(table)


def register(app: typer.Typer) -> None:
    """Add ``exit-codes`` to the main ``lbctl`` app."""
    app.command("exit-codes")(exit_codes)
