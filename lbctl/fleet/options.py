"""How a node takes part in a fleet: :class:`FleetOptions` (``lbctl serve --fleet ...``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FleetOptions"]


@dataclass(frozen=True)
class FleetOptions:
    """How a node takes part: the etcd ``url``, this ``node``'s name (unique in the fleet),
    the ``fleet`` name (key prefix ``/lbctl/<fleet>/``), the lease ``ttl_s`` (seconds), the
    proposal ``deadline_s`` (seconds every live node has to give its verdict), the loop's
    ``poll_s`` (seconds) and ``agent_url`` (this node's API, shown in the fleet status)."""

    url: str
    node: str
    fleet: str = "default"
    ttl_s: int = 10
    deadline_s: float = 10.0
    poll_s: float = 0.2
    agent_url: str = ""
