"""Asynchronous writes (``?wait=false``): their status, kept in the history database.

``history.db`` (:mod:`lbctl.state.history`) holds one more table::

    operations(id          TEXT PRIMARY KEY  -- the correlation id (32 hex digits)
               kind        TEXT              -- apply | source | rollback | server
               status      TEXT              -- pending | succeeded | failed
               created_at  REAL              -- epoch seconds
               finished_at REAL              -- epoch seconds; NULL while pending
               who         TEXT              -- the token's name
               result      TEXT              -- JSON: the synchronous call's answer
               problem     TEXT)             -- JSON: the problem+json of a failure

An agent restart does not lose them: :meth:`Operations.interrupt` (called when the agent
app starts) turns every operation still ``pending`` into ``failed`` with a problem that
says so — the write it stood for either finished before the restart (and the history shows
it) or never ran. Every ``sqlite3.Error`` and ``OSError`` is a :class:`StoreError`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lbctl.errors import NotFound, StoreError

__all__ = ["INTERRUPTED", "OperationRecord", "Operations"]

#: The ``detail`` of an operation the agent's restart interrupted.
INTERRUPTED = ("interrupted: the agent restarted before this operation finished; see the "
               "history for whether its write ran")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    who TEXT NOT NULL DEFAULT '',
    result TEXT,
    problem TEXT
);
"""


@dataclass(frozen=True)
class OperationRecord:
    """One operation (the columns above; ``result`` and ``problem`` parsed)."""

    id: str
    kind: str
    status: str
    created_at: float
    finished_at: float | None
    who: str
    result: dict[str, Any] | None
    problem: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (:class:`lbctl.client.models.Operation`)."""
        return {"id": self.id, "kind": self.kind, "status": self.status,
                "created_at": self.created_at, "finished_at": self.finished_at,
                "who": self.who, "result": self.result, "problem": self.problem}


class Operations:
    """The ``operations`` table of the history database at ``path``. Thread-safe (one
    short-lived connection per call)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the history {self.path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            yield conn
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"history {self.path}: {exc}") from exc
        finally:
            conn.close()

    def create(self, kind: str, who: str) -> OperationRecord:
        """A new ``pending`` operation of ``kind`` by ``who``."""
        record = OperationRecord(uuid.uuid4().hex, kind, "pending", time.time(), None, who,
                                 None, None)
        with self._connect() as conn:
            conn.execute("INSERT INTO operations (id, kind, status, created_at, who) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (record.id, kind, record.status, record.created_at, who))
        return record

    def finish(self, op_id: str, *, result: dict[str, Any] | None = None,
               problem: dict[str, Any] | None = None) -> None:
        """Close ``op_id``: ``succeeded`` with ``result``, or ``failed`` with ``problem``."""
        status = "failed" if problem is not None else "succeeded"
        with self._connect() as conn:
            conn.execute(
                "UPDATE operations SET status = ?, finished_at = ?, result = ?, problem = ? "
                "WHERE id = ?",
                (status, time.time(), json.dumps(result) if result is not None else None,
                 json.dumps(problem) if problem is not None else None, op_id))

    def get(self, op_id: str) -> OperationRecord:
        """Operation ``op_id``. Raises :class:`NotFound`."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM operations WHERE id = ?", (op_id,)).fetchone()
        if row is None:
            raise NotFound(f"no operation {op_id}")
        return OperationRecord(
            row["id"], row["kind"], row["status"], row["created_at"], row["finished_at"],
            row["who"], json.loads(row["result"]) if row["result"] else None,
            json.loads(row["problem"]) if row["problem"] else None)

    def interrupt(self, problem: dict[str, Any]) -> int:
        """Mark every ``pending`` operation ``failed`` with ``problem``; returns how many."""
        with self._connect() as conn:
            cur = conn.execute(
                "UPDATE operations SET status = 'failed', finished_at = ?, problem = ? "
                "WHERE status = 'pending'", (time.time(), json.dumps(problem)))
            return cur.rowcount
