"""A small HTTP backend that records when each request arrives.

Used by ``lbctl demo``, the tests and the benchmarks to measure what the backend really sees
behind HAProxy. It answers every GET/HEAD/POST with 200 and a short text body naming itself
(``X-Backend-Name`` header too), records ``(monotonic seconds, method, path)`` for each request
except HAProxy's health checks (``HEAD`` with a ``check`` marker is not recorded, see
:attr:`RecordingBackend.record_checks`), and serves ``/slow?seconds=N`` slowly for tests of
long-lived requests. Runs a ``ThreadingHTTPServer`` in a daemon thread on 127.0.0.1.

Size: over 300 lines because the recording backend is also a command-line program (its
``__main__``) used by docker-compose and the README tour.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import signal
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Arrival:
    """One recorded request: ``t`` is ``time.monotonic()`` seconds at arrival.

    ``slot`` is the departure slot HAProxy's ``lbctl_pace`` action gave the request, moved
    onto ``time.monotonic()`` seconds, when the frontend forwards it in the
    :data:`SLOT_HEADER` header (the tests do, with an ``extra`` line); else ``None``.
    """

    t: float
    method: str
    path: str
    slot: float | None = None


#: Request header carrying ``txn.lbctl_slot`` (seconds since the epoch, as text) when a
#: frontend sets it: ``http-request set-header X-Lbctl-Slot %[var(txn.lbctl_slot)]``.
SLOT_HEADER = "X-Lbctl-Slot"


def _slot(value: str | None) -> float | None:
    """The :data:`SLOT_HEADER` value as ``time.monotonic()`` seconds, or ``None``."""
    if not value:
        return None
    try:
        return float(value) - realtime_offset()
    except ValueError:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    owner: RecordingBackend

    def handle_error(self, request: Any, client_address: Any) -> None:
        """HAProxy closes idle keep-alive connections; a reset peer is not an error here."""
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, with_body: bool) -> None:
        owner = self.server.owner
        url = urlsplit(self.path)
        if self.command != "HEAD" or owner.record_checks:
            owner._record(Arrival(
                time.monotonic(), self.command, url.path, _slot(self.headers.get(SLOT_HEADER))
            ))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if url.path == "/slow":
            seconds = float(parse_qs(url.query).get("seconds", ["1"])[0])
            time.sleep(min(seconds, 60.0))
        body = f"{owner.name} {self.command} {url.path}\n".encode()
        self.send_response(owner.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend-Name", owner.name)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(True)

    def do_POST(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)


class RecordingBackend:
    """An HTTP server on ``host:port`` (port 0 picks a free one) recording arrivals.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``arrivals`` is a list of
    :class:`Arrival` (thread-safe snapshot via :meth:`snapshot`); ``status`` is the HTTP status
    every request gets (200 by default). HEAD requests (health checks) are not recorded unless
    ``record_checks`` is true.
    """

    def __init__(
        self, name: str = "backend", host: str = "127.0.0.1", port: int = 0, *,
        record_checks: bool = False, max_arrivals: int = 1_000_000,
    ) -> None:
        self.name = name
        self.status = 200
        self.record_checks = record_checks
        self._lock = threading.Lock()
        # Bounded, so a long-running backend (docker-compose) does not grow without limit.
        self._arrivals: collections.deque[Arrival] = collections.deque(maxlen=max_arrivals)
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The TCP port actually bound."""
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """The address bound."""
        return str(self._server.server_address[0])

    def _record(self, arrival: Arrival) -> None:
        with self._lock:
            self._arrivals.append(arrival)

    def snapshot(self, path_prefix: str = "") -> list[Arrival]:
        """Arrivals so far whose path starts with ``path_prefix``, in arrival order."""
        with self._lock:
            return [a for a in self._arrivals if a.path.startswith(path_prefix)]

    def clear(self) -> None:
        """Forget the recorded arrivals."""
        with self._lock:
            self._arrivals.clear()

    def start(self) -> RecordingBackend:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"backend-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> RecordingBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: ``SO_TIMESTAMPNS`` (socket(7)); the Linux value where the ``socket`` module lacks the name.
_SO_TIMESTAMPNS: int = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")


class _KernelStampHandler(_Handler):
    """Asks the kernel when each request's first byte arrived (``SO_TIMESTAMPNS``) by peeking
    at it before :class:`_Handler` reads the request."""

    server: _Server
    _stamping = False

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            self._stamping = True
        except OSError:
            self._stamping = False

    def handle_one_request(self) -> None:
        owner = self.server.owner
        if isinstance(owner, KernelTimedBackend):
            owner._stamps.t = self._peek_arrival() if self._stamping else None
        super().handle_one_request()

    def _peek_arrival(self) -> float | None:
        """Monotonic seconds at which the kernel received the next byte; blocks until it comes.

        ``None`` when the peer closed or the kernel gave no timestamp. Relies on the peer not
        pipelining (the read buffer is empty between requests); HAProxy and nginx never
        pipeline requests to a server.
        """
        try:
            _, ancillary, _, _ = self.connection.recvmsg(
                1, socket.CMSG_SPACE(_TIMESPEC.size), socket.MSG_PEEK
            )
        except OSError:
            return None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack_from(payload)
                stamp: float = sec + nsec / 1e9 - realtime_offset()
                return stamp
        return None


#: Bound on the gap between the two monotonic reads around one ``time.time()`` read in
#: :func:`realtime_offset`, seconds. A read pair wider than this had a thread switch in it.
_OFFSET_PRECISION_S = 0.0002
_OFFSET_ATTEMPTS = 50


def realtime_offset() -> float:
    """``CLOCK_REALTIME - CLOCK_MONOTONIC`` now, in seconds, to move a kernel timestamp onto
    ``time.monotonic()``.

    Reading the two clocks one after the other is not enough: another Python thread may take
    the GIL between the reads, and under load (a hundred handler threads woken by one burst)
    that wait reaches hundreds of milliseconds, which would shift the stamp by as much. The
    realtime read is bracketed by two monotonic reads; the first bracket narrower than
    :data:`_OFFSET_PRECISION_S` gives the offset, else the narrowest of
    :data:`_OFFSET_ATTEMPTS` tries.
    """
    best_gap, best = float("inf"), 0.0
    for _ in range(_OFFSET_ATTEMPTS):
        before = time.monotonic()
        real = time.time()
        after = time.monotonic()
        gap = after - before
        if gap < best_gap:
            best_gap, best = gap, real - (before + after) / 2
        if gap <= _OFFSET_PRECISION_S:
            break
    return best


class KernelTimedBackend(RecordingBackend):
    """A :class:`RecordingBackend` whose arrival times are the kernel's receive timestamps.

    ``Arrival.t`` is when the request's first byte reached the backend's socket (Linux
    ``SO_TIMESTAMPNS``, converted to ``time.monotonic()`` seconds), not when a Python thread got
    round to parsing it. Under CPU contention (the load generator in the same process, other
    work on the machine) a handler thread can run 100-250 ms late, which would show as bunched
    arrivals that never happened; the kernel stamp does not move. Falls back to the thread's
    own clock when the kernel gives no stamp.
    """

    def __init__(
        self, name: str = "backend", host: str = "127.0.0.1", port: int = 0, *,
        record_checks: bool = False,
    ) -> None:
        super().__init__(name, host, port, record_checks=record_checks)
        self._stamps = threading.local()
        self._server.RequestHandlerClass = _KernelStampHandler

    def _record(self, arrival: Arrival) -> None:
        t: float | None = getattr(self._stamps, "t", None)
        super()._record(arrival if t is None else dataclasses.replace(arrival, t=t))


def max_in_window(times: list[float], window_s: float = 1.0) -> int:
    """The most timestamps (seconds) falling in any closed sliding window of ``window_s``."""
    ts = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(ts):
        while ts[j] < t - window_s:
            j += 1
        best = max(best, i - j + 1)
    return best


def per_bucket(times: list[float], start: float, bucket_s: float = 0.25) -> list[int]:
    """Counts of timestamps per ``bucket_s`` bucket from ``start`` (seconds), for charts."""
    if not times:
        return []
    n = int((max(times) - start) // bucket_s) + 1
    counts = [0] * max(n, 0)
    for t in times:
        k = int((t - start) // bucket_s)
        if 0 <= k < len(counts):
            counts[k] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    """``python -m lbctl.demo.backend [--host H] [--port P] [--name N]``: serve until stopped
    (SIGINT/SIGTERM), answering 200 to every request; the docker-compose ``backend`` service."""
    parser = argparse.ArgumentParser(prog="python -m lbctl.demo.backend", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--name", default="backend")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with RecordingBackend(args.name, args.host, args.port, max_arrivals=10_000) as server:
        print(f"{args.name}: listening on {args.host}:{server.port}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
