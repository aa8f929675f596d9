"""The history cannot be written after a successful reload (issue 16, surviving mutant 2).

README: a version that cannot be recorded is undone — the call answers 500 ``StoreError``,
the live file and the running HAProxy are back to the old version, and the version does not
advance. The fault is real: between HAProxy's reload and the history record, ``history.db``
(and its WAL files) are moved aside and a directory takes its name, so SQLite cannot open
it. The moment is found with the controller's own ``on_reload`` listener hook, which runs
right after the reload returns. Real HAProxy (2.8 and 2.6), a real agent over HTTP, two
recording backends; HAProxy's own reload counter is read from ``show proc`` on the master CLI.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbctl.demo.backend import RecordingBackend
from lbctl.haproxy.master_cli import show_proc
from lbctl.haproxy.sockets import SocketClient

from .agent_helpers import Agent, free_port, make_spec, running_agent

SIDE = ("", "-wal", "-shm")  # history.db and SQLite's WAL files


class BreakHistoryAtReload:
    """A controller listener: at the first successful reload, replace ``history.db`` with a
    directory (the real files are kept aside, and put back by :meth:`heal`)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.broken = False
        self.reloads: list[bool] = []

    def on_reload(self, ok: bool) -> None:
        self.reloads.append(ok)
        if ok and not self.broken:
            for suffix in SIDE:
                path = Path(f"{self.db}{suffix}")
                if path.exists():
                    path.rename(f"{path}.aside")
            self.db.mkdir()
            self.broken = True

    def heal(self) -> None:
        if self.broken:
            self.db.rmdir()
            for suffix in SIDE:
                aside = Path(f"{self.db}{suffix}.aside")
                if aside.exists():
                    aside.rename(f"{self.db}{suffix}")
            self.broken = False

    def on_apply(self, result: str, duration_s: float) -> None:
        pass

    def on_validation_error(self, stage: str) -> None:
        pass


@pytest.fixture
def agent_any(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, haproxy_bin) as agent:
        yield agent


def _haproxy_reloads(agent: Agent) -> int:
    """HAProxy's own reload counter (``show proc`` on the master CLI)."""
    return show_proc(SocketClient(agent.state.run_dir / "master.sock", 5.0)).reloads


def _served_by(agent: Agent, n: int = 6) -> set[str]:
    return {agent.through_haproxy().headers["x-backend-name"] for _ in range(n)}


def test_history_unwritable_after_reload_undoes_the_write(agent_any: Agent) -> None:
    agent = agent_any
    with RecordingBackend("second") as second:
        changed = copy.deepcopy(agent.data)
        changed["backends"][0]["servers"][0]["port"] = second.port  # the new version: "second"
        old = agent.state.config_path.read_bytes()
        old_spec = agent.state.spec_path.read_bytes()
        reloads = _haproxy_reloads(agent)
        assert _served_by(agent) == {"backend"}

        fault = BreakHistoryAtReload(agent.state.history_path)
        agent.controller.listeners.append(fault)
        try:
            resp = agent.api.put("/api/v1/config", json=changed, headers={"If-Match": '"1"'})
        finally:
            agent.controller.listeners.remove(fault)
            was_broken = fault.broken
            fault.heal()

        assert was_broken  # the fault happened, after the new config's reload
        assert resp.status_code == 500, resp.text
        problem = resp.json()
        assert problem["error"] == "StoreError", problem
        assert str(agent.state.history_path) in problem["detail"], problem
        # The live file and the spec file hold the old bytes; HAProxy reloaded twice (the new
        # config, then the old one back) and serves the old version.
        assert agent.state.config_path.read_bytes() == old
        assert agent.state.spec_path.read_bytes() == old_spec
        assert _haproxy_reloads(agent) == reloads + 2
        assert _served_by(agent) == {"backend"}
        assert fault.reloads == [True, True]  # the new config, then the old one again
        # The version did not advance, and no version 2 is in the history.
        current = agent.api.get("/api/v1/config")
        assert current.headers["etag"] == '"1"'
        listed = agent.api.get("/api/v1/config/versions").json()["entries"]
        assert [e["version"] for e in listed if e["version"] is not None] == [1], listed
        assert agent.api.get("/api/v1/config/versions/2").status_code == 404

        # With the history back, the same write becomes version 2 (no hole) and runs.
        resp = agent.api.put("/api/v1/config", json=changed, headers={"If-Match": '"1"'})
        assert resp.status_code == 200 and resp.json()["version"] == 2, resp.text
        assert _served_by(agent) == {"second"}
