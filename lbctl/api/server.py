"""Run the agent: parse ``--listen``, refuse unsafe binds, start the controller, serve.

:func:`serve` is what ``lbctl serve`` calls. It owns the controller's life cycle::

    controller.start()  →  supervisor.start()  →  uvicorn serves the app  →  SIGTERM / SIGINT
        →  supervisor.stop()  →  controller.shutdown()

``shutdown`` runs in a ``finally`` and, by default, soft-stops HAProxy (``keep_haproxy`` leaves
it running; the next ``lbctl serve`` on the same state dir adopts it). While the API serves,
the :class:`lbctl.control.supervisor.Supervisor` restarts HAProxy when its master or worker dies; it
is stopped before the shutdown, so a deliberate stop is never undone. uvicorn re-raises the
signal that stopped it once it is done; the handlers installed here swallow that, so the
shutdown always runs and the process exits 0.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from lbctl.api.app import create_app
from lbctl.api.notify import sd_notify
from lbctl.control.controller import Controller
from lbctl.control.supervisor import Supervisor
from lbctl.errors import LbctlError, ListenError
from lbctl.fleet.member import FleetMember, FleetOptions
from lbctl.spec.address import Address
from lbctl.spec.policy import HostOptions
from lbctl.state.sessions import DEFAULT_TTL_S
from lbctl.state.store import StateDir

__all__ = ["DEFAULT_LISTEN", "AgentThread", "Listen", "check_bind_safety", "parse_listen", "serve"]

DEFAULT_LISTEN = "127.0.0.1:9900"
ENV_LISTEN = "LBCTL_LISTEN"
ENV_TOKEN = "LBCTL_TOKEN"

log = logging.getLogger("lbctl.serve")


@dataclass(frozen=True)
class Listen:
    """Where the agent listens: ``host`` (IP literal or name, IPv6 unbracketed) and ``port``."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """True for ``localhost`` and loopback IPs (``127.0.0.0/8``, ``::1``)."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # any other name may resolve anywhere


def parse_listen(value: str) -> Listen:
    """``"127.0.0.1:9900"``, ``"[::1]:9900"``, ``"localhost:9900"`` → :class:`Listen`.

    Raises :class:`LbctlError` for anything else (no port, port outside 1–65535).
    """
    try:
        where = Address.parse(value.strip())
    except ValueError:
        where = Address("", 0)
    if not where.host or not 1 <= where.port <= 65535:
        raise LbctlError(f"--listen {value!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN} or [::1]:9900")
    return Listen(where.host, where.port)


def check_bind_safety(listen: Listen, tls_cert: Path | None, tls_key: Path | None) -> None:
    """Refuse a non-loopback address without TLS, and half a TLS setup.

    DESIGN.md "Safety rules": the agent binds 127.0.0.1 by default and refuses a non-loopback
    address without TLS. Raises :class:`LbctlError` (exit 1) naming what is missing.
    """
    if (tls_cert is None) != (tls_key is None):
        raise LbctlError("TLS needs both --tls-cert and --tls-key")
    for path in (tls_cert, tls_key):
        if path is not None and not os.access(path, os.R_OK):
            raise LbctlError(f"cannot read TLS file {path}")
    if not listen.is_loopback and tls_cert is None:
        raise LbctlError(
            f"refusing to listen on {listen} without TLS: the bearer token would cross the "
            "network in clear text; pass --tls-cert and --tls-key, or listen on 127.0.0.1"
        )


def agent_token(state: StateDir) -> tuple[str, bool]:
    """The bootstrap ``admin`` token: ``$LBCTL_TOKEN``, else the state dir's token file
    (created on first start). Returns ``(token, created_now)``. Named tokens with other roles
    are in ``tokens.json`` (:mod:`lbctl.state.tokens`). Raises :class:`StoreError`."""
    from_env = os.environ.get(ENV_TOKEN, "").strip()
    if from_env:
        return from_env, False
    return state.read_or_create_token()


def bind_socket(listen: Listen) -> socket.socket:
    """A listening TCP socket on ``listen`` (bound before HAProxy starts, so a busy port fails
    fast). Not inheritable: HAProxy never holds the agent's port. Raises :class:`ListenError`
    naming the port and, when psutil can tell, the process holding it (:func:`port_holder`).

    The socket is made with ``IPPROTO_TCP`` as its protocol, not 0: accepted connections
    inherit it, and asyncio only sets ``TCP_NODELAY`` on a socket whose ``proto`` is
    ``IPPROTO_TCP``. Without it every response written in two parts waits for the client's
    delayed ACK (about 40 ms a request)."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((listen.host, listen.port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        held = port_holder(listen.port) if exc.errno == errno.EADDRINUSE else None
        raise ListenError(f"cannot listen on {listen}: {exc.strerror or exc}"
                          + (f" (held by {held})" if held else "")) from exc
    return sock


def port_holder(port: int) -> str | None:
    """``"pid 1234 (lbctl serve --listen ...)"``: the process listening on TCP ``port``,
    found with psutil; ``"another user's process"`` when the kernel hides its pid (not
    root); ``None`` when nothing listens there or the table cannot be read."""
    import psutil

    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return "another user's process"
            try:
                command = " ".join(psutil.Process(conn.pid).cmdline())[:120]
            except psutil.Error:
                command = "?"
            return f"pid {conn.pid} ({command})"
    return None


class AgentThread:
    """An ASGI app (the agent) served by uvicorn in a daemon thread on 127.0.0.1.

    The listening socket is bound before the thread starts (port 0 picks a free one), so
    ``port`` and ``url`` are valid at once and no other process can take the port meanwhile.
    Used by the tests and benchmarks that drive a real agent in-process; ``lbctl serve`` runs
    uvicorn in the main thread instead.
    """

    def __init__(self, app: Any, port: int = 0) -> None:
        self.sock = bind_socket(Listen("127.0.0.1", port))
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self, timeout_s: float = 15.0) -> AgentThread:
        """Start serving; return once uvicorn is up. Raises ``RuntimeError`` after ``timeout_s``
        seconds or if the thread died."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start within {timeout_s:g} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit, wait 10 s at most for its thread, close the socket."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def found_line(controller: Controller) -> str:
    """What ``lbctl serve`` found and did, for its start-up line: ``"HAProxy running
    (adopted master pid 12, started before this agent)"`` or ``"HAProxy running (started
    master pid 12)"`` — adopted when the master process is older than this agent's own
    process (both ages from ``/proc``, so they compare exactly) — or ``"HAProxy
    unavailable: <why>"``; then where HAProxy's logs arrive (or why they do not)."""
    import psutil

    started_at = psutil.Process().create_time()

    health = controller.health()
    if not health["haproxy"]["running"]:
        line = f"HAProxy unavailable: {health['haproxy']['unavailable']}"
    else:
        master = controller.status()["haproxy"].get("master_pid")
        try:
            adopted = master is not None and psutil.Process(master).create_time() < started_at
        except psutil.Error:
            adopted = False
        line = ("HAProxy running (adopted master pid {}, started before this agent)" if adopted
                else "HAProxy running (started master pid {})").format(master)
    logs = controller.logs
    return line + (f"; HAProxy's logs at {logs.path}" if logs.is_open
                   else f"; {logs.unavailable or 'HAProxy logs not collected'}")


class _StopSignals:
    """Record SIGTERM / SIGINT instead of dying, so the ``finally`` that stops HAProxy runs.

    uvicorn installs its own handlers while it serves and re-raises the signal afterwards;
    then these handlers receive it again and just record it.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: list[int] = []
        self._saved: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)

    def __enter__(self) -> _StopSignals:
        for sig in self.SIGNALS:
            self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


def serve(
    state: StateDir,
    listen: Listen,
    *,
    token: str,
    haproxy_bin: str | None = None,
    keep_haproxy: bool = False,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    log_level: str = "info",
    announce: Callable[[str], None] = print,
    host: HostOptions | None = None,
    haproxy_user: str | None = None,
    fleet: FleetOptions | None = None,
    peer_address: str | None = None,
    session_ttl_s: float = DEFAULT_TTL_S,
    haproxy_log: Path | None = None,
) -> int:
    """Start the controller, serve the API until SIGTERM / SIGINT, then shut down.

    Must run in the main thread (signal handlers). ``announce`` receives one line once the
    controller is up. Returns the exit status (0). Raises :class:`LbctlError` for an unsafe
    ``listen``, :class:`ListenError` for a busy one (both before HAProxy starts) and
    :class:`StoreError` for an unusable state dir; HAProxy-side failures do not stop the
    agent (health reports them).

    ``host`` is what the host operator allows beyond the default host policy
    (:meth:`lbctl.spec.policy.HostOptions.gather`: ``--allow-path``, ``--allow-directive``
    and their environment variables) and ``haproxy_user`` who HAProxy's workers run as when
    the agent runs as root; both are fixed for the agent's life (the API cannot change them).
    An ``haproxy_user`` that names no user of this host is a :class:`LbctlError`.

    ``fleet``: take part in a fleet (:class:`lbctl.fleet.member.FleetMember`: started after
    the controller, so a node catches up before it counts as live; stopped first);
    ``peer_address``: ``host:port`` of this node's local peer (``None``: the spec's port on
    127.0.0.1).
    ``session_ttl_s``: the lifetime of an admin UI session in seconds (:mod:`lbctl.api.session`).
    ``haproxy_log``: a rotating file that also gets HAProxy's log lines (the controller's
    collector, :mod:`lbctl.control.logs`). uvicorn's own lines go through the root logger
    (``log_config=None``), in the format ``lbctl serve --log-format`` set up.
    """
    check_bind_safety(listen, tls_cert, tls_key)
    try:
        controller = Controller(state, haproxy_bin=haproxy_bin, host=host,
                                haproxy_user=haproxy_user, peer_address=peer_address)
        member = FleetMember(controller, fleet) if fleet is not None else None
    except ValueError as exc:
        raise LbctlError(str(exc)) from None
    sock = bind_socket(listen)
    supervisor = Supervisor(controller)
    with _StopSignals() as stop, sock:
        try:
            controller.start(haproxy_log=haproxy_log)
            if stop.received:
                return 0
            if member is not None:
                member.start()
            supervisor.start()
            app = create_app(controller, token=token, session_ttl_s=session_ttl_s)
            config = uvicorn.Config(
                app,
                host=listen.host,
                port=listen.port,
                log_level=log_level,
                ssl_certfile=str(tls_cert) if tls_cert else None,
                ssl_keyfile=str(tls_key) if tls_key else None,
                lifespan="off",
                server_header=False,
                log_config=None,
            )
            scheme = "https" if tls_cert else "http"
            state_line = found_line(controller)
            announce(f"lbctl agent on {scheme}://{listen} (state dir {state.root}; {state_line})")
            sd_notify("READY=1", f"STATUS=serving on {scheme}://{listen}; {state_line}")
            server = uvicorn.Server(config)
            server.run(sockets=[sock])
        finally:
            sd_notify("STOPPING=1")
            if member is not None:
                member.stop()  # its lease goes: the others stop waiting for this node
            supervisor.stop()  # first: a deliberate stop of HAProxy is not a fault
            controller.shutdown(keep_haproxy=keep_haproxy)
    return 0
