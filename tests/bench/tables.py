"""How every benchmark prints its figures: a rich table for the terminal, then the same rows
as a Markdown table (what the README quotes). Imported by the ``bench_*.py`` scripts, which run
as ``python tests/bench/bench_<name>.py`` (their directory is on ``sys.path``)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

__all__ = ["markdown", "print_tables"]


def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``rows`` (one list of cells each) under ``headers`` as a Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def print_tables(console: Console, title: str, headers: Sequence[str],
                 rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` as a rich table titled ``title``, a blank line, then as Markdown."""
    table = Table(title=title)
    for h in headers:
        table.add_column(h)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    print()
    print(markdown(headers, rows))
