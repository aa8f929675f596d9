"""Runtime commands of the ``lbctl`` CLI, through the agent: ``lbctl server ...`` and
``lbctl clients``. Registered on the main app by :func:`register`; errors go through the one
error → exit-code mapping of :mod:`lbctl.cli` like every other command.

``lbctl server drain|ready|maint BACKEND/SERVER`` and ``lbctl server weight BACKEND/SERVER N``
fetch the agent's current version and send it as ``If-Match``: a concurrent writer makes
them fail with exit 3 (``VersionConflict``) rather than overwrite its change.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from lbctl.cli.options import JsonOpt, agent_client, author, cell, console

__all__ = ["clients", "parse_target", "register", "server_app"]

server_app = typer.Typer(
    help="Server state and weight at runtime, without a reload (recorded as a new version).",
    no_args_is_help=True,
)

TargetArg = Annotated[str, typer.Argument(metavar="BACKEND/SERVER", help="e.g. app/s1",
                                          show_default=False)]


def parse_target(value: str) -> tuple[str, str]:
    """``"app/s1"`` → ``("app", "s1")``; raises ``typer.BadParameter`` (exit 2) otherwise."""
    backend, sep, server = value.partition("/")
    if not sep or not backend or not server or "/" in server:
        raise typer.BadParameter(f"expected BACKEND/SERVER, got {value!r}",
                                 param_hint="BACKEND/SERVER")
    return backend, server


def _change(ctx: typer.Context, target: str, *, state: str | None = None,
            weight: int | None = None, as_json: bool = False) -> None:

    backend, server = parse_target(target)
    with agent_client(ctx) as client:
        version = client.get_config()[0]
        result = client.set_server(backend, server, if_match=version, state=state,
                                   weight=weight, author=author())
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    srv: dict[str, Any] = result["server"]
    how = f"version {result['version']}" if result.get("changed") else (
        f"unchanged at version {result['version']}")
    console().print(
        f"{backend}/{server}: {srv['state']}, weight {srv['weight']} (HAProxy: {srv['status']}, "
        f"weight {srv['runtime_weight']}); {how}, no reload"
    )


@server_app.command()
def drain(ctx: typer.Context, target: TargetArg, as_json: JsonOpt = False) -> None:
    """No new traffic to the server (weight 0 at runtime); health checks go on."""
    _change(ctx, target, state="drain", as_json=as_json)


@server_app.command()
def ready(ctx: typer.Context, target: TargetArg, as_json: JsonOpt = False) -> None:
    """Back to normal: the spec's weight, out of maintenance."""
    _change(ctx, target, state="ready", as_json=as_json)


@server_app.command()
def maint(ctx: typer.Context, target: TargetArg, as_json: JsonOpt = False) -> None:
    """Maintenance: no traffic at all, no health checks."""
    _change(ctx, target, state="maint", as_json=as_json)


@server_app.command()
def weight(
    ctx: typer.Context,
    target: TargetArg,
    value: Annotated[int, typer.Argument(metavar="N", help="0-256, relative to the other servers.",
                                         show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Set the server's weight (a drained server keeps weight 0 until `ready`)."""
    _change(ctx, target, weight=value, as_json=as_json)


def clients(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    clear: Annotated[str | None, typer.Option(
        "--clear", metavar="NAME", help="Clear this client's counters instead of listing.")
    ] = None,
    frontend: Annotated[str | None, typer.Option(
        "--frontend", help="With --clear: only in this frontend.")] = None,
) -> None:
    """Rate-limited clients: request rate now, requests waiting, delayed so far, 429s sent."""
    from rich.table import Table


    with agent_client(ctx) as client:
        data = client.clear_client(clear, frontend) if clear else client.clients()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    if clear:
        for c in data.get("cleared") or []:
            console().print(f"cleared the counters of {c['client']} in frontend {c['frontend']} "
                             f"(table {c['table']})")
        return
    table = Table("frontend", "client", "mode", "limit", "rate now", "waiting", "delayed",
                  "429s")
    for c in data.get("clients") or []:
        limit = f"{c['rate']}/s" + (f" burst {c['burst']}" if c["mode"] == "smooth" else "")
        table.add_row(c["frontend"], c["client"], c["mode"], limit, f"{c['request_rate']}/s",
                      cell(c.get("waiting")), str(c["delayed_total"]), str(c["rejected_total"]))
    console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``server`` (a command group) and ``clients`` to the main ``lbctl`` app."""
    app.add_typer(server_app, name="server")
    app.command("clients")(clients)
