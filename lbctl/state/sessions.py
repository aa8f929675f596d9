"""Sessions of the admin web UI: the ``sessions.json`` store of a state dir.

The UI exchanges a token for a session (``POST /api/v1/session``, :mod:`lbctl.api.session`):
the browser then holds a random session id in an ``HttpOnly`` cookie, and the agent keeps one
record per session::

    {"sessions": [{"sha256": "<64 hex>", "token_sha256": "<64 hex>", "token_name": "ann",
                   "role": "viewer", "created_at": 1767225600.0, "expires_at": 1767254400.0}]}

As in ``tokens.json`` (:mod:`lbctl.state.tokens`), only the SHA-256 of the session id is
stored, never the id: the file (mode 0600) does not let anyone in. A session id is 32 random
bytes (:func:`secrets.token_urlsafe`), so a fast hash is the right one (the same reasoning as
for tokens). ``token_sha256`` is the SHA-256 of the token the session was opened with (what
``tokens.json`` stores too): every request re-checks it against the tokens in force
(:meth:`lbctl.state.tokens.Authenticator.authenticate_digest`), so revoking a token ends its
sessions at once, and the session's role is always the token's current one. ``role`` here is
the role at login, for reading the file.

The CSRF token of a session is not stored: it is an HMAC-SHA-256 of a fixed label keyed by the
session id (:func:`csrf_token`), so the agent recomputes it from the cookie, and knowing it
tells nothing about the session id.

Times are epoch seconds. A session lives ``ttl_s`` seconds from login (default
:data:`DEFAULT_TTL_S`, 8 hours) and is not extended by use. An expired session is refused and
removed when it is presented, as are all the sessions of a revoked token; every login also
prunes the expired ones and those of revoked tokens, and keeps at most :data:`MAX_SESSIONS`
(the oldest go first). Writes go through :meth:`lbctl.state.store.StateDir.atomic_write` under
an ``fcntl`` lock on ``sessions.json.lock``; reads are cached and re-read when the file's
``stat`` changes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from lbctl.errors import StoreError
from lbctl.state.store import StateDir
from lbctl.state.tokens import Authenticator, Principal, Role, parse_role

__all__ = [
    "DEFAULT_TTL_S",
    "MAX_SESSIONS",
    "Session",
    "SessionRecord",
    "SessionStore",
    "csrf_token",
    "hash_session_id",
]

#: A session's lifetime when none is given: 8 hours, in seconds.
DEFAULT_TTL_S = 8 * 3600
#: At most this many sessions are kept; a login beyond it ends the oldest.
MAX_SESSIONS = 1000
#: The label the CSRF token is an HMAC of (versioned: a new scheme gets a new label).
_CSRF_LABEL = b"lbctl csrf token v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def hash_session_id(session_id: str) -> str:
    """The stored form of ``session_id``: SHA-256 of its UTF-8 bytes, 64 hex digits."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def csrf_token(session_id: str) -> str:
    """The CSRF token of the session ``session_id``: HMAC-SHA-256 of a fixed label keyed by the
    id, base64url without padding (43 characters)."""
    mac = hmac.new(session_id.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SessionRecord:
    """One session as stored (module docstring); times in epoch seconds."""

    sha256: str
    token_sha256: str
    token_name: str
    role: Role
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class Session:
    """A live session as a request presents it: its ``record``, who it acts as now
    (``principal``: the token's current name and role) and its ``csrf_token``."""

    record: SessionRecord
    principal: Principal
    csrf_token: str


def _record(item: object) -> SessionRecord:
    if not isinstance(item, dict):
        raise ValueError("an entry is not an object")
    for key in ("sha256", "token_sha256"):
        if not _HEX64.fullmatch(str(item[key])):
            raise ValueError(f"{key} is not 64 hex digits")
    return SessionRecord(str(item["sha256"]), str(item["token_sha256"]), str(item["token_name"]),
                         parse_role(str(item["role"])), float(item["created_at"]),
                         float(item["expires_at"]))


class SessionStore:
    """The UI sessions of one state dir (``sessions.json``). Thread-safe.

    ``ttl_s`` is the lifetime of a new session in seconds (positive); ``clock`` gives epoch
    seconds (:func:`time.time`).
    """

    def __init__(self, state: StateDir, *, ttl_s: float = DEFAULT_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl_s <= 0:
            raise ValueError(f"the session lifetime must be positive (got {ttl_s} s)")
        self.state = state
        self.path: Path = state.root / "sessions.json"
        self.ttl_s = float(ttl_s)
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None  # (inode, mtime ns, size) read last
        self._records: list[SessionRecord] = []

    # -- reads --------------------------------------------------------------------------
    def records(self) -> list[SessionRecord]:
        """Every stored session (expired ones included until pruned), oldest first; ``[]``
        without a ``sessions.json``. Raises :class:`StoreError` when it is unreadable or
        corrupt."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc
        try:
            return [_record(item) for item in json.loads(raw)["sessions"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{self.path} is corrupt: {exc}") from exc

    def _current(self) -> list[SessionRecord]:
        try:
            st = os.stat(self.path)
            seen: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            seen = None
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc
        with self._lock:
            if seen != self._seen:
                self._records = self.records() if seen is not None else []
                self._seen = seen
            return self._records

    def lookup(self, session_id: str, authenticator: Authenticator) -> Session | None:
        """The live session of ``session_id``, or ``None``: unknown, logged out, expired, or
        its token revoked (an expired or orphaned session is removed on the way).

        The digest is compared with :func:`hmac.compare_digest` against every record.
        Raises :class:`StoreError`.
        """
        digest = hash_session_id(session_id).encode("ascii")
        found: SessionRecord | None = None
        for record in self._current():
            if hmac.compare_digest(digest, record.sha256.encode("ascii")):
                found = record
        if found is None:
            return None
        if found.expires_at <= self.clock():
            expired = found.sha256
            self._remove(lambda r: r.sha256 == expired)
            return None
        who = authenticator.authenticate_digest(found.token_sha256)
        if who is None:  # the token was revoked: every session it opened ends
            self.end_for_token(found.token_sha256)
            return None
        return Session(found, who, csrf_token(session_id))

    # -- writes -------------------------------------------------------------------------
    def open(self, token_sha256: str, principal: Principal, *,
             alive: Callable[[str], bool] | None = None) -> tuple[str, SessionRecord]:
        """A new session for the token of digest ``token_sha256`` acting as ``principal``:
        ``(session_id, record)``. The id is returned here only; the store keeps its hash.
        Prunes expired sessions, those whose token digest ``alive`` says is gone (revoked),
        and keeps at most :data:`MAX_SESSIONS`. Raises :class:`StoreError`."""
        if not _HEX64.fullmatch(token_sha256):
            raise ValueError("token_sha256 must be 64 hex digits")
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        record = SessionRecord(hash_session_id(session_id), token_sha256, principal.name,
                               principal.role, now, now + self.ttl_s)
        with self._locked():
            kept = [r for r in self.records()
                    if r.expires_at > now and (alive is None or alive(r.token_sha256))]
            self._write([*kept[-(MAX_SESSIONS - 1):], record])
        return session_id, record

    def close(self, session_id: str) -> bool:
        """End the session ``session_id`` (logout); ``False`` when there was none. Raises
        :class:`StoreError`."""
        digest = hash_session_id(session_id)
        return self._remove(lambda r: r.sha256 == digest) > 0

    def end_for_token(self, token_sha256: str) -> int:
        """End every session opened with the token of digest ``token_sha256`` (a revoked
        token); returns how many. Raises :class:`StoreError`."""
        return self._remove(lambda r: r.token_sha256 == token_sha256)

    def _remove(self, gone: Callable[[SessionRecord], bool]) -> int:
        now = self.clock()
        with self._locked():
            records = self.records()
            kept = [r for r in records if not gone(r) and r.expires_at > now]
            if len(kept) != len(records):
                self._write(kept)
        return len(records) - len(kept)

    def _write(self, records: list[SessionRecord]) -> None:
        doc = {"sessions": [asdict(r) for r in records]}
        self.state.atomic_write(self.path, (json.dumps(doc, indent=2) + "\n").encode(),
                                mode=0o600)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """An exclusive lock around a read-modify-write (:meth:`StateDir.locked`)."""
        return self.state.locked(self.path)
