"""Ping from the load balancer's host: ``POST /api/v1/backends/{backend}/servers/{server}/ping``
(operator) and ``POST /api/v1/ping`` (admin, an address not yet in the spec).

Each call sends one bounded HTTP request from the agent's host and answers
:class:`PingOutcome` — a 200 whether the server answered or not (``ok``, the phases in
milliseconds, ``error`` with the phase and kind of a failure): see :mod:`lbctl.control.ping`.
At most :data:`lbctl.control.ping.MAX_IN_FLIGHT` pings run at once per agent; one more is a
429 (:class:`lbctl.errors.Busy`). Nothing is written to the spec or the history; every ping
leaves one audit line (``what`` ``ping``; ``X-Lbctl-Author`` / ``X-Lbctl-Message`` kept).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import answer, ok, problems
from lbctl.api.deps import ControllerDep, NoteDep
from lbctl.api.errors import PROBLEM_JSON
from lbctl.client.ping_models import AddressPing, PingOutcome, ServerPing
from lbctl.control.ping import PingGate, PingTarget, run_ping, server_target

__all__ = ["ping_router"]

ping_router = APIRouter(tags=["servers"])

#: The 429 of a ping refused because every slot is taken.
_BUSY: dict[int | str, dict[str, Any]] = {429: {
    "description": "Too many pings in flight; retry_after_s says when to try again (Busy)",
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}}


def _gate(request: Request) -> PingGate:
    """The app's :class:`PingGate` (``app.state.ping_gate``), made on first use."""
    gate = getattr(request.app.state, "ping_gate", None)
    if not isinstance(gate, PingGate):
        gate = request.app.state.ping_gate = PingGate()
    return gate


@ping_router.post(
    "/backends/{backend}/servers/{server}/ping",
    dependencies=[Depends(require_role("operator"))],
    operation_id="ping_server",
    summary="Ping a server of the spec from the load balancer's host (HEAD by default)",
    responses={**ok(PingOutcome, "The ping ran: ok, the phases, or where it failed"),
               **_BUSY, **problems(404, 422)},
)
async def post_server_ping(
    request: Request,
    backend: str,
    server: str,
    controller: ControllerDep,
    note: NoteDep,
    body: Annotated[ServerPing | None, Body()] = None,
) -> JSONResponse:
    """One request from the agent's host to ``backend``/``server``'s address and port.

    ``method`` HEAD (default), GET or OPTIONS; ``path`` defaults to the backend's
    health-check path, else ``/``; ``timeout_s`` (default 2, at most 10) bounds the whole
    ping. ``tls`` ``inherit`` means the server's TLS settings: over TLS when the server has
    ``tls``, verified against its ``ca`` from the certificate store, with its ``sni``.
    Raises :class:`NotFound` (404) for a backend or server the spec does not have,
    :class:`Busy` (429).
    """
    asked = body or ServerPing()
    _, spec = await run_in_threadpool(controller.current)  # waits for a write under way
    target = server_target(spec, backend, server, method=asked.method, path=asked.path,
                           timeout_s=asked.timeout_s, state_root=controller.state.root)
    result = await run_ping(target, _gate(request), who=note.who, author=note.author,
                            message=note.message)
    return answer(result.as_dict())


@ping_router.post(
    "/ping",
    dependencies=[Depends(require_role("admin"))],
    operation_id="ping_address",
    summary="Ping an address not (yet) in the spec from the load balancer's host",
    responses={**ok(PingOutcome, "The ping ran: ok, the phases, or where it failed"),
               **_BUSY, **problems(422)},
)
async def post_address_ping(request: Request, body: AddressPing, note: NoteDep) -> JSONResponse:
    """One request from the agent's host to ``address``:``port`` (before adding a server).

    ``address`` and ``path`` pass the spec's validators (422 naming ``body.address`` /
    ``body.path``); private-range IP literals are allowed (an internal tool). ``tls`` true
    verifies the certificate against the system CA bundle of the agent's host, with the
    address as SNI. Raises :class:`Busy` (429).
    """
    target = PingTarget(body.address, body.port, body.method, body.path, body.timeout_s,
                        body.tls)
    result = await run_ping(target, _gate(request), who=note.who, author=note.author,
                            message=note.message)
    return answer(result.as_dict())
