"""``lbctl fleet status`` and the fleet options of ``lbctl serve``.

``lbctl serve --fleet URL --node NAME`` (``$LBCTL_FLEET``, ``$LBCTL_NODE``; ``--fleet-name``,
default ``default``; ``--fleet-ttl``, ``--fleet-deadline``) makes the agent a node of a fleet
sharing one desired state in etcd (:mod:`lbctl.fleet`); ``--peer-address`` is where this
node's local peer listens (the peers section lists every live node's, so stick tables are
shared). Without ``--fleet`` nothing changes.

``lbctl fleet status`` prints every node (live or not, the version it runs, its last apply,
its health) as a table, or ``--json``; it exits 1 when etcd cannot be reached or a live node
lags behind the committed version or is unhealthy, so a runbook can rely on it.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from lbctl.cli.options import JsonOpt, agent_client, cell, console
from lbctl.fleet.options import FleetOptions

__all__ = ["FleetDeadlineOpt", "FleetNameOpt", "FleetOpt", "FleetTtlOpt", "NodeOpt",
           "PeerAddressOpt", "fleet_options", "peer_address", "register", "status"]

FleetOpt = Annotated[str | None, typer.Option(
    "--fleet", envvar="LBCTL_FLEET", metavar="URL",
    help="Join a fleet whose desired state lives in the etcd at URL (http://127.0.0.1:2379): "
    "every write is proposed to every live node and committed only if all of them accept it. "
    "Needs --node. Without it the agent is a single node.")]
NodeOpt = Annotated[str | None, typer.Option(
    "--node", envvar="LBCTL_NODE", metavar="NAME",
    help="This node's name in the fleet (unique; letters, digits, . _ -).")]
FleetNameOpt = Annotated[str, typer.Option(
    "--fleet-name", envvar="LBCTL_FLEET_NAME",
    help="The fleet's name: its keys live under /lbctl/<name>/ in etcd.")]
FleetTtlOpt = Annotated[int, typer.Option(
    "--fleet-ttl", envvar="LBCTL_FLEET_TTL", metavar="SECONDS", min=2, max=3600,
    help="This node's etcd lease: it stops counting as live this long after it stops "
    "answering (kept alive every third of it).")]
FleetDeadlineOpt = Annotated[float, typer.Option(
    "--fleet-deadline", envvar="LBCTL_FLEET_DEADLINE", metavar="SECONDS", min=0.5, max=600,
    help="How long a proposal waits for every live node's verdict before it is refused.")]
PeerAddressOpt = Annotated[str | None, typer.Option(
    "--peer-address", envvar="LBCTL_PEER_ADDRESS", metavar="HOST:PORT",
    help="Where this node's local peer (the peers section sharing stick tables) listens and "
    "the other fleet nodes reach it; default 127.0.0.1 and the spec's global.peers_port. "
    "Needed when several nodes share a host, or for peers on other hosts.")]


def fleet_options(url: str | None, node: str | None, name: str, listen: str, *,
                  ttl_s: int = 10, deadline_s: float = 10.0) -> FleetOptions | None:
    """The :class:`FleetOptions` of ``serve``'s options (``None`` without ``--fleet``);
    raises :class:`typer.BadParameter` for a missing or bad ``--node`` or ``--fleet``."""
    from lbctl.fleet.store import INSTALL_HINT, FleetStore, etcd_client_installed
    from lbctl.spec.types import NAME_RE

    if not url:
        if node:
            raise typer.BadParameter("--node needs --fleet URL", param_hint="--node")
        return None
    for value, hint in ((node, "--node"), (name, "--fleet-name")):
        if not value or not NAME_RE.match(value):
            raise typer.BadParameter(f"give a name matching {NAME_RE.pattern}", param_hint=hint)
    assert node is not None
    if not etcd_client_installed():
        raise typer.BadParameter(INSTALL_HINT, param_hint="--fleet")
    try:
        FleetStore(url, name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--fleet") from None
    return FleetOptions(url, node, name, ttl_s=ttl_s, deadline_s=deadline_s,
                        agent_url=f"http://{listen}")


def peer_address(value: str | None) -> str | None:
    """``--peer-address`` as ``host:port`` (an IPv6 host in brackets); raises
    :class:`typer.BadParameter` unless it is a host (IP literal or RFC 1123 name) and a port."""
    if value is None:
        return None
    from lbctl.spec.address import Address
    from lbctl.spec.types import valid_host

    try:
        where = Address.parse(value.strip())
        valid_host(where.host)
        if not 1 <= where.port <= 65535:
            raise ValueError("the port must be 1-65535")
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r}: {exc}", param_hint="--peer-address") from None
    return str(where)


def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every node of the fleet: live, applied version, last apply, health. Exit 1 when etcd is
    away or a live node lags or is unhealthy."""
    with agent_client(ctx) as client:
        data = client.fleet()
    summary = data.get("summary") or {}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        raise typer.Exit(0 if summary.get("ok") else 1)
    out = console()
    if data.get("mode") != "fleet":
        out.print(f"single node (no --fleet): version {data.get('committed_version')}")
        raise typer.Exit(0)
    etcd = data.get("etcd") or {}
    table = Table("node", "live", "applied", "haproxy", "health", "last apply", "agent")
    for node in data.get("nodes") or []:
        table.add_row(node["name"], _live(node), _applied(node), cell(node.get("haproxy")),
                      _health(node), _last(node.get("last_result")), cell(node.get("agent")))
    out.print(f"fleet {data.get('fleet')} (seen from node {data.get('node')}): committed "
              f"version {data.get('committed_version')}; etcd {etcd.get('endpoint')} "
              f"{'reachable' if etcd.get('reachable') else 'UNREACHABLE'}")
    out.print(table)
    problems = [*(f"{n} lags" for n in summary.get("lagging") or []),
                *(f"{n} unhealthy" for n in summary.get("unhealthy") or [])]
    if not etcd.get("reachable"):
        problems.insert(0, f"etcd unreachable: {etcd.get('error')}")
    verdict = "ok" if summary.get("ok") else "NOT OK: " + "; ".join(problems)
    out.print(Text(f"fleet: {summary.get('live')} of {summary.get('nodes')} live, {verdict}",
                   style="green" if summary.get("ok") else "bold red"))
    raise typer.Exit(0 if summary.get("ok") else 1)


def _live(node: dict[str, Any]) -> Text:
    return Text("live", style="green") if node.get("live") else Text("gone", style="yellow")


def _applied(node: dict[str, Any]) -> Text:
    version = str(node.get("applied_version"))
    return Text(f"{version} (lags)", style="bold red") if node.get("lagging") else Text(version)


def _health(node: dict[str, Any]) -> Text:
    if node.get("healthy"):
        return Text("ok", style="green")
    return Text("; ".join(node.get("reasons") or []) or "not ok", style="bold red")


def _last(result: dict[str, Any] | None) -> Text:
    if not result:
        return Text("-")
    ago = time.time() - float(result.get("at") or time.time())
    if result.get("ok"):
        return Text(f"v{result.get('version')} {result.get('result')} {ago:.0f}s ago")
    return Text(f"v{result.get('version')} FAILED: {result.get('error')}", style="bold red")


def register(app: typer.Typer) -> None:
    """Add the ``fleet`` group (``lbctl fleet status``) to the main ``lbctl`` app."""
    group = typer.Typer(help="The fleet: nodes sharing one desired state in etcd.",
                        no_args_is_help=True)
    group.command("status")(status)
    app.add_typer(group, name="fleet")
