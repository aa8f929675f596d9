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

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import ETAG, PLAN_BODY, TEXT_BODY, answer, ok, problems
from lbctl.api.deps import ControllerDep, WriteDep, audit_refused, spec_from_body
from lbctl.api.operations import run_write
from lbctl.api.routes import AllowEmpty, audit_policy
from lbctl.client.models import ApplyOutcome, PlanOutcome
from lbctl.control import source as source_view
from lbctl.errors import LbctlError, PolicyRefused, SpecError, UnreadableBody
from lbctl.spec import Spec

__all__ = ["source_router"]

_ADMIN = [Depends(require_role("admin"))]

source_router = APIRouter(tags=["config"])


async def _source_text(request: Request) -> str:
    """The request body as text (:func:`lbctl.control.source.decode`: :class:`UnreadableBody`
    for an empty or non-UTF-8 body)."""
    try:
        return source_view.decode(await request.body())
    except UnreadableBody:
        raise
    except SpecError as exc:
        raise UnreadableBody(exc.errors) from None


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
    operation_id="put_config_source",
    summary="Apply a haproxy.cfg text (the source view): parse, import, check, apply",
    openapi_extra=TEXT_BODY,
    responses={**ok(ApplyOutcome, "", etag_header=True, accepted=True),
               200: {"description": "Applied (ApplyOutcome), or with dry_run the check "
                                    "(SourceCheck)", "headers": ETAG, "content": {
                         "application/json": {"schema": {"anyOf": [
                             {"$ref": "#/components/schemas/ApplyOutcome"},
                             {"$ref": "#/components/schemas/SourceCheck"}]}}}},
               **problems(409, 412, 422, 428, 503)},
)
def put_source(
    request: Request,
    controller: ControllerDep,
    text: Annotated[str, Depends(_source_text)],
    write: WriteDep,
    allow_empty: AllowEmpty = False,
    dry_run: Annotated[bool, Query(description="Validate only (the source view's "
                                               "'validate' button).")] = False,
) -> JSONResponse:
    """Apply a ``haproxy.cfg`` text as a new version (``If-Match`` required), or with
    ``dry_run=true`` only check it.

    Answers, for an apply, :class:`ApplyOutcome` with the new ``ETag`` (as ``PUT
    /api/v1/config``); for a dry run :class:`SourceCheck` (``ok`` false when HAProxy rejects
    it; ``config`` the text lbctl would write; ``changed`` whether applying it would make a
    new version). Diagnostics and errors name lines of the submitted text. On every error
    nothing changes.
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
        return answer(checked.as_dict(), version=checked.version)
    base = write.version(controller)

    def apply() -> dict[str, object]:
        return source_view.apply(controller, submitted, if_match=base, who=write.who,
                                 author=write.author, message=write.message,
                                 allow_empty=allow_empty).as_dict()

    return run_write(request, controller, write, "source", base, apply)


async def _plan_body(request: Request) -> Spec | str:
    """A ``text/plain`` body is a haproxy.cfg source; anything else a spec
    (:func:`lbctl.api.deps.spec_from_body`)."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype == "text/plain":
        return await _source_text(request)
    return await spec_from_body(request)


@source_router.post(
    "/config/plan",
    dependencies=_ADMIN,
    operation_id="plan_config",
    summary="What applying a spec or a haproxy.cfg source would change",
    openapi_extra=PLAN_BODY,
    responses={**ok(PlanOutcome, "The plan", etag_header=True), **problems(422, 503)},
)
def plan(request: Request, controller: ControllerDep,
         body: Annotated[Spec | str, Depends(_plan_body)]) -> JSONResponse:
    """:class:`PlanOutcome`: the unified diff of the rendered config against the live one,
    and what the spec adds, removes and changes (:func:`lbctl.control.plan.summarize`). The
    rendered text is screened by the host policy (a refusal is a 422 with an audit line);
    nothing is checked by HAProxy, nothing is written."""
    try:
        planned = source_view.plan(controller, body)
    except PolicyRefused as exc:
        audit_policy(request, exc, "plan")
        raise
    return answer(planned.as_dict(), version=planned.version)

