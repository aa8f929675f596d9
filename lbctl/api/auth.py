"""Bearer-token authentication of the agent's ``/api`` routes.

Every ``/api/v1`` call needs ``Authorization: Bearer <token>`` (RFC 6750 §2.1); the token is
compared in constant time (:func:`hmac.compare_digest`). A missing, malformed or wrong token
raises :class:`lbctl.errors.AuthError`, which the one error mapping
(:mod:`lbctl.api.errors`) answers with 401 and ``WWW-Authenticate: Bearer``. ``/healthz`` does
not use this dependency and stays open.

Who is calling: the agent has one token today, named :data:`TOKEN_NAME` (``admin``). A request
that passes :func:`require_token` is that token's holder; :data:`CallerDep` gives its name to
the handlers, which pass it to the controller as ``who`` (history and audit). The
``X-Lbctl-Author`` header (the CLI sends ``user@host``) is kept beside it as ``author``: what
the caller says about itself, not checked.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lbctl.errors import AuthError

__all__ = ["TOKEN_NAME", "CallerDep", "bearer_scheme", "caller", "require_token"]

#: The name of the agent's one token (``who`` in the history and the audit log).
TOKEN_NAME = "admin"

#: Declares the scheme in the OpenAPI document (the "Authorize" button of ``/docs``); it
#: does not reject anything itself (``auto_error=False``): :func:`require_token` does.
bearer_scheme = HTTPBearer(auto_error=False, description="The agent token (LBCTL_TOKEN).")


def _presented_token(header: str | None) -> str:
    if not header:
        raise AuthError("missing bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("malformed Authorization header: expected 'Bearer <token>'")
    return value.strip()


def require_token(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """FastAPI dependency: pass when the request carries the agent's token.

    The expected token is ``request.app.state.token`` (set by
    :func:`lbctl.api.app.create_app`). Raises :class:`AuthError` otherwise.
    """
    expected: str = request.app.state.token
    presented = _presented_token(request.headers.get("authorization"))
    if not hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8")):
        raise AuthError("wrong bearer token")
    request.state.caller = TOKEN_NAME


def caller(request: Request) -> str:
    """FastAPI dependency: the name of the token that authenticated the request
    (:data:`TOKEN_NAME`); routes behind :func:`require_token` only."""
    return str(getattr(request.state, "caller", TOKEN_NAME))


CallerDep = Annotated[str, Depends(caller)]
