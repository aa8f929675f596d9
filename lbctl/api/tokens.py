"""The named API tokens over HTTP: ``/api/v1/tokens``, all ``admin`` (:mod:`lbctl.state.tokens`).

- ``GET /tokens`` → :class:`TokenList`: each named token's name, role and creation time (never
  its secret or hash; use is not tracked), oldest first, and ``bootstrap``: the ``admin``
  token of ``$LBCTL_TOKEN`` / the state dir's ``token`` file, which is not in the store.
- ``POST /tokens`` with ``{"name": "grafana", "role": "viewer"}`` → 201 :class:`TokenCreated`:
  the secret (``token``) is in this answer only. A taken name is a 409 (:class:`NameTaken`);
  a bad name or role a 422 naming ``body.name`` / ``body.role`` (:class:`InvalidRequest`),
  ``admin`` included (the bootstrap token's name).
- ``DELETE /tokens/{name}`` → 200 :class:`TokenRevoked`: the token is refused (401) from the
  next request on, and every UI session it opened is ended (:meth:`SessionStore.end_for_token`;
  a session also re-checks its token on every request). An unknown name is a 404; ``admin``
  is a 422 (the bootstrap token is changed where it is set, then the agent restarted).
  Revoking the token the request itself is made with is allowed (its caller learns it at the
  next request, a 401; the UI signs out): it is what someone retiring a leaked token wants,
  and the bootstrap token always remains, so no agent is left without an admin.

Creations and revocations, refused ones too (409, 404), leave audit lines (``what``
``token-create`` / ``token-revoke``, ``target`` ``"<name> (<role>)"``, with
``X-Lbctl-Author`` / ``X-Lbctl-Message``; :func:`lbctl.state.journal.audit`). Like the CLI's
``lbctl token`` (:mod:`lbctl.cli.tokens`), these edit the state dir's ``tokens.json``; the
two can be mixed.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import answer, ok, problems
from lbctl.api.deps import ControllerDep, NoteDep
from lbctl.client.token_models import (
    BootstrapToken,
    TokenCreate,
    TokenCreated,
    TokenInfo,
    TokenList,
    TokenRevoked,
)
from lbctl.errors import FieldError, InvalidRequest, LbctlError, NameTaken, StoreError
from lbctl.state.journal import audit, outcome_of
from lbctl.state.sessions import SessionStore
from lbctl.state.tokens import ADMIN_NAME, TokenRecord, TokenStore

__all__ = ["BOOTSTRAP_NOTE", "tokens_router"]

tokens_router = APIRouter(prefix="/tokens", tags=["tokens"])
log = logging.getLogger("lbctl.api")
_ADMIN = [Depends(require_role("admin"))]

#: What the list says of the bootstrap token.
BOOTSTRAP_NOTE = ("the agent's bootstrap token ($LBCTL_TOKEN or the state dir's token file): "
                  "not in the token store, so it cannot be revoked here; change it where it "
                  "is set and restart the agent")

NamePath = Annotated[str, Path(min_length=1, max_length=63, description="a token's name")]


def _store(request: Request) -> TokenStore:
    store: TokenStore = request.app.state.tokens
    return store


def _info(record: TokenRecord) -> dict[str, object]:
    return TokenInfo(name=record.name, role=record.role,
                     created_at=record.created_at).model_dump()


def _result(error: LbctlError | None) -> str:
    """``changed``; ``conflict`` for a taken name (409); else as any write (``failed``)."""
    if error is None:
        return "changed"
    return "conflict" if isinstance(error, NameTaken) else outcome_of(error)


def _audit(what: str, note: NoteDep, controller: ControllerDep, target: str, *,
           error: LbctlError | None = None, started: float) -> None:
    audit(what, who=note.who, author=note.author, message=note.message, target=target,
          version=controller.version, result=_result(error),
          error=f"{type(error).__name__}: {error}" if error else None,
          duration_ms=(time.monotonic() - started) * 1000)


@tokens_router.get("", summary="The named tokens (never their secrets)",
                   operation_id="list_tokens", dependencies=_ADMIN,
                   responses={**ok(TokenList, "The tokens"), **problems()})
def list_tokens(request: Request) -> JSONResponse:
    """:class:`TokenList`: name, role, ``created_at`` (epoch seconds) of each named token,
    oldest first, and the bootstrap token. Raises :class:`StoreError` (500) for an
    unreadable ``tokens.json``."""
    bootstrap = BootstrapToken(name=ADMIN_NAME, role="admin", note=BOOTSTRAP_NOTE)
    return answer({"tokens": [_info(r) for r in _store(request).records()],
                   "bootstrap": bootstrap.model_dump()})


@tokens_router.post("", summary="Create a token with a role (its secret is shown once)",
                    operation_id="create_token", dependencies=_ADMIN, status_code=201,
                    responses={201: {"model": TokenCreated,
                                     "description": "Created: token is the secret, shown once"},
                               **problems(409, 422)})
def create_token(request: Request, body: TokenCreate, note: NoteDep,
                 controller: ControllerDep) -> JSONResponse:
    """Create ``body.name`` with ``body.role``: 201 :class:`TokenCreated` (module docstring)."""
    if body.name == ADMIN_NAME:
        raise InvalidRequest([FieldError("body.name", f"{ADMIN_NAME!r} is the bootstrap "
                                                      "token's name: choose another")])
    started = time.monotonic()
    target = f"{body.name} ({body.role})"
    try:
        secret, record = _store(request).create(body.name, body.role)
    except LbctlError as exc:
        _audit("token-create", note, controller, target, error=exc, started=started)
        raise
    _audit("token-create", note, controller, target, started=started)
    return answer({**_info(record), "token": secret}, status=201)


@tokens_router.delete("/{name}", summary="Revoke a token and end its UI sessions",
                      operation_id="revoke_token", dependencies=_ADMIN,
                      responses={**ok(TokenRevoked, "Revoked"), **problems(404, 422)})
def revoke_token(request: Request, name: NamePath, note: NoteDep,
                 controller: ControllerDep) -> JSONResponse:
    """Revoke ``name``: 200 :class:`TokenRevoked` (module docstring). Raises
    :class:`NotFound` (404), :class:`InvalidRequest` (422) for ``admin``."""
    if name == ADMIN_NAME:
        raise InvalidRequest([FieldError("path.name", BOOTSTRAP_NOTE)])
    started = time.monotonic()
    try:
        record = _store(request).revoke(name)
    except LbctlError as exc:
        _audit("token-revoke", note, controller, name, error=exc, started=started)
        raise
    sessions: SessionStore = request.app.state.sessions
    try:
        ended = sessions.end_for_token(record.sha256)
    except StoreError as exc:  # its sessions are refused anyway: each re-checks its token
        log.error("token %r revoked, its sessions not removed: %s", name, exc)
        ended = 0
    _audit("token-revoke", note, controller, f"{record.name} ({record.role})",
           started=started)
    return answer({**_info(record), "sessions_ended": ended})
