"""What every ``lbctl`` command module shares: the console, the agent client, the author
of a write, table cells and HAProxy diagnostics as text.

Used by :mod:`lbctl.cli` and the command modules it registers (``cli_status``,
``cli_runtime``, ``cli_history``, ``cli_source``, ``cli_tokens``); imports nothing of them.
"""

from __future__ import annotations

import getpass
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from lbctl.errors import Diagnostic

if TYPE_CHECKING:
    from lbctl.client import AgentClient

__all__ = ["AllowEmptyOpt", "BinOpt", "IfMatchOpt", "JsonOpt", "MessageOpt", "SpecArg",
           "StateOpt", "VersionOpt", "agent_client", "author", "cell", "console", "diagnostic_lines"]

#: ``--json``: print the answer as JSON instead of a table or text.
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]
#: ``--state-dir``: the agent's state dir.
StateOpt = Annotated[
    str | None,
    typer.Option("--state-dir", help="State dir (default: $LBCTL_STATE_DIR or ./.lbctl)."),
]
#: ``--haproxy-bin``: which HAProxy binary.
BinOpt = Annotated[
    str | None,
    typer.Option("--haproxy-bin", help="haproxy binary (default: $LBCTL_HAPROXY_BIN, "
                 "the bundled one, PATH)."),
]
#: ``--haproxy-version``: the target HAProxy version to render for.
VersionOpt = Annotated[
    str | None,
    typer.Option("--haproxy-version", help="Target HAProxy version (default: the binary's)."),
]
#: A spec file argument.
SpecArg = Annotated[
    Path, typer.Argument(help="Spec file (YAML or JSON).", dir_okay=False, show_default=False)
]
#: ``-m`` / ``--message``: why, kept with the change in the history.
MessageOpt = Annotated[str, typer.Option("-m", "--message", help="Why (kept with the change).")]
#: ``--allow-empty``: confirm a write that leaves no listener or empties a backend in use.
AllowEmptyOpt = Annotated[bool, typer.Option(
    "--allow-empty", help="Confirm a write that leaves HAProxy no frontend (no listener) or "
    "removes every server of a backend in use (sent as ?allow_empty=true; recorded in the "
    "history). Without it such a write is refused (exit 11).")]
#: ``--if-match``: the version a write edits (default: the agent's current one).
IfMatchOpt = Annotated[int | None, typer.Option(
    "--if-match", help="The version this write edits (default: the agent's current one).")]


def console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr): no markup, no highlighting, no wrapping of long
    config lines, at least 160 columns when not on a terminal. Made per call: ``sys.stdout``
    and ``sys.stderr`` may be swapped (tests)."""
    out = Console(stderr=stderr, soft_wrap=True, highlight=False, markup=False)
    if not out.is_terminal:
        out.width = max(out.width, 160)
    return out


def diagnostic_lines(d: Diagnostic) -> list[str]:
    """One HAProxy diagnostic as indented lines: severity, line number and message, the
    config line's text, the spec field it maps to."""
    where = f"line {d.line}: " if d.line else ""
    lines = [f"  - {d.severity}: {where}{d.message}"]
    if d.text is not None:
        lines.append(f"      | {d.text.strip()}")
    if d.field:
        lines.append(f"      spec field: {d.field}")
    return lines


def agent_client(ctx: typer.Context) -> AgentClient:
    """The agent client of the command group's ``--url`` / ``--token`` (or their env vars)."""
    from lbctl.client import AgentClient

    opts = ctx.obj or {}
    return AgentClient(opts.get("url"), opts.get("token"))


def author() -> str:
    """``user@host`` of whoever runs the command, recorded with a write ("" if unknown)."""
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (OSError, KeyError):
        return ""


def cell(value: Any) -> str:
    """A table cell: ``-`` for ``None``."""
    return "-" if value is None else str(value)
