"""The config history over HTTP: ``/api/v1/config/versions`` (:mod:`lbctl.state.history`).

- ``GET /config/versions?limit=50&before=ID``: entries newest first — every version, every
  failed attempt (``version`` null, ``result`` ``invalid`` / ``failed``), every reload — as
  ``{"entries": [...], "next_before": ID | null}``. Pages go by entry ``id`` (a cursor: ids
  never change, versions skip failed attempts): pass ``next_before`` as ``before`` for the
  next, older page; it is null on the last one.
- ``GET /config/versions/{n}``: the entry that made version ``n``, with its ``spec`` and the
  rendered ``config`` text. ``GET /config/entries/{id}``: any entry, the same way (a failed
  attempt's spec and config are kept too).
- ``POST /config/versions/{n}/rollback`` with ``If-Match``: a new version whose spec is
  version ``n``'s, through the normal apply (:meth:`lbctl.control.controller.Controller.rollback`);
  answers like ``PUT /config``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import answer, ok, problems
from lbctl.api.deps import MAX_ID, ControllerDep, WriteDep
from lbctl.api.operations import run_write
from lbctl.api.routes import AllowEmpty
from lbctl.client.models import ApplyOutcome, HistoryEntryWithBodies, HistoryPage
from lbctl.state.history import DEFAULT_LIMIT, MAX_LIMIT

__all__ = ["versions_router"]

versions_router = APIRouter(tags=["history"])
_VIEWER = [Depends(require_role("viewer"))]
#: A version number in a path: 1 … 2⁶³−1 (anything else is a 422, never an overflow).
VersionPath = Annotated[int, Path(ge=1, le=MAX_ID, description="a spec version")]


@versions_router.get("/config/versions", summary="The config history, newest first (paged)",
                     operation_id="list_versions", dependencies=_VIEWER,
                     responses={**ok(HistoryPage, "A page of entries"), **problems(422)})
def list_versions(
    controller: ControllerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                        description="an entry id: older entries only")] = None,
) -> JSONResponse:
    """:class:`HistoryPage`: ``{"entries": [...], "next_before": int | null}``; ``at`` in epoch
    seconds, durations in milliseconds."""
    entries = controller.history.entries(limit=limit + 1, before=before)
    page, more = entries[:limit], len(entries) > limit
    return answer({"entries": [e.as_dict() for e in page],
                   "next_before": page[-1].id if more and page else None})


@versions_router.get("/config/versions/{version}", summary="One version: spec and rendered config",
                     operation_id="get_version", dependencies=_VIEWER,
                     responses={**ok(HistoryEntryWithBodies, "The entry"), **problems(404, 422)})
def get_version(controller: ControllerDep, version: VersionPath) -> JSONResponse:
    """The entry that made ``version`` with ``spec`` (a spec document) and ``config`` (the
    rendered ``haproxy.cfg``; its SHA-256 is ``config_sha256``)."""
    return answer(controller.history.version(version).as_dict(bodies=True))


@versions_router.get("/config/entries/{entry_id}", summary="One history entry, bodies included",
                     operation_id="get_entry", dependencies=_VIEWER,
                     responses={**ok(HistoryEntryWithBodies, "The entry"), **problems(404, 422)})
def get_entry(controller: ControllerDep,
              entry_id: Annotated[int, Path(ge=1, le=MAX_ID, description="an entry id")]
              ) -> JSONResponse:
    """Entry ``entry_id`` (e.g. a failed attempt) with its ``spec`` and ``config``."""
    return answer(controller.history.entry(entry_id).as_dict(bodies=True))


@versions_router.post(
    "/config/versions/{version}/rollback",
    dependencies=[Depends(require_role("admin"))],
    operation_id="rollback_version",
    summary="Apply an earlier version's spec again, as a new version",
    responses={**ok(ApplyOutcome, "Rolled back (or unchanged)", etag_header=True, accepted=True),
               **problems(404, 409, 412, 422, 428, 503)},
)
def rollback(request: Request, controller: ControllerDep, version: VersionPath, write: WriteDep,
             allow_empty: AllowEmpty = False) -> JSONResponse:
    """Roll back to ``version`` over the version named by ``If-Match``: answers like
    ``PUT /config`` (:class:`ApplyOutcome` and the new ``ETag``); ``changed`` is false when
    that spec is already current."""
    base = write.version(controller)
    if not write.wait:
        controller.history.version(version)  # a 404 now, not in the operation

    def apply() -> dict[str, object]:
        return controller.rollback(version, if_match=base, who=write.who, author=write.author,
                                   message=write.message, allow_empty=allow_empty).as_dict()

    return run_write(request, controller, write, "rollback", base, apply)
