"""Bearer-token authentication and role checks of the agent's ``/api`` routes.

Every ``/api/v1`` call (and ``/metrics``) needs ``Authorization: Bearer <token>`` (RFC 6750
§2.1), or the admin UI's session cookie, which stands for the token it was opened with
(:mod:`lbctl.api.cookie`: CSRF-guarded writes). The app's
:class:`lbctl.state.tokens.Authenticator` (``app.state.authenticator``) maps the token to a
:class:`lbctl.state.tokens.Principal` (name, role), in constant time. A missing, malformed or
unknown token raises :class:`lbctl.errors.AuthError` (401 with
``WWW-Authenticate: Bearer``); a known token whose role is not enough raises
:class:`lbctl.errors.Forbidden` (403, naming the role needed; a refused write also leaves an
audit line, ``what`` ``denied``). Both go through the one error mapping
(:mod:`lbctl.api.errors`). ``/healthz`` uses neither and stays open.

Each route declares the role it needs::

    @router.put("/config/source", dependencies=[Depends(require_role("admin"))])

:func:`require_role` authenticates by itself (once per request: the principal is kept in
``request.state.principal``), so it is enough on its own; :func:`require_token` (any valid
token) is what the app adds to every protected router, so a route that forgets its role still
needs a token (and the route-table test in ``tests/test_roles.py`` fails).

Who is calling: :data:`PrincipalDep` gives handlers the principal, :data:`CallerDep` its name,
which handlers pass to the controller as ``who`` (history and audit). The ``X-Lbctl-Author``
header (the CLI sends ``user@host``) is kept beside it as ``author``: what the caller says
about itself, not checked.
"""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lbctl.api.cookie import cookie_principal
from lbctl.errors import AuthError, Forbidden
from lbctl.state.journal import audit
from lbctl.state.tokens import ADMIN_NAME, Authenticator, Principal, Role, parse_role

__all__ = [
    "TOKEN_NAME",
    "CallerDep",
    "PrincipalDep",
    "RoleCheck",
    "authenticate",
    "bearer_scheme",
    "caller",
    "principal",
    "require_role",
    "require_token",
]

#: The bootstrap token's name (``who`` in the history and audit for ``$LBCTL_TOKEN``).
TOKEN_NAME = ADMIN_NAME

#: Declares the scheme in the OpenAPI document (the "Authorize" button of ``/docs``); it
#: does not reject anything itself (``auto_error=False``): :func:`authenticate` does.
bearer_scheme = HTTPBearer(auto_error=False, description="An agent token (see README, Roles).")


def _presented_token(header: str | None) -> str:
    if not header:
        raise AuthError("missing bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("malformed Authorization header: expected 'Bearer <token>'")
    return value.strip()


def authenticate(request: Request) -> Principal:
    """The principal of ``request``'s bearer token (kept in ``request.state.principal``).

    Asks ``request.app.state.authenticator`` (set by :func:`lbctl.api.app.create_app`).
    Without an ``Authorization`` header, the admin UI's session cookie counts as its token
    (:func:`lbctl.api.cookie.cookie_principal`). Raises :class:`AuthError` (401) for a
    missing, malformed or unknown token or a dead session, :class:`CsrfRefused` (403) for a
    cookie write without its CSRF token or from another origin.
    """
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    header = request.headers.get("authorization")
    if header is None:  # the admin UI's session cookie, CSRF-guarded (lbctl.api.session)
        by_cookie = cookie_principal(request)
        if by_cookie is not None:
            request.state.principal = by_cookie
            return by_cookie
    authenticator: Authenticator = request.app.state.authenticator
    found = authenticator.authenticate(_presented_token(header))
    if found is None:
        raise AuthError("wrong bearer token: unknown or revoked")
    request.state.principal = found
    return found


def require_token(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """FastAPI dependency: pass for any valid token, whatever its role (401 otherwise).

    The app adds it to every protected router; routes add :func:`require_role` for their role.
    """
    authenticate(request)


class RoleCheck:
    """The FastAPI dependency :func:`require_role` returns; ``role`` is the role it needs
    (read by the route-table test and the README's table)."""

    def __init__(self, role: Role) -> None:
        self.role: Role = role

    async def __call__(
        self,
        request: Request,
        _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        """Authenticate, then raise :class:`Forbidden` (403) unless the role includes ours.

        A coroutine: the principal :func:`require_token` found is read in the event loop;
        what reads files (:func:`authenticate` without it, the audit line of a refused write)
        runs in the thread pool, as a plain dependency would."""
        known = getattr(request.state, "principal", None)
        who = known if isinstance(known, Principal) else \
            await run_in_threadpool(authenticate, request)
        if not who.allows(self.role):
            err = Forbidden(
                f"token {who.name!r} has role {who.role!r}; this call needs role {self.role!r}",
                required_role=self.role,
            )
            if request.method not in ("GET", "HEAD"):
                await run_in_threadpool(_audit_denied, request, who, err)
            raise err
        return who

    def __repr__(self) -> str:
        return f"require_role({self.role!r})"


def _audit_denied(request: Request, who: Principal, err: Forbidden) -> None:
    """The audit line of a write refused for its role: ``what`` ``denied``, ``target`` the
    method and path, ``result`` ``forbidden`` (:mod:`lbctl.state.journal`)."""
    controller = getattr(request.app.state, "controller", None)
    audit("denied", who=who.name, author=_header_text(request.headers.get("x-lbctl-author")),
          message=_header_text(request.headers.get("x-lbctl-message")),
          target=f"{request.method} {request.url.path}",
          version=getattr(controller, "version", None), result="forbidden",
          error=f"Forbidden: {err}")


def _header_text(value: str | None) -> str:
    # As lbctl.api.routes.header_text: UTF-8 bytes that Starlette decoded as Latin-1.
    try:
        return value.encode("latin-1").decode("utf-8") if value else ""
    except UnicodeError:
        return value or ""


@functools.cache
def require_role(role: str) -> RoleCheck:
    """The dependency that admits tokens whose role includes ``role`` (``viewer`` <
    ``operator`` < ``admin``): ``dependencies=[Depends(require_role("admin"))]``.

    Raises ``ValueError`` at import time for an unknown role name. The same object is returned
    for the same role, so FastAPI runs it once per request.
    """
    return RoleCheck(parse_role(role))


def principal(request: Request) -> Principal:
    """FastAPI dependency: who is calling (routes behind :func:`require_token` /
    :func:`require_role` only)."""
    return authenticate(request)


def caller(request: Request) -> str:
    """The name of the token that authenticated ``request`` (:data:`TOKEN_NAME` when none
    did: an in-process call); also a FastAPI dependency (:data:`CallerDep`)."""
    known = getattr(request.state, "principal", None)
    return known.name if isinstance(known, Principal) else TOKEN_NAME


PrincipalDep = Annotated[Principal, Depends(principal)]
CallerDep = Annotated[str, Depends(caller)]
