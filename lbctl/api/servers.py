"""Runtime server operations: ``PUT /api/v1/backends/{backend}/servers/{server}/state``.

A server's state (``ready`` | ``drain`` | ``maint``) and weight change through HAProxy's
runtime API, without a reload, and are recorded as a new spec version (the live
``haproxy.cfg`` is re-rendered, so a later reload keeps them): see
:meth:`lbctl.control.controller.Controller.set_server` and :mod:`lbctl.control.servers`. Like every
write it names the version it edits with ``If-Match`` and answers the new ``ETag``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from lbctl.api.auth import CallerDep, require_role
from lbctl.api.routes import (
    AUTH_RESPONSES,
    PROBLEM_CONTENT,
    ControllerDep,
    etag,
    header_text,
    parse_if_match,
)

__all__ = ["ServerStateBody", "servers_router"]

servers_router = APIRouter(tags=["servers"], responses=AUTH_RESPONSES)


class ServerStateBody(BaseModel):
    """The body: ``state`` and/or ``weight`` (at least one). ``drain`` sends no new traffic
    (weight 0 at runtime, the spec keeps ``weight`` for ``ready``); ``maint`` stops all
    traffic and health checks. ``weight`` is 0–256, relative to the other servers."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["ready", "drain", "maint"] | None = None
    weight: int | None = Field(default=None, ge=0, le=256)


@servers_router.put(
    "/backends/{backend}/servers/{server}/state",
    dependencies=[Depends(require_role("operator"))],
    summary="Set a server's state and weight at runtime (no reload), as a new version",
    responses={
        404: {"description": "No such backend or server", **PROBLEM_CONTENT},
        412: {"description": "If-Match names a stale version; nothing changed", **PROBLEM_CONTENT},
        422: {"description": "Invalid state or weight", **PROBLEM_CONTENT},
        428: {"description": "If-Match missing", **PROBLEM_CONTENT},
        502: {"description": "HAProxy refused the change or the read-back disagrees; the "
                             "runtime was reset and nothing was recorded", **PROBLEM_CONTENT},
        503: {"description": "HAProxy is not running", **PROBLEM_CONTENT},
    },
)
def put_server_state(
    backend: str,
    server: str,
    body: ServerStateBody,
    controller: ControllerDep,
    response: Response,
    who: CallerDep,
    if_match: Annotated[str | None, Header()] = None,
    x_lbctl_author: Annotated[str | None, Header()] = None,
    x_lbctl_message: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Apply ``body`` to ``backend``/``server`` over the version named by ``If-Match``.

    Answers ``{"version", "changed", "server": {"backend", "server", "state", "weight",
    "runtime_weight", "status", "status_raw", "check_status", "usable"}}`` (the server as
    ``show stat`` reads it back) with the new ``ETag``; ``changed`` is false when the spec
    already said so (the runtime is set again all the same). Recorded in the history and
    audited like every write (``X-Lbctl-Author``, ``X-Lbctl-Message``).
    """
    result = controller.set_server(
        backend, server, state=body.state, weight=body.weight,
        if_match=parse_if_match(if_match), who=who, author=header_text(x_lbctl_author),
        message=header_text(x_lbctl_message),
    )
    response.headers["ETag"] = etag(result.version)
    return result.as_dict()
