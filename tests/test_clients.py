"""Rate-limit visibility (issue 5, item 3): ``GET /api/v1/clients``, ``DELETE
/api/v1/clients/{name}/counters``, ``lbctl clients``; a client's 429 counter survives a reload
through the master CLI (the ``peers`` section).

Real uvicorn, real Controller, real HAProxy (bundled 2.8 and Debian 2.6), a real backend.
``bulk`` is limited in ``mode: reject`` (2 requests/s), ``c1`` in ``mode: smooth`` (2
requests/s, 5 may wait: at most 2.5 s).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from lbctl.cli.main import app as cli_app
from lbctl.control.clients import parse_waiting, reload_keeps_counters
from lbctl.demo.backend import RecordingBackend

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent, wait_for
from .test_api import _bundled, _problem


def _spec(backend: RecordingBackend) -> dict[str, Any]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    data["frontends"][0]["clients"] = [
        {"name": "c1", "path_prefix": "/c1", "rate": 2, "burst": 5, "mode": "smooth"},
        {"name": "bulk", "path_prefix": "/bulk", "rate": 2, "mode": "reject"},
    ]
    return data


@pytest.fixture
def agent_any(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    with running_agent(short_dir, _spec(backend), haproxy_bin) as agent:
        yield agent


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    with running_agent(short_dir, _spec(backend), _bundled()) as agent:
        yield agent


def _clients(agent: Agent) -> dict[str, dict[str, Any]]:
    resp = agent.api.get("/api/v1/clients")
    assert resp.status_code == 200, resp.text
    return {c["client"]: c for c in resp.json()["clients"]}


def _burst(agent: Agent, path: str, n: int) -> list[int]:
    """``n`` requests one after the other (well within one second); their statuses."""
    with httpx.Client(timeout=10) as http:
        return [http.get(agent.front + path).status_code for _ in range(n)]


def test_reject_counter_survives_a_reload(agent_any: Agent) -> None:
    agent = agent_any
    assert _clients(agent)["bulk"] == {
        "frontend": "web", "client": "bulk", "path_prefix": "/bulk", "mode": "reject", "rate": 2,
        "burst": 0, "table": "lbctl_clients_web", "request_rate": 0, "waiting": None,
        "delayed_total": 0, "rejected_total": 0, "expires_in_ms": None}
    statuses = _burst(agent, "/bulk/x", 10)
    refused = statuses.count(429)
    assert statuses[:2] == [200, 200] and refused >= 6, statuses
    bulk = _clients(agent)["bulk"]
    assert (bulk["rejected_total"], bulk["delayed_total"]) == (refused, 0)
    assert bulk["request_rate"] == 10 and bulk["expires_in_ms"] > 0

    # HAProxy just started: its worker may teach its table to a new one only once its own
    # start-up resync is over (5 s: nobody older to learn from, no remote peer).
    assert agent.api.get("/api/v1/clients").json()["reload_keeps_counters"] is False
    wait_for(lambda: agent.api.get("/api/v1/clients").json()["reload_keeps_counters"], 7, 0.2)
    before = agent.api.get("/api/v1/haproxy").json()["haproxy"]
    resp = agent.api.post("/api/v1/haproxy/reload")  # through the master CLI
    assert resp.status_code == 200 and resp.json()["method"] == "master-cli", resp.text
    after = agent.api.get("/api/v1/haproxy").json()["haproxy"]
    assert after["master_pid"] == before["master_pid"]
    assert set(after["worker_pids"]) - set(before["worker_pids"])  # a new worker
    assert after["reload_count"] == before["reload_count"] + 1
    # The new worker learned the table from the old one through the local peer, and may
    # teach it on at once.
    assert _clients(agent)["bulk"]["rejected_total"] == refused
    assert agent.api.get("/api/v1/clients").json()["reload_keeps_counters"] is True


def test_smooth_client_waiting_and_delayed(agent_any: Agent) -> None:
    agent = agent_any
    with ThreadPoolExecutor(7) as pool:
        start = threading.Barrier(7)

        def one(_: int) -> int:
            start.wait()
            return httpx.get(agent.front + "/c1/x", timeout=10).status_code

        futures = [pool.submit(one, i) for i in range(7)]
        held = wait_for(lambda: _clients(agent)["c1"]["waiting"], 2, interval=0.02)
        assert 1 <= held <= 5
        statuses = sorted(f.result() for f in futures)
    assert statuses == [200] * 6 + [429]  # 1 at once, 5 paced 0.5 s apart, 1 over the burst
    c1 = _clients(agent)["c1"]
    assert (c1["waiting"], c1["delayed_total"], c1["rejected_total"]) == (0, 5, 1)


def test_clear_counters(agent: Agent) -> None:
    assert 429 in _burst(agent, "/bulk", 6)
    assert _clients(agent)["bulk"]["rejected_total"] > 0
    resp = agent.api.delete("/api/v1/clients/bulk/counters")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"cleared": [{"frontend": "web", "client": "bulk", "table": "lbctl_clients_web"}]}
    bulk = _clients(agent)["bulk"]
    assert (bulk["request_rate"], bulk["rejected_total"], bulk["expires_in_ms"]) == (0, 0, None)
    assert _burst(agent, "/bulk", 2) == [200, 200]  # the rate restarted from zero too
    for url in ("/api/v1/clients/nope/counters", "/api/v1/clients/bulk/counters?frontend=nope"):
        assert _problem(agent.api.delete(url), 404)["error"] == "NotFound"


def test_cli_clients(agent: Agent) -> None:
    statuses = _burst(agent, "/bulk", 5)  # rate 2/s: 2 pass, then 429 until a second passed
    assert statuses[:2] == [200, 200] and 429 in statuses and set(statuses) == {200, 429}, statuses
    rejected = statuses.count(429)  # what the CLI must show: the 429s HAProxy really sent
    runner = CliRunner()
    remote = ["--url", agent.url, "--token", TOKEN, "clients"]
    result = runner.invoke(cli_app, remote)
    assert result.exit_code == 0, result.stderr
    rows = {ln.split("│")[2].strip(): ln for ln in result.stdout.splitlines() if ln.count("│") > 5}
    assert set(rows) >= {"c1", "bulk"}
    assert "2/s burst 5" in rows["c1"] and "reject" in rows["bulk"]
    data = json.loads(runner.invoke(cli_app, [*remote, "--json"]).stdout)
    assert {c["client"]: c["rejected_total"] for c in data["clients"]} == {"c1": 0, "bulk": rejected}
    result = runner.invoke(cli_app, [*remote, "--clear", "bulk"])
    assert result.exit_code == 0 and "cleared the counters of bulk in frontend web" in result.stdout
    assert runner.invoke(cli_app, [*remote, "--clear", "nope"]).exit_code == 4


def test_reload_keeps_counters_from_show_peers() -> None:
    line = "0x55d1: [21/Nov/2026:06:28:51] id={} disabled=0 flags={} resync_timeout=4s task_calls=7"
    peer = "  0x55d2: id=lbctl(local,inactive) addr=127.0.0.1:1 flags=0x0"
    assert reload_keeps_counters("\n".join([line.format("lbctl", "0x0"), peer])) is False
    assert reload_keeps_counters(line.format("lbctl", "0x11")) is False  # just started
    assert reload_keeps_counters(line.format("lbctl", "0x13")) is True
    assert reload_keeps_counters(line.format("lbctl", "0x1103")) is True  # taught at reload
    assert reload_keeps_counters(line.format("other", "0x11")) is None
    assert reload_keeps_counters("Unknown command: 'show'\n") is None


def test_parse_waiting() -> None:
    assert parse_waiting("web/c1 3\nweb/c2 0\n\n") == {("web", "c1"): 3, ("web", "c2"): 0}
    assert parse_waiting("\n") == {}
    assert parse_waiting("Unknown command: 'lbctl'\n") is None
