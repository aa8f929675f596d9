"""Supervision (issue 4, item 4): :mod:`lbctl.control.supervisor` wired into ``lbctl serve``, restarts
that fail and are retried, reloads that are not faults, the config a restart uses — with real
HAProxy processes — and the supervisor's timing rules against a fake controller (a master that
outlives its workers does not happen on HAProxy 2.6 / 2.8: it exits with its last worker).

The ``kill -9`` rows of the fault table are in ``tests/test_faults.py``.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lbctl.control.supervisor import Supervisor
from lbctl.demo.backend import RecordingBackend
from lbctl.errors import ProcessError

from .agent_helpers import running_agent, seed_state, wait_for
from .haproxy_helpers import bundled_haproxy
from .test_faults import (
    Agentd,
    Procs,
    dead,
    front_ok,
    masters,
    print_table,
    spec_data,
    until,
    verified,
)

ROWS: list[tuple[str, str, str]] = []


@pytest.fixture(scope="module", autouse=True)
def recovery_table(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    print_table(request, "Supervision recovery times (tests/test_supervision.py)", ROWS)
    ROWS.clear()


@pytest.fixture
def procs() -> Iterator[Procs]:
    registry = Procs()
    yield registry
    registry.cleanup()


# -- real processes ---------------------------------------------------------------------------

def test_serve_restarts_a_killed_master_and_stops_cleanly(
    short_dir: Path, tmp_path: Path, backend: RecordingBackend, procs: Procs
) -> None:
    """``lbctl serve`` runs the supervisor: kill -9 of the master → one new master, event in
    the log and in status/health; SIGTERM → HAProxy stopped, and not started again."""
    data = spec_data(backend.port)
    seed_state(short_dir, data)
    config = short_dir / "haproxy.cfg"
    agent = Agentd(procs, short_dir, bundled_haproxy(), tmp_path / "agent.log")
    old = agent.api.get("/api/v1/haproxy").json()["haproxy"]["master_pid"]
    verified(old, config).kill()
    serving_s = until(lambda: masters(config) not in ([], [old]) and front_ok(data), 2.0)
    wait_for(lambda: agent.api.get("/api/v1/haproxy").json()["supervision"]["restarts"] == 1, 2)
    status = agent.api.get("/api/v1/haproxy").json()
    new = masters(config)
    assert new == [status["haproxy"]["master_pid"]] and new != [old]
    assert status["supervision"]["last_restart"]["old_master_pid"] == old
    health = agent.api.get("/api/v1/health")
    assert health.status_code == 200 and health.json()["supervision"]["restarts"] == 1
    metrics = agent.api.get("/metrics").text.splitlines()
    assert 'lbctl_haproxy_restarts_total{result="ok"} 1.0' in metrics
    assert 'lbctl_haproxy_restarts_total{result="failed"} 0.0' in metrics
    logged = [json.loads(line.split("lbctl.supervisor: ", 1)[1])
              for line in agent.log.read_text().splitlines() if "lbctl.supervisor: " in line]
    assert [(e["event"], e["ok"], e["old_master_pid"], e["new_master_pid"]) for e in logged] == [
        ("haproxy_restart", True, old, new[0])]
    assert line_level(agent.log, "lbctl.supervisor") == "WARNING"

    assert agent.stop(signal.SIGTERM) == 0
    wait_for(lambda: dead(new[0]), 10)
    time.sleep(0.5)  # had the supervisor outlived the shutdown, it would start one now
    assert masters(config) == []
    ROWS.append(("kill -9 of the master under `lbctl serve`", "2.8",
                 f"serving again {serving_s:.2f} s after the kill"))


def line_level(log: Path, logger: str) -> str:
    """The level name of the first line of ``logger`` in a ``lbctl serve`` log."""
    line = next(ln for ln in log.read_text().splitlines() if f" {logger}: " in ln)
    return line.split(" ", 1)[0]


def test_failed_restart_is_retried_and_health_says_why(
    short_dir: Path, backend: RecordingBackend, procs: Procs, caplog: pytest.LogCaptureFixture
) -> None:
    """The frontend port taken by another process while HAProxy is down: every restart fails
    (health says why, with HAProxy's alert), retried 0.5 s, 1 s ... apart; once the port is
    free the next retry brings HAProxy back."""
    caplog.set_level(logging.WARNING, logger="lbctl.supervisor")
    data = spec_data(backend.port)
    host, port = data["frontends"][0]["bind"][0].split(":")
    procs.configs.append(short_dir / "haproxy.cfg")
    with running_agent(short_dir, data, bundled_haproxy()) as agent:
        controller = agent.controller
        config = agent.state.config_path
        live = config.read_bytes()
        old = masters(config)[0]
        verified(old, config).kill()
        wait_for(lambda: dead(old) and not front_ok(data), 5)
        supervisor = Supervisor(controller, interval_s=0.05)
        try:
            with socket.socket() as squatter:
                squatter.bind((host, int(port)))
                squatter.listen()
                supervisor.start()
                wait_for(lambda: controller.supervision()["failed_restarts"] >= 2, 5)
                reason = controller.health()["reasons"][0]
                assert reason.startswith("HAProxy could not be restarted: last-known-good config: "
                                         "haproxy exited with status 1 at start: [ALERT]"), reason
                assert "Address already in use" in reason
                assert controller.supervision()["last_restart"]["ok"] is False
                assert config.read_bytes() == live and masters(config) == []
            back_s = until(lambda: len(masters(config)) == 1 and front_ok(data), 3.0)
            wait_for(lambda: controller.supervision()["restarts"] == 1, 2)
        finally:
            supervisor.stop()
        sup = controller.supervision()
        assert sup["last_restart"]["ok"] is True and sup["failed_restarts"] >= 2
        assert controller.health()["ok"] is True and config.read_bytes() == live
        events = [json.loads(r.getMessage()) for r in caplog.records
                  if r.name == "lbctl.supervisor"]
        failed = [e for e in events if not e["ok"]]
        assert [e["retry_in_s"] for e in failed[:3]] == [0.5, 1.0, 2.0][:len(failed[:3])]
        assert all(r.levelno == logging.ERROR for r in caplog.records
                   if r.name == "lbctl.supervisor" and '"ok": false' in r.getMessage())
        assert events[-1]["ok"] is True
    ROWS.append(("restart fails (frontend port taken), then the port is freed", "2.8",
                 f"{sup['failed_restarts']} failed attempts, health says why; serving "
                 f"{back_s:.2f} s after the port was freed (next retry of the back-off)"))


def test_reloads_and_applies_are_not_faults(
    haproxy_bin: str, short_dir: Path, backend: RecordingBackend, procs: Procs
) -> None:
    """A supervisor polling every 10 ms sees 8 applies and 4 reloads (the 2.6 master re-executes
    itself on each) and restarts nothing: same master throughout."""
    data = spec_data(backend.port)
    procs.configs.append(short_dir / "haproxy.cfg")
    with running_agent(short_dir, data, haproxy_bin) as agent:
        supervisor = Supervisor(agent.controller, interval_s=0.01).start()
        try:
            master = masters(agent.state.config_path)
            for i in range(8):
                data["backends"][0]["servers"][0]["weight"] = 10 + i
                resp = agent.api.put("/api/v1/config", json=data, headers={"If-Match": str(i + 1)})
                assert resp.status_code == 200, resp.text
                if i % 2:
                    assert agent.api.post("/api/v1/haproxy/reload").status_code == 200
            time.sleep(0.2)
        finally:
            supervisor.stop()
        assert agent.controller.supervision() == {"enabled": False, "restarts": 0,
                                                  "failed_restarts": 0, "last_restart": None}
        assert masters(agent.state.config_path) == master and front_ok(data)


def test_restart_config_current_or_last_known_good(
    short_dir: Path, backend: RecordingBackend, procs: Procs
) -> None:
    """A runtime server change makes the live file the current spec's render (not yet the
    last-known-good): a restart starts from it, the change survives. A live file changed by
    hand is not trusted: the restart puts the last-known-good back and starts from that."""
    data = spec_data(backend.port)
    procs.configs.append(short_dir / "haproxy.cfg")
    with running_agent(short_dir, data, bundled_haproxy()) as agent:
        supervisor = Supervisor(agent.controller).start()
        config, lkg = agent.state.config_path, agent.state.lkg_path
        try:
            resp = agent.api.put("/api/v1/backends/app/servers/s1/state", json={"state": "drain"},
                                 headers={"If-Match": "1"})
            assert resp.status_code == 200, resp.text
            drained = config.read_bytes()
            assert drained != lkg.read_bytes()
            restart(agent.controller, config)
            event = agent.controller.supervision()["last_restart"]
            assert event["config"] == "current" and config.read_bytes() == drained
            assert lkg.read_bytes() == drained  # HAProxy accepted it: the new last-known-good
            server = agent.api.get("/api/v1/health").json()["backends"][0]["servers"][0]
            assert (server["weight"], server["usable"]) == (0, False)  # drain: rendered as weight 0

            config.write_bytes(drained + b"# edited by hand\n")
            restart(agent.controller, config)
            event = agent.controller.supervision()["last_restart"]
            assert event["config"] == "last-known-good" and config.read_bytes() == drained
            assert agent.controller.supervision()["restarts"] == 2
        finally:
            supervisor.stop()


def restart(controller: Any, config: Path) -> None:
    """Kill the (verified) master and wait until the supervisor has restarted HAProxy."""
    before = controller.supervision()["restarts"]
    old = masters(config)[0]
    verified(old, config).kill()
    wait_for(lambda: controller.supervision()["restarts"] == before + 1, 3)
    assert len(masters(config)) == 1 and masters(config) != [old]


# -- the supervisor's rules, against a fake controller ----------------------------------------

class FakeController:
    """Answers ``haproxy_fault`` with ``fault`` and ``restart_haproxy`` with ``results`` in turn
    (an exception is raised)."""

    def __init__(self, fault: tuple[str, str] | None, results: list[Any]) -> None:
        self.supervised = False
        self.fault = fault
        self.results = results
        self.calls: list[str] = []

    def haproxy_fault(self) -> tuple[str, str] | None:
        return self.fault

    def restart_haproxy(self, reason: str) -> dict[str, Any] | None:
        self.calls.append(reason)
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        assert result is None or isinstance(result, dict)
        return result


def test_master_without_worker_is_given_a_grace() -> None:
    fake = FakeController(("no-worker", "the HAProxy master (pid 7) lists no worker"),
                          [{"ok": True}])
    supervisor = Supervisor(fake, no_worker_grace_s=1.0)
    assert supervisor.check(now=10.0) is None and supervisor.check(now=10.9) is None
    assert fake.calls == []
    assert supervisor.check(now=11.0) == {"ok": True}
    assert fake.calls == ["the HAProxy master (pid 7) lists no worker"]
    fake.fault = None  # fixed: the grace starts again at the next such fault
    assert supervisor.check(now=11.1) is None
    fake.fault, fake.results = ("no-worker", "again"), [{"ok": True}]
    assert supervisor.check(now=12.0) is None and fake.calls == [fake.calls[0]]


def test_failed_restarts_back_off_up_to_the_max() -> None:
    failure = ProcessError("haproxy exited with status 1 at start")
    fake = FakeController(("master-gone", "the HAProxy master is not running"),
                          [failure, failure, failure, failure, {"ok": True}])
    supervisor = Supervisor(fake, first_backoff_s=0.5, max_backoff_s=1.5)
    attempts = []
    for tick in range(80):  # a check every 0.05 s for 4 s
        now = tick / 20
        calls = len(fake.calls)
        supervisor.check(now=now)
        if len(fake.calls) > calls:
            attempts.append(round(now, 2))
    assert attempts == [0.0, 0.5, 1.5, 3.0, 4.5][:len(attempts)] and len(attempts) == 4
    assert supervisor.check(now=4.5) == {"ok": True}
    fake.fault, fake.results = ("master-gone", "again"), [failure]
    supervisor.check(now=4.6)  # the back-off starts over after a success
    assert supervisor._retry_at == pytest.approx(5.1)


def test_the_thread_survives_a_bug_and_stops() -> None:
    class Buggy(FakeController):
        checks = 0

        def haproxy_fault(self) -> tuple[str, str] | None:
            self.checks += 1
            raise RuntimeError("a bug")

    fake = Buggy(None, [])
    supervisor = Supervisor(fake, interval_s=0.01).start()
    try:
        assert fake.supervised and supervisor.running
        wait_for(lambda: fake.checks >= 3, 2)
        assert supervisor.running
    finally:
        supervisor.stop()
    assert not supervisor.running and not fake.supervised
    assert all(t.name != "lbctl-supervisor" for t in threading.enumerate())

