"""API tokens and their roles: the ``tokens.json`` store and the agent's authenticator.

Roles, weakest first (each includes the ones before it):

- ``viewer``: every read (``GET``): the spec, the live source, versions, health, HAProxy
  status, client counters, metrics;
- ``operator``: viewer + runtime operations: server state / weight, reload, clearing a
  client's counters;
- ``admin``: everything, config writes included (``PUT /config``, validate, plan, rollback,
  the source view), since a config (``extra`` lines, source edits) can carry free-form
  directives and ``lua-load`` runs code inside HAProxy.

Two kinds of token:

- the **bootstrap** token, ``$LBCTL_TOKEN`` or the state dir's ``token`` file (created by the
  first ``lbctl serve``): role ``admin``, name ``admin``, as before roles existed;
- **named** tokens in ``tokens.json`` (mode 0600), made by ``lbctl token create``::

      {"tokens": [{"name": "grafana", "role": "viewer", "sha256": "<64 hex>",
                   "created_at": 1767225600.0}]}

  Only the SHA-256 of a token is stored, never the token: it is printed once, at creation. A
  token is 32 random bytes (:func:`secrets.token_urlsafe`), so a fast hash is the right one: a
  slow password hash (bcrypt, scrypt, argon2) protects guessable secrets, and 2**256
  candidates cannot be searched at any speed; a fast hash keeps every request's check at a
  few microseconds. Digests are compared with :func:`hmac.compare_digest`, against every
  entry, so the time taken does not depend on where (or whether) a match is.

Writes go through :class:`lbctl.state.store.StateDir` (temp file, fsync, rename) under an
``fcntl`` lock on ``tokens.json.lock``, so two ``lbctl token`` commands never lose each
other's change. The agent re-reads ``tokens.json`` when its ``stat`` changes (one ``stat``
per request): a token created, or revoked, while it runs counts from the next request.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from typing import Literal

from lbctl.errors import LbctlError, NameTaken, NotFound, StoreError
from lbctl.state.store import StateDir

__all__ = [
    "ADMIN_NAME",
    "ROLES",
    "Authenticator",
    "Principal",
    "Role",
    "TokenRecord",
    "TokenStore",
    "hash_token",
    "parse_role",
    "role_allows",
]

Role = Literal["viewer", "operator", "admin"]
#: Every role, weakest first.
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
#: The bootstrap token's name (``$LBCTL_TOKEN`` or the state dir's ``token`` file): ``admin``.
ADMIN_NAME = "admin"
#: Token names: those of HAProxy objects in the spec (DESIGN.md, "Safety rules").
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")


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


def hash_token(token: str) -> str:
    """The stored form of ``token``: SHA-256 of its UTF-8 bytes, 64 hex digits."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's ``name`` (``who`` in the history and audit) and ``role``."""

    name: str
    role: Role

    def allows(self, needed: Role) -> bool:
        """True when this principal's role includes ``needed``."""
        return role_allows(self.role, needed)


@dataclass(frozen=True)
class TokenRecord:
    """One named token as stored: ``sha256`` of the token, ``created_at`` in epoch seconds."""

    name: str
    role: Role
    sha256: str
    created_at: float


def _record(item: object) -> TokenRecord:
    if not isinstance(item, dict):
        raise ValueError("an entry is not an object")
    digest = str(item["sha256"])
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"entry {item.get('name')!r}: sha256 is not 64 hex digits")
    return TokenRecord(str(item["name"]), parse_role(str(item["role"])), digest,
                       float(item["created_at"]))


class TokenStore:
    """The named tokens of one state dir (``tokens.json``)."""

    def __init__(self, state: StateDir) -> None:
        self.state = state
        self.path = state.tokens_path

    def records(self) -> list[TokenRecord]:
        """Every named token, oldest first; ``[]`` when there is no ``tokens.json``.

        Raises :class:`StoreError` when the file is unreadable or corrupt.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc
        try:
            return [_record(item) for item in json.loads(raw)["tokens"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{self.path} is corrupt: {exc}") from exc

    def create(self, name: str, role: Role) -> tuple[str, TokenRecord]:
        """A new token for ``name`` with ``role``: ``(token, record)``. The token is returned
        here only; the store keeps its hash.

        Raises :class:`LbctlError` for a bad name (``admin`` is the bootstrap token's),
        :class:`NameTaken` for a taken one, :class:`StoreError` when the write fails.
        """
        if not NAME_RE.match(name):
            raise LbctlError(f"bad token name {name!r}: use letters, digits and _.:- "
                             "(at most 63, starting with a letter or digit)")
        if name == ADMIN_NAME:
            raise LbctlError(f"the name {ADMIN_NAME!r} is the bootstrap token's "
                             "($LBCTL_TOKEN or the state dir's token file): choose another")
        token = secrets.token_urlsafe(32)
        record = TokenRecord(name, role, hash_token(token), time.time())
        with self._locked():
            records = self.records()
            if any(r.name == name for r in records):
                raise NameTaken(f"a token named {name!r} exists: revoke it first")
            self._write([*records, record])
        return token, record

    def revoke(self, name: str) -> TokenRecord:
        """Remove the token ``name``; returns its record. Raises :class:`NotFound`."""
        with self._locked():
            records = self.records()
            gone = [r for r in records if r.name == name]
            if not gone:
                raise NotFound(f"no token named {name!r} in {self.path}")
            self._write([r for r in records if r.name != name])
        return gone[0]

    def _write(self, records: list[TokenRecord]) -> None:
        doc = {"tokens": [asdict(r) for r in records]}
        self.state.atomic_write(self.path, (json.dumps(doc, indent=2) + "\n").encode(),
                                mode=0o600)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """An exclusive lock around a read-modify-write (:meth:`StateDir.locked`)."""
        return self.state.locked(self.path)


class Authenticator:
    """Token → :class:`Principal` for the agent: the bootstrap ``admin`` token, then the named
    tokens of ``store`` (re-read when ``tokens.json`` changes). Thread-safe."""

    def __init__(self, bootstrap: str, store: TokenStore | None = None) -> None:
        if not bootstrap:
            raise ValueError("the agent token must not be empty")
        self._bootstrap = bootstrap.encode("utf-8")
        self._bootstrap_digest = hash_token(bootstrap).encode("ascii")
        self._store = store
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None  # (inode, mtime ns, size) read last
        self._records: list[TokenRecord] = []

    def authenticate(self, token: str) -> Principal | None:
        """The principal ``token`` belongs to, or ``None`` for an unknown (or revoked) token.

        Raises :class:`StoreError` when ``tokens.json`` is unreadable or corrupt (the bootstrap
        token still works).
        """
        if hmac.compare_digest(token.encode("utf-8"), self._bootstrap):
            return Principal(ADMIN_NAME, "admin")
        digest = hash_token(token).encode("ascii")
        found: TokenRecord | None = None
        for record in self._current():
            if hmac.compare_digest(digest, record.sha256.encode("ascii")):
                found = record
        return Principal(found.name, found.role) if found else None

    def authenticate_digest(self, digest: str) -> Principal | None:
        """The principal of the token whose SHA-256 is ``digest`` (:func:`hash_token`, 64 hex
        digits), or ``None`` when no such token exists (any more): what a UI session
        (:mod:`lbctl.state.sessions`) re-checks on every request, so revoking a token ends its
        sessions. Compared as :meth:`authenticate` does. Raises :class:`StoreError` when
        ``tokens.json`` is unreadable or corrupt.
        """
        wanted = digest.encode("ascii", "replace")
        if hmac.compare_digest(wanted, self._bootstrap_digest):
            return Principal(ADMIN_NAME, "admin")
        found: TokenRecord | None = None
        for record in self._current():
            if hmac.compare_digest(wanted, record.sha256.encode("ascii")):
                found = record
        return Principal(found.name, found.role) if found else None

    def _current(self) -> list[TokenRecord]:
        if self._store is None:
            return []
        try:
            st = os.stat(self._store.path)
            seen: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            seen = None
        except OSError as exc:
            raise StoreError(f"cannot read {self._store.path}: {exc}") from exc
        with self._lock:
            if seen != self._seen:
                self._records = self._store.records() if seen is not None else []
                self._seen = seen
            return self._records
