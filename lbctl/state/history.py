"""The config history: every version, every failed attempt and every reload, in SQLite.

``history.db`` in the state dir, through the standard library's :mod:`sqlite3`, in WAL mode
(readers never wait for the one writer) with ``synchronous=FULL`` (a committed entry survives
a power cut). One row per *entry*::

    entries(id            INTEGER PRIMARY KEY AUTOINCREMENT   -- the entry's number, never reused
            version       INTEGER UNIQUE   -- the version this entry made; NULL when none
            base_version  INTEGER          -- the version current when it ran (its If-Match)
            kind          TEXT             -- initial | apply | rollback | server | reload | ...
            result        TEXT             -- ok | invalid | failed
            at            REAL             -- when it finished, epoch seconds
            who           TEXT             -- the token's name (``admin``), ``agent``, ``local``
            author        TEXT             -- X-Lbctl-Author as sent (the CLI: user@host)
            message       TEXT             -- X-Lbctl-Message / ``lbctl apply -m``
            spec_sha256   TEXT → blobs     -- the spec, compact JSON
            config_sha256 TEXT → blobs     -- the rendered haproxy.cfg
            diagnostics   TEXT             -- JSON list of ``haproxy -c`` diagnostics
            reload        TEXT             -- JSON ReloadResult (ok, method, duration_s, output)
            error         TEXT             -- "ReloadFailed: ..." when it failed
            queued_ms     REAL             -- time spent waiting for the controller's lock
            duration_ms   REAL             -- wall time of the write until recorded, queue included
            rollback_of   INTEGER          -- a rollback's source version
            confirmed     TEXT)            -- what an ``allow_empty`` write confirmed it loses
    blobs(sha256 TEXT PRIMARY KEY, body TEXT)   -- each distinct spec / config stored once

A write that fails (``haproxy -c`` said no, HAProxy refused the reload, the disk is full) is an
entry with ``version`` NULL, ``result`` ``invalid`` or ``failed``, and ``base_version`` the
version that stayed current; its spec and config are kept too. Versions only ever come from
successful entries, so ``version`` is unique and versions have no holes. Every
``sqlite3.Error`` (and ``OSError``) becomes :class:`lbctl.errors.StoreError`.

Size: over 300 lines because the history is one SQLite schema (versions, attempts, reloads,
operations' records, migrations of older databases) read and written in one place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lbctl.errors import NotFound, StoreError
from lbctl.state import jsontext
from lbctl.state.jsontext import SpecTexts

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Entry", "History", "sha256_text"]

#: Entries per page of :meth:`History.entries` by default, and at most.
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: Seconds a connection waits for another writer (sqlite's busy timeout).
BUSY_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (sha256 TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER UNIQUE,
    base_version INTEGER,
    kind TEXT NOT NULL,
    result TEXT NOT NULL,
    at REAL NOT NULL,
    who TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    spec_sha256 TEXT REFERENCES blobs(sha256),
    config_sha256 TEXT REFERENCES blobs(sha256),
    diagnostics TEXT NOT NULL DEFAULT '[]',
    reload TEXT,
    error TEXT,
    queued_ms REAL NOT NULL DEFAULT 0,
    duration_ms REAL NOT NULL DEFAULT 0,
    rollback_of INTEGER,
    confirmed TEXT
);
"""
_SUMMARY_COLUMNS = ("id", "version", "base_version", "kind", "result", "at", "who", "author",
                    "message", "spec_sha256", "config_sha256", "diagnostics", "reload", "error",
                    "queued_ms", "duration_ms", "rollback_of", "confirmed")


def sha256_text(text: str) -> str:
    """Hex SHA-256 of ``text`` encoded as UTF-8 (the bytes written to ``haproxy.cfg``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(spec: dict[str, Any]) -> str:
    # The spec model's own field order (readable in `lbctl show`); Spec.to_data() is stable.
    return jsontext.dumps(spec)  # json.dumps(spec, separators=(",", ":")), faster


@dataclass(frozen=True)
class Entry:
    """One history entry (the columns of the module docstring).

    ``spec`` is a spec document (``Spec.to_data()``) and ``config`` the rendered text; both are
    ``None`` in listings (:meth:`History.entries`) and filled by :meth:`History.version` and
    :meth:`History.entry`. ``diagnostics`` are ``Diagnostic.as_dict()`` dicts; ``reload`` is
    ``ReloadResult.as_dict()`` or ``None`` when nothing was reloaded. Times: ``at`` epoch
    seconds, ``queued_ms`` / ``duration_ms`` milliseconds.
    """

    kind: str
    result: str
    base_version: int | None = None
    version: int | None = None
    who: str = ""
    author: str = ""
    message: str = ""
    spec: dict[str, Any] | None = None
    config: str | None = None
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    reload: dict[str, Any] | None = None
    error: str | None = None
    queued_ms: float = 0.0
    duration_ms: float = 0.0
    rollback_of: int | None = None
    confirmed: str | None = None
    at: float = field(default_factory=time.time)
    id: int | None = None
    spec_sha256: str | None = None
    config_sha256: str | None = None

    def as_dict(self, *, bodies: bool = False) -> dict[str, Any]:
        """JSON-ready form; ``bodies`` adds ``spec`` and ``config``."""
        data = {name: getattr(self, name) for name in _SUMMARY_COLUMNS}
        data["queued_ms"] = round(self.queued_ms, 3)
        data["duration_ms"] = round(self.duration_ms, 3)
        if bodies:
            data["spec"] = self.spec
            data["config"] = self.config
        return data


class History:
    """The history database at ``path`` (created on first use).

    Thread-safe: every call opens its own short-lived connection (cheap with sqlite), and
    sqlite serialises writers. Every method raises :class:`StoreError` when the database
    cannot be opened, read or written (disk full, corrupt file, permissions).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._ready = False
        self._init_lock = threading.Lock()

    @contextlib.contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction (committed on success, rolled back on error);
        ``write`` takes the write lock at once (``BEGIN IMMEDIATE``), else readers go on
        beside the writer (WAL)."""
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the history {self.path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._ensure_schema(conn)
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"history {self.path}: {exc}") from exc
        finally:
            conn.close()

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        if self._ready:
            return
        with self._init_lock:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(entries)")}
            if "confirmed" not in columns:  # a history.db from before the column existed
                conn.execute("ALTER TABLE entries ADD COLUMN confirmed TEXT")
            self._ready = True

    def open(self) -> None:
        """Create the file and its tables now (else on first use). Raises :class:`StoreError`."""
        with self._connect(write=True):
            pass

    # -- writing ------------------------------------------------------------------------
    def record(self, entry: Entry, *, texts: SpecTexts | None = None) -> int:
        """Store ``entry`` (its ``id`` and hashes are ignored) and return its new id.
        ``texts``: the :class:`~lbctl.state.jsontext.SpecTexts` of ``entry.spec`` when the
        caller made them already (its compact text is the stored body).

        An entry with a ``version`` takes that version: a row still holding the same or a
        later version (left by a write whose state file could not be saved; see
        :meth:`demote`) is demoted first, so a version number always names what ran.
        """
        spec_sha = config_sha = None
        with self._connect(write=True) as conn:
            if entry.spec is not None:
                body = (texts.compact if texts is not None and texts.document is entry.spec
                        else _canonical(entry.spec))
                spec_sha = self._blob(conn, body)
            if entry.config is not None:
                config_sha = self._blob(conn, entry.config)
            if entry.version is not None:
                self._demote(conn, "version >= ?", entry.version,
                             "superseded: this version was never recorded as current")
            cur = conn.execute(
                "INSERT INTO entries (version, base_version, kind, result, at, who, author, "
                "message, spec_sha256, config_sha256, diagnostics, reload, error, queued_ms, "
                "duration_ms, rollback_of, confirmed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (entry.version, entry.base_version, entry.kind, entry.result, entry.at,
                 entry.who, entry.author, entry.message, spec_sha, config_sha,
                 json.dumps(entry.diagnostics),
                 json.dumps(entry.reload) if entry.reload is not None else None,
                 entry.error, entry.queued_ms, entry.duration_ms, entry.rollback_of,
                 entry.confirmed),
            )
            assert cur.lastrowid is not None
            return int(cur.lastrowid)

    def demote(self, entry_id: int, error: str) -> None:
        """Mark entry ``entry_id`` failed and take its version away (its write was undone
        after it was recorded, e.g. ``spec.json`` could not be saved)."""
        with self._connect(write=True) as conn:
            self._demote(conn, "id = ?", entry_id, error)

    def demote_after(self, version: int, error: str) -> int:
        """Demote every entry with a version above ``version`` (the state dir's current one:
        those writes never became current); returns how many. Used at agent start."""
        with self._connect(write=True) as conn:
            return self._demote(conn, "version > ?", version, error)

    @staticmethod
    def _demote(conn: sqlite3.Connection, where: str, arg: int, error: str) -> int:
        cur = conn.execute(
            f"UPDATE entries SET version = NULL, result = 'failed', error = ? WHERE {where}",
            (error, arg),
        )
        return cur.rowcount

    @staticmethod
    def _blob(conn: sqlite3.Connection, body: str) -> str:
        sha = sha256_text(body)
        conn.execute("INSERT OR IGNORE INTO blobs (sha256, body) VALUES (?, ?)", (sha, body))
        return sha

    # -- reading ------------------------------------------------------------------------
    def entries(self, *, limit: int = DEFAULT_LIMIT, before: int | None = None) -> list[Entry]:
        """Entries newest first, without spec and config bodies: at most ``limit``
        (1–:data:`MAX_LIMIT`), only those with ``id < before`` when given (the next page
        starts ``before`` the last id of this one)."""
        limit = max(1, min(limit, MAX_LIMIT))
        where, args = ("WHERE id < ?", (before, limit)) if before is not None else ("", (limit,))
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_SUMMARY_COLUMNS)} FROM entries {where} "
                "ORDER BY id DESC LIMIT ?", args,
            ).fetchall()
        return [self._entry(row) for row in rows]

    def version(self, version: int) -> Entry:
        """The entry that made ``version``, with its spec and config. Raises :class:`NotFound`."""
        found = self._one("version = ?", version)
        if found is None:
            raise NotFound(f"no version {version} in the history")
        return found

    def entry(self, entry_id: int) -> Entry:
        """Entry ``entry_id``, with its spec and config. Raises :class:`NotFound`."""
        found = self._one("id = ?", entry_id)
        if found is None:
            raise NotFound(f"no history entry {entry_id}")
        return found

    def has_version(self, version: int) -> bool:
        """True when an entry made ``version``."""
        with self._connect() as conn:
            row = conn.execute("SELECT 1 FROM entries WHERE version = ?", (version,)).fetchone()
        return row is not None

    def _one(self, where: str, arg: int) -> Entry | None:
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {', '.join('e.' + c for c in _SUMMARY_COLUMNS)}, s.body AS spec_body, "
                "c.body AS config_body FROM entries e "
                "LEFT JOIN blobs s ON s.sha256 = e.spec_sha256 "
                f"LEFT JOIN blobs c ON c.sha256 = e.config_sha256 WHERE e.{where}", (arg,),
            ).fetchone()
        if row is None:
            return None
        spec = json.loads(row["spec_body"]) if row["spec_body"] is not None else None
        return replace(self._entry(row), spec=spec, config=row["config_body"])

    @staticmethod
    def _entry(row: sqlite3.Row) -> Entry:
        return Entry(
            id=row["id"], version=row["version"], base_version=row["base_version"],
            kind=row["kind"], result=row["result"], at=row["at"], who=row["who"],
            author=row["author"], message=row["message"], spec_sha256=row["spec_sha256"],
            config_sha256=row["config_sha256"], diagnostics=json.loads(row["diagnostics"]),
            reload=json.loads(row["reload"]) if row["reload"] is not None else None,
            error=row["error"], queued_ms=row["queued_ms"], duration_ms=row["duration_ms"],
            rollback_of=row["rollback_of"], confirmed=row["confirmed"],
        )
