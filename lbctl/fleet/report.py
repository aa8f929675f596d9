"""What a node tells the fleet about itself, and what it takes from the others' reports.

:func:`node_report` is the JSON a node keeps under ``nodes/<name>`` (with its lease) and
``members/<name>``; :func:`membership` turns the live nodes' reports into this node's render
context: how many nodes a smooth client's rate is split over, and the other nodes' peers.
"""

from __future__ import annotations

import time
from typing import Any

from lbctl.control.controller import Controller
from lbctl.fleet.options import FleetOptions

__all__ = ["membership", "node_report"]


def node_report(controller: Controller, options: FleetOptions,
                last_result: dict[str, Any] | None) -> dict[str, Any]:
    """``{"node", "agent", "peer" (its local peer's host:port), "applied_version" (the version
    it runs), "haproxy" (binary version), "healthy", "reasons" (its health), "last_result",
    "at" (epoch s)}``. Never raises."""
    core = controller.core
    health = controller.health()
    peer = core.peer_address or f"127.0.0.1:{core.spec.global_.peers_port}"
    return {"node": options.node, "agent": options.agent_url, "peer": peer,
            "applied_version": core.version,
            "haproxy": str(core.binary.version) if core.binary is not None else None,
            "healthy": bool(health.get("ok")), "reasons": list(health.get("reasons", [])),
            "last_result": last_result, "at": time.time()}


def membership(live: dict[str, dict[str, Any]], node: str) -> tuple[int, tuple[tuple[str, str], ...]]:
    """``(share, peers)`` for ``node`` from the ``live`` nodes' reports (by name): the number
    of live nodes, counting ``node`` itself, and the others' ``(name, peer host:port)``
    sorted by name."""
    share = len(set(live) | {node})
    peers = tuple(sorted((name, str(report["peer"])) for name, report in live.items()
                         if name != node and report.get("peer")))
    return share, peers
