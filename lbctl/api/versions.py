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

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from lbctl.api.auth import CallerDep, require_role
from lbctl.api.routes import (
    AUTH_RESPONSES,
    PROBLEM_CONTENT,
    ControllerDep,
    etag,
    header_text,
    parse_if_match,
)
from lbctl.state.history import DEFAULT_LIMIT, MAX_LIMIT

__all__ = ["versions_router"]

versions_router = APIRouter(tags=["history"], responses=AUTH_RESPONSES)
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such version or entry", **PROBLEM_CONTENT}
}


@versions_router.get("/config/versions", summary="The config history, newest first (paged)",
                     dependencies=[Depends(require_role("viewer"))])
def list_versions(
    controller: ControllerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    before: Annotated[int | None, Query(ge=1, description="an entry id: older entries only")
                      ] = None,
) -> dict[str, Any]:
    """``{"entries": [{"id", "version", "base_version", "kind", "result", "at", "who",
    "author", "message", "spec_sha256", "config_sha256", "diagnostics", "reload", "error",
    "queued_ms", "duration_ms", "rollback_of"}], "next_before": int | null}``; ``at`` in epoch
    seconds, durations in milliseconds."""
    entries = controller.history.entries(limit=limit + 1, before=before)
    page, more = entries[:limit], len(entries) > limit
    return {
        "entries": [e.as_dict() for e in page],
        "next_before": page[-1].id if more and page else None,
    }


@versions_router.get("/config/versions/{version}", summary="One version: spec and rendered config",
                     responses=_NOT_FOUND, dependencies=[Depends(require_role("viewer"))])
def get_version(controller: ControllerDep, version: int) -> dict[str, Any]:
    """The entry that made ``version`` with ``spec`` (a spec document) and ``config`` (the
    rendered ``haproxy.cfg``; its SHA-256 is ``config_sha256``)."""
    return controller.history.version(version).as_dict(bodies=True)


@versions_router.get("/config/entries/{entry_id}", summary="One history entry, bodies included",
                     responses=_NOT_FOUND, dependencies=[Depends(require_role("viewer"))])
def get_entry(controller: ControllerDep, entry_id: int) -> dict[str, Any]:
    """Entry ``entry_id`` (e.g. a failed attempt) with its ``spec`` and ``config``."""
    return controller.history.entry(entry_id).as_dict(bodies=True)


@versions_router.post(
    "/config/versions/{version}/rollback",
    dependencies=[Depends(require_role("admin"))],
    summary="Apply an earlier version's spec again, as a new version",
    responses={
        **_NOT_FOUND,
        409: {"description": "HAProxy refused the reload; the old config keeps serving",
              **PROBLEM_CONTENT},
        412: {"description": "If-Match names a stale version; nothing changed", **PROBLEM_CONTENT},
        422: {"description": "HAProxy rejected the config; nothing changed", **PROBLEM_CONTENT},
        428: {"description": "If-Match missing", **PROBLEM_CONTENT},
    },
)
def rollback(
    controller: ControllerDep,
    version: int,
    response: Response,
    who: CallerDep,
    if_match: Annotated[str | None, Header()] = None,
    x_lbctl_message: Annotated[str | None, Header()] = None,
    x_lbctl_author: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Roll back to ``version`` over the version named by ``If-Match``: answers like
    ``PUT /config`` (``{"version", "changed", "reload", ...}`` and the new ``ETag``);
    ``changed`` is false when that spec is already current."""
    result = controller.rollback(
        version, if_match=parse_if_match(if_match), who=who, author=header_text(x_lbctl_author),
        message=header_text(x_lbctl_message),
    )
    response.headers["ETag"] = etag(result.version)
    return result.as_dict()
