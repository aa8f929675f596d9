"""Ping a server from the load balancer's host: one bounded HTTP request, timed phase by phase.

"Can this LB reach that server, right now, and how fast?" — :func:`ping` sends one request
(``HEAD`` by default; ``GET`` or ``OPTIONS``) with httpx from the agent's own host, on a
fresh connection, without proxies (``trust_env=False``) and without following redirects, and
times each phase with httpcore's ``trace`` request extension:

============  ==========================================================================
phase         what ``*_ms`` measures (milliseconds)
============  ==========================================================================
``dns``       ``resolve_ms``: ``getaddrinfo`` of the address (≈0 for an IP literal)
``connect``   ``connect_ms``: the TCP handshake to the resolved address
``tls``       ``tls_ms``: the TLS handshake (``None`` over plain HTTP)
``request``   sending the request line and headers (part of ``ttfb_ms``)
``response``  ``ttfb_ms``: from the request sent until the status line and headers are read
``body``      reading at most :data:`MAX_BODY_BYTES` of a ``GET``'s body (then closed)
============  ==========================================================================

``total_ms`` runs from the start to the end of it all. A ping that fails says in which
phase and of which kind (:data:`FailureKind`): ``dns`` (the name does not resolve),
``refused`` (nothing listens), ``timeout``, ``tls`` (handshake or certificate verification
failed), ``unreachable`` (no route), ``reset``, ``protocol`` (not HTTP) or ``error``. Every
ping ends within ``timeout_s`` (one deadline over every phase, DNS included).

:class:`PingGate` bounds the pings in flight (:data:`MAX_IN_FLIGHT`): one more is refused at
once with :class:`lbctl.errors.Busy` (429), never queued. :func:`run_ping` is what the agent
calls: gate → ping → exactly one audit line (``what`` ``ping``, ``target`` the
``backend/server`` and URL, ``result`` ``ok`` for a 2xx/3xx answer, else ``failed``, with
``error`` ``"phase kind: message"``, or ``"Busy: ..."`` when refused;
:mod:`lbctl.state.journal`). Nothing is written to the spec or the history.

TLS: an address ping with ``tls=True`` verifies the server's certificate against the system
CA bundle (OpenSSL's default paths, :func:`ssl.create_default_context`) and sends the host
name as SNI. A spec server with ``tls`` is pinged as HAProxy reaches it (:func:`server_target`):
its ``ca`` from the certificate store, its ``verify``, its ``sni`` (the host name is checked
only against the SNI, as HAProxy's ``verify required`` does); without ``tls``, plain HTTP.

Size: over 300 lines because one ping is one request traced phase by phase (resolve,
connect, TLS, first byte) with a failure kind per phase; the phases share the deadline
and the trace, so they stay together.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from lbctl import __version__
from lbctl.errors import Busy, NotFound
from lbctl.render.tls import certificate_path
from lbctl.spec import Spec
from lbctl.state.journal import audit

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MAX_BODY_BYTES",
    "MAX_IN_FLIGHT",
    "MAX_TIMEOUT_S",
    "FailureKind",
    "Method",
    "Phase",
    "PingFailure",
    "PingGate",
    "PingResult",
    "PingTarget",
    "ping",
    "run_ping",
    "server_target",
]

#: How many pings may be in flight at once, per agent; one more is a :class:`Busy` (429).
MAX_IN_FLIGHT = 4
#: The default and the largest deadline of a ping, in seconds.
DEFAULT_TIMEOUT_S = 2.0
MAX_TIMEOUT_S = 10.0
#: At most this much of a ``GET``'s body is read (then the connection is closed), in bytes.
MAX_BODY_BYTES = 64 * 1024

Method = Literal["HEAD", "GET", "OPTIONS"]
Phase = Literal["dns", "connect", "tls", "request", "response", "body"]
FailureKind = Literal["dns", "refused", "timeout", "tls", "unreachable", "reset", "protocol",
                      "error"]

#: The httpcore trace events (after their ``connection.`` / ``http11.`` / ``http2.`` prefix)
#: that start a phase.
_STARTS: dict[str, Phase] = {
    "connect_tcp.started": "connect",
    "start_tls.started": "tls",
    "send_request_headers.started": "request",
    "receive_response_headers.started": "response",
    "receive_response_body.started": "body",
}
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EHOSTDOWN}


@dataclass(frozen=True)
class PingTarget:
    """Where and how to ping: ``host`` (an IP literal or a host name, as the spec's
    ``address``), ``port``, ``method``, ``path`` (absolute, no query), ``timeout_s``
    (seconds, over every phase), ``tls`` (verify against the system CA bundle).
    ``backend``/``server`` name a spec server (``None`` for an address not in the spec)."""

    host: str
    port: int
    method: Method = "HEAD"
    path: str = "/"
    timeout_s: float = DEFAULT_TIMEOUT_S
    tls: bool = False
    backend: str | None = None
    server: str | None = None
    #: A spec server's TLS: the CA file of its ``tls.ca`` in the certificate store (``None``:
    #: the system CA bundle), whether to verify (``tls.verify``), and the SNI (``tls.sni``;
    #: the host name is checked against the certificate only when it is set, as HAProxy does).
    ca_file: Path | None = None
    verify: bool = True
    sni: str | None = None

    @property
    def url(self) -> str:
        """``http://10.0.0.5:8080/health`` (an IPv6 literal bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{self.path}"

    @property
    def label(self) -> str:
        """The audit line's ``target``: ``app/s1 HEAD http://10.0.0.5:8080/``."""
        named = f"{self.backend}/{self.server} " if self.backend else ""
        return f"{named}{self.method} {self.url}"


@dataclass(frozen=True)
class PingFailure:
    """Where a ping failed (``phase``), what kind of failure (``kind``) and the message."""

    phase: Phase
    kind: FailureKind
    message: str

    def __str__(self) -> str:
        return f"{self.phase} {self.kind}: {self.message}"


@dataclass
class PingResult:
    """One ping's outcome. ``ok``: an answer with a 2xx or 3xx status. ``resolved``: the IP
    address connected to. Times in milliseconds (module docstring), ``None`` for a phase
    that was not reached; ``body_bytes``: the body bytes read (``GET``). ``error`` says
    where and why it failed (``None`` when an answer came, whatever its status)."""

    target: PingTarget
    ok: bool = False
    resolved: str | None = None
    status: int | None = None
    http_version: str | None = None
    resolve_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    total_ms: float = 0.0
    body_bytes: int = 0
    error: PingFailure | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON document the agent answers (:class:`lbctl.client.ping_models.PingOutcome`)."""
        t = self.target
        return {
            "ok": self.ok, "backend": t.backend, "server": t.server, "method": t.method,
            "url": t.url, "address": t.host, "port": t.port, "resolved": self.resolved,
            "tls": t.tls, "timeout_s": t.timeout_s, "status": self.status,
            "http_version": self.http_version, "resolve_ms": self.resolve_ms,
            "connect_ms": self.connect_ms, "tls_ms": self.tls_ms, "ttfb_ms": self.ttfb_ms,
            "total_ms": self.total_ms, "body_bytes": self.body_bytes,
            "error": asdict(self.error) if self.error else None,
        }


class PingGate:
    """At most ``limit`` pings in flight (thread- and task-safe, never blocks)."""

    def __init__(self, limit: int = MAX_IN_FLIGHT) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the ``with`` block; raises :class:`Busy` at once when all are
        taken."""
        if not self._slots.acquire(blocking=False):
            raise Busy(f"{self.limit} pings are already in flight; try again in a moment")
        try:
            yield
        finally:
            self._slots.release()


def server_target(spec: Spec, backend: str, server: str, *, method: Method = "HEAD",
                  path: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                  state_root: Path | None = None) -> PingTarget:
    """The :class:`PingTarget` of ``backend``/``server`` in ``spec``: its address and port;
    ``path`` defaults to the backend's health-check path, else ``/``. A server with ``tls``
    is pinged over TLS as HAProxy reaches it: its ``ca`` from the certificate store under
    ``state_root`` (required when it has a ``ca``), its ``verify`` and its ``sni``. Raises
    :class:`NotFound`."""
    found = next((b for b in spec.backends if b.name == backend), None)
    if found is None:
        raise NotFound(f"no backend {backend!r} in the spec")
    srv = next((s for s in found.servers if s.name == server), None)
    if srv is None:
        raise NotFound(f"no server {server!r} in backend {backend!r}")
    default = found.health_check.path if found.health_check else "/"
    target = PingTarget(srv.address, srv.port, method, path or default, timeout_s, False,
                        backend, server)
    if srv.tls is None:
        return target
    ca = (certificate_path(state_root, srv.tls.ca)
          if srv.tls.ca is not None and state_root is not None else None)
    return dataclasses.replace(target, tls=True, ca_file=ca,
                               verify=srv.tls.verify == "required", sni=srv.tls.sni)


def _client_context(target: PingTarget) -> ssl.SSLContext:
    """The TLS client context of ``target``: no verification for ``verify: none``; the
    store's CA file when it names one; else the system bundle. Host names are checked for
    an address ping and, for a spec server, only against its ``sni``."""
    if not target.verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if target.ca_file is None and target.backend is None:
        return _system_ca()
    ctx = ssl.create_default_context(cafile=str(target.ca_file) if target.ca_file else None)
    ctx.check_hostname = target.sni is not None or target.backend is None
    return ctx


@functools.cache
def _system_ca() -> ssl.SSLContext:
    """The TLS client context of ``tls=True``: the system CA bundle, host names checked."""
    return ssl.create_default_context()


def _ms(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round((end - start) * 1000, 3)


@dataclass
class _Trace:
    """What the httpcore ``trace`` extension saw: the phase now running and when each event
    came (``time.perf_counter`` seconds)."""

    phase: Phase = "dns"
    at: dict[str, float] = field(default_factory=dict)
    resolved: str | None = None

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        event = name.split(".", 1)[-1]
        self.at.setdefault(event, time.perf_counter())
        if event in _STARTS:
            self.phase = _STARTS[event]


async def _resolve(host: str, port: int) -> str:
    """The first address ``host`` resolves to (an IP literal is its own)."""
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return str(infos[0][4][0])


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _failure(phase: Phase, exc: BaseException) -> PingFailure:
    """The :class:`PingFailure` of ``exc`` raised during ``phase``."""
    chain = list(_causes(exc))
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return PingFailure(phase, "timeout", f"no progress within the deadline ({phase})")
    cert = next((c for c in chain if isinstance(c, ssl.SSLCertVerificationError)), None)
    if cert is not None:
        return PingFailure("tls", "tls", f"certificate verify failed: {cert.verify_message}")
    tls_err = next((c for c in chain if isinstance(c, ssl.SSLError)), None)
    if tls_err is not None or phase == "tls":
        return PingFailure("tls", "tls", str(tls_err or exc) or type(exc).__name__)
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return PingFailure(phase, "refused", "connection refused: nothing listens there")
    if any(isinstance(c, ConnectionResetError) for c in chain):
        return PingFailure(phase, "reset", "connection reset by the server")
    if any(isinstance(c, OSError) and c.errno in _UNREACHABLE for c in chain):
        return PingFailure(phase, "unreachable", str(exc) or "no route to the address")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return PingFailure(phase, "protocol", str(exc) or "not an HTTP answer")
    return PingFailure(phase, "error", str(exc) or type(exc).__name__)


async def ping(target: PingTarget) -> PingResult:
    """Send one request to ``target`` and time it (module docstring). Never raises for what
    happens on the wire: a failure is the result's ``error``."""
    result = PingResult(target)
    trace = _Trace()
    _system_ca()  # loaded once, before the clock starts
    started = time.perf_counter()
    try:
        async with asyncio.timeout(target.timeout_s):
            result.resolved = await _resolve(target.host, target.port)
            trace.at["resolved"] = time.perf_counter()
            await _exchange(target, result, trace)
    except socket.gaierror as exc:
        result.error = PingFailure("dns", "dns", f"{target.host!r} does not resolve: "
                                                 f"{exc.strerror or exc}")
    except (TimeoutError, httpx.HTTPError, OSError) as exc:
        result.error = _failure(trace.phase, exc)
    ended = time.perf_counter()
    at = trace.at
    result.resolve_ms = _ms(started, at.get("resolved"))
    result.connect_ms = _ms(at.get("connect_tcp.started"), at.get("connect_tcp.complete"))
    result.tls_ms = _ms(at.get("start_tls.started"), at.get("start_tls.complete"))
    result.ttfb_ms = _ms(at.get("send_request_headers.started"),
                         at.get("receive_response_headers.complete"))
    result.total_ms = round((ended - started) * 1000, 3)
    result.ok = result.error is None and result.status is not None and result.status < 400
    return result


async def _exchange(target: PingTarget, result: PingResult, trace: _Trace) -> None:
    """The request itself, to the resolved address with the original ``Host`` and SNI."""
    assert result.resolved is not None
    ip = result.resolved
    url = httpx.URL(target.url).copy_with(host=ip)
    default_port = 443 if target.tls else 80
    host_header = target.url.split("://", 1)[1].split("/", 1)[0]
    if target.port == default_port:
        host_header = host_header.rsplit(":", 1)[0]
    extensions: dict[str, Any] = {"trace": trace}
    if target.tls and (target.sni or target.host != ip):
        extensions["sni_hostname"] = target.sni or target.host
    headers = {"Host": host_header, "User-Agent": f"lbctl-ping/{__version__}", "Accept": "*/*"}
    client = httpx.AsyncClient(verify=_client_context(target), trust_env=False,
                               follow_redirects=False,
                               timeout=httpx.Timeout(target.timeout_s))
    async with client, client.stream(target.method, url, headers=headers,
                                     extensions=extensions) as resp:
        result.status = resp.status_code
        result.http_version = resp.http_version
        if target.method == "GET":
            async for chunk in resp.aiter_raw():
                result.body_bytes += len(chunk)
                if result.body_bytes >= MAX_BODY_BYTES:
                    break


async def run_ping(target: PingTarget, gate: PingGate, *, who: str, author: str = "",
                   message: str = "") -> PingResult:
    """:func:`ping` ``target`` in a slot of ``gate``, with its audit line (module
    docstring). Raises :class:`Busy` (audited too) when every slot is taken."""
    try:
        with gate.slot():
            result = await ping(target)
    except Busy as exc:
        audit("ping", who=who, author=author, message=message, target=target.label,
              result="failed", error=f"Busy: {exc}")
        raise
    audit("ping", who=who, author=author, message=message, target=target.label,
          result="ok" if result.ok else "failed",
          error=str(result.error) if result.error else (
              None if result.ok else f"HTTP {result.status}"),
          duration_ms=result.total_ms)
    return result
