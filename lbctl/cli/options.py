"""What every ``lbctl`` command module shares: the console, the agent client, the author
of a write, table cells and HAProxy diagnostics as text.

Used by :mod:`lbctl.cli` and the command modules it registers (``cli_status``,
``cli_runtime``, ``cli_history``, ``cli_source``, ``cli_tokens``); imports nothing of them.
"""

from __future__ import annotations

import getpass
import socket
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from lbctl.errors import Diagnostic

if TYPE_CHECKING:
    from lbctl.client import AgentClient

__all__ = ["agent_client", "author", "cell", "console", "diagnostic_lines"]


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
