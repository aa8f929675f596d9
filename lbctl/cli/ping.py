"""``lbctl ping BACKEND/SERVER``: one request from the load balancer's host to a server of the
spec, through the agent (``POST /api/v1/backends/{backend}/servers/{server}/ping``,
:mod:`lbctl.control.ping`), printed as a small table of the phases.

Exit 0 when the server answered 2xx or 3xx, 1 otherwise (another status, or the ping failed:
the table says in which phase and how); an agent error exits with its own code (429
:class:`lbctl.errors.Busy` is 12). Registered on the main app by :func:`register`.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import quote

import typer

from lbctl.cli.options import JsonOpt, agent_client, author, console
from lbctl.cli.runtime import TargetArg, parse_target
from lbctl.client._calls import Call
from lbctl.client.ping_models import PingOutcome

__all__ = ["ping", "ping_table", "register"]


def ping_table(outcome: PingOutcome) -> list[tuple[str, str]]:
    """``(phase, value)`` rows: resolve, connect, TLS, first byte (ms), total, then the answer
    or where it failed."""
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} ms"

    rows = [("resolve", ms(outcome.resolve_ms) + (f" → {outcome.resolved}"
                                                   if outcome.resolved else "")),
            ("connect", ms(outcome.connect_ms)),
            ("tls", ms(outcome.tls_ms) if outcome.tls else "- (plain HTTP)"),
            ("first byte", ms(outcome.ttfb_ms)),
            ("total", ms(outcome.total_ms))]
    if outcome.error is not None:
        rows.append(("failed", f"{outcome.error.phase}: {outcome.error.kind} "
                               f"({outcome.error.message})"))
    else:
        rows.append(("answer", f"{outcome.status} {outcome.http_version or ''}".strip()))
    return rows


def ping(
    ctx: typer.Context,
    target: TargetArg,
    method: Annotated[str, typer.Option(
        "--method", help="HEAD, GET (at most 64 KiB of the body is read) or OPTIONS.",
        case_sensitive=False)] = "HEAD",
    path: Annotated[str | None, typer.Option(
        "--path", help="Default: the backend's health-check path, else /.")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="S", help="Deadline of the whole ping, seconds (at most 10).")
    ] = 2.0,
    as_json: JsonOpt = False,
) -> None:
    """Ping a server from the load balancer's host: one request, timed phase by phase.

    Exit 0 on a 2xx or 3xx answer, 1 otherwise. Nothing changes (an audit line only).
    """
    from rich.table import Table

    backend, server = parse_target(target)
    body: dict[str, object] = {"method": method.upper(), "timeout_s": timeout}
    if path is not None:
        body["path"] = path
    headers = {"Content-Type": b"application/json"}
    if who := author():
        headers["X-Lbctl-Author"] = who.encode("utf-8")
    call = Call("POST", f"/api/v1/backends/{quote(backend, safe='')}/servers/"
                        f"{quote(server, safe='')}/ping", PingOutcome, headers=headers,
                content=json.dumps(body).encode())
    with agent_client(ctx) as client:
        outcome: PingOutcome = client.client.send(call).unwrap()
    if as_json:
        typer.echo(json.dumps(outcome.model_dump(mode="json"), indent=2))
    else:
        table = Table("phase", "", title=f"{backend}/{server}: {outcome.method} {outcome.url}")
        for row in ping_table(outcome):
            table.add_row(*row)
        console().print(table)
    raise typer.Exit(0 if outcome.ok else 1)


def register(app: typer.Typer) -> None:
    """Add ``ping`` to the main ``lbctl`` app."""
    app.command("ping")(ping)
