"""Asynchronous writes: ``?wait=false`` → 202 and ``GET /api/v1/operations/{id}``.

Every write (``PUT /config``, ``PUT /config/source``, ``POST /config/versions/{n}/rollback``,
``PUT /backends/{b}/servers/{s}/state``) goes through :func:`run_write`. By default it runs
the write and answers its outcome (200, ``ETag``). With ``wait=false`` the request is
checked first (body, ``If-Match`` present and naming a version that is current: 422 / 428 /
412 at once), then answered 202 with an :class:`lbctl.client.models.Operation`,
``Location: /api/v1/operations/{id}`` and ``X-Request-Id: {id}`` (the correlation id); the
write runs in a thread, one at a time like every write (the controller's lock), and its
outcome — the document the synchronous call answers, or its problem+json — is stored in the
history database (:class:`lbctl.state.operations.Operations`). An operation still pending
when the agent stops reads ``failed`` after the restart, with the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import answer, ok, problems
from lbctl.api.deps import WriteHeaders, etag
from lbctl.api.errors import problem_body
from lbctl.client.models import Operation
from lbctl.control.controller import Controller
from lbctl.errors import LbctlError, PreconditionRequired, VersionConflict
from lbctl.state.operations import INTERRUPTED, Operations

__all__ = ["interrupted_problem", "operations_router", "run_write"]

_log = logging.getLogger("lbctl.api")

operations_router = APIRouter(tags=["operations"])


def interrupted_problem() -> dict[str, Any]:
    """The problem+json of an operation the agent's restart interrupted."""
    return {"type": "urn:lbctl:problem:operation-interrupted", "title": "Operation interrupted",
            "status": 500, "detail": INTERRUPTED, "error": "OperationInterrupted"}


def _operations(request: Request) -> Operations:
    ops: Operations = request.app.state.operations
    return ops


def run_write(request: Request, controller: Controller, write: WriteHeaders, kind: str,
              base: int | None, fn: Callable[[], dict[str, Any]]) -> JSONResponse:
    """Run ``fn`` (the write, answering a dict with ``version``) now, or with
    ``write.wait`` false in a thread, as operation ``kind`` over ``base`` (module docstring)."""
    if write.wait:
        data = fn()
        return answer(data, version=int(data["version"]))
    if base is None:
        raise PreconditionRequired(f'If-Match must name the version being edited, e.g. '
                                   f'If-Match: "{controller.version}"')
    if base != controller.version:
        raise VersionConflict(base, controller.version)
    ops = _operations(request)
    record = ops.create(kind, write.who)

    def work() -> None:
        try:
            result = fn()
        except LbctlError as exc:
            ops.finish(record.id, problem=problem_body(exc))
        except Exception as exc:  # a bug: logged, stored as a 500 problem
            _log.exception("operation %s (%s) failed", record.id, kind)
            ops.finish(record.id, problem={
                "type": "about:blank", "title": "Internal Server Error", "status": 500,
                "detail": f"unexpected {type(exc).__name__}; see the agent log"})
        else:
            ops.finish(record.id, result=result)

    threading.Thread(target=work, name=f"lbctl-operation-{record.id[:8]}", daemon=True).start()
    location = f"{request.scope.get('root_path', '')}/api/v1/operations/{record.id}"
    return answer(record.as_dict(), status=202,
                  headers={"Location": location, "X-Request-Id": record.id,
                           "ETag": etag(controller.version)})


@operations_router.get(
    "/operations/{operation_id}", operation_id="get_operation",
    summary="The outcome of an asynchronous write",
    dependencies=[Depends(require_role("viewer"))],
    responses={**ok(Operation, "pending, succeeded (result: what the synchronous call "
                               "answers) or failed (problem)"), **problems(404, 422)},
)
def get_operation(
    request: Request,
    operation_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$",
                                      description="the id a 202 answered")],
) -> JSONResponse:
    """The operation (:class:`lbctl.client.models.Operation`)."""
    return answer(_operations(request).get(operation_id).as_dict())


