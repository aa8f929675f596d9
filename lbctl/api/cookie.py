"""The admin UI's session cookie as a credential, and the CSRF guard of its writes.

:func:`cookie_principal` is what :func:`lbctl.api.auth.authenticate` asks when a request sends
no ``Authorization`` header: the live session (:mod:`lbctl.state.sessions`) of the
``lbctl_session`` cookie, acting as the token it was opened with, at that token's current role.
A cookie-authenticated request with an unsafe method (anything but ``GET``, ``HEAD``,
``OPTIONS``) must carry both

1. ``X-CSRF-Token`` equal to the session's CSRF token (:func:`lbctl.state.sessions.csrf_token`,
   compared in constant time), and
2. ``Origin`` equal to the agent's own origin — ``scheme://host:port`` the request came to —
   or, without ``Origin``, a ``Referer`` of that origin (OWASP CSRF Prevention Cheat Sheet,
   "Verifying Origin With Standard Headers"); neither header → refused.

Otherwise it is a 403 :class:`lbctl.errors.CsrfRefused` naming what was wrong, with an audit
line (``what`` ``denied``, ``result`` ``forbidden``). A bearer token, when sent, wins and needs
no guard: a browser never adds one to a cross-site request. The routes that open and close
sessions are :mod:`lbctl.api.session`.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import Request

from lbctl.errors import AuthError, CsrfRefused
from lbctl.state.journal import audit
from lbctl.state.sessions import Session, SessionStore
from lbctl.state.tokens import Authenticator, Principal

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "cookie_principal",
    "cookie_session",
    "guarded",
    "same_origin",
    "session_store",
]

#: The session cookie's name.
SESSION_COOKIE = "lbctl_session"
#: The header a cookie-authenticated write carries its CSRF token in.
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change nothing (RFC 9110 §9.2.1): no CSRF guard.
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def session_store(request: Request) -> SessionStore | None:
    """The app's session store (``app.state.sessions``), ``None`` when it has none."""
    store = getattr(request.app.state, "sessions", None)
    return store if isinstance(store, SessionStore) else None


def _origin(url: str) -> tuple[str, str, int] | None:
    """``scheme://host[:port]...`` → ``(scheme, host, port)``, ``None`` for anything else
    (``null``, a relative or unparsable URL, another scheme)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def _own_origin(request: Request) -> tuple[str, str, int]:
    """The origin ``request`` came to: its scheme (``https`` under TLS) and ``Host``."""
    url = request.url
    scheme = url.scheme.lower()
    return scheme, (url.hostname or "").lower(), url.port or _DEFAULT_PORTS.get(scheme, 0)


def same_origin(request: Request, *, required: bool) -> str | None:
    """Why ``request``'s ``Origin`` (else ``Referer``) is not the agent's own origin, or
    ``None`` when it is. With neither header: ``None`` unless ``required`` (a cookie write)."""
    own = _own_origin(request)
    shown = f"{own[0]}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        return None if _origin(origin) == own else (
            f"Origin {origin.strip()!r} is not this agent's origin {shown!r}")
    referer = request.headers.get("referer")
    if referer is not None:
        return None if _origin(referer) == own else (
            f"Referer {referer.strip()!r} is not of this agent's origin {shown!r}")
    return f"neither Origin nor Referer was sent (expected {shown!r})" if required else None


def _refuse(request: Request, who: Principal, reason: str) -> CsrfRefused:
    err = CsrfRefused(f"cross-site request refused: {reason}; a write authenticated by the "
                      f"session cookie needs {CSRF_HEADER} and a same-origin Origin (or send "
                      "a bearer token)")
    # author and message are not kept: in a forged request they are the forger's words.
    audit("denied", who=who.name, target=f"{request.method} {request.url.path}",
          result="forbidden", error=f"CsrfRefused: {err}")
    return err


def cookie_session(request: Request) -> Session | None:
    """The live session of ``request``'s cookie; ``None`` without a cookie. Raises
    :class:`AuthError` (401) for a cookie that names no live session."""
    session_id = request.cookies.get(SESSION_COOKIE)
    store = session_store(request)
    if not session_id or store is None:
        return None
    authenticator: Authenticator = request.app.state.authenticator
    session = store.lookup(session_id, authenticator)
    if session is None:
        raise AuthError("the session has expired or ended (logout, or its token was "
                        "revoked): log in again with POST /api/v1/session")
    return session


def guarded(request: Request, session: Session) -> Session:
    """``session``, after the CSRF guard of an unsafe method (module docstring)."""
    if request.method in _SAFE:
        return session
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        raise _refuse(request, session.principal, f"{CSRF_HEADER} is missing")
    if not hmac.compare_digest(sent.strip().encode("utf-8", "replace"),
                               session.csrf_token.encode("ascii")):
        raise _refuse(request, session.principal, f"{CSRF_HEADER} is not this session's")
    why = same_origin(request, required=True)
    if why is not None:
        raise _refuse(request, session.principal, why)
    return session


def cookie_principal(request: Request) -> Principal | None:
    """Who ``request``'s session cookie acts as; ``None`` when it sends no cookie. Raises
    :class:`AuthError` (401: no live session) and :class:`CsrfRefused` (403: an unsafe method
    without the CSRF header or from another origin)."""
    session = cookie_session(request)
    return None if session is None else guarded(request, session).principal
