"""Fault survival (issue 4, "Fault tests"): real HAProxy (bundled 2.8, Debian 2.6), real agents
— in-process controllers with a running :class:`Supervisor`, or real ``lbctl serve``
processes — and real faults: ``kill -9``, a stale pidfile naming an unrelated ``sleep``, a
removed or hung stats socket, a full tmpfs, an agent SIGKILLed in the middle of a write, an
agent restarted under load.

Every fault's recovery time is measured and printed in a table at the end of the module (also
under ``pytest -q``). Every process a test starts is stopped by its fixture, by pid; HAProxy
processes are found by their verified command line (this test's own config path).
"""

from __future__ import annotations

import contextlib
import copy
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from lbctl.control.controller import Controller
from lbctl.control.supervisor import Supervisor
from lbctl.demo.backend import RecordingBackend

from .agent_helpers import Agent, free_port, make_spec, running_agent, seed_state, wait_for

MONITOR = "/lbctl-monitor"

# -- recovery table ---------------------------------------------------------------------------

ROWS: list[tuple[str, str, str]] = []


def record(fault: str, binary: str, measured: str) -> None:
    """One line of the recovery table printed at the end of the module."""
    ROWS.append((fault, binary, measured))


def print_table(request: pytest.FixtureRequest, title: str, rows: list[tuple[str, str, str]]) -> None:
    """Write ``rows`` to the terminal (bypassing output capture), as a Markdown table."""
    plugins = request.config.pluginmanager
    reporter, capture = plugins.getplugin("terminalreporter"), plugins.getplugin("capturemanager")
    if reporter is None or not rows:
        return
    lines = ["", f"{title}:", "| fault | HAProxy | recovery (measured) |", "| --- | --- | --- |",
             *(f"| {fault} | {binary} | {measured} |" for fault, binary, measured in rows)]
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        for line in lines:
            reporter.write_line(line)


@pytest.fixture(scope="module", autouse=True)
def recovery_table(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    print_table(request, "Fault recovery times (tests/test_faults.py)", ROWS)
    ROWS.clear()


# -- processes --------------------------------------------------------------------------------

def version_of(haproxy_bin: str) -> str:
    return "2.6" if haproxy_bin == "/usr/sbin/haproxy" else "2.8"


def until(condition: Callable[[], Any], timeout: float, interval: float = 0.01) -> float:
    """Seconds until ``condition`` is truthy (fails the test after ``timeout`` s)."""
    started = time.monotonic()
    wait_for(condition, timeout, interval)
    return time.monotonic() - started


def haproxy_procs(config: Path) -> list[psutil.Process]:
    """Live (not zombie) haproxy processes whose command line names ``config``."""
    found = []
    for proc in psutil.process_iter(["exe", "cmdline", "status"]):
        info = proc.info
        if (info["exe"] and os.path.basename(info["exe"]) == "haproxy"
                and str(config) in (info["cmdline"] or [])
                and info["status"] != psutil.STATUS_ZOMBIE):
            found.append(proc)
    return found


def masters(config: Path) -> list[int]:
    """Pids of the live HAProxy masters of ``config`` (those whose parent is not one of them)."""
    procs = haproxy_procs(config)
    pids = {p.pid for p in procs}
    out = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.ppid() not in pids:
                out.append(proc.pid)
    return sorted(out)


def verified(pid: int, config: Path) -> psutil.Process:
    """``pid`` as a process, after checking it is an haproxy running ``config``."""
    proc = psutil.Process(pid)
    assert os.path.basename(proc.exe()) == "haproxy", proc.exe()
    assert str(config) in proc.cmdline(), proc.cmdline()
    return proc


def dead(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie nobody reaps)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@dataclass
class Procs:
    """What a test started: processes to kill by pid and state dirs whose HAProxy to sweep."""

    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    configs: list[Path] = field(default_factory=list)

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, **kwargs)
        self.children.append(proc)
        return proc

    def cleanup(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.wait(10)
        for pid in self.pids:  # not our children (e.g. a process parked by a wrapper script)
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
        for config in self.configs:
            for proc in haproxy_procs(config):  # verified: haproxy, this test's config
                with contextlib.suppress(psutil.Error):
                    proc.kill()


@pytest.fixture
def procs() -> Iterator[Procs]:
    registry = Procs()
    yield registry
    registry.cleanup()


def spec_data(backend_port: int) -> dict[str, Any]:
    """:func:`make_spec` on free ports, with HAProxy's own monitor URI on the frontend."""
    data = make_spec(free_port(), free_port(), [("s1", backend_port)])
    data["frontends"][0]["monitor_uri"] = MONITOR
    return data


def front_ok(data: dict[str, Any], path: str = "/x") -> bool:
    """One request through HAProxy on a fresh connection answers 200."""
    try:
        return httpx.get(f"http://{data['frontends'][0]['bind'][0]}{path}", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def supervised_agent(root: Path, data: dict[str, Any], haproxy_bin: str | None,
                     procs: Procs) -> Iterator[tuple[Agent, Supervisor]]:
    """An in-process agent (real uvicorn, real HAProxy) with a running supervisor."""
    procs.configs.append(root / "haproxy.cfg")
    with running_agent(root, data, haproxy_bin) as agent:
        supervisor = Supervisor(agent.controller).start()
        try:
            yield agent, supervisor
        finally:
            supervisor.stop()


class Agentd:
    """A real ``lbctl serve`` process on a free port; stderr in ``log``."""

    def __init__(self, procs: Procs, state: Path, haproxy_bin: str, log: Path, *extra: str,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state, self.log = state, log
        env = {k: v for k, v in os.environ.items() if k != "LBCTL_TOKEN"}
        with log.open("ab") as err:
            self.proc = procs.popen(
                [sys.executable, "-m", "lbctl.cli", "serve", "--listen", f"127.0.0.1:{self.port}",
                 "--state-dir", str(state), "--haproxy-bin", haproxy_bin, "--log-level", "warning",
                 *extra],
                env=env, stdout=subprocess.DEVNULL, stderr=err,
            )
        procs.configs.append(state / "haproxy.cfg")
        self.up_after_s = until(self._up, 30, interval=0.05)
        token = (state / "token").read_text().strip()
        self.api = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"},
                                timeout=30)

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.api.close()
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


# -- HAProxy binary missing -------------------------------------------------------------------

def test_binary_missing_agent_serves_and_says_why(short_dir: Path, tmp_path: Path,
                                                  procs: Procs) -> None:
    """A real ``lbctl serve`` without a usable binary (the in-process flow is in test_api)."""
    data = make_spec(free_port(), free_port(), [("s1", free_port())])
    seed_state(short_dir, data)
    missing = "/nonexistent/haproxy"
    agent = Agentd(procs, short_dir, missing, tmp_path / "agent.log")
    why = f"haproxy binary '{missing}' (explicit) is not an executable file"
    health = agent.api.get("/api/v1/health")
    assert health.status_code == 503
    body = health.json()
    assert body["haproxy"] == {"running": False, "unavailable": why}
    assert body["reasons"] == [why]
    put = agent.api.put("/api/v1/config", json=data, headers={"If-Match": '"1"'})
    assert put.status_code == 503 and put.headers["content-type"] == "application/problem+json"
    problem = put.json()
    assert problem["error"] == "BinaryNotFound" and problem["detail"] == why
    time.sleep(0.6)  # the supervisor polls twice: nothing to supervise, nothing attempted
    supervision = agent.api.get("/api/v1/haproxy").json()["supervision"]
    assert supervision == {"enabled": True, "restarts": 0, "failed_restarts": 0,
                           "last_restart": None}
    assert agent.stop() == 0
    assert haproxy_procs(short_dir / "haproxy.cfg") == []
    record("HAProxy binary missing", "-", f"agent up in {agent.up_after_s:.2f} s; health 503 "
           "says why; PUT 503 BinaryNotFound")


# -- stale pidfile naming an unrelated process ------------------------------------------------

def test_stale_pidfile_naming_sleep_is_never_signalled(
    haproxy_bin: str, short_dir: Path, backend: RecordingBackend, procs: Procs
) -> None:
    sleeper = procs.popen(["sleep", "120"])
    data = spec_data(backend.port)
    state = seed_state(short_dir, data)
    procs.configs.append(state.config_path)
    pidfile = state.run_dir / "haproxy.pid"

    def sleeper_untouched() -> None:
        assert sleeper.poll() is None
        assert psutil.Process(sleeper.pid).status() in (psutil.STATUS_SLEEPING,
                                                        psutil.STATUS_RUNNING)

    # 1. Nothing runs, the pidfile names the sleep: the agent starts a fresh HAProxy.
    pidfile.write_text(f"{sleeper.pid}\n")
    first = Controller(state, haproxy_bin=haproxy_bin)
    started = time.monotonic()
    first.start()
    fresh_s = time.monotonic() - started
    supervisor = Supervisor(first).start()
    try:
        master = first.status()["haproxy"]["master_pid"]
        assert master not in (None, sleeper.pid)
        assert masters(state.config_path) == [master]
        assert int(pidfile.read_text().split()[0]) == master
        assert front_ok(data)
        time.sleep(0.6)
        assert first.supervision()["restarts"] == 0
    finally:
        supervisor.stop()
        first.shutdown(keep_haproxy=True)
    sleeper_untouched()

    # 2. HAProxy runs, the pidfile names the sleep again: adopted through the master socket.
    pidfile.write_text(f"{sleeper.pid}\n")
    second = Controller(state, haproxy_bin=haproxy_bin)
    second.start()
    supervisor = Supervisor(second).start()
    try:
        assert second.status()["haproxy"]["master_pid"] == master
        assert masters(state.config_path) == [master]
        time.sleep(0.6)
        assert second.supervision()["restarts"] == 0
    finally:
        supervisor.stop()
        second.shutdown()  # soft-stops the verified master only
    wait_for(lambda: dead(master), 10)
    sleeper_untouched()
    record("stale pidfile → unrelated sleep", version_of(haproxy_bin),
           f"fresh start {fresh_s:.2f} s; adopted via master socket; sleep never signalled")


# -- kill -9 of the master or of a worker -----------------------------------------------------

@pytest.mark.parametrize("victim", ["master", "worker"])
def test_kill9_restarts_exactly_one_master(
    haproxy_bin: str, victim: str, short_dir: Path, backend: RecordingBackend, procs: Procs,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="lbctl.supervisor")
    data = spec_data(backend.port)
    with supervised_agent(short_dir, data, haproxy_bin, procs) as (agent, _):
        config = agent.state.config_path
        wait_for(lambda: agent.api.get("/api/v1/health").status_code == 200, 5)
        status = agent.api.get("/api/v1/haproxy").json()["haproxy"]
        old = status["master_pid"]
        target = verified(old if victim == "master" else status["worker_pids"][0], config)

        killed = time.monotonic()
        target.send_signal(signal.SIGKILL)
        serving_s = until(lambda: masters(config) not in ([], [old]) and front_ok(data), 2.0)
        health_s = time.monotonic() - killed + until(
            lambda: agent.api.get("/api/v1/health").status_code == 200, 2.0)
        new = masters(config)
        assert len(new) == 1 and new[0] != old, new
        assert dead(old)

        wait_for(lambda: agent.controller.supervision()["restarts"] == 1, 2)
        body = agent.api.get("/api/v1/haproxy").json()
        assert body["haproxy"]["master_pid"] == new[0]
        sup = body["supervision"]
        event = sup["last_restart"]
        assert sup["enabled"] is True and sup["failed_restarts"] == 0
        assert event["ok"] is True and event["error"] is None
        assert event["reason"] == f"the HAProxy master (pid {old}) is not running"
        assert event["old_master_pid"] == old and event["new_master_pid"] == new[0]
        assert event["config"] == "last-known-good"
        assert agent.api.get("/api/v1/health").json()["supervision"]["restarts"] == 1
        assert agent.state.config_path.read_bytes() == agent.state.lkg_path.read_bytes()
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "lbctl.supervisor"]
        assert [(line["event"], line["ok"], line["new_master_pid"]) for line in lines] == [
            ("haproxy_restart", True, new[0])]

        time.sleep(0.5)  # later polls start nothing more
        assert masters(config) == new and agent.controller.supervision()["restarts"] == 1
    record(f"kill -9 of the {victim}", version_of(haproxy_bin),
           f"serving again {serving_s:.2f} s after the kill (restart itself "
           f"{event['duration_s']:.2f} s); health 200 after {health_s:.2f} s; one new master")


# -- stats socket removed, or hung ------------------------------------------------------------

def _timed_get(agent: Agent, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    resp = agent.api.get(path)
    return resp, time.monotonic() - started


def test_stats_socket_removed_health_unknown_nothing_hangs(
    haproxy_bin: str, short_dir: Path, backend: RecordingBackend, procs: Procs
) -> None:
    data = spec_data(backend.port)
    with supervised_agent(short_dir, data, haproxy_bin, procs) as (agent, _):
        wait_for(lambda: agent.api.get("/api/v1/health").status_code == 200, 5)
        master = agent.api.get("/api/v1/haproxy").json()["haproxy"]["master_pid"]
        sock = agent.state.root / "haproxy.sock"
        sock.unlink()
        unknown = [f"health unknown: runtime API: 'show stat' on {sock}: No such file or directory"]

        resp, took = _timed_get(agent, "/api/v1/health")
        assert resp.status_code == 503 and took < 2.0, took
        body = resp.json()
        assert body["haproxy"]["running"] is True and body["backends"] == []
        assert body["reasons"] == unknown
        slowest = took
        for path, code in (("/api/v1/haproxy", 200), ("/api/v1/clients", 503), ("/healthz", 200)):
            resp, took = _timed_get(agent, path)
            assert resp.status_code == code and took < 2.0, (path, resp.status_code, took)
            slowest = max(slowest, took)
        assert front_ok(data)  # traffic is not affected
        time.sleep(0.5)
        assert agent.controller.supervision()["restarts"] == 0  # not a process fault
        # A reload does not bring the path back: the new worker inherits the listening socket
        # from the old one (expose-fd listeners), it does not bind the path again.
        assert agent.api.post("/api/v1/haproxy/reload").status_code == 200
        assert agent.api.get("/api/v1/health").json()["reasons"] == unknown
        assert not sock.exists() and front_ok(data)
        assert agent.api.get("/api/v1/haproxy").json()["haproxy"]["master_pid"] == master
    record("stats socket removed", version_of(haproxy_bin),
           f"health 503 'health unknown: ... No such file or directory' at once (slowest of 4 "
           f"API calls {slowest:.3f} s); traffic unaffected; stays unknown until HAProxy restarts "
           "(a reload keeps the unlinked socket)")


def test_stats_socket_hung_health_is_bounded(short_dir: Path, backend: RecordingBackend,
                                             procs: Procs) -> None:
    """The worker stopped (SIGSTOP): its stats socket accepts and never answers. Health gives up
    after its 2 s deadline, the master CLI still answers; SIGCONT and health is back."""
    data = spec_data(backend.port)
    with supervised_agent(short_dir, data, None, procs) as (agent, _):
        wait_for(lambda: agent.api.get("/api/v1/health").status_code == 200, 5)
        # One worker, so the one stopped is the one that owns the stats socket (a worker of a
        # previous config may still be finishing its soft-stop).
        workers = wait_for(lambda: (pids := agent.api.get("/api/v1/haproxy").json()["haproxy"][
            "worker_pids"]) and len(pids) == 1 and pids, 10)
        worker = verified(workers[0], agent.state.config_path)
        sock = agent.state.root / "haproxy.sock"
        worker.suspend()  # SIGSTOP
        # Every thread of the worker has stopped before the request is sent.
        wait_for(lambda: worker.status() == psutil.STATUS_STOPPED, 2)
        try:
            resp, took = _timed_get(agent, "/api/v1/health")
            # Health gives up at its one 2 s deadline (never earlier), without a second try.
            assert resp.status_code == 503 and 2.0 <= took < 2 * 2.0, took
            assert resp.json()["reasons"] == [
                f"health unknown: runtime API: 'show stat' on {sock}: no complete answer within 2 s"]
            resp, status_took = _timed_get(agent, "/api/v1/haproxy")
            assert resp.status_code == 200 and status_took < 1.0, status_took
            assert resp.json()["haproxy"]["worker_pids"] == [worker.pid]
        finally:
            worker.resume()  # SIGCONT
        back_s = until(lambda: agent.api.get("/api/v1/health").status_code == 200, 2.0)
        assert agent.controller.supervision()["restarts"] == 0
    record("stats socket hung (worker SIGSTOPped)", "2.8",
           f"health 503 'health unknown ... no complete answer within 2 s' after {took:.2f} s; "
           f"status answers in {status_took:.3f} s; health 200 {back_s:.2f} s after SIGCONT")


# -- disk full during a write -----------------------------------------------------------------

@contextlib.contextmanager
def small_tmpfs(size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on a fresh short dir under /tmp; unmounted in a finally."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")  # pragma: no cover
    mount = Path(tempfile.mkdtemp(prefix="lbf", dir="/tmp"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:  # pragma: no cover - a container without CAP_SYS_ADMIN
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True, timeout=10).returncode:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=10)
        mount.rmdir()


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` with one file; returns it."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as fh:  # unbuffered: nothing left to flush at close
        for chunk in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while fh.write(b"\0" * chunk):
                    pass
    with pytest.raises(OSError) as full, (directory / "probe").open("wb", buffering=0) as probe:
        probe.write(b"\0" * 4096)
    assert full.value.errno == errno.ENOSPC
    (directory / "probe").unlink()
    return filler


def test_disk_full_during_write(backend: RecordingBackend, procs: Procs) -> None:
    data = spec_data(backend.port)
    changed = copy.deepcopy(data)
    changed["backends"][0]["servers"][0]["weight"] = 7
    with small_tmpfs("16m") as root, supervised_agent(root, data, None, procs) as (agent, _):
        live = agent.state.config_path.read_bytes()
        status = agent.api.get("/api/v1/haproxy").json()["haproxy"]
        filler = fill(root)

        resp = agent.api.put("/api/v1/config", json=changed, headers={"If-Match": '"1"'})
        assert resp.status_code == 500, resp.text
        problem = resp.json()
        assert problem["status"] == 500
        assert problem["error"] == "StoreError" and "No space left on device" in problem["detail"]
        assert agent.state.config_path.read_bytes() == live
        assert list(root.glob(".tmp-*")) == []
        after = agent.api.get("/api/v1/haproxy").json()["haproxy"]
        assert (after["master_pid"], after["reload_count"]) == (status["master_pid"],
                                                                status["reload_count"])
        assert agent.api.get("/api/v1/config").headers["etag"] == '"1"'
        assert front_ok(data)

        filler.unlink()
        started = time.monotonic()
        resp = agent.api.put("/api/v1/config", json=changed, headers={"If-Match": '"1"'})
        recovered_s = time.monotonic() - started
        assert resp.status_code == 200 and resp.json()["version"] == 2, resp.text
        assert agent.controller.supervision()["restarts"] == 0
    record("disk full during write (16 MiB tmpfs)", "2.8",
           f"PUT {problem['status']} StoreError, live file byte-identical, no reload; the next "
           f"PUT once space is freed succeeds ({recovered_s:.2f} s)")


# -- agent SIGKILLed between the temp write and the rename ------------------------------------

def slow_check_wrapper(directory: Path, real: str) -> tuple[Path, Path, Path]:
    """An ``haproxy`` wrapper that, while ``slow`` exists, parks ``haproxy -c`` (records the
    parked pid in ``parked`` and sleeps) — the agent then sits between its temp write and its
    rename; otherwise it execs the real binary. Returns (wrapper, slow flag, parked)."""
    slow, parked = directory / "slow", directory / "parked"
    wrapper = directory / "haproxy"
    wrapper.write_text(
        "#!/bin/sh\n"
        'for arg in "$@"; do\n'
        f'  if [ "$arg" = "-c" ] && [ -e {slow} ]; then echo $$ > {parked}; exec sleep 60; fi\n'
        "done\n"
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper, slow, parked


def test_agent_sigkilled_between_temp_write_and_rename(
    haproxy_bin: str, short_dir: Path, tmp_path: Path, backend: RecordingBackend, procs: Procs
) -> None:
    data = spec_data(backend.port)
    state = seed_state(short_dir, data)
    wrapper, slow, parked = slow_check_wrapper(tmp_path, haproxy_bin)
    agent = Agentd(procs, short_dir, str(wrapper), tmp_path / "agent.log")
    old = state.config_path.read_bytes()
    master = agent.api.get("/api/v1/haproxy").json()["haproxy"]["master_pid"]
    verified(master, state.config_path)

    changed = copy.deepcopy(data)
    changed["backends"][0]["servers"][0]["weight"] = 7
    slow.touch()
    outcome: list[Any] = []

    def put() -> None:
        try:
            outcome.append(agent.api.put("/api/v1/config", json=changed,
                                         headers={"If-Match": '"1"'}).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    writer = threading.Thread(target=put, daemon=True)
    writer.start()
    wait_for(lambda: parked.exists() and parked.read_text().strip(), 10)
    procs.pids.append(int(parked.read_text()))
    temps = list(short_dir.glob(".tmp-*"))
    assert len(temps) == 1 and temps[0].read_bytes() != old  # the new bytes, not renamed in
    agent.proc.send_signal(signal.SIGKILL)
    agent.proc.wait(10)
    writer.join(10)
    assert outcome and isinstance(outcome[0], httpx.HTTPError), outcome
    assert state.config_path.read_bytes() == old and short_dir.joinpath(temps[0].name).exists()
    assert masters(state.config_path) == [master] and front_ok(data)

    slow.unlink()
    again = Agentd(procs, short_dir, str(wrapper), tmp_path / "agent.log")
    assert list(short_dir.glob(".tmp-*")) == []
    assert state.config_path.read_bytes() == old  # wholly old
    assert again.api.get("/api/v1/config").headers["etag"] == '"1"'
    assert again.api.get("/api/v1/haproxy").json()["haproxy"]["master_pid"] == master
    resp = again.api.put("/api/v1/config", json=changed, headers={"If-Match": '"1"'})
    assert resp.status_code == 200 and resp.json()["version"] == 2, resp.text
    new = state.config_path.read_bytes()
    assert new != old and b"weight 7" in new  # wholly new
    assert again.stop() == 0
    wait_for(lambda: dead(master), 10)
    record("agent SIGKILLed between temp write and rename", version_of(haproxy_bin),
           f"agent back in {again.up_after_s:.2f} s: live file wholly old, temp removed, same "
           "master; the next PUT applies")


# -- agent restarted under load ---------------------------------------------------------------

@dataclass
class Load:
    """Client threads requesting through HAProxy until stopped: half reach the backend, half
    HAProxy's monitor URI (kept-alive connections, so idle ones exist at every moment)."""

    base: str
    clients: int = 4
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _loop(self, url: str) -> None:
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=5.0) as http:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    code = http.get(url).status_code
                    bad = None if code == 200 else f"HTTP {code}"
                except httpx.HTTPError as exc:
                    bad = repr(exc)
                with self._lock:
                    if bad is None:
                        self.ok += 1
                    else:
                        self.failed.append(bad)

    def __enter__(self) -> Load:
        for i in range(self.clients):
            url = f"{self.base}/k{i}" if i % 2 else f"{self.base}{MONITOR}"
            self._threads.append(threading.Thread(target=self._loop, args=(url,), daemon=True))
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)


def test_agent_restarted_under_load(haproxy_bin: str, short_dir: Path, tmp_path: Path,
                                    backend: RecordingBackend, procs: Procs) -> None:
    data = spec_data(backend.port)
    seed_state(short_dir, data)
    first = Agentd(procs, short_dir, haproxy_bin, tmp_path / "agent.log", "--keep-haproxy")
    master = first.api.get("/api/v1/haproxy").json()["haproxy"]["master_pid"]
    with Load(f"http://{data['frontends'][0]['bind'][0]}") as load:
        wait_for(lambda: load.ok > 20, 5)
        time.sleep(1.0)
        before = load.ok
        down = time.monotonic()
        assert first.stop(signal.SIGTERM) == 0
        second = Agentd(procs, short_dir, haproxy_bin, tmp_path / "agent.log")
        away_s = time.monotonic() - down
        during = load.ok - before
        time.sleep(1.0)
    assert load.failed == [], load.failed[:5]
    assert during > 10 and load.ok > 100, (during, load.ok)
    status = second.api.get("/api/v1/haproxy").json()
    assert status["haproxy"]["master_pid"] == master
    assert status["supervision"]["restarts"] == 0 and masters(short_dir / "haproxy.cfg") == [master]
    assert second.stop() == 0
    wait_for(lambda: dead(master), 10)
    record("agent restarted under load", version_of(haproxy_bin),
           f"agent away {away_s:.2f} s; {during} requests served meanwhile, {load.ok} in all, "
           "0 failed; same master pid")

