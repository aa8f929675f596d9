"""The source view and plans: ``PUT /api/v1/config/source`` and ``POST /api/v1/config/plan``.

The source view shows the live ``haproxy.cfg`` (``GET /api/v1/config/source``) and has two
buttons: *validate* (``PUT ...?dry_run=true``) and *validate and save* (``PUT``). The
handlers here only read the request and shape the answer: parse → import → render →
``haproxy -c`` → apply, and the mapping of every diagnostic to lines of the SUBMITTED text,
are :mod:`lbctl.control.source`'s; errors are raised and turned into problem+json by
:mod:`lbctl.api.errors`. A text that never reaches the controller (it does not parse or
import) is counted and audited here, as :func:`lbctl.api.routes.spec_from_body` does for a
spec.

Both routes are for ``admin`` tokens only: the text reaches ``haproxy -c``, and extra lines
may ``lua-load`` code (:mod:`lbctl.spec.lines`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from lbctl.api.auth import CallerDep, require_role
from lbctl.api.routes import (
    AUTH_RESPONSES,
    PROBLEM_CONTENT,
    ControllerDep,
    audit_policy,
    audit_refused,
    etag,
    header_text,
    parse_if_match,
    spec_from_body,
)
from lbctl.control import source as source_view
from lbctl.errors import LbctlError, PolicyRefused, SpecError
from lbctl.spec import Spec

__all__ = ["source_router"]

_ADMIN = [Depends(require_role("admin"))]
_TEXT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "text/plain": {"schema": {"type": "string"}, "example": "global\n    maxconn 100\n"}}}}
_PLAN_BODY: dict[str, Any] = {"requestBody": {"required": True, "description": (
    "A spec (JSON, or YAML with Content-Type: application/yaml), or a haproxy.cfg source "
    "with Content-Type: text/plain."), "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/Spec"}},
    "application/yaml": {"schema": {"type": "string"}},
    "text/plain": {"schema": {"type": "string"}}}}}

source_router = APIRouter(tags=["config"], responses=AUTH_RESPONSES)


async def _source_text(request: Request) -> str:
    """The request body as text (:func:`lbctl.control.source.decode`: :class:`SpecError` for an
    empty or non-UTF-8 body)."""
    return source_view.decode(await request.body())


def _refused(request: Request, exc: LbctlError, dry_run: bool) -> None:
    """Count and audit a submitted text that never reached the controller."""
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None and isinstance(exc, SpecError):
        metrics.spec_invalid(apply=not dry_run)
    if dry_run:
        return
    audit_refused(request, exc)


@source_router.put(
    "/config/source",
    dependencies=_ADMIN,
    summary="Apply a haproxy.cfg text (the source view): parse, import, check, apply",
    openapi_extra=_TEXT_BODY,
    responses={
        403: {"description": "The token is not an admin token", **PROBLEM_CONTENT},
        412: {"description": "If-Match names a stale version; nothing changed", **PROBLEM_CONTENT},
        422: {"description": "Unreadable text, a line import cannot place, an invalid spec, or "
                             "HAProxy rejected it; lines of the submitted text named",
              **PROBLEM_CONTENT},
        428: {"description": "If-Match missing (not needed with dry_run)", **PROBLEM_CONTENT},
        409: {"description": "HAProxy refused the reload; the old config keeps serving",
              **PROBLEM_CONTENT},
    },
)
def put_source(
    request: Request,
    controller: ControllerDep,
    text: Annotated[str, Depends(_source_text)],
    response: Response,
    who: CallerDep,
    dry_run: Annotated[bool, Query(description="Validate only (the source view's "
                                               "'validate' button).")] = False,
    if_match: Annotated[str | None, Header()] = None,
    x_lbctl_message: Annotated[str | None, Header()] = None,
    x_lbctl_author: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Apply a ``haproxy.cfg`` text as a new version (``If-Match`` required), or with
    ``dry_run=true`` only check it.

    Answers, for an apply, ``ApplyResult.as_dict()`` with the new ``ETag`` (as ``PUT
    /api/v1/config``); for a dry run ``{"ok", "diagnostics", "config", "spec", "changed"}``
    (``ok`` false when HAProxy rejects it; ``config`` the text lbctl would write; ``changed``
    whether applying it would make a new version). Diagnostics and errors name lines of the
    submitted text. On every error nothing changes.
    """
    try:
        submitted = source_view.read(controller, text)
    except LbctlError as exc:
        _refused(request, exc, dry_run)
        raise
    if dry_run:
        try:
            checked = source_view.check(controller, submitted)
        except PolicyRefused as exc:
            audit_policy(request, exc, "validate")
            raise
        response.headers["ETag"] = etag(checked.version)
        return checked.as_dict()
    result = source_view.apply(controller, submitted, if_match=parse_if_match(if_match), who=who,
                               author=header_text(x_lbctl_author),
                               message=header_text(x_lbctl_message))
    response.headers["ETag"] = etag(result.version)
    return result.as_dict()


async def _plan_body(request: Request) -> Spec | str:
    """A ``text/plain`` body is a haproxy.cfg source; anything else a spec
    (:func:`lbctl.api.routes.spec_from_body`)."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype == "text/plain":
        return await _source_text(request)
    return await spec_from_body(request)


@source_router.post(
    "/config/plan",
    dependencies=_ADMIN,
    summary="What applying a spec or a haproxy.cfg source would change",
    openapi_extra=_PLAN_BODY,
    responses={403: {"description": "The token is not an admin token", **PROBLEM_CONTENT},
               422: {"description": "Invalid spec, unreadable source, or a line the host "
                                    "policy refuses", **PROBLEM_CONTENT}},
)
def plan(request: Request, controller: ControllerDep,
         body: Annotated[Spec | str, Depends(_plan_body)], response: Response) -> dict[str, Any]:
    """``{"version", "changed", "diff", "summary", "config"}``: the unified diff of the
    rendered config against the live one, and what the spec adds, removes and changes
    (:func:`lbctl.control.plan.summarize`). The rendered text is screened by the host policy
    (a refusal is a 422 with an audit line); nothing is checked by HAProxy, nothing is
    written."""
    try:
        planned = source_view.plan(controller, body)
    except PolicyRefused as exc:
        audit_policy(request, exc, "plan")
        raise
    response.headers["ETag"] = etag(planned.version)
    return planned.as_dict()
