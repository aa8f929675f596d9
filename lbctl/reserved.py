"""The one reserved prefix: names starting with ``lbctl`` belong to lbctl.

Spec names may not use it (:mod:`lbctl.spec.types`), sections lbctl writes itself use it
(:mod:`lbctl.render.names`), and the runtime API hides proxies that carry it
(:mod:`lbctl.haproxy.runtime`).
"""

from __future__ import annotations

__all__ = ["INTERNAL_PREFIX", "RESERVED_PREFIX", "is_reserved"]

#: Names starting with this (any case) are lbctl's own.
RESERVED_PREFIX = "lbctl"
#: The prefix of every proxy and ACL lbctl renders itself (``lbctl_clients_<frontend>``).
INTERNAL_PREFIX = RESERVED_PREFIX + "_"


def is_reserved(name: str) -> bool:
    """True when ``name`` starts with :data:`RESERVED_PREFIX`, in any case."""
    return name.lower().startswith(RESERVED_PREFIX)
