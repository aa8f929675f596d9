"""What every route reads from a request, in one place: the write headers and the bodies.

* :func:`write_headers` — the FastAPI dependency of every write: ``If-Match`` (declared
  required, with :data:`IF_MATCH_PATTERN`), ``X-Lbctl-Author``, ``X-Lbctl-Message``, the
  token's name, and the ``wait`` query parameter (``false``: answer 202 at once,
  :mod:`lbctl.api.operations`). ``If-Match`` semantics (RFC 9110 §13.1.1): absent or ``*``
  → 428 (a write must name the version it edits); any other value that is not one strong
  tag of a version (``"not-a-version"``, ``W/"1"``, a list) matches no current
  representation → 412.
* :func:`read_document` — the one body reader: the bytes → UTF-8 text → a JSON or YAML
  document; a missing, empty or ``null`` body (YAML ``~``, ``---``, only comments), bytes
  that are not UTF-8 and unparsable text are :class:`lbctl.errors.UnreadableBody` (422),
  whatever the route. :func:`spec_from_body` and :func:`server_state_body` build on it.

Versions travel as entity tags: ``ETag: "7"`` on reads and writes, ``If-Match: "7"`` (or a
bare ``7``) on writes (RFC 9110 §8.8.3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import yaml
from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from lbctl.api.auth import caller
from lbctl.client.models import ServerStateChange
from lbctl.control.controller import Controller
from lbctl.errors import (
    FieldError,
    InvalidRequest,
    LbctlError,
    PreconditionRequired,
    SpecError,
    UnreadableBody,
    VersionConflict,
)
from lbctl.spec import Spec, format_loc, parse_spec_text, spec_from_json, validate_spec
from lbctl.state.journal import audit

__all__ = [
    "IF_MATCH_PATTERN",
    "MAX_ID",
    "ControllerDep",
    "NoteDep",
    "SpecBody",
    "WriteDep",
    "WriteHeaders",
    "etag",
    "get_controller",
    "header_text",
    "known_query",
    "note_headers",
    "parse_if_match",
    "read_document",
    "server_state_body",
    "spec_from_body",
    "write_headers",
]

#: The ``If-Match`` a write sends: one strong entity tag of a version, quoted or bare.
IF_MATCH_PATTERN = r'^("[0-9]{1,18}"|[0-9]{1,18})$'
#: The largest id or version a path or query parameter may name (SQLite's INTEGER).
MAX_ID = 2**63 - 1
#: Media types read as JSON; any other body is read as YAML (JSON is YAML anyway).
_JSON_TYPES = ("application/json", "")


async def get_controller(request: Request) -> Controller:
    """FastAPI dependency: the app's controller (``app.state.controller``). A coroutine, as
    :func:`known_query`: FastAPI runs a plain function dependency in its thread pool, a hop
    of 0.3–0.5 ms per request on two cores for a dictionary lookup."""
    controller: Controller = request.app.state.controller
    return controller


ControllerDep = Annotated[Controller, Depends(get_controller)]


def etag(version: int) -> str:
    """The strong entity tag of a spec version: ``7`` → ``"7"`` (quotes included)."""
    return f'"{version}"'


def parse_if_match(value: str | None, current: int = 0) -> int | None:
    """``If-Match`` → the version it names; ``None`` when the header is absent.

    Accepts ``"7"`` and ``7``. Raises :class:`PreconditionRequired` for ``*`` (it names no
    version) and :class:`VersionConflict` (with ``current``, the current version) for any
    other value: a tag that matches no current representation (RFC 9110 §13.1.1).
    """
    if value is None:
        return None
    tag = value.strip()
    if tag == "*":
        raise PreconditionRequired(
            f'If-Match must name the version being edited, e.g. If-Match: "{current}" (got *)')
    bare = tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag
    if not (bare.isascii() and bare.isdigit() and len(bare) <= 18):
        raise VersionConflict(None, current, f"If-Match {value!r} matches no version: the "
                                              f'current version is "{current}"')
    return int(bare)


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


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def known_query(request: Request) -> None:
    """FastAPI dependency of every route: a query parameter the route does not declare is an
    :class:`InvalidRequest` (422), never silently ignored (``?allow_emtpy=true`` must not
    pass for a confirmation). A coroutine (it reads the request only): run in the event loop,
    not through FastAPI's thread pool."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    declared = _query_names(dependant)
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        raise InvalidRequest([FieldError(f"query.{name}", "unknown query parameter (known: "
                                         f"{', '.join(sorted(declared)) or 'none'})")
                              for name in unknown])


@dataclass(frozen=True)
class WriteHeaders:
    """What a write names: ``if_match`` (the raw header; :meth:`version` parses it), who
    (the token's name), the ``author`` and ``message`` kept with it, and ``wait`` (false:
    asynchronous, answered 202)."""

    if_match: str | None
    who: str
    author: str
    message: str
    wait: bool

    def version(self, controller: Controller) -> int | None:
        """The version ``If-Match`` names (:func:`parse_if_match`, 428 / 412)."""
        return parse_if_match(self.if_match, controller.version)


async def write_headers(
    request: Request,
    if_match: Annotated[str | None, Header(
        alias="If-Match", description='The version this write edits, as its ETag: "7" (or 7). '
        "Missing: 428; stale or not a version: 412.")] = None,
    x_lbctl_author: Annotated[str | None, Header(
        alias="X-Lbctl-Author", description="Who is behind the change (kept in the history; "
        "UTF-8)")] = None,
    x_lbctl_message: Annotated[str | None, Header(
        alias="X-Lbctl-Message", description="Why (kept in the history; UTF-8)")] = None,
    wait: Annotated[bool, Query(description="false: answer 202 at once with an operation "
                                            "(GET /api/v1/operations/{id})")] = True,
) -> WriteHeaders:
    """FastAPI dependency of every write (module docstring); a coroutine (headers only, no
    thread-pool hop: :func:`get_controller`)."""
    return WriteHeaders(if_match, caller(request), header_text(x_lbctl_author),
                        header_text(x_lbctl_message), wait)


WriteDep = Annotated[WriteHeaders, Depends(write_headers)]


async def note_headers(
    request: Request,
    x_lbctl_author: Annotated[str | None, Header(
        alias="X-Lbctl-Author", description="Who is behind it (kept in the history)")] = None,
    x_lbctl_message: Annotated[str | None, Header(
        alias="X-Lbctl-Message", description="Why (kept in the history)")] = None,
) -> WriteHeaders:
    """FastAPI dependency of a write that edits no version (a reload): no ``If-Match``, no
    ``wait``."""
    return WriteHeaders(None, caller(request), header_text(x_lbctl_author),
                        header_text(x_lbctl_message), True)


NoteDep = Annotated[WriteHeaders, Depends(note_headers)]


async def read_document(request: Request, *, what: str = "a spec as JSON or YAML") -> Any:
    """The body as a parsed document (module docstring); ``what`` goes into the error."""
    raw = await request.body()
    if not raw.strip():
        raise UnreadableBody([FieldError("", f"the request body is empty: send {what}")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableBody([FieldError("", f"the request body is not UTF-8 text (byte "
                                             f"{exc.start})")]) from None
    if _json_body(request):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UnreadableBody(
                [FieldError("", f"the body is not valid JSON at line {exc.lineno}, column "
                                f"{exc.colno}: {exc.msg}")]) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            try:
                parse_spec_text(text, source="request body")
            except SpecError as exc:  # its message names the line and column
                raise UnreadableBody(exc.errors) from None
            raise
    if data is None:
        raise UnreadableBody([FieldError("", f"the request body is null (an empty document): "
                                             f"send {what}")])
    return data


def _json_body(request: Request) -> bool:
    """Whether the body is read as JSON (module docstring): by its ``Content-Type``."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return ctype in _JSON_TYPES or ctype.endswith("+json")


def audit_refused(request: Request, exc: LbctlError) -> None:
    """The audit line of a write whose body never reached the controller (field errors, a
    source text that does not parse): ``result`` ``invalid``, ``error`` ``"Class: message"``."""
    controller: Controller = request.app.state.controller
    try:
        base = parse_if_match(request.headers.get("if-match"), controller.version)
    except LbctlError:
        base = None
    audit("apply", who=caller(request), author=header_text(request.headers.get("x-lbctl-author")),
          message=header_text(request.headers.get("x-lbctl-message")), base_version=base,
          version=controller.version, result="invalid", error=f"{type(exc).__name__}: {exc}")


async def spec_from_body(request: Request) -> Spec:
    """FastAPI dependency: the request body as a validated :class:`Spec`.

    ``Content-Type: application/json`` (or none) is parsed as JSON, anything else
    (``application/yaml``, ``text/yaml``) as YAML. Raises :class:`UnreadableBody` (no
    document) or :class:`SpecError` (every bad field named), counted in the app's metrics
    (``lbctl_validation_errors_total{stage="spec"}``); a ``PUT`` (an apply that never reaches
    the controller) gets its audit line here.
    """
    try:
        if _json_body(request):  # one pass of pydantic-core when the spec is valid
            known = request.app.state.controller.known_proxies()  # the live spec's proxies
            spec = await run_in_threadpool(spec_from_json, await request.body(), known)
            if spec is not None:
                return spec
        data = await read_document(request)  # the errors to answer come from here
        return await run_in_threadpool(validate_spec, data)
    except SpecError as exc:
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.spec_invalid(apply=request.method == "PUT")
        if request.method == "PUT":
            audit_refused(request, exc)
        raise


SpecBody = Annotated[Spec, Depends(spec_from_body)]


async def server_state_body(request: Request) -> ServerStateChange:
    """FastAPI dependency: the body of a server state change. Raises :class:`UnreadableBody`,
    :class:`InvalidRequest` (``body.state``, ``body.weight``: what is wrong)."""
    data = await read_document(request, what='{"state": ..., "weight": ...} as JSON')
    try:
        body = ServerStateChange.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest([FieldError(format_loc(("body", *e["loc"])), e["msg"])
                              for e in exc.errors()]) from None
    if body.state is None and body.weight is None:
        raise InvalidRequest([FieldError("body", "give state, weight or both")])
    return body
