"""Status commands of the ``lbctl`` CLI, through the agent: ``lbctl status``, ``lbctl health``
and ``lbctl reload``. Registered on the main app by :func:`register`; errors go through the one
error → exit-code mapping of :mod:`lbctl.cli`.

``lbctl health`` exits 0 when HAProxy runs and every backend has a usable server, else 1, so
a runbook or a cron check can rely on it (``GET /api/v1/health`` answers 503 in the same cases).
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from lbctl.cli.options import JsonOpt, agent_client, cell, console

__all__ = ["health", "register", "reload", "status"]


def status(
    ctx: typer.Context,
    as_json: JsonOpt = False,
) -> None:
    """HAProxy process status, binary and spec version."""
    with agent_client(ctx) as client:
        data = client.status()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    proc = data.get("haproxy") or {}
    binary = data.get("binary") or {}
    table = Table(show_header=False, box=None)
    rows: list[tuple[str, Any]] = [
        ("running", proc.get("running")),
        ("master pid", proc.get("master_pid")),
        ("worker pids", ", ".join(str(p) for p in proc.get("worker_pids") or [])),
        ("uptime", _ago(proc.get("uptime_s"))),
        ("rss", f"{proc['rss_bytes'] / 1e6:.1f} MB" if proc.get("rss_bytes") else None),
        ("reloads", proc.get("reload_count")),
        ("last reload", _last_reload(proc.get("last_reload"))),
        ("error", proc.get("error")),
        ("binary", f"{binary.get('path')} ({binary.get('version')})" if binary else None),
        ("state dir", data.get("state_dir")),
        ("spec version", data.get("spec_version")),
    ]
    for key, value in rows:
        if value not in (None, ""):
            table.add_row(key, str(value))
    console().print(table)


def _last_reload(reload: dict[str, Any] | None) -> str | None:
    if not reload:
        return None
    return f"{'ok' if reload.get('ok') else 'FAILED'} in {reload.get('duration_s', 0):.3f} s"


def _ago(seconds: float | int | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


_STATUS_STYLE = {"UP": "green", "DOWN": "bold red", "MAINT": "yellow", "DRAIN": "yellow"}



def health(
    ctx: typer.Context,
    as_json: JsonOpt = False,
) -> None:
    """Backend and server health; exit 0 when every backend has a usable server, else 1."""
    with agent_client(ctx) as client:
        report = client.health()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        table = Table("backend", "server", "status", "check", "last change", "weight",
                      "sessions", "queue", "rate")
        for be in report.get("backends") or []:
            for s in be.get("servers") or []:
                status = str(s.get("status"))
                check = s.get("check_status")
                if check and s.get("check_duration_ms") is not None:
                    check = f"{check} {s['check_duration_ms']}ms"
                table.add_row(be.get("name"), s.get("server"),
                              Text(status, style=_STATUS_STYLE.get(status, "")), cell(check),
                              _ago(s.get("last_change_s")), cell(s.get("weight")),
                              cell(s.get("current_sessions")), cell(s.get("queue")),
                              cell(s.get("request_rate")))
        out = console()
        out.print(table)
        verdict = "ok" if report.get("ok") else "NOT OK"
        out.print(Text(f"health: {verdict}", style="green" if report.get("ok") else "bold red"))
        for reason in report.get("reasons") or []:
            out.print(f"  - {reason}")
    raise typer.Exit(0 if report.get("ok") else 1)


def reload(ctx: typer.Context) -> None:
    """Reload HAProxy with the live config (through the agent)."""
    with agent_client(ctx) as client:
        result = client.reload()
    console().print(f"reloaded in {result.get('duration_s', 0):.3f} s ({result.get('method')})")


def register(app: typer.Typer) -> None:
    """Add ``status``, ``health`` and ``reload`` to the main ``lbctl`` app."""
    app.command()(status)
    app.command()(health)
    app.command()(reload)
