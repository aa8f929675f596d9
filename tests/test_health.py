"""Health for monitors (issue 5, item 5): ``GET /api/v1/health`` answers 503 — and ``lbctl
health`` exits 1 — when HAProxy is down and when a backend has no usable server, and the body
says which. HAProxy is stopped for real, by its verified master pid.

Real uvicorn, real Controller, real HAProxy (bundled 2.8 and Debian 2.6), a real backend.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from typer.testing import CliRunner

from lbctl.cli.main import app as cli_app
from lbctl.demo.backend import RecordingBackend

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent, wait_for
from .haproxy_helpers import gone
from .test_api import _bundled
from .test_metrics import scrape, value

runner = CliRunner()


def _health_cli(agent: Agent, *args: str) -> Any:
    return runner.invoke(cli_app, ["--url", agent.url, "--token", TOKEN, "health", *args])


@pytest.fixture
def agent_any(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, haproxy_bin) as agent:
        yield agent


def _verified_haproxy(pid: int, config: Path) -> psutil.Process:
    """``pid`` as a process, after checking it is an haproxy running this agent's config."""
    proc = psutil.Process(pid)
    assert os.path.basename(proc.exe()) == "haproxy", proc.exe()
    assert str(config) in proc.cmdline(), proc.cmdline()
    return proc


def test_haproxy_down_is_503_and_exit_1(agent_any: Agent) -> None:
    agent = agent_any
    wait_for(lambda: agent.api.get("/api/v1/health").status_code == 200, 5)
    status = agent.api.get("/api/v1/haproxy").json()["haproxy"]
    master = _verified_haproxy(status["master_pid"], agent.state.config_path)
    workers = [_verified_haproxy(pid, agent.state.config_path) for pid in status["worker_pids"]]
    assert workers
    master.send_signal(signal.SIGTERM)  # the master stops its workers, then exits
    wait_for(lambda: all(gone(p.pid) for p in [master, *workers]), 10)

    resp = agent.api.get("/api/v1/health")
    assert resp.status_code == 503 and resp.headers["content-type"] == "application/json"
    report = resp.json()
    assert report["ok"] is False and report["backends"] == []
    assert report["haproxy"] == {"running": False, "unavailable": "HAProxy is not running"}
    assert report["reasons"] == ["HAProxy is not running"]

    result = _health_cli(agent)
    assert result.exit_code == 1, result.stdout
    assert "health: NOT OK" in result.stdout and "- HAProxy is not running" in result.stdout
    result = _health_cli(agent, "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["reasons"] == ["HAProxy is not running"]
    assert value(scrape(agent), "lbctl_haproxy_up") == 0


def test_no_usable_server_names_the_backend(short_dir: Path, backend: RecordingBackend) -> None:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        wait_for(lambda: agent.api.get("/api/v1/health").status_code == 200, 5)
        assert _health_cli(agent).exit_code == 0
        url = "/api/v1/backends/app/servers/s1/state"
        assert agent.api.put(url, json={"state": "maint"}, headers={"If-Match": "1"}).status_code == 200
        resp = agent.api.get("/api/v1/health")
        assert resp.status_code == 503
        assert resp.json()["reasons"] == ["backend app has no usable server (s1 MAINT)"]
        assert resp.json()["haproxy"]["running"] is True
        result = _health_cli(agent)
        assert result.exit_code == 1 and "- backend app has no usable server (s1 MAINT)" in result.stdout
        assert agent.api.put(url, json={"state": "ready"}, headers={"If-Match": "2"}).status_code == 200
        wait_for(lambda: agent.api.get("/api/v1/health").status_code == 200, 5)
        assert _health_cli(agent).exit_code == 0
