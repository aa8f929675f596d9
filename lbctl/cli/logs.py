"""``lbctl logs [-f] [--status 429] [--json]``: HAProxy's log lines, as the agent collected
them (``GET /api/v1/logs``, :mod:`lbctl.api.logs`).

One line each: the time received, then for an HTTP line ``client frontend backend/server
status TR/Tw/Tc/Tr/Ta (ms) bytes termination "request"`` (HAProxy's own order,
configuration.txt §8.2.3), else HAProxy's message as sent. ``-f`` keeps asking for newer lines
(``after_seq``) every :data:`FOLLOW_EVERY_S` seconds until Ctrl-C. ``--json``: the answer as
JSON, or with ``-f`` one JSON object a line. Registered on the main app by :func:`register`.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Annotated

import typer

from lbctl.cli.options import JsonOpt, agent_client
from lbctl.client._calls import Call
from lbctl.client.log_models import LogLine, LogLines
from lbctl.spec.types import parse_duration_ms

__all__ = ["FOLLOW_EVERY_S", "format_line", "logs", "register"]

#: Seconds between two requests of ``lbctl logs -f``.
FOLLOW_EVERY_S = 0.5


def format_line(line: LogLine) -> str:
    """One log line for a terminal (see the module docstring)."""
    when = datetime.fromtimestamp(line.received).strftime("%H:%M:%S.%f")[:-3]
    h = line.http
    if h is None:
        return f"{when} {line.message}"
    timers = f"{h.tr_ms}/{h.tw_ms}/{h.tc_ms}/{h.tresp_ms}/{h.ta_ms}"
    return (f"{when} {h.client_ip}:{h.client_port} {h.frontend}{'~' if h.tls else ''} "
            f"{h.backend}/{h.server} {h.status} {timers} {h.bytes_read} {h.termination} "
            f"\"{h.request or ''}\"")


def logs(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines "
                                         "until Ctrl-C.")] = False,
    status: Annotated[int | None, typer.Option("--status", help="Only HTTP lines with this "
                                               "status (429: the rate-limited ones).")] = None,
    frontend: Annotated[str | None, typer.Option("--frontend")] = None,
    backend: Annotated[str | None, typer.Option("--backend")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="DURATION", help="Only lines of the last DURATION (30s, 5m, 1h).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many lines (the newest).")
                     ] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Print HAProxy's recent log lines (requests, status, timers), as the agent got them."""
    params: dict[str, object] = {"limit": limit}
    for name, value in (("status", status), ("frontend", frontend), ("backend", backend)):
        if value is not None:
            params[name] = value
    if since is not None:
        try:
            params["since"] = round(time.time() - parse_duration_ms(since) / 1000, 3)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--since") from None
    with agent_client(ctx) as client:
        page: LogLines = client.client.send(Call("GET", "/api/v1/logs", LogLines,
                                                 params=params)).unwrap()
        if as_json and not follow:
            typer.echo(json.dumps(page.model_dump(mode="json"), indent=2))
            return
        if not page.collecting:
            typer.echo(f"lbctl: not collecting HAProxy's logs: {page.unavailable}", err=True)
        _print(page.lines, as_json)
        after = page.last_seq
        params.pop("since", None)
        try:
            while follow:
                time.sleep(FOLLOW_EVERY_S)
                page = client.client.send(Call("GET", "/api/v1/logs", LogLines,
                                               params={**params, "after_seq": after,
                                                       "limit": 10_000})).unwrap()
                _print(page.lines, as_json)
                after = page.last_seq
        except KeyboardInterrupt:
            return


def _print(lines: list[LogLine], as_json: bool) -> None:
    for line in lines:
        typer.echo(json.dumps(line.model_dump(mode="json")) if as_json else format_line(line))


def register(app: typer.Typer) -> None:
    """Add ``logs`` to the main ``lbctl`` app."""
    app.command("logs")(logs)
