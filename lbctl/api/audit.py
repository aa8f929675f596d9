"""The audit trail over HTTP: ``GET /api/v1/audit?limit=50&before=ID`` (``operator``).

Every audit line the agent emitted (:mod:`lbctl.state.journal`: applies, rollbacks, server
changes, reloads, refused writes, logins, token creations and revocations), as stored in the
state dir (:class:`lbctl.state.audit.AuditTrail`), newest first, as :class:`AuditPage`
``{"lines": [...], "next_before": ID | null}``. Pages go by line ``id`` as the history's do
(:mod:`lbctl.api.versions`): pass ``next_before`` as ``before`` for the next, older page.

``operator``, not ``viewer``: the trail names who tried what and was refused (``denied``,
``login`` ``unauthorized``), which a read-only dashboard token has no need for; an operator
running a runbook does ("who drained this server?"). It never holds a token or a session id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import answer, ok, problems
from lbctl.api.deps import MAX_ID
from lbctl.client.token_models import AuditLine, AuditPage
from lbctl.state.audit import AuditTrail
from lbctl.state.history import DEFAULT_LIMIT, MAX_LIMIT

__all__ = ["audit_router"]

audit_router = APIRouter(tags=["history"])

#: The members of :class:`AuditLine`: a stored line's other keys (none today) are left out.
_FIELDS = set(AuditLine.model_fields)


@audit_router.get("/audit", summary="The audit trail, newest first (paged)",
                  operation_id="list_audit", dependencies=[Depends(require_role("operator"))],
                  responses={**ok(AuditPage, "A page of audit lines"), **problems(422)})
def list_audit(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                        description="a line id: older lines only")] = None,
) -> JSONResponse:
    """:class:`AuditPage`; ``ts`` ISO 8601 UTC, durations in milliseconds. Raises
    :class:`StoreError` (500) when ``audit.db`` cannot be read."""
    trail: AuditTrail = request.app.state.audit
    rows = trail.page(limit=limit + 1, before=before)
    page, more = rows[:limit], len(rows) > limit
    lines = [AuditLine.model_validate(
        {**{k: v for k, v in line.items() if k in _FIELDS}, "id": row_id}).model_dump(mode="json")
        for row_id, line in page]
    return answer({"lines": lines, "next_before": page[-1][0] if more and page else None})
