"""The source view and plans: ``PUT /api/v1/config/source`` and ``POST /api/v1/config/plan``.

The source view shows the live ``haproxy.cfg`` (``GET /api/v1/config/source``) and has two
buttons: *validate* (``PUT ...?dry_run=true``) and *validate and save* (``PUT``). A submitted
text goes parse (:mod:`lbctl.config`) → import (:mod:`lbctl.importer`: every line a
field or an extra line) → render → ``haproxy -c`` → apply, through the controller's one apply
path (``If-Match``, the lock, the history, the reload). Every diagnostic names lines of the
SUBMITTED text: a :class:`~lbctl.errors.ParseError` its line and column, an import or spec
error the ``line`` of each field, a ``haproxy -c`` message the submitted line its rendered
line came from (:func:`lbctl.config.normal.line_map`; ``line`` is ``null`` for lbctl's own
lines, with their text). GET then PUT of the same text is a no-op: the text is the live file,
so the current spec is applied again, which the controller answers ``changed: false`` (no new
version, no reload).

Both routes are for ``admin`` tokens only: the text reaches ``haproxy -c``, and extra lines
may ``lua-load`` code (:mod:`lbctl.spec.lines`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from lbctl.api.auth import CallerDep, require_role
from lbctl.api.routes import (
    AUTH_RESPONSES,
    PROBLEM_CONTENT,
    ControllerDep,
    audit_refused,
    etag,
    header_text,
    parse_if_match,
    spec_from_body,
)
from lbctl.config import Document, loads
from lbctl.config.normal import line_map
from lbctl.control.controller import Controller
from lbctl.control.plan import make_plan
from lbctl.errors import ConfigRejected, Diagnostic, FieldError, LbctlError, SpecError
from lbctl.importer import Imported, import_config
from lbctl.spec import Spec

__all__ = ["map_diagnostics", "source_router"]

_ADMIN = [Depends(require_role("admin"))]
_TEXT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "text/plain": {"schema": {"type": "string"}, "example": "global\n    maxconn 100\n"}}}}
_PLAN_BODY: dict[str, Any] = {"requestBody": {"required": True, "description": (
    "A spec (JSON, or YAML with Content-Type: application/yaml), or a haproxy.cfg source "
    "with Content-Type: text/plain."), "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/Spec"}},
    "application/yaml": {"schema": {"type": "string"}},
    "text/plain": {"schema": {"type": "string"}}}}}
_FILE_LINE = re.compile(r"\[[^\]\s]*?\.cfg:(\d+)\]")

source_router = APIRouter(tags=["config"], responses=AUTH_RESPONSES)


async def _source_text(request: Request) -> str:
    """The request body as UTF-8 text; :class:`SpecError` for an empty or non-UTF-8 body."""
    raw = await request.body()
    if not raw.strip():
        raise SpecError([FieldError("", "the request body is empty: send a haproxy.cfg as "
                                        "text/plain")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError([FieldError("", "the request body is not UTF-8 text")]) from None


def _import(controller: Controller, text: str) -> tuple[Document, Imported]:
    """Parse and import ``text`` for the controller's target. Raises :class:`ParseError`,
    :class:`SpecError` (lines named), :class:`BinaryNotFound`."""
    caps, ctx = controller.render_target()
    doc = loads(text)
    return doc, import_config(doc, caps=caps, ctx=ctx)


def map_diagnostics(diagnostics: list[Diagnostic], source: Document, rendered: str) -> list[Diagnostic]:
    """``haproxy -c`` diagnostics about ``rendered`` → the same about ``source``: ``line`` and
    ``text`` of the submitted line a rendered line came from (``[file.cfg:N]`` in a message
    too); ``line`` ``None`` and the rendered text for lbctl's own lines."""
    mapping = line_map(source, loads(rendered))
    lines = source.dumps().splitlines()
    out = []
    for d in diagnostics:
        line = mapping.get(d.line) if d.line is not None else None
        text = lines[line - 1] if line is not None else d.text
        message = _FILE_LINE.sub(lambda m: f"[line {mapping[int(m[1])]}]" if int(m[1]) in mapping
                                 else "[lbctl's own line]", d.message)
        out.append(Diagnostic(d.severity, message, line, text, d.field))
    return out


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
        doc, imported = _import(controller, text)
    except LbctlError as exc:
        _refused(request, exc, dry_run)
        raise
    version, current = controller.current()
    live = controller.config_source()
    # The live file itself: its spec is the current one — when the version read with it is
    # the one the write names (a write landing between the two reads makes them disagree).
    same = text == live and (dry_run or parse_if_match(if_match) == version)
    spec = current if same else imported.spec
    if dry_run:
        checked = controller.validate(spec)
        body = checked.as_dict()
        body["diagnostics"] = [d.as_dict() for d in
                               map_diagnostics(checked.diagnostics, doc, checked.config)]
        body.update(spec=spec.to_data(), changed=spec != current or checked.config != live)
        response.headers["ETag"] = etag(version)
        return body
    try:
        result = controller.apply(spec, if_match=parse_if_match(if_match), who=who,
                                  author=header_text(x_lbctl_author),
                                  message=header_text(x_lbctl_message))
    except ConfigRejected as exc:
        rendered = controller.render_config(spec)
        raise ConfigRejected(map_diagnostics(exc.diagnostics, doc, rendered), exc.output) from None
    body = result.as_dict()
    if result.diagnostics:
        rendered = controller.render_config(spec)
        body["diagnostics"] = [d.as_dict() for d in map_diagnostics(result.diagnostics, doc, rendered)]
    response.headers["ETag"] = etag(int(body["version"]))
    return body


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
               422: {"description": "Invalid spec, or unreadable source", **PROBLEM_CONTENT}},
)
def plan(controller: ControllerDep, body: Annotated[Spec | str, Depends(_plan_body)],
         response: Response) -> dict[str, Any]:
    """``{"version", "changed", "diff", "summary", "config"}``: the unified diff of the
    rendered config against the live one, and what the spec adds, removes and changes
    (:func:`lbctl.control.plan.summarize`). Nothing is checked by HAProxy, nothing is written."""
    version, current = controller.current()
    live = controller.config_source()
    spec = body if isinstance(body, Spec) else current if body == live \
        else _import(controller, body)[1].spec
    response.headers["ETag"] = etag(version)
    return make_plan(version, current, live, spec, controller.render_config(spec)).as_dict()
