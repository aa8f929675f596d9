"""Burst load for ``lbctl demo``, the smoothing tests and the benchmarks.

A *burst* is ``n`` requests sent at the same moment, each on its own TCP connection: every
connection is opened first, then all requests are written back to back (within a few
milliseconds), so the proxy sees ``n`` requests at once rather than a ramp set by connect
latency. Over ``https://`` every TLS handshake is part of opening (verified with the
``ssl.SSLContext`` given, e.g. one trusting a test CA), so the requests still leave together.
Each request is ``GET <prefix>/<i> HTTP/1.1`` with ``Connection: close``; the response is
read to EOF. :func:`simultaneous` fires several bursts (say client1's and client2's) at the
same moment, interleaved so no group goes first.

Times are ``time.monotonic()`` seconds, the clock :class:`lbctl.demo.backend.RecordingBackend`
stamps arrivals with, so a client's ``sent_at`` and the backend's arrival times compare directly.
Every step is bounded: connecting by ``connect_timeout_s``, each exchange by ``timeout_s``; a
request that fails or times out gives a :class:`Result` with ``status == 0`` and ``error`` set,
never an exception.

:class:`ServerProcess` runs a server (HAProxy in the foreground with ``-db``, nginx with
``daemon off``) as a child process for a measurement and stops it by pid. It is a harness for
throwaway measurement servers; the agent's HAProxy is managed by :mod:`lbctl.haproxy.process`.

Size: over 300 lines because the load generator, its result type and the measurement-server
harness are used together by the demo, the tests and the benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import ssl
import subprocess
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from lbctl.config.pause import gc_paused

__all__ = [
    "LatencySummary",
    "Result",
    "ServerProcess",
    "burst",
    "free_port",
    "percentile",
    "run_simultaneous",
    "simultaneous",
    "status_counts",
    "summarize_latency",
    "two_bursts",
]

@dataclass(frozen=True)
class Result:
    """One request of a burst.

    ``status`` is the HTTP status (0 when no response arrived: see ``error``); ``latency_s`` is
    seconds from writing the request to the end of the response (or to the failure);
    ``retry_after`` is the raw ``Retry-After`` header value, if any; ``sent_at`` is the
    ``time.monotonic()`` second the request was written (or the connect failed).
    """

    status: int
    latency_s: float
    retry_after: str | None
    sent_at: float
    error: str | None = None


def _target(url_base: str, tls: ssl.SSLContext | None) -> tuple[str, int, ssl.SSLContext | None]:
    """``(host, port, TLS context or None)`` of ``http://HOST[:PORT]`` or ``https://...``."""
    url = urlsplit(url_base)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"url_base must be http(s)://HOST:PORT, not {url_base!r}")
    if url.scheme == "http":
        if tls is not None:
            raise ValueError(f"a TLS context was given for the plain URL {url_base!r}")
        return url.hostname, url.port or 80, None
    return url.hostname, url.port or 443, tls or ssl.create_default_context()


async def _connect(
    host: str, port: int, timeout_s: float, tls: ssl.SSLContext | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | str:
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port, ssl=tls), timeout_s)
    except TimeoutError:
        return f"connect timed out after {timeout_s:g} s"
    except OSError as exc:  # ssl.SSLError (a failed handshake) is an OSError
        return f"connect failed: {exc}"


def _parse_head(data: bytes) -> tuple[int, str | None]:
    """Status code and ``Retry-After`` of a raw HTTP/1.x response; raises ``ValueError``."""
    head, sep, _ = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("incomplete response head")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"bad status line {lines[0]!r}")
    retry_after = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "retry-after":
            retry_after = value.strip()
    return int(parts[1]), retry_after


async def _exchange(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | str,
    host: str,
    port: int,
    path: str,
    timeout_s: float,
) -> Result:
    if isinstance(conn, str):
        return Result(0, 0.0, None, time.monotonic(), conn)
    reader, writer = conn
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: lbctl-load\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")
    sent_at = time.monotonic()
    try:
        writer.write(request)
        # Connection: close, so the response ends at EOF; the latency covers all of it.
        data = await asyncio.wait_for(reader.read(), timeout_s)
        latency = time.monotonic() - sent_at
        status, retry_after = _parse_head(data)
        return Result(status, latency, retry_after, sent_at)
    except TimeoutError:
        return Result(0, time.monotonic() - sent_at, None, sent_at, f"timed out after {timeout_s:g} s")
    except (OSError, ValueError) as exc:
        return Result(0, time.monotonic() - sent_at, None, sent_at, f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def simultaneous(
    url_base: str,
    groups: Mapping[str, tuple[str, int]],
    *,
    timeout_s: float,
    connect_timeout_s: float = 5.0,
    tls: ssl.SSLContext | None = None,
) -> dict[str, list[Result]]:
    """Fire every group's burst at the same moment; return each group's results in order.

    ``groups`` maps a label to ``(path_prefix, n)``: ``n`` requests ``GET <prefix>/<i>``. All
    connections are opened first (each bounded by ``connect_timeout_s`` seconds, the TLS
    handshake included), then every request is written, interleaving the groups; each exchange
    is bounded by ``timeout_s`` seconds. ``url_base`` is ``http://HOST:PORT`` or
    ``https://HOST:PORT``; over https the server is verified with ``tls`` (default: the
    system's CAs, ``ssl.create_default_context()``) against ``HOST``, and a failed handshake is
    a :class:`Result` with ``status == 0``. Raises ``ValueError`` for a malformed ``url_base``,
    a ``tls`` context with an ``http://`` URL, or a negative ``n``.
    """
    host, port, context = _target(url_base, tls)
    plan: list[tuple[str, str]] = []  # (label, path), groups interleaved
    queues = {label: [f"{prefix.rstrip('/')}/{i}" for i in range(n)]
              for label, (prefix, n) in groups.items() if n >= 0}
    if len(queues) != len(groups):
        raise ValueError("burst sizes must be >= 0")
    for i in range(max((len(q) for q in queues.values()), default=0)):
        plan.extend((label, q[i]) for label, q in queues.items() if i < len(q))
    # The cyclic collector paused for the burst (bounded by the timeouts): a full collection
    # of a large process stalls every exchange at once and would be timed as the server's.
    with gc_paused():
        conns = await asyncio.gather(*(_connect(host, port, connect_timeout_s, context)
                                       for _ in plan))
        results = await asyncio.gather(
            *(_exchange(conn, host, port, path, timeout_s)
              for conn, (_, path) in zip(conns, plan, strict=True))
        )
    out: dict[str, list[Result]] = {label: [] for label in groups}
    for (label, _), result in zip(plan, results, strict=True):
        out[label].append(result)
    return out


async def burst(url_base: str, prefix: str, n: int, *, timeout_s: float) -> list[Result]:
    """``n`` simultaneous requests ``GET <prefix>/<i>`` to ``url_base``, each on its own
    connection and bounded by ``timeout_s`` seconds; results in request order."""
    return (await simultaneous(url_base, {prefix: (prefix, n)}, timeout_s=timeout_s))[prefix]


async def two_bursts(
    url_base: str,
    n1: int,
    n2: int,
    *,
    timeout_s: float,
    prefix1: str = "/client1",
    prefix2: str = "/client2",
) -> tuple[list[Result], list[Result]]:
    """client1's ``n1`` and client2's ``n2`` requests at the same moment: ``(results1, results2)``."""
    out = await simultaneous(
        url_base, {"client1": (prefix1, n1), "client2": (prefix2, n2)}, timeout_s=timeout_s
    )
    return out["client1"], out["client2"]


def run_simultaneous(
    url_base: str,
    groups: Mapping[str, tuple[str, int]],
    *,
    timeout_s: float,
    tls: ssl.SSLContext | None = None,
) -> dict[str, list[Result]]:
    """:func:`simultaneous` from synchronous code (runs its own event loop)."""
    return asyncio.run(simultaneous(url_base, groups, timeout_s=timeout_s, tls=tls))


def status_counts(results: Sequence[Result]) -> Counter[int]:
    """How many results had each status (0 = no response)."""
    return Counter(r.status for r in results)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class LatencySummary:
    """Latency percentiles of a set of requests, in seconds (NaN when there were none)."""

    p50: float
    p99: float
    max: float
    count: int


def summarize_latency(results: Sequence[Result]) -> LatencySummary:
    """p50 / p99 / max latency (seconds) over the results that got a response."""
    lat = [r.latency_s for r in results if r.status]
    return LatencySummary(
        percentile(lat, 50), percentile(lat, 99), max(lat) if lat else math.nan, len(lat)
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it; a race with others is possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class ServerProcess:
    """A server run in the foreground as a child process, for one measurement.

    ``argv`` is the command (e.g. ``[haproxy, "-db", "-f", cfg]`` or
    ``[nginx, "-p", prefix, "-c", conf, "-g", "daemon off;"]``); its stdout and stderr go to
    ``log_path``. :meth:`start` returns once ``127.0.0.1:<ready_port>`` accepts connections
    (within ``start_timeout_s`` seconds) and raises ``RuntimeError`` with the log's tail if the
    process exits or never listens. :meth:`stop` signals the child's pid (SIGTERM, then SIGKILL
    after ``stop_timeout_s`` seconds) and reaps it. Use as a context manager.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        ready_port: int,
        log_path: Path,
        start_timeout_s: float = 10.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.argv = list(argv)
        self.ready_port = ready_port
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs (``None`` before start / after stop)."""
        return self._proc.pid if self._proc is not None else None

    def log_tail(self, chars: int = 2000) -> str:
        """The last ``chars`` characters of the child's output."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self) -> ServerProcess:
        """Start the child and wait until it listens; returns self."""
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise RuntimeError(f"{self.argv[0]} exited with {code}:\n{self.log_tail()}")
            if _port_open("127.0.0.1", self.ready_port):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f"{self.argv[0]} did not listen on 127.0.0.1:{self.ready_port} within "
            f"{self.start_timeout_s:g} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM the child by pid, SIGKILL it if still alive after ``stop_timeout_s``; reap it."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=self.stop_timeout_s)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
