"""Reloads with requests in flight, through :meth:`Controller.apply`, on both HAProxy binaries.

The unit-sized, wrk-free counterpart of ``tests/bench/bench_reload.py``:

* a slow download (``/slow?seconds=3`` on the recording backend, which answers after 3 s)
  started before a reload completes with 200 after it: the old worker keeps serving it;
* with ``global.hard_stop_after: 2s`` and a request longer than that, the old worker is gone
  within ``hard_stop_after`` + 1 s of the reload, and the long request is cut: when the timer
  fires, HAProxy (2.6 and 2.8 alike) kills the stream and answers ``502 Bad Gateway`` to the
  client still waiting for its response, about 2 s after the reload instead of the backend's
  200 at 6 s;
* 20 reloads while Python keep-alive clients loop requests (to the backend, and to HAProxy's
  monitor URI, which keeps a connection idle between requests as often as can be): 0 failed
  requests, and every client really was moved off the old workers (HAProxy answered
  ``Connection: close`` on its keep-alive connection). Without ``option idle-close-on-response``
  the same test fails on 2.6 and 2.8 (checked by rendering without it: 1–5 requests per run get
  ``RemoteProtocolError: Server disconnected without sending a response``).

Every spec change moves one route (``/gen-0`` ↔ ``/gen-1``), so every apply reloads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from lbctl.control.controller import Controller
from lbctl.demo.backend import RecordingBackend
from lbctl.haproxy.master_cli import parse_show_proc
from lbctl.haproxy.sockets import SocketClient
from lbctl.spec import Spec, validate_spec
from lbctl.state.store import StateDir
from tests.haproxy_helpers import gone, wait_for

from .conftest import free_port

#: Answered 200 by HAProxy itself (``monitor-uri``), on kept-alive connections.
MONITOR_URI = "/monitor"


def reload_spec(front: int, backend_port: int, gen: int, hard_stop_after: str = "30s") -> Spec:
    """Frontend ``web`` on 127.0.0.1:``front`` (``monitor_uri`` :data:`MONITOR_URI`) → backend
    ``app`` (one server, no health check); generation ``gen`` routes ``/gen-<gen % 2>``, so
    consecutive generations differ."""
    return validate_spec({
        "global": {"hard_stop_after": hard_stop_after},
        "frontends": [{
            "name": "web", "bind": [f"127.0.0.1:{front}"], "default_backend": "app",
            "monitor_uri": MONITOR_URI,
            "routes": [{"path_prefix": f"/gen-{gen % 2}", "backend": "app"}],
        }],
        "backends": [{"name": "app", "servers": [
            {"name": "s1", "address": "127.0.0.1", "port": backend_port, "check": False}]}],
    })


@dataclass
class Lb:
    """A started controller over a temp state dir; ``url`` is HAProxy's frontend."""

    controller: Controller
    state: StateDir
    url: str
    front: int
    backend_port: int
    hard_stop_after: str
    gen: int = 0

    def reload(self) -> float:
        """Apply the next generation (a changed spec) and check it reloaded; returns the
        ``time.monotonic()`` second the apply started."""
        started = time.monotonic()
        self.gen += 1
        version, _ = self.controller.current()
        spec = reload_spec(self.front, self.backend_port, self.gen, self.hard_stop_after)
        result = self.controller.apply(spec, if_match=version)
        assert result.changed and result.reload is not None and result.reload.ok, result
        return started

    def current_workers(self) -> set[int]:
        """Pids of the newest worker generation (``show proc`` on the master CLI)."""
        text = SocketClient(self.state.run_dir / "master.sock", 5.0).command("show proc")
        parsed = parse_show_proc(text)
        assert parsed is not None, text
        return {w.pid for w in parsed.current_workers()}

    def workers(self) -> set[int]:
        """Pids of the master's live children (every worker generation), from psutil."""
        master = psutil.Process(self.controller.status()["haproxy"]["master_pid"])
        return {c.pid for c in master.children() if not gone(c.pid)}


@contextmanager
def running(haproxy_bin: str, root: Path, backend: RecordingBackend,
            hard_stop_after: str = "30s") -> Iterator[Lb]:
    """A controller (real HAProxy) over ``root`` serving generation 0; stopped afterwards."""
    front = free_port()
    state = StateDir(root)
    state.ensure()
    state.write_current(1, reload_spec(front, backend.port, 0, hard_stop_after))
    controller = Controller(state, haproxy_bin=haproxy_bin)
    controller.start()
    try:
        assert controller.health()["haproxy"]["running"], controller.health()
        yield Lb(controller, state, f"http://127.0.0.1:{front}", front, backend.port, hard_stop_after)
    finally:
        controller.shutdown()


@dataclass
class Fetch:
    """A GET in a background thread: ``status`` (None when no response came), ``error``
    (the exception's repr), ``elapsed_s`` from start to answer or failure in seconds, and
    ``done_at``, the ``time.monotonic()`` second it ended."""

    url: str
    timeout_s: float
    status: int | None = None
    body: str = ""
    error: str | None = None
    elapsed_s: float = 0.0
    done_at: float = 0.0
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        try:
            resp = httpx.get(self.url, timeout=self.timeout_s)
            self.status, self.body = resp.status_code, resp.text
        except httpx.HTTPError as exc:
            self.error = repr(exc)
        finally:
            self.done_at = time.monotonic()
            self.elapsed_s = self.done_at - started

    def join(self) -> None:
        """Wait for the answer (``timeout_s`` + 5 s at most)."""
        self.thread.join(self.timeout_s + 5)
        assert not self.thread.is_alive(), f"GET {self.url} still running"


def test_slow_download_spans_a_reload(haproxy_bin: str, short_dir: Path,
                                      backend: RecordingBackend) -> None:
    with running(haproxy_bin, short_dir, backend) as lb:
        slow = Fetch(f"{lb.url}/slow?seconds=3", timeout_s=15)
        wait_for(lambda: backend.snapshot("/slow"), 5)  # it is in the backend now
        old = lb.current_workers()
        lb.reload()
        new = lb.current_workers()
        assert new and not new & old, (old, new)
        assert old <= lb.workers(), "the old worker must still serve the slow download"
        assert httpx.get(f"{lb.url}/after", timeout=5).status_code == 200  # the new one serves
        slow.join()
        assert slow.status == 200, slow.error
        assert slow.body.startswith("backend GET /slow")
        assert slow.elapsed_s >= 3.0
        # Its last connection done, the old worker leaves (long before hard-stop-after, 30 s).
        wait_for(lambda: all(gone(pid) for pid in old), 5)


def test_hard_stop_after_ends_the_old_worker_and_cuts_a_longer_request(
    haproxy_bin: str, short_dir: Path, backend: RecordingBackend
) -> None:
    hard_stop_s = 2.0
    with running(haproxy_bin, short_dir, backend, hard_stop_after="2s") as lb:
        assert "hard-stop-after 2s" in lb.controller.config_source()
        long = Fetch(f"{lb.url}/slow?seconds=6", timeout_s=15)
        wait_for(lambda: backend.snapshot("/slow"), 5)
        old = lb.current_workers()
        reload_started = lb.reload()
        assert old <= lb.workers(), "the old worker serves the long request after the reload"
        # Wait on the condition (a loaded machine may be slow to reap), then assert what
        # hard-stop-after promises: not before the timer (which starts at the soft-stop, after
        # `reload_started`), and before the backend's own answer at 6 s would have ended it.
        wait_for(lambda: all(gone(pid) for pid in old), 15)
        gone_after = time.monotonic() - reload_started
        assert gone_after >= hard_stop_s, f"old workers {old} gone {gone_after:.2f} s after the reload"
        long.join()
        # What really happens: at hard-stop-after the old worker kills its streams; the client
        # still waiting for the backend's answer gets HAProxy's 502 at that moment, not the 200
        # the backend would have sent 6 s after the request.
        assert long.status == 502 and "502 Bad Gateway" in long.body, (long.status, long.error)
        cut_after = long.done_at - reload_started
        assert cut_after >= hard_stop_s, cut_after
        assert long.elapsed_s < 6.0, long.elapsed_s
        assert httpx.get(f"{lb.url}/after", timeout=5).status_code == 200


def test_twenty_reloads_under_keep_alive_clients_lose_nothing(
    haproxy_bin: str, short_dir: Path, backend: RecordingBackend
) -> None:
    clients, max_requests, max_seconds = 4, 20_000, 20.0
    stop = threading.Event()
    stats: list[dict[str, Any]] = [{"ok": 0, "bad": [], "closed": 0} for _ in range(clients)]

    def loop(mine: dict[str, Any], url: str) -> None:
        deadline = time.monotonic() + max_seconds
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(timeout=5.0, limits=limits) as http:
            while not stop.is_set() and mine["ok"] < max_requests and time.monotonic() < deadline:
                try:
                    resp = http.get(url)
                except httpx.HTTPError as exc:
                    mine["bad"].append(repr(exc))
                    continue
                if resp.status_code == 200:
                    mine["ok"] += 1
                else:
                    mine["bad"].append(f"HTTP {resp.status_code}")
                if resp.headers.get("connection", "").lower() == "close":
                    mine["closed"] += 1

    with running(haproxy_bin, short_dir, backend) as lb:
        # Half the clients reach the backend (~40 ms a request); the other half ask HAProxy's
        # monitor URI (well under 1 ms), so their connections sit idle between a response and
        # the next request as often as can be: the moment an old worker without
        # idle-close-on-response would close them under that request.
        urls = [f"{lb.url}/k{i}" if i % 2 else f"{lb.url}{MONITOR_URI}" for i in range(clients)]
        threads = [threading.Thread(target=loop, args=(s, url), daemon=True)
                   for s, url in zip(stats, urls, strict=True)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: all(s["ok"] for s in stats), 5)
            for _ in range(20):
                lb.reload()
                time.sleep(0.02)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        assert not any(t.is_alive() for t in threads)
        bad = [b for s in stats for b in s["bad"]]
        assert bad == [], bad[:5]
        assert lb.controller.status()["haproxy"]["reload_count"] == 20
        assert sum(s["ok"] for s in stats) > 100  # ~25 requests/s per client (Python backend)
        # The clients did cross reloads on kept-alive connections: old workers closed them
        # after a response (idle-close-on-response), never under a request.
        assert all(s["closed"] >= 10 for s in stats), [s["closed"] for s in stats]
