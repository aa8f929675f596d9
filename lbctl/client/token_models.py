"""The documents of ``/api/v1/tokens`` and ``GET /api/v1/audit`` (:mod:`lbctl.api.tokens`,
:mod:`lbctl.api.audit`), shared by the agent (its OpenAPI contract) and the clients.

Times: ``created_at`` epoch seconds; ``ts`` an ISO 8601 UTC time with milliseconds;
``*_ms`` milliseconds. A token's secret appears in :class:`TokenCreated` only, once; no
document carries its hash.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TOKEN_NAME_PATTERN", "AuditLine", "AuditPage", "BootstrapToken", "TokenCreate",
           "TokenCreated", "TokenInfo", "TokenList", "TokenRevoked"]

#: A token name: as :data:`lbctl.state.tokens.NAME_RE` (HAProxy object names).
TOKEN_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$"

RoleName = Literal["viewer", "operator", "admin"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenCreate(_Doc):
    """The body of ``POST /api/v1/tokens``: who holds the new token and its role."""

    name: str = Field(min_length=1, max_length=63, pattern=TOKEN_NAME_PATTERN,
                      description="Letters, digits and _.:- (at most 63, starting with a letter "
                                  "or digit); 'admin' is the bootstrap token's",
                      examples=["grafana"])
    role: RoleName = Field(description="viewer < operator < admin")


class TokenInfo(_Doc):
    """One named token: never its secret or its hash. Use is not tracked (no last-used
    time): a token's check costs no write."""

    name: str
    role: RoleName
    created_at: float = Field(description="epoch seconds")


class TokenCreated(TokenInfo):
    """A new token: ``token`` is its secret, shown here only (the agent keeps its SHA-256)."""

    token: str = Field(description="The bearer token; it cannot be read again")


class BootstrapToken(_Doc):
    """The bootstrap token (``$LBCTL_TOKEN`` or the state dir's ``token`` file): always
    ``admin``, not in the token store, so it cannot be revoked over the API."""

    name: str
    role: RoleName
    revocable: Literal[False] = False
    note: str


class TokenList(_Doc):
    """The named tokens, oldest first, and the bootstrap token beside them."""

    tokens: list[TokenInfo]
    bootstrap: BootstrapToken


class AuditLine(_Doc):
    """One audit line (:mod:`lbctl.state.journal`): ``id`` is its place in the trail (the
    paging cursor); ``what`` apply | rollback | server | reload | denied | validate | plan |
    login | logout | token-create | token-revoke; ``result`` changed | unchanged | ok |
    invalid | conflict | unauthorized | forbidden | failed."""

    id: int
    ts: str
    who: str
    author: str = ""
    what: str
    target: str | None = None
    message: str = ""
    base_version: int | None = None
    version: int | None = None
    result: str
    error: str | None = None
    entry: int | None = None
    queued_ms: float = 0.0
    duration_ms: float = 0.0


class AuditPage(_Doc):
    """A page of the audit trail, newest first; ``next_before`` is the ``before`` of the next
    (older) page, null on the last."""

    lines: list[AuditLine]
    next_before: int | None


class TokenRevoked(TokenInfo):
    """A revoked token (its record as it was) and how many UI sessions it had open, all now
    ended."""

    sessions_ended: int = Field(ge=0)
