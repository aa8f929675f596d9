"""Rate-limit visibility: ``GET /api/v1/clients`` and ``DELETE /api/v1/clients/{name}/counters``.

The counters live in HAProxy (stick tables, the Lua pacing action): see
:mod:`lbctl.control.clients` for where each number comes from. Neither route changes the spec:
no version, no ``If-Match``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from lbctl.api.auth import require_role
from lbctl.api.routes import AUTH_RESPONSES, PROBLEM_CONTENT, ControllerDep

__all__ = ["clients_router"]

clients_router = APIRouter(tags=["clients"], responses=AUTH_RESPONSES)

_HAPROXY_ERRORS: dict[int | str, dict[str, Any]] = {
    502: {"description": "A runtime API round trip failed", **PROBLEM_CONTENT},
    503: {"description": "HAProxy is not running", **PROBLEM_CONTENT},
}


@clients_router.get("/clients", summary="Per-client rate, waiting, delayed and 429 counters",
                    responses=_HAPROXY_ERRORS, dependencies=[Depends(require_role("viewer"))])
def get_clients(controller: ControllerDep) -> dict[str, Any]:
    """``{"clients": [{"frontend", "client", "path_prefix", "mode", "rate", "burst", "table",
    "request_rate", "waiting", "delayed_total", "rejected_total", "expires_in_ms"}],
    "reload_keeps_counters", "checked_at"}``: ``request_rate`` in requests/s over the last
    second (arrivals, delayed and refused ones included), ``waiting`` the requests held by the
    pacing action now (``null`` for ``mode: reject``), ``delayed_total`` / ``rejected_total``
    (429s) counted since the entry was created; ``reload_keeps_counters`` is false during the
    first 5 s after HAProxy starts (a reload then would lose them; ``null`` without clients);
    ``checked_at`` in epoch seconds."""
    return {**controller.clients(), "checked_at": time.time()}


@clients_router.delete(
    "/clients/{name}/counters",
    dependencies=[Depends(require_role("operator"))],
    summary="Clear a client's counters (its stick-table entry)",
    responses={404: {"description": "No such client in the spec", **PROBLEM_CONTENT},
               **_HAPROXY_ERRORS},
)
def clear_client_counters(
    name: str,
    controller: ControllerDep,
    frontend: Annotated[str | None, Query(description="Only in this frontend")] = None,
) -> dict[str, Any]:
    """Remove ``name``'s entry in every frontend's table (or only ``frontend``'s):
    ``{"cleared": [{"frontend", "client", "table"}]}``. 502 ``RuntimeAPIError`` when HAProxy
    refuses because a request of the client is in flight (try again)."""
    return {"cleared": controller.clear_client_counters(name, frontend)}
