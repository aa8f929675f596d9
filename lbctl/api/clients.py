"""Rate-limit visibility: ``GET /api/v1/clients`` and ``DELETE /api/v1/clients/{name}/counters``.

The counters live in HAProxy (stick tables, the Lua pacing action): see
:mod:`lbctl.control.clients` for where each number comes from. Neither route changes the spec:
no version, no ``If-Match``.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import answer, ok, problems
from lbctl.api.deps import ControllerDep
from lbctl.client.models import ClearedCounters, ClientsReport

__all__ = ["clients_router"]

clients_router = APIRouter(tags=["clients"])


@clients_router.get("/clients", summary="Per-client rate, waiting, delayed and 429 counters",
                    operation_id="get_clients", dependencies=[Depends(require_role("viewer"))],
                    responses={**ok(ClientsReport, "The counters"), **problems(502, 503)})
def get_clients(controller: ControllerDep) -> JSONResponse:
    """:class:`ClientsReport`: ``request_rate`` in requests/s over the last second (arrivals,
    delayed and refused ones included), ``waiting`` the requests held by the pacing action now
    (``null`` for ``mode: reject``), ``delayed_total`` / ``rejected_total`` (429s) counted
    since the entry was created; ``reload_keeps_counters`` is false during the first 5 s after
    HAProxy starts (a reload then would lose them; ``null`` without clients); ``checked_at``
    in epoch seconds."""
    return answer({**controller.clients(), "checked_at": time.time()})


@clients_router.delete(
    "/clients/{name}/counters",
    dependencies=[Depends(require_role("operator"))],
    operation_id="clear_client_counters",
    summary="Clear a client's counters (its stick-table entry)",
    responses={**ok(ClearedCounters, "Cleared"), **problems(400, 404, 422, 502, 503)},
)
def clear_client_counters(
    name: str,
    controller: ControllerDep,
    frontend: Annotated[str | None, Query(description="Only in this frontend")] = None,
) -> JSONResponse:
    """Remove ``name``'s entry in every frontend's table (or only ``frontend``'s):
    :class:`ClearedCounters`. 502 ``RuntimeAPIError`` when HAProxy refuses because a request
    of the client is in flight (try again)."""
    return answer({"cleared": controller.clear_client_counters(name, frontend)})
