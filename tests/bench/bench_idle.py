"""Benchmark: what supervision costs while HAProxy is idle, and how fast it reacts to a death.

Run ``python tests/bench/bench_idle.py [--seconds 60]`` (not collected by pytest). One real
HAProxy (the bundled 2.8, or ``--haproxy-bin``) runs under a :class:`Controller` in a temp state
dir; then, in the same run, two supervisors take turns watching it:

* **pidfd** — :class:`lbctl.control.supervisor.Supervisor` as ``lbctl serve`` runs it: waits on
  pidfds of the master and workers, one look every ``heartbeat_s`` (5 s) when nothing exits;
* **polling (reference)** — the same supervisor given a controller that cannot list its pids,
  so it looks every ``interval_s`` (0.25 s): how supervision worked before.

For each it prints the agent process's CPU time over ``--seconds`` of idle (user + system,
every thread, as a percentage of one core), and the time from ``kill -9`` of the HAProxy
master to a new verified master with a worker (median of ``--kills``). Target (issue
"Performance at scale"): ≤ 0.2 % CPU idle, reaction within the polling supervisor's.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tables import print_tables

from lbctl.control.controller import Controller
from lbctl.control.supervisor import Supervisor
from lbctl.demo.load import free_port
from lbctl.spec import validate_spec
from lbctl.state.store import StateDir


class _NoPids:
    """The controller without ``haproxy_pids``: the supervisor falls back to polling."""

    def __init__(self, controller: Controller) -> None:
        self._c = controller

    @property
    def supervised(self) -> bool:
        return self._c.supervised

    @supervised.setter
    def supervised(self, value: bool) -> None:
        self._c.supervised = value

    def haproxy_fault(self) -> tuple[str, str] | None:
        return self._c.haproxy_fault()

    def restart_haproxy(self, reason: str) -> dict[str, Any] | None:
        return self._c.restart_haproxy(reason)


def _spec() -> dict[str, Any]:
    return {"frontends": [{"name": "web", "bind": [f"127.0.0.1:{free_port()}"],
                           "default_backend": "app"}],
            "backends": [{"name": "app", "servers": [
                {"name": "s1", "address": "127.0.0.1", "port": free_port()}]}],
            "global": {"peers_port": free_port()}}


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _idle_cpu(seconds: float) -> float:
    """Percent of one core this process used over ``seconds`` of doing nothing itself."""
    start_cpu, start = _cpu_s(), time.monotonic()
    time.sleep(seconds)
    return 100 * (_cpu_s() - start_cpu) / (time.monotonic() - start)


def _reaction(controller: Controller, kills: int) -> list[float]:
    """Seconds from ``kill -9`` of the master to a new master with a worker, ``kills`` times."""
    out = []
    for _ in range(kills):
        master = controller.status()["haproxy"]["master_pid"]
        os.kill(master, signal.SIGKILL)
        killed = time.monotonic()
        deadline = killed + 20
        while time.monotonic() < deadline:
            status = controller.status()["haproxy"]
            if status.get("running") and status.get("master_pid") not in (None, master) \
                    and status.get("worker_pids"):
                out.append(time.monotonic() - killed)
                break
            time.sleep(0.005)
        else:
            raise SystemExit("HAProxy was not restarted within 20 s")
        time.sleep(1.0)  # let the new master settle before the next kill
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--haproxy-bin", default=None)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lbidle", dir="/tmp") as tmp:
        state = StateDir(Path(tmp))
        state.ensure()
        state.write_current(1, validate_spec(_spec()))
        controller = Controller(state, haproxy_bin=args.haproxy_bin)
        controller.start()
        try:
            for name, watched in (("pidfd (lbctl serve)", controller),
                                  ("polling every 0.25 s (reference)", _NoPids(controller))):
                supervisor = Supervisor(watched).start()  # type: ignore[arg-type]
                try:
                    time.sleep(1.0)
                    cpu = _idle_cpu(args.seconds)
                    times = _reaction(controller, args.kills)
                finally:
                    supervisor.stop()
                rows.append([name, f"{cpu:.3f} %", f"{statistics.median(times) * 1000:.0f} ms",
                             f"{max(times) * 1000:.0f} ms"])
        finally:
            controller.shutdown()
    print_tables(Console(), f"Supervision: idle CPU over {args.seconds:g} s, kill -9 reaction "
                            f"({args.kills} kills)",
                 ["supervisor", "agent CPU idle (one core)", "reaction median", "reaction max"],
                 rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
