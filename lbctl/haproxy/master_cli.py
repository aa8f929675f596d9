"""Answers of HAProxy's master CLI (the ``-S`` socket; management.txt §9.4 "Master CLI").

``show proc`` lists the master and its workers with their reload counts; lbctl reads it to
adopt a running master, to tell a reload's new workers from the old ones, and (2.5+) to see
the ``[failed: N]`` count of refused reloads. Used by :mod:`lbctl.haproxy.process`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lbctl.errors import RuntimeAPIError
from lbctl.haproxy.sockets import SocketClient

__all__ = ["ProcEntry", "ShowProc", "parse_show_proc", "show_proc"]


@dataclass(frozen=True)
class ProcEntry:
    """One worker row of ``show proc``: pid, reloads survived (0 = current generation)."""

    pid: int
    reloads: int


@dataclass(frozen=True)
class ShowProc:
    """Parsed master CLI ``show proc`` (management.txt §9.4).

    ``reloads`` is the master's reload counter; ``failed`` the ``[failed: N]`` count of
    reloads refused since the last successful one (2.5+, else ``None``); ``text`` the raw
    answer. 2.5+ rows look like ``2600  master  1 [failed: 0]  0d00h00m04s  2.8.25`` and
    ``2614  worker  0  0d00h00m01s  2.8.25``; 1.9-2.4 add a ``<relative PID>`` column.
    """

    master_pid: int
    reloads: int
    failed: int | None
    workers: list[ProcEntry]
    text: str

    def current_workers(self) -> list[ProcEntry]:
        """Workers of the newest generation (their reload count is 0)."""
        return [w for w in self.workers if w.reloads == 0]


_FAILED_RE = re.compile(r"\[failed:\s*(\d+)\]")


def parse_show_proc(text: str) -> ShowProc | None:
    """Parse ``show proc``; ``None`` when ``text`` has no master line."""
    relative = "<relative" in text
    col = 3 if relative else 2
    master: tuple[int, int, int | None] | None = None
    workers: list[ProcEntry] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("#"):
            section = line.lstrip("# ").split(" ")[0].lower()
            continue
        tokens = line.split()
        if len(tokens) <= col or not tokens[0].isdigit() or not tokens[col].isdigit():
            continue
        pid, kind, reloads = int(tokens[0]), tokens[1], int(tokens[col])
        if kind == "master":
            failed = _FAILED_RE.search(line)
            master = (pid, reloads, int(failed.group(1)) if failed else None)
        elif kind == "worker" and section != "programs":
            workers.append(ProcEntry(pid, reloads))
    if master is None:
        return None
    return ShowProc(master[0], master[1], master[2], workers, text)


def show_proc(master_cli: SocketClient) -> ShowProc:
    """``show proc`` through ``master_cli``, parsed. Raises :class:`HAProxyUnavailable` (no
    master socket) and :class:`RuntimeAPIError` (no answer in time, or an answer without a
    master line)."""
    text = master_cli.command("show proc")
    parsed = parse_show_proc(text)
    if parsed is None:
        raise RuntimeAPIError(f"show proc: unexpected answer {text.strip()[:200]!r}")
    return parsed
