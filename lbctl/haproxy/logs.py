"""HAProxy's logs, collected by the agent: a UNIX datagram socket and the last N records.

The rendered ``global`` says ``log <state run dir>/log.sock local0`` (or the socket dir's,
when the workers drop privileges) and ``defaults`` ``log global`` + ``option httplog``
(:mod:`lbctl.render.loglines`). :class:`LogCollector` binds that socket, reads it in one
daemon thread and keeps the last ``capacity`` datagrams in a bounded deque; optionally each raw
line also goes to a rotating file (``lbctl serve --haproxy-log FILE``:
``logging.handlers.RotatingFileHandler``, 10 MiB × 5 files).

Reading costs little per line, because HAProxy sends one datagram per request and a busy
frontend sends tens of thousands a second to the same 2 cores it serves from: the reader
blocks in ``recv`` (no timeout poll), drains what is queued without blocking and keeps each
batch under one lock acquisition, and a datagram is parsed
(:func:`lbctl.haproxy.logformat.parse_datagram`) only when somebody reads it
(:meth:`LogCollector.records`), once. Only a line that may come from one of lbctl's internal
frontends is parsed on arrival, to drop it (see :meth:`LogCollector.add`).

Nothing here can block HAProxy: it sends each line as one non-blocking datagram
(configuration.txt §3.1 "log"), and when the agent reads too slowly the kernel's socket
buffer (``SO_RCVBUF``, :data:`RECEIVE_BUFFER` bytes asked) is full and HAProxy drops the line
instead of waiting. Memory is bounded by the buffer and the deque (``capacity`` records of at
most :data:`MAX_DATAGRAM` bytes each); a line that does not parse is kept raw.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import logging.handlers
import os
import socket
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from lbctl.haproxy.logformat import LogRecord, parse_datagram
from lbctl.reserved import INTERNAL_PREFIX

__all__ = ["DEFAULT_CAPACITY", "MAX_DATAGRAM", "RECEIVE_BUFFER", "LogCollector", "LogFilter"]

#: What an HTTP line of an internal frontend contains: the frontend follows the accept date.
_INTERNAL_MARK = f"] {INTERNAL_PREFIX}".encode()
#: Datagrams taken from the socket per lock acquisition at most.
_BATCH = 256

#: Records kept in memory by default.
DEFAULT_CAPACITY = 1000
#: Longest datagram read whole (HAProxy's default line length is 1024, ``len`` raises it up to
#: 65535 — configuration.txt §3.1); a longer one is truncated by the kernel.
MAX_DATAGRAM = 65535
#: ``SO_RCVBUF`` asked for the socket (the kernel caps it at ``net.core.rmem_max``).
RECEIVE_BUFFER = 1 << 20
#: The rotating file: bytes per file and files kept besides the current one.
FILE_BYTES, FILE_BACKUPS = 10 << 20, 5

log = logging.getLogger("lbctl.haproxy.logs")


class _Kept:
    """One kept datagram: its ``seq``, arrival time (epoch seconds), bytes, and its parsed
    :class:`LogRecord` once somebody asked for it."""

    __slots__ = ("data", "received", "record", "seq")

    def __init__(self, seq: int, received: float, data: bytes,
                 record: LogRecord | None = None) -> None:
        self.seq, self.received, self.data, self.record = seq, received, data, record

    def parsed(self) -> LogRecord:
        """The record (parsed on the first call; a race parses twice, to the same value)."""
        record = self.record
        if record is None:
            record = self.record = parse_datagram(self.data, seq=self.seq,
                                                  received=self.received)
        return record


class LogFilter:
    """Which records to return: each given field must match (``status`` exactly; ``since``
    epoch seconds, received at or after; ``after_seq``: records newer than that ``seq``).
    A filter on ``frontend``, ``backend`` or ``status`` only matches parsed HTTP records."""

    def __init__(self, *, frontend: str | None = None, backend: str | None = None,
                 status: int | None = None, since: float | None = None,
                 after_seq: int = 0) -> None:
        self.frontend, self.backend, self.status = frontend, backend, status
        self.since, self.after_seq = since, after_seq

    def __call__(self, record: LogRecord) -> bool:
        """True when ``record`` passes."""
        if record.seq <= self.after_seq or (self.since is not None
                                            and record.received < self.since):
            return False
        if self.frontend is None and self.backend is None and self.status is None:
            return True
        http = record.http
        return http is not None and (
            (self.frontend is None or http.frontend == self.frontend)
            and (self.backend is None or http.backend == self.backend)
            and (self.status is None or http.status == self.status))


class LogCollector:
    """The agent's end of HAProxy's log socket (thread-safe).

    ``path``: the socket file (at most 107 bytes); ``capacity``: records kept; ``file``: the
    rotating file of raw lines, or ``None``; ``group``: the group HAProxy's workers run in
    when they dropped privileges (the socket is then ``root:<group>`` mode 0660, else 0600).
    :meth:`open` binds and starts reading; :meth:`close` stops and removes the socket file.
    """

    def __init__(self, path: Path, *, capacity: int = DEFAULT_CAPACITY,
                 file: Path | None = None, group: str | None = None) -> None:
        self.path, self.capacity, self.file, self.group = Path(path), capacity, file, group
        self._records: deque[_Kept] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._seq = 0
        self._listeners: list[Callable[[], None]] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._file: logging.handlers.RotatingFileHandler | None = None
        #: Why the socket is not open (``None`` while it is, or before :meth:`open`).
        self.unavailable: str | None = None

    # -- life cycle -------------------------------------------------------------------
    def open(self) -> None:
        """Bind the socket (a stale socket file from an earlier run is removed first) and
        start the reader thread. Raises :class:`OSError` when the path holds something that
        is not a socket, or the socket cannot be bound; then :attr:`unavailable` says why."""
        try:
            self._bind()
        except OSError as exc:
            self.unavailable = f"cannot collect HAProxy's logs at {self.path}: {exc}"
            raise
        self.unavailable = None
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            self._file = logging.handlers.RotatingFileHandler(
                self.file, maxBytes=FILE_BYTES, backupCount=FILE_BACKUPS, encoding="utf-8")
            self._file.setFormatter(logging.Formatter("%(message)s"))
        self._stop.clear()
        self._thread = threading.Thread(target=self._read, name="lbctl-haproxy-logs",
                                        daemon=True)
        self._thread.start()

    def _bind(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISSOCK(self.path.lstat().st_mode):
                raise OSError(f"{self.path} exists and is not a socket; refusing to replace it")
            self.path.unlink()  # a stale socket of an earlier run: nobody reads it
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.bind(str(self.path))
            if self.group is not None:
                gid = int(self.group) if self.group.isdigit() else grp.getgrnam(self.group).gr_gid
                os.chown(self.path, 0, gid)
                os.chmod(self.path, 0o660)
            else:
                os.chmod(self.path, 0o600)
            # Blocking: close() wakes the reader with shutdown() (recv then returns b"").
        except (OSError, KeyError) as exc:
            sock.close()
            raise OSError(str(exc)) from exc
        self._sock = sock

    def close(self) -> None:
        """Stop reading (waits 2 s at most), close and remove the socket file; idempotent."""
        self._stop.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader's recv
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            with contextlib.suppress(OSError):
                self.path.unlink()
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def is_open(self) -> bool:
        """True while the socket is bound and read."""
        return self._sock is not None

    # -- reading ----------------------------------------------------------------------
    def _read(self) -> None:
        sock = self._sock
        while sock is not None and not self._stop.is_set():
            try:
                batch = [sock.recv(MAX_DATAGRAM)]
                while len(batch) < _BATCH:
                    batch.append(sock.recv(MAX_DATAGRAM, socket.MSG_DONTWAIT))
            except BlockingIOError:
                pass  # drained: keep what was read
            except OSError:
                return  # closed
            if self._stop.is_set():
                return
            self._keep([data for data in batch if data], time.time())

    def _keep(self, batch: list[bytes], received: float) -> list[_Kept]:
        """Keep ``batch`` (datagrams received at ``received``), write them to the file, tell
        the listeners once; the entries kept. An HTTP line of one of lbctl's internal
        frontends (``lbctl_*``: a chained throttle's, 1.5–2.0 without Lua) is neither kept nor
        written: the client's frontend logged that request already, and the internal proxies
        are hidden in the runtime API too."""
        kept: list[_Kept] = []
        with self._lock:
            for data in batch:
                record = None
                if _INTERNAL_MARK in data:
                    record = parse_datagram(data, seq=self._seq + 1, received=received)
                    if record.http is not None and record.http.frontend.startswith(
                            INTERNAL_PREFIX):
                        continue
                self._seq += 1
                entry = _Kept(self._seq, received, data, record)
                self._records.append(entry)
                kept.append(entry)
            listeners = list(self._listeners) if kept else []
        if self._file is not None:
            for entry in kept:
                self._file.emit(logging.makeLogRecord({"msg": entry.parsed().raw, "args": None}))
        for listener in listeners:
            listener()
        return kept

    def add(self, data: bytes, received: float | None = None) -> LogRecord:
        """Keep one datagram as the reader thread does (tests of the parser's edge cases
        call it); its record, parsed. A line of an internal frontend is not kept (see
        :meth:`_keep`): its record is returned all the same, with the ``seq`` it would get."""
        at = time.time() if received is None else received
        kept = self._keep([data], at)
        if kept:
            return kept[0].parsed()
        return parse_datagram(data, seq=self.last_seq + 1, received=at)

    def records(self, where: LogFilter | None = None, *, limit: int | None = None) -> list[LogRecord]:
        """The kept records that pass ``where``, oldest first; with ``limit``, the newest
        ``limit`` of them."""
        with self._lock:
            kept = list(self._records)
        if where is None:
            chosen = kept[-limit:] if limit is not None else kept
            return [entry.parsed() for entry in chosen]
        if where.after_seq:
            kept = [entry for entry in kept if entry.seq > where.after_seq]
        out = [record for record in (entry.parsed() for entry in kept) if where(record)]
        return out[-limit:] if limit is not None else out

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the newest record (0 before the first)."""
        with self._lock:
            return self._seq

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` (from the reader thread: it must not block) after new records
        arrive (once per batch read); returns the function that unsubscribes it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)
        return unsubscribe
