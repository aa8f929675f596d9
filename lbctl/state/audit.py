"""The audit trail kept on disk: every audit line (:func:`lbctl.state.journal.audit`) in the
state dir's ``audit.db``, for ``GET /api/v1/audit`` (:mod:`lbctl.api.audit`).

Audit lines are emitted on the logger ``lbctl.audit`` and handed to every sink of
:data:`lbctl.state.journal.AUDIT_SINKS` (whatever the log level); an :class:`AuditSink` there
(:func:`attach`, done by :func:`lbctl.api.app.create_app`) stores each in an
:class:`AuditTrail`: SQLite (``audit.db``, mode 0600, WAL, ``synchronous``
NORMAL: a line survives a crash of the agent, at worst the last ones are lost with the power),
one row per line::

    CREATE TABLE lines (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL)

``id`` orders the trail and is the paging cursor (ids never change); ``line`` is the audit
line's JSON, as emitted. The newest :data:`MAX_LINES` lines are kept; older ones are deleted
every :data:`PRUNE_EVERY` lines, so a stream of refused requests cannot fill the disk.

The sink holds its trail weakly: when the app (and its trail) is gone, the sink removes itself.
The sinks are process-wide, as the logger is: an agent stores every audit line of its process,
so two agents in one process (tests only) see each other's lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import weakref
from collections.abc import Iterator
from typing import Any

from lbctl.errors import StoreError
from lbctl.state.journal import AUDIT_SINKS
from lbctl.state.store import StateDir

__all__ = ["MAX_LINES", "PRUNE_EVERY", "AuditSink", "AuditTrail", "attach"]

log = logging.getLogger("lbctl.state.audit")

#: The newest lines kept (older ones are deleted).
MAX_LINES = 100_000
#: Prune once every this many lines written.
PRUNE_EVERY = 1000
#: Seconds a write waits for another writer's lock before it fails.
BUSY_TIMEOUT_S = 5.0


class AuditTrail:
    """The audit lines of one state dir (``audit.db``), oldest id first. Thread-safe (one
    SQLite connection per call)."""

    def __init__(self, state: StateDir) -> None:
        self.state = state
        self.path = state.root / "audit.db"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            if not self.path.exists():  # created 0600; the state dir is the agent's to make
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS lines "
                         "(id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL)")
            yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"audit trail {self.path}: {exc}") from exc
        finally:
            conn.close()

    def append(self, line: dict[str, Any]) -> int:
        """Store ``line`` (an audit line's dict); its id. Raises :class:`StoreError`."""
        text = json.dumps(line, separators=(",", ":"), default=str)
        with self._connect() as conn:
            cur = conn.execute("INSERT INTO lines (line) VALUES (?)", (text,))
            new_id = int(cur.lastrowid or 0)
            if new_id % PRUNE_EVERY == 0:
                conn.execute("DELETE FROM lines WHERE id <= ?", (new_id - MAX_LINES,))
        return new_id

    def page(self, *, limit: int, before: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` lines, newest first, ids below ``before`` when given: ``[(id,
        line)]``. A row that is not a JSON object is skipped. Raises :class:`StoreError`."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, line FROM lines WHERE id < ? ORDER BY id DESC LIMIT ?",
                (before if before is not None else 2**63 - 1, limit)).fetchall()
        out: list[tuple[int, dict[str, Any]]] = []
        for row_id, text in rows:
            with contextlib.suppress(ValueError):
                line = json.loads(text)
                if isinstance(line, dict):
                    out.append((int(row_id), line))
        return out


class AuditSink:
    """Stores every audit line in ``trail`` (held weakly: module docstring); one of
    :data:`lbctl.state.journal.AUDIT_SINKS`. A failed write is logged (``lbctl.state.audit``,
    ERROR), never raised into the write being audited."""

    def __init__(self, trail: AuditTrail) -> None:
        self._trail = weakref.ref(trail)

    def __call__(self, line: dict[str, Any]) -> None:
        """Append ``line`` to the trail; unregister when the trail is gone."""
        trail = self._trail()
        if trail is None:
            with contextlib.suppress(ValueError):
                AUDIT_SINKS.remove(self)
            return
        if not trail.state.root.is_dir():  # the state dir was removed (a finished test)
            with contextlib.suppress(ValueError):
                AUDIT_SINKS.remove(self)
            return
        try:
            trail.append(line)
        except StoreError as exc:
            log.error("audit line not stored: %s", exc)


def attach(trail: AuditTrail) -> AuditSink:
    """Store every audit line from now on in ``trail`` (an :class:`AuditSink` in
    :data:`lbctl.state.journal.AUDIT_SINKS`)."""
    sink = AuditSink(trail)
    AUDIT_SINKS.append(sink)
    return sink
