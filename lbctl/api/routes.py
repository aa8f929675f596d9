"""The agent's routes: the spec (``/api/v1/config``), HAProxy (``/api/v1/haproxy``), health.

Handlers are thin: they parse the request (spec body, ``If-Match``), call the
:class:`lbctl.control.controller.Controller`, and shape the answer. Errors are raised, never built
here: :mod:`lbctl.api.errors` turns them into problem+json. Handlers that call the controller
are plain ``def`` so FastAPI runs them in its thread pool (the controller blocks on
``haproxy -c``, sockets and reloads).

Every route names the role it needs (``dependencies=[Depends(require_role(...))]``,
:mod:`lbctl.api.auth`): reads ``viewer``, ``POST /haproxy/reload`` ``operator``, config
writes and dry runs ``admin``.

Versions travel as entity tags: ``ETag: "7"`` on reads and writes, ``If-Match: "7"`` (or a
bare ``7``) on writes (RFC 9110 §8.8.3, §13.1.1).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from lbctl.api.auth import CallerDep, caller, require_role
from lbctl.api.errors import PROBLEM_JSON
from lbctl.control.controller import Controller
from lbctl.errors import FieldError, LbctlError, PolicyRefused, PreconditionRequired, SpecError
from lbctl.spec import Spec, parse_spec_text, validate_spec
from lbctl.state.journal import audit

__all__ = [
    "AUTH_RESPONSES",
    "PROBLEM_CONTENT",
    "ControllerDep",
    "api_router",
    "audit_policy",
    "audit_refused",
    "etag",
    "get_controller",
    "header_text",
    "open_router",
    "parse_if_match",
    "spec_from_body",
]

#: Media types read as JSON; any other body is read as YAML (JSON is YAML anyway).
_JSON_TYPES = ("application/json", "")

#: OpenAPI ``content`` of a problem+json answer: ``{404: {"description": ..., **PROBLEM_CONTENT}}``.
PROBLEM_CONTENT = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
#: The 401 and 403 every token-protected router declares.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong bearer token", **PROBLEM_CONTENT},
    403: {"description": "The token's role is not enough (required_role names the one "
                         "needed)", **PROBLEM_CONTENT},
}
_SPEC_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A spec as JSON, or as YAML with Content-Type: application/yaml.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Spec"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


def get_controller(request: Request) -> Controller:
    """FastAPI dependency: the app's controller (``app.state.controller``)."""
    controller: Controller = request.app.state.controller
    return controller


ControllerDep = Annotated[Controller, Depends(get_controller)]


def etag(version: int) -> str:
    """The strong entity tag of a spec version: ``7`` → ``"7"`` (quotes included)."""
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """``If-Match`` → the version it names; ``None`` when the header is absent.

    Accepts ``"7"`` and ``7``. Raises :class:`PreconditionRequired` for anything else
    (``*``, weak tags, lists): a write must name exactly the version it edits.
    """
    if value is None:
        return None
    tag = value.strip()
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    if not tag.isascii() or not tag.isdigit():
        raise PreconditionRequired(
            f'If-Match must name the version being edited, e.g. If-Match: "3" (got {value!r})'
        )
    return int(tag)


def header_text(value: str | None) -> str:
    """A free-text header (``X-Lbctl-Message``, ``X-Lbctl-Author``) as the client meant it:
    HTTP carries bytes and Starlette decodes them as Latin-1; UTF-8 bytes (what the CLI
    sends) are decoded as UTF-8 again. ``None`` → ``""``."""
    if not value:
        return ""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


async def spec_from_body(request: Request) -> Spec:
    """FastAPI dependency: the request body as a validated :class:`Spec`.

    ``Content-Type: application/json`` (or none) is parsed as JSON, anything else
    (``application/yaml``, ``text/yaml``, ``text/plain``) as YAML. Raises :class:`SpecError`
    for an empty, non-UTF-8 or unparsable body, or an invalid spec (every bad field named),
    and counts it in the app's metrics (``lbctl_validation_errors_total{stage="spec"}``); a
    ``PUT`` (an apply that never reaches the controller) gets its audit line here.
    """
    try:
        return await _parse_spec(request)
    except SpecError as exc:
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.spec_invalid(apply=request.method == "PUT")
        if request.method == "PUT":
            audit_refused(request, exc)
        raise


def audit_refused(request: Request, exc: LbctlError) -> None:
    """The audit line of a write whose body never reached the controller (field errors, a
    source text that does not parse): ``result`` ``invalid``, ``error`` ``"Class: message"``."""
    try:
        base = parse_if_match(request.headers.get("if-match"))
    except LbctlError:
        base = None
    controller: Controller = request.app.state.controller
    audit("apply", who=caller(request), author=header_text(request.headers.get("x-lbctl-author")),
          message=header_text(request.headers.get("x-lbctl-message")), base_version=base,
          version=controller.version, result="invalid", error=f"{type(exc).__name__}: {exc}")


def audit_policy(request: Request, exc: PolicyRefused, what: str) -> None:
    """The audit line of a dry run (``what``: ``validate`` | ``plan``) the host policy refused
    (writes get theirs from the journal): ``who`` the token's name, ``target`` each refused
    directive and the field or line naming it (:meth:`PolicyRefused.refused`), ``result``
    ``invalid``, ``error`` ``"PolicyRefused: message"``."""
    controller: Controller = request.app.state.controller
    audit(what, who=caller(request), author=header_text(request.headers.get("x-lbctl-author")),
          message=header_text(request.headers.get("x-lbctl-message")), target=exc.refused(),
          version=controller.version, result="invalid", error=f"{type(exc).__name__}: {exc}")


async def _parse_spec(request: Request) -> Spec:
    raw = await request.body()
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not raw.strip():
        raise SpecError([FieldError("", "the request body is empty: send a spec as JSON or YAML")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError([FieldError("", "the request body is not UTF-8 text")]) from None
    if ctype in _JSON_TYPES or ctype.endswith("+json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(
                [FieldError("", f"the body is not valid JSON at line {exc.lineno}, column "
                                f"{exc.colno}: {exc.msg}")]
            ) from None
        return await run_in_threadpool(validate_spec, data)
    return await run_in_threadpool(parse_spec_text, text, source="request body")


SpecBody = Annotated[Spec, Depends(spec_from_body)]

open_router = APIRouter(tags=["probe"])
api_router = APIRouter(responses=AUTH_RESPONSES)


@open_router.get("/healthz", summary="Liveness of the agent itself (no token)")
def healthz() -> dict[str, str]:
    """``{"status": "ok"}`` while the agent answers; says nothing about HAProxy."""
    return {"status": "ok"}


@api_router.get("/config", tags=["config"], summary="The current spec and its version",
                 dependencies=[Depends(require_role("viewer"))])
def get_config(controller: ControllerDep, response: Response) -> dict[str, Any]:
    """``{"version": n, "spec": {...}}`` with ``ETag: "n"``."""
    version, spec = controller.current()
    response.headers["ETag"] = etag(version)
    return {"version": version, "spec": spec.to_data()}


@api_router.put(
    "/config",
    dependencies=[Depends(require_role("admin"))],
    tags=["config"],
    summary="Apply a spec: validate, write, reload, verify",
    openapi_extra=_SPEC_BODY,
    responses={
        412: {"description": "If-Match names a stale version; nothing changed", **PROBLEM_CONTENT},
        422: {"description": "Invalid spec, or HAProxy rejected the config; nothing changed",
              **PROBLEM_CONTENT},
        428: {"description": "If-Match missing", **PROBLEM_CONTENT},
        409: {"description": "HAProxy refused the reload; the old config keeps serving",
              **PROBLEM_CONTENT},
    },
)
def put_config(
    controller: ControllerDep,
    spec: SpecBody,
    response: Response,
    who: CallerDep,
    if_match: Annotated[str | None, Header()] = None,
    x_lbctl_message: Annotated[str | None, Header()] = None,
    x_lbctl_author: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Apply ``spec`` over the version named by ``If-Match``.

    Answers ``ApplyResult.as_dict()``: ``{"version", "changed", "reload", "diagnostics",
    "duration_s", "queued_s"}`` (seconds) with the new ``ETag``. ``X-Lbctl-Message`` and
    ``X-Lbctl-Author`` are kept with the change (history, audit), beside the token's name.
    The answer comes once HAProxy runs the new config (or refused it): never before. On every
    error nothing changes.
    """
    result = controller.apply(
        spec, if_match=parse_if_match(if_match), who=who, author=header_text(x_lbctl_author),
        message=header_text(x_lbctl_message),
    )
    body = result.as_dict()
    response.headers["ETag"] = etag(int(body["version"]))
    return body


@api_router.post(
    "/config/validate",
    dependencies=[Depends(require_role("admin"))],
    tags=["config"],
    summary="Dry run: render and check a spec, change nothing",
    openapi_extra=_SPEC_BODY,
    responses={422: {"description": "Invalid spec, or a line the host policy refuses",
                     **PROBLEM_CONTENT}},
)
def validate_config(request: Request, controller: ControllerDep, spec: SpecBody) -> dict[str, Any]:
    """``{"ok": bool, "diagnostics": [...], "config": "<rendered haproxy.cfg>"}``; 200 even
    when HAProxy rejects the text (``ok`` false, its alerts in ``diagnostics``). A line the
    host policy refuses is a 422 (never reaches ``haproxy -c``), with an audit line."""
    try:
        return controller.validate(spec).as_dict()
    except PolicyRefused as exc:
        audit_policy(request, exc, "validate")
        raise


@api_router.get(
    "/config/source",
    dependencies=[Depends(require_role("viewer"))],
    tags=["config"],
    summary="The live haproxy.cfg",
    response_class=PlainTextResponse,
)
def config_source(controller: ControllerDep) -> PlainTextResponse:
    """The bytes HAProxy runs with, as ``text/plain; charset=utf-8``."""
    return PlainTextResponse(controller.config_source())


@api_router.get(
    "/health",
    dependencies=[Depends(require_role("viewer"))],
    tags=["haproxy"],
    summary="Backend and server health",
    responses={503: {"description": "HAProxy is down or a backend has no usable server"}},
)
def health(controller: ControllerDep) -> JSONResponse:
    """``{"ok", "haproxy", "backends": [...], "reasons": [...]}``; 200 when ``ok`` (every
    backend has a usable server), 503 otherwise, with the same body."""
    report = controller.health()
    return JSONResponse(report, status_code=200 if report.get("ok") else 503)


@api_router.get("/haproxy", tags=["haproxy"], summary="HAProxy process status",
                 dependencies=[Depends(require_role("viewer"))])
def haproxy_status(controller: ControllerDep) -> dict[str, Any]:
    """``{"haproxy": {...}, "binary": {...} | null, "state_dir": str, "spec_version": int,
    "policy": {...}}``; ``policy`` is the host policy in force
    (:meth:`lbctl.spec.policy.HostPolicy.describe`: file and socket roots, allowed and
    refused directives, the user and group HAProxy drops to), fixed when the agent started."""
    return {**controller.status(), "policy": controller.policy.describe()}


@api_router.post(
    "/haproxy/reload",
    dependencies=[Depends(require_role("operator"))],
    tags=["haproxy"],
    summary="Reload HAProxy with the live config",
    responses={409: {"description": "HAProxy refused the reload", **PROBLEM_CONTENT},
               503: {"description": "HAProxy is not running", **PROBLEM_CONTENT}},
)
def haproxy_reload(
    controller: ControllerDep,
    who: CallerDep,
    x_lbctl_message: Annotated[str | None, Header()] = None,
    x_lbctl_author: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The reload result (``ReloadResult.as_dict()``); recorded in the history (no new
    version) and audited."""
    return controller.reload_now(who=who, author=header_text(x_lbctl_author),
                                 message=header_text(x_lbctl_message)).as_dict()
