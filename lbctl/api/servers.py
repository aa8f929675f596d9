"""Runtime server operations: ``PUT /api/v1/backends/{backend}/servers/{server}/state``.

A server's state (``ready`` | ``drain`` | ``maint``) and weight change through HAProxy's
runtime API, without a reload, and are recorded as a new spec version (the live
``haproxy.cfg`` is re-rendered, so a later reload keeps them): see
:meth:`lbctl.control.controller.Controller.set_server` and :mod:`lbctl.control.servers`. Like every
write it names the version it edits with ``If-Match`` and answers the new ``ETag``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import SERVER_STATE_BODY, ok, problems
from lbctl.api.deps import ControllerDep, WriteDep, server_state_body
from lbctl.api.operations import run_write
from lbctl.client.models import ServerOutcome, ServerStateChange

__all__ = ["servers_router"]

servers_router = APIRouter(tags=["servers"])


@servers_router.put(
    "/backends/{backend}/servers/{server}/state",
    dependencies=[Depends(require_role("operator"))],
    operation_id="set_server_state",
    summary="Set a server's state and weight at runtime (no reload), as a new version",
    openapi_extra=SERVER_STATE_BODY,
    responses={**ok(ServerOutcome, "Set and read back", etag_header=True, accepted=True),
               **problems(400, 404, 412, 422, 428, 502, 503)},
)
def put_server_state(
    request: Request,
    backend: str,
    server: str,
    body: Annotated[ServerStateChange, Depends(server_state_body)],
    controller: ControllerDep,
    write: WriteDep,
) -> JSONResponse:
    """Apply ``body`` to ``backend``/``server`` over the version named by ``If-Match``.

    Answers :class:`ServerOutcome` (the server as ``show stat`` reads it back) with the new
    ``ETag``; ``changed`` is false when the spec already said so (the runtime is set again all
    the same). ``drain`` sends no new traffic (weight 0 at runtime, the spec keeps ``weight``
    for ``ready``); ``maint`` stops all traffic and health checks. Recorded in the history
    and audited like every write (``X-Lbctl-Author``, ``X-Lbctl-Message``).
    """
    base = write.version(controller)

    def apply() -> dict[str, object]:
        return controller.set_server(
            backend, server, state=body.state, weight=body.weight, if_match=base, who=write.who,
            author=write.author, message=write.message).as_dict()

    return run_write(request, controller, write, "server", base, apply)
