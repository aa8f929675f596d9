"""The supervisor waits on the HAProxy processes (pidfds), not on a clock: a kill -9 wakes it
at once even when its idle look is a minute away, and an idle HAProxy costs it one look per
heartbeat. Real HAProxy, real signals."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lbctl.control.controller import Controller
from lbctl.control.supervisor import Supervisor
from lbctl.demo.backend import RecordingBackend

from .agent_helpers import running_agent
from .haproxy_helpers import bundled_haproxy
from .test_faults import Procs, masters, spec_data, until

pytestmark = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd_open (Linux)")


class Counting:
    """The controller, counting how often the supervisor looks (``haproxy_fault`` calls)."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.looks = 0
        self.supervised = False

    def haproxy_fault(self) -> tuple[str, str] | None:
        self.looks += 1
        return self.controller.haproxy_fault()

    def restart_haproxy(self, reason: str) -> dict[str, Any] | None:
        return self.controller.restart_haproxy(reason)

    def haproxy_pids(self) -> list[int]:
        return self.controller.haproxy_pids()


@pytest.fixture
def procs() -> Iterator[Procs]:
    registry = Procs()
    yield registry
    registry.cleanup()


def test_a_kill_wakes_the_supervisor_at_once(short_dir: Path, backend: RecordingBackend,
                                             procs: Procs) -> None:
    data = spec_data(backend.port)
    procs.configs.append(short_dir / "haproxy.cfg")
    with running_agent(short_dir, data, bundled_haproxy()) as agent:
        watched = Counting(agent.controller)
        # A heartbeat of 60 s: only a process exit can wake it within the bound below.
        supervisor = Supervisor(watched, heartbeat_s=60.0).start()  # type: ignore[arg-type]
        try:
            time.sleep(0.5)
            looks = watched.looks
            time.sleep(1.5)
            assert watched.looks == looks  # idle: no look at all between heartbeats
            [master] = masters(agent.state.config_path)
            os.kill(master, signal.SIGKILL)
            took = until(lambda: agent.controller.supervision()["restarts"] == 1
                         and (m := masters(agent.state.config_path)) and m != [master]
                         and agent.controller.haproxy_fault() is None, 5.0)
            assert took < 1.0, took  # well inside the 60 s heartbeat
            # A reload's old worker exiting wakes it too, and is no fault.
            assert agent.api.post("/api/v1/haproxy/reload").status_code == 200
            time.sleep(0.5)
            assert agent.controller.supervision()["restarts"] == 1
        finally:
            supervisor.stop()
