"""The health report of one HAProxy, for ``/api/v1/health``, ``lbctl health`` and monitors.

:func:`health_report` turns what the controller knows (is the master running, why not) and
what the runtime API says (``show stat``: every backend and server, :mod:`lbctl.haproxy.runtime`)
into one JSON-ready dict whose ``ok`` is false exactly when a monitor should page: HAProxy is
down, its health cannot be read, or a backend has no usable server. ``reasons`` says which,
in words.
"""

from __future__ import annotations

import time
from typing import Any

from lbctl.errors import HAProxyError
from lbctl.haproxy.runtime import RuntimeClient

__all__ = ["health_report"]


def health_report(
    running: bool, unavailable: str | None, runtime: RuntimeClient, supervision: dict[str, Any]
) -> dict[str, Any]:
    """``{"ok", "haproxy": {"running", "unavailable"}, "backends": [...], "reasons",
    "checked_at": epoch seconds, "supervision"}``.

    ``running`` is whether a verified master runs; ``unavailable`` why HAProxy is not there
    (``None`` for "not running"); ``runtime`` reads ``show stat`` (each call bounded by its
    timeout); ``supervision`` is passed through (:meth:`lbctl.control.recovery.Recovery.report`).
    ``backends`` holds :meth:`lbctl.haproxy.runtime.BackendHealth.as_dict` per backend.
    Never raises: an unreadable runtime API is a reason (``health unknown: ...``).
    """
    reasons: list[str] = []
    backends: list[dict[str, Any]] = []
    if not running:
        reasons.append(unavailable or "HAProxy is not running")
    else:
        try:
            for be in runtime.backends_health():
                backends.append(be.as_dict())
                if not be.usable:
                    states = ", ".join(f"{s.server} {s.status}" for s in be.servers)
                    reasons.append(
                        f"backend {be.name} has no usable server ({states or 'no servers'})"
                    )
        except HAProxyError as exc:
            reasons.append(f"health unknown: runtime API: {exc}")
    return {
        "ok": not reasons,
        "haproxy": {"running": running, "unavailable": None if running else reasons[0]},
        "backends": backends,
        "reasons": reasons,
        "checked_at": time.time(),
        "supervision": supervision,
    }
