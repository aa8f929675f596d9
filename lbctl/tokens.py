"""API tokens and their roles.

Roles, weakest first (each includes the ones before it):

- ``viewer``: every read (``GET``): the spec, the live source, versions, health, HAProxy
  status, client counters, metrics;
- ``operator``: viewer + runtime operations: server state / weight, reload, clearing a
  client's counters;
- ``admin``: everything, config writes included (``PUT /config``, validate, plan, rollback,
  the source view), since a config (``extra`` lines, source edits) can carry free-form
  directives and ``lua-load`` runs code inside HAProxy.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

__all__ = ["ADMIN_NAME", "ROLES", "Authenticator", "Principal", "Role", "parse_role", "role_allows"]

Role = Literal["viewer", "operator", "admin"]
#: Every role, weakest first.
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
#: The bootstrap token's name (``$LBCTL_TOKEN`` or the state dir's ``token`` file): ``admin``.
ADMIN_NAME = "admin"


def parse_role(value: str) -> Role:
    """``"Operator "`` → ``"operator"``; raises ``ValueError`` naming the roles otherwise."""
    wanted = value.strip().lower()
    for role in ROLES:
        if role == wanted:
            return role
    raise ValueError(f"unknown role {value!r}: expected one of {', '.join(ROLES)}")


def role_allows(held: Role, needed: Role) -> bool:
    """True when a token of role ``held`` may do what needs ``needed``."""
    return ROLES.index(held) >= ROLES.index(needed)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's ``name`` (``who`` in the history and audit) and ``role``."""

    name: str
    role: Role

    def allows(self, needed: Role) -> bool:
        """True when this principal's role includes ``needed``."""
        return role_allows(self.role, needed)


class Authenticator:
    """Token → :class:`Principal`: the bootstrap ``admin`` token (``$LBCTL_TOKEN`` or the state
    dir's ``token`` file, compared in constant time)."""

    def __init__(self, bootstrap: str) -> None:
        if not bootstrap:
            raise ValueError("the agent token must not be empty")
        self._bootstrap = bootstrap.encode("utf-8")

    def authenticate(self, token: str) -> Principal | None:
        """The principal ``token`` belongs to, or ``None`` for an unknown token."""
        if hmac.compare_digest(token.encode("utf-8"), self._bootstrap):
            return Principal(ADMIN_NAME, "admin")
        return None
