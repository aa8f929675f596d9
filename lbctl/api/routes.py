"""The agent's routes: the spec (``/api/v1/config``), HAProxy (``/api/v1/haproxy``), health.

Handlers are thin: they take what :mod:`lbctl.api.deps` read from the request (the spec
body, the write headers), call the :class:`lbctl.control.controller.Controller`, and shape
the answer (:func:`lbctl.api.contract.answer`). Errors are raised, never built here:
:mod:`lbctl.api.errors` turns them into problem+json. Handlers that call the controller are
plain ``def`` so FastAPI runs them in its thread pool (the controller blocks on
``haproxy -c``, sockets and reloads).

Every route names the role it needs (``dependencies=[Depends(require_role(...))]``,
:mod:`lbctl.api.auth`): reads ``viewer``, ``POST /haproxy/reload`` ``operator``, config
writes and dry runs ``admin``. Every config write takes ``allow_empty`` (the confirm-to-empty
rule, :mod:`lbctl.control.guard`) and ``wait`` (:mod:`lbctl.api.operations`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from lbctl.api.auth import caller, require_role
from lbctl.api.contract import ETAG, SPEC_BODY, answer, ok, problems
from lbctl.api.deps import ControllerDep, NoteDep, SpecBody, WriteDep, header_text
from lbctl.api.operations import run_write
from lbctl.client.models import (
    ApplyOutcome,
    ConfigDocument,
    HAProxyStatus,
    HealthReport,
    Liveness,
    ReloadOutcome,
    ValidateOutcome,
)
from lbctl.control.source import read_live
from lbctl.errors import PolicyRefused
from lbctl.state.journal import audit

__all__ = ["AllowEmpty", "api_router", "audit_policy", "open_router"]

#: The confirmation of a write that would leave no listener or empty a backend in use.
AllowEmpty = Annotated[bool, Query(description=(
    "Confirm a write that leaves HAProxy with no frontend (no listener) or removes every "
    "server of a backend in use: without it such a write is a 409 ConfirmationRequired. "
    "Recorded in the history (confirmed)."))]

open_router = APIRouter(tags=["probe"])
api_router = APIRouter()


def audit_policy(request: Request, exc: PolicyRefused, what: str) -> None:
    """The audit line of a dry run (``what``: ``validate`` | ``plan``) the host policy refused
    (writes get theirs from the journal): ``who`` the token's name, ``target`` each refused
    directive and the field or line naming it (:meth:`PolicyRefused.refused`), ``result``
    ``invalid``, ``error`` ``"PolicyRefused: message"``."""
    controller = request.app.state.controller
    audit(what, who=caller(request), author=header_text(request.headers.get("x-lbctl-author")),
          message=header_text(request.headers.get("x-lbctl-message")), target=exc.refused(),
          version=controller.version, result="invalid", error=f"{type(exc).__name__}: {exc}")


@open_router.get("/healthz", summary="Liveness of the agent itself (no token)",
                 operation_id="get_liveness",
                 responses={**ok(Liveness, "The agent answers"), **problems(auth=False)})
def healthz() -> JSONResponse:
    """``{"status": "ok"}`` while the agent answers; says nothing about HAProxy."""
    return answer({"status": "ok"})


@api_router.get("/config", tags=["config"], summary="The current spec and its version",
                operation_id="get_config", dependencies=[Depends(require_role("viewer"))],
                responses={**ok(ConfigDocument, "The spec (the same shape PUT takes)",
                                etag_header=True), **problems()})
def get_config(controller: ControllerDep) -> JSONResponse:
    """``{"version": n, "spec": {...}}`` with ``ETag: "n"``."""
    version, spec = controller.current()
    return answer({"version": version, "spec": spec.to_data()}, version=version)


@api_router.put(
    "/config", dependencies=[Depends(require_role("admin"))], tags=["config"],
    operation_id="put_config", summary="Apply a spec: validate, write, reload, verify",
    openapi_extra=SPEC_BODY,
    responses={**ok(ApplyOutcome, "Applied (or unchanged)", etag_header=True, accepted=True),
               **problems(409, 412, 422, 428, 503)},
)
def put_config(request: Request, controller: ControllerDep, spec: SpecBody, write: WriteDep,
               allow_empty: AllowEmpty = False) -> JSONResponse:
    """Apply ``spec`` over the version named by ``If-Match``.

    Answers :class:`ApplyOutcome` with the new ``ETag``. ``X-Lbctl-Message`` and
    ``X-Lbctl-Author`` are kept with the change (history, audit), beside the token's name.
    The answer comes once HAProxy runs the new config (or refused it): never before. On every
    error nothing changes. ``wait=false``: 202 and an operation instead.
    """
    base = write.version(controller)

    def apply() -> dict[str, object]:
        return controller.apply(spec, if_match=base, who=write.who, author=write.author,
                                message=write.message, allow_empty=allow_empty).as_dict()

    return run_write(request, controller, write, "apply", base, apply)


@api_router.post(
    "/config/validate", dependencies=[Depends(require_role("admin"))], tags=["config"],
    operation_id="validate_config", summary="Dry run: render and check a spec, change nothing",
    openapi_extra=SPEC_BODY,
    responses={**ok(ValidateOutcome, "Checked (ok false: HAProxy rejected it)"),
               **problems(422, 503)},
)
def validate_config(request: Request, controller: ControllerDep, spec: SpecBody) -> JSONResponse:
    """:class:`ValidateOutcome`; 200 even when HAProxy rejects the text (``ok`` false, its
    alerts in ``diagnostics``). A line the host policy refuses is a 422 (never reaches
    ``haproxy -c``), with an audit line."""
    try:
        return answer(controller.validate(spec).as_dict())
    except PolicyRefused as exc:
        audit_policy(request, exc, "validate")
        raise


@api_router.get(
    "/config/source", dependencies=[Depends(require_role("viewer"))], tags=["config"],
    operation_id="get_config_source", summary="The live haproxy.cfg",
    response_class=PlainTextResponse,
    responses={200: {"description": "The live haproxy.cfg", "headers": ETAG,
                     "content": {"text/plain": {"schema": {"type": "string"}}}},
               **problems()},
)
def config_source(controller: ControllerDep, background: BackgroundTasks) -> PlainTextResponse:
    """The bytes HAProxy runs with, as ``text/plain; charset=utf-8``, and the ``ETag`` of the
    version they were rendered from. Once answered, the agent reads that text as the source
    view's first *validate* will read its edit (:func:`lbctl.control.source.read_live`), so
    that press finds the lines it did not change kept."""
    version = controller.version
    background.add_task(read_live, controller)
    return PlainTextResponse(controller.config_source(), headers={"ETag": f'"{version}"'})


@api_router.get(
    "/health", dependencies=[Depends(require_role("viewer"))], tags=["haproxy"],
    operation_id="get_health", summary="Backend and server health",
    responses={**ok(HealthReport, "Healthy"),
               503: {"description": "HAProxy is down, the spec has no listener, or a backend "
                                    "has no usable server (the same report; reasons says "
                                    "why)", "model": HealthReport},
               **problems()},
)
def health(controller: ControllerDep) -> Response:
    """:class:`HealthReport`; 200 when ``ok``, 503 otherwise, with the same body.

    The JSON of pydantic-core's ``to_json`` (Rust) rather than :func:`answer`'s ``json``,
    and the backends' part written as text row by row while ``show stat`` arrives
    (:meth:`Controller.health_body`), which counts at 50,000 servers (tests/bench/README.md,
    "Health and clients at scale")."""
    ok, body = controller.health_body()
    return Response(body, status_code=200 if ok else 503, media_type="application/json")


@api_router.get("/haproxy", tags=["haproxy"], summary="HAProxy process status",
                operation_id="get_haproxy_status", dependencies=[Depends(require_role("viewer"))],
                responses={**ok(HAProxyStatus, "Status"), **problems()})
def haproxy_status(controller: ControllerDep) -> JSONResponse:
    """:class:`HAProxyStatus`; ``policy`` is the host policy in force
    (:meth:`lbctl.spec.policy.HostPolicy.describe`), fixed when the agent started."""
    return answer({**controller.status(), "policy": controller.policy.describe()})


@api_router.post(
    "/haproxy/reload", dependencies=[Depends(require_role("operator"))], tags=["haproxy"],
    operation_id="reload_haproxy", summary="Reload HAProxy with the live config",
    responses={**ok(ReloadOutcome, "Reloaded"), **problems(409, 422, 503)},
)
def haproxy_reload(controller: ControllerDep, write: NoteDep) -> JSONResponse:
    """The reload (:class:`ReloadOutcome`); recorded in the history (no new version) and
    audited. Needs no ``If-Match`` (it changes no version)."""
    result = controller.reload_now(who=write.who, author=write.author, message=write.message)
    return answer(result.as_dict(), version=controller.version)
