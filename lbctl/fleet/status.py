"""The fleet as one node sees it: every node, live or not, what it runs, and a summary.

:func:`fleet_status` is what ``GET /api/v1/fleet`` answers and ``lbctl fleet status`` shows.
It reads etcd once (the live nodes, whose lease is held, and every node's last report); when
etcd cannot be reached it answers from the node's last view, with ``etcd.reachable`` false.
"""

from __future__ import annotations

import time
from typing import Any

from lbctl.errors import FleetUnavailable
from lbctl.fleet.member import FleetMember

__all__ = ["fleet_status", "single_node_status"]


def single_node_status(version: int) -> dict[str, Any]:
    """The answer of an agent started without ``--fleet``: ``mode`` ``single``, no nodes."""
    return {"mode": "single", "fleet": None, "node": None, "etcd": None,
            "committed_version": version, "nodes": [],
            "summary": {"ok": True, "live": 1, "nodes": 1, "lagging": [], "unhealthy": [],
                        "failed": []}}


def fleet_status(member: FleetMember) -> dict[str, Any]:
    """``{"mode": "fleet", "fleet", "node" (this one), "etcd": {"endpoint", "reachable",
    "error", "down_since"}, "committed_version", "nodes": [{"name", "live", "agent", "peer",
    "applied_version", "haproxy", "healthy", "reasons", "last_result", "lagging",
    "reported_at"}], "summary": {"ok", "live", "nodes", "lagging", "unhealthy", "failed"}}``.

    A live node ``lags`` when the version it runs is not the committed one; ``failed`` lists
    live nodes whose last apply failed; ``ok`` is false when etcd is away or any live node
    lags or is unhealthy. Never raises."""
    store = member.store
    try:
        committed = store.committed()
        live, members = store.nodes()
        version = committed.version if committed else None
        reachable, error = True, None
    except FleetUnavailable as exc:
        live, members = member.view
        version, reachable, error = member.committed_version, False, str(exc)
    nodes: list[dict[str, Any]] = []
    for name in sorted(set(members) | set(live)):
        report = live.get(name) or members[name]
        is_live = name in live
        applied = report.get("applied_version")
        nodes.append({
            "name": name, "live": is_live, "agent": report.get("agent") or "",
            "peer": report.get("peer"),
            "applied_version": applied, "haproxy": report.get("haproxy"),
            "healthy": bool(report.get("healthy")), "reasons": list(report.get("reasons") or []),
            "last_result": report.get("last_result"),
            "lagging": is_live and version is not None and applied != version,
            "reported_at": report.get("at"),
        })
    lagging = [n["name"] for n in nodes if n["lagging"]]
    unhealthy = [n["name"] for n in nodes if n["live"] and not n["healthy"]]
    failed = [n["name"] for n in nodes
              if n["live"] and n["last_result"] and not n["last_result"].get("ok")]
    return {
        "mode": "fleet", "fleet": member.options.fleet, "node": member.options.node,
        "etcd": {"endpoint": store.endpoint, "reachable": reachable, "error": error,
                 "down_since": member.etcd_down_since if not reachable else None},
        "committed_version": version, "nodes": nodes,
        "summary": {"ok": reachable and not lagging and not unhealthy,
                    "live": sum(n["live"] for n in nodes), "nodes": len(nodes),
                    "lagging": lagging, "unhealthy": unhealthy, "failed": failed},
        "checked_at": time.time(),
    }
