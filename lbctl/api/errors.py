"""The one error → HTTP mapping of the agent: every error becomes RFC 9457 problem+json.

Route handlers never build error responses: they raise an :class:`lbctl.errors.LbctlError`
(or let one through from the controller) and the handlers installed here turn it into::

    HTTP/1.1 412 Precondition Failed
    Content-Type: application/problem+json

    {"type": "urn:lbctl:problem:version-conflict", "title": "Stale version", "status": 412,
     "detail": "version 3 is stale: the current version is 4", "error": "VersionConflict",
     "current_version": 4}

``status`` is the class's ``http_status``, ``title`` its ``title``, ``detail`` is ``str(err)``,
``error`` the class name (the CLI client maps it back to the same class), and the members of
``err.details()`` follow (``errors`` for :class:`SpecError`, ``diagnostics`` for
:class:`ConfigRejected`, ``output`` for HAProxy errors). FastAPI's own errors are mapped
through the same function: a request that fails FastAPI validation becomes an
:class:`InvalidRequest` (422, titled by what was wrong: ``query.before``, ``path.version``,
``header.If-Match`` ...), a body FastAPI could not read an :class:`UnreadableBody`, an
unknown route or method keeps its 404 / 405 status, and a 405 lists in ``Allow`` every
method of the path (:func:`lbctl.api.methods.allowed_methods`). A 401 carries
``WWW-Authenticate: Bearer`` (RFC 6750 §3).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lbctl.api.methods import allowed_methods
from lbctl.errors import FieldError, InvalidRequest, LbctlError, NotFound, UnreadableBody
from lbctl.spec import format_loc

__all__ = [
    "PROBLEM_JSON",
    "install_error_handlers",
    "problem_body",
    "problem_response",
    "problem_type",
]

PROBLEM_JSON = "application/problem+json"
"""Media type of every error body (RFC 9457 §3)."""

#: The ``WWW-Authenticate`` challenge sent with every 401 (RFC 6750 §3).
BEARER_CHALLENGE = 'Bearer realm="lbctl"'

_log = logging.getLogger("lbctl.api")


def problem_type(cls: type[LbctlError]) -> str:
    """The stable ``type`` URI of an error class: ``VersionConflict`` →
    ``urn:lbctl:problem:version-conflict`` (a name, not a link: nothing to dereference)."""
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()
    return f"urn:lbctl:problem:{kebab}"


def problem_body(err: LbctlError) -> dict[str, Any]:
    """The problem+json members for ``err``: type, title, status, detail, error, details()."""
    cls = type(err)
    body: dict[str, Any] = {
        "type": problem_type(cls),
        "title": cls.title,
        "status": cls.http_status,
        "detail": str(err),
        "error": cls.__name__,
    }
    for key, value in err.details().items():
        body.setdefault(key, value)
    return body


def problem_response(err: LbctlError) -> JSONResponse:
    """The HTTP response for ``err`` (status ``http_status``, ``application/problem+json``)."""
    status = type(err).http_status
    headers = {"WWW-Authenticate": BEARER_CHALLENGE} if status == 401 else None
    return JSONResponse(problem_body(err), status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def _lbctl_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LbctlError)
    if type(exc).http_status >= 500:
        _log.warning("%s %s → %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return problem_response(exc)


def _field_errors(errors: Sequence[Any]) -> list[FieldError]:
    result = []
    for err in errors:
        loc = tuple(p for p in err.get("loc", ()) if isinstance(p, int | str))
        result.append(FieldError(format_loc(loc), str(err.get("msg", "invalid"))))
    return result


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(UnreadableBody(_field_errors(errors)))
    return problem_response(InvalidRequest(_field_errors(errors)))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Error"
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    body = {
        "type": "about:blank",
        "title": phrase,
        "status": exc.status_code,
        "detail": detail,
    }
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return problem_response(NotFound(f"no route {request.method} {request.url.path}"))
    if exc.status_code == 400:  # FastAPI could not read a body it parses itself
        return problem_response(UnreadableBody([FieldError("", detail)]))
    if exc.status_code == 405:
        allow = allowed_methods(request.app, request.scope)
        if allow:
            headers["Allow"] = ", ".join(allow)
    return JSONResponse(body, status_code=exc.status_code, headers=headers, media_type=PROBLEM_JSON)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug: Starlette re-raises it after this response, so the server logs the traceback;
    # the caller learns nothing about internals. uvicorn then closes the connection, so the
    # response says so (``Connection: close``): a keep-alive client must not send its next
    # request on a connection the server is about to reset.
    body = {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": f"unexpected {type(exc).__name__}; see the agent log",
    }
    return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON,
                        headers={"Connection": "close"})


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers: :class:`LbctlError` (every subclass), request validation,
    Starlette's HTTP errors (404 / 405 ...), and any other exception (a bug: 500, logged)."""
    app.add_exception_handler(LbctlError, _lbctl_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
