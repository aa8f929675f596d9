"""The admin UI's session routes: a token exchanged for an ``HttpOnly`` cookie, and logout.

Every one answers problem+json on error (:mod:`lbctl.api.errors`):

- ``POST /api/v1/session`` with ``{"token": "<agent token>"}`` → 200 :class:`SessionInfo`
  (role, token name, ``csrf_token``, ``expires_at``) and ``Set-Cookie: lbctl_session=<random
  id>; Max-Age=<lifetime>; Path=/; HttpOnly; SameSite=Strict`` (``; Secure`` when the request
  came over TLS). A wrong token is a 401 (:class:`AuthError`); a request whose ``Origin`` (or
  ``Referer``) names another origin is a 403 (:class:`CsrfRefused`: no login CSRF). A session
  presented in the request's cookie is ended first.
- ``GET /api/v1/session`` with the cookie → the same :class:`SessionInfo` (a reloaded page
  recovers its CSRF token); no valid cookie → 401 (a bearer token is not a session).
- ``DELETE /api/v1/session`` with the cookie, its ``X-CSRF-Token`` and a same-origin
  ``Origin`` → 204: the session is deleted server-side and the cookie cleared (``Max-Age=0``).

How the cookie then counts as its token on every other route, and the CSRF guard of
cookie-authenticated writes: :mod:`lbctl.api.cookie`. Logins (also refused ones) and logouts
leave audit lines (``what`` ``login`` / ``logout``, ``target`` ``session``,
:func:`lbctl.state.journal.audit`). Sessions live in the state dir, hashed
(:mod:`lbctl.state.sessions`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from lbctl.api.contract import answer, problems
from lbctl.api.cookie import SESSION_COOKIE, cookie_session, guarded, same_origin, session_store
from lbctl.api.deps import header_text
from lbctl.client.models import SessionInfo, SessionLogin
from lbctl.errors import AuthError, CsrfRefused
from lbctl.state.journal import audit
from lbctl.state.sessions import Session, SessionStore, csrf_token
from lbctl.state.tokens import Authenticator, hash_token

__all__ = ["session_router"]

session_router = APIRouter(prefix="/session", tags=["session"])


def _expires(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _info(session: Session) -> dict[str, str]:
    return SessionInfo(role=session.principal.role, token_name=session.principal.name,
                       csrf_token=session.csrf_token,
                       expires_at=_expires(session.record.expires_at)).model_dump()


def _cookie(request: Request, value: str, max_age: int) -> str:
    """The ``Set-Cookie`` value (RFC 6265 §4.1; ``SameSite``: RFC 6265bis §4.1.2.7)."""
    secure = "; Secure" if request.url.scheme == "https" else ""
    return (f"{SESSION_COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; "
            f"SameSite=Strict{secure}")


_NO_STORE = {"Cache-Control": "no-store"}


def _store_of(request: Request) -> SessionStore:
    store = session_store(request)
    if store is None:
        raise AuthError("this agent has no session store: send a bearer token")
    return store


@session_router.post(
    "",
    operation_id="create_session",
    summary="Log in: exchange a token for a session cookie (the admin UI)",
    responses={200: {"model": SessionInfo, "description": "Logged in: Set-Cookie lbctl_session "
                     "(HttpOnly, SameSite=Strict, Secure under TLS, Max-Age the lifetime)"},
               **problems(422)},
)
def create_session(request: Request, body: SessionLogin) -> JSONResponse:
    """Open a session for ``body.token`` (module docstring). Raises :class:`AuthError` (401)
    for an unknown or revoked token, :class:`CsrfRefused` (403) for a foreign ``Origin``."""
    why = same_origin(request, required=False)
    author = header_text(request.headers.get("x-lbctl-author"))
    if why is not None:
        audit("login", who="anonymous", author=author, target="session", result="forbidden",
              error=f"CsrfRefused: {why}")
        raise CsrfRefused(f"login refused: {why}")
    store = _store_of(request)
    authenticator: Authenticator = request.app.state.authenticator
    who = authenticator.authenticate(body.token)
    if who is None:
        err = AuthError("wrong token: unknown or revoked")
        audit("login", who="anonymous", author=author, target="session",
              result="unauthorized", error=f"AuthError: {err}")
        raise err
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        store.close(previous)
    session_id, record = store.open(
        hash_token(body.token), who,
        alive=lambda digest: authenticator.authenticate_digest(digest) is not None)
    audit("login", who=who.name, author=author, target="session", result="ok")
    session = Session(record, who, csrf_token(session_id))
    return answer(_info(session), headers={
        **_NO_STORE, "Set-Cookie": _cookie(request, session_id, round(store.ttl_s))})


@session_router.get(
    "",
    operation_id="get_session",
    summary="The current session (by its cookie): role, token name, CSRF token, expiry",
    responses={200: {"model": SessionInfo, "description": "The session of the cookie"},
               **problems()},
)
def get_session(request: Request) -> JSONResponse:
    """The session of the request's cookie. Raises :class:`AuthError` (401) without a live
    session cookie (a bearer token is not a session)."""
    session = cookie_session(request)
    if session is None:
        raise AuthError("no session cookie: log in with POST /api/v1/session")
    return answer(_info(session), headers=_NO_STORE)


@session_router.delete(
    "",
    operation_id="delete_session",
    summary="Log out: end the session of the cookie and clear the cookie",
    status_code=204,
    responses={204: {"description": "Logged out: the session is deleted, the cookie cleared"},
               **problems()},
)
def delete_session(request: Request) -> Response:
    """End the request's session (with its CSRF header and a same-origin ``Origin``). Raises
    :class:`AuthError` (401) without a live session cookie, :class:`CsrfRefused` (403)."""
    session = cookie_session(request)
    if session is None:
        raise AuthError("no session cookie: nothing to log out of")
    guarded(request, session)
    _store_of(request).close(request.cookies[SESSION_COOKIE])
    audit("logout", who=session.principal.name,
          author=header_text(request.headers.get("x-lbctl-author")), target="session",
          result="ok")
    return Response(status_code=204, headers={**_NO_STORE,
                                              "Set-Cookie": _cookie(request, "", 0)})
