"""lbctl.haproxy.process: start / reload / adopt / stop real HAProxy masters (2.8 and 2.6)."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lbctl.errors import HAProxyUnavailable, ProcessError
from lbctl.features import Capabilities
from lbctl.haproxy.binary import HAProxyBinary, HAProxyVersion, inspect_binary
from lbctl.haproxy.master_cli import parse_show_proc
from lbctl.haproxy.process import HAProxyProcess
from lbctl.haproxy.runtime import RuntimeClient
from tests.haproxy_helpers import (
    Backend,
    backend,
    binary_params,
    bundled_haproxy,
    config,
    free_port,
    gone,
    http_get,
    managed,
    short_tmpdir,
    wait_for,
)


@pytest.fixture(params=binary_params())
def binary(request: pytest.FixtureRequest) -> HAProxyBinary:
    return inspect_binary(request.param)


@pytest.fixture
def run_dir() -> Iterator[Path]:
    with short_tmpdir() as path:
        yield path


@pytest.fixture
def app() -> Iterator[Backend]:
    with backend("app1") as srv:
        yield srv


@pytest.fixture
def hp(binary: HAProxyBinary, run_dir: Path) -> Iterator[HAProxyProcess]:
    proc = HAProxyProcess(binary, config_path=run_dir / "haproxy.cfg", run_dir=run_dir)
    with managed(proc):
        yield proc


def test_capabilities_table() -> None:
    def gates(*v: int) -> tuple[bool, ...]:
        c = Capabilities.for_target(HAProxyVersion(*v))
        return (c.master_worker, c.master_cli, c.failed_reloads, c.reload_status)

    assert gates(1, 5) == (False, False, False, False)
    assert gates(1, 8, 3) == (True, False, False, False)
    assert gates(2, 4) == (True, True, False, False)
    assert gates(2, 6, 12) == (True, True, True, False)
    assert gates(2, 8, 25) == (True, True, True, True)


def test_parse_show_proc_formats() -> None:
    v26 = (
        "#<PID>          <type>          <reloads>       <uptime>        <version>\n"
        "2996            master          2 [failed: 1]   0d00h00m05s     2.6.12-1+deb12u3\n"
        "# workers\n"
        "3075            worker          0               0d00h00m00s     2.6.12-1+deb12u3\n"
        "2997            worker          1               0d00h00m05s     2.6.12-1+deb12u3\n"
        "# programs\n"
    )
    parsed = parse_show_proc(v26)
    assert parsed is not None
    assert (parsed.master_pid, parsed.reloads, parsed.failed) == (2996, 2, 1)
    assert [w.pid for w in parsed.current_workers()] == [3075]
    v20 = (
        "#<PID>          <type>          <relative PID>  <reloads>       <uptime>\n"
        "100             master          0               3               0d00h01m00s\n"
        "# workers\n"
        "104             worker          1               0               0d00h00m10s\n"
    )
    parsed = parse_show_proc(v20)
    assert parsed is not None
    assert (parsed.master_pid, parsed.reloads, parsed.failed) == (100, 3, None)
    assert [(w.pid, w.reloads) for w in parsed.workers] == [(104, 0)]
    assert parse_show_proc("Unknown command.\n") is None


def test_start_reload_stop(hp: HAProxyProcess, binary: HAProxyBinary, run_dir: Path, app: Backend) -> None:
    port = free_port()
    hp.config_path.write_text(config(run_dir, port, [("app1", app.port)], header="one"))
    assert not hp.is_running()
    assert hp.status().running is False
    hp.start()
    status = hp.status()
    assert status.running and status.mode == "master-worker"
    assert status.master_pid is not None and status.worker_pids
    assert status.master_pid == int(hp.pidfile.read_text().split()[0])
    assert status.rss_bytes and status.rss_bytes > 0
    assert status.uptime_s is not None and status.uptime_s >= 0
    assert status.version == str(binary.version)
    assert psutil.Process(status.worker_pids[0]).ppid() == status.master_pid
    code, headers, body = http_get(port)
    assert (code, headers["x-gen"], body) == (200, "one", "app1")

    old_workers = status.worker_pids
    with backend("app2") as app2:
        hp.config_path.write_text(config(run_dir, port, [("app2", app2.port)], header="two"))
        result = hp.reload()
        assert result.ok, result.output
        assert result.method == "master-cli"
        assert result.duration_s < 5
        assert hp.reload_count == 1 and hp.last_reload == result
        code, headers, body = http_get(port)
        assert (code, headers["x-gen"], body) == (200, "two", "app2")
        status = hp.status()
        assert status.master_pid == int(hp.pidfile.read_text().split()[0])
        assert set(status.worker_pids).isdisjoint(old_workers)
        assert status.reload_count == 1 and status.last_reload == result
        wait_for(lambda: all(gone(pid) for pid in old_workers), 5)

        master = status.master_pid
        hp.stop()
        assert not hp.is_running()
        assert gone(master) and all(gone(pid) for pid in status.worker_pids)
        assert not hp.pidfile.exists()
        assert hp.status().running is False
        hp.stop()  # no-op when stopped


def test_reload_failing_at_runtime_keeps_old_workers(
    hp: HAProxyProcess, binary: HAProxyBinary, run_dir: Path, app: Backend
) -> None:
    port = free_port()
    hp.config_path.write_text(config(run_dir, port, [("app1", app.port)], header="one"))
    hp.start()
    workers = hp.worker_pids()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        text = config(
            run_dir, port, [("app1", app.port)], header="two", extra_frontend=f"bind 127.0.0.1:{taken}"
        )
        hp.config_path.write_text(text)
        result = hp.reload(timeout=10)
    assert not result.ok
    assert result.method == "master-cli"
    if binary.version.at_least(2, 7):
        assert "cannot bind socket" in result.output and "Address already in use" in result.output
    else:
        assert "failed reload" in result.output
    assert hp.reload_count == 0 and hp.last_reload == result
    assert hp.worker_pids() == workers
    code, headers, _ = http_get(port)
    assert (code, headers["x-gen"]) == (200, "one")
    # HAProxy recovers once the config is good again.
    hp.config_path.write_text(config(run_dir, port, [("app1", app.port)], header="three"))
    assert hp.reload().ok
    assert http_get(port)[1]["x-gen"] == "three"


def test_adopt_running_master(hp: HAProxyProcess, binary: HAProxyBinary, run_dir: Path, app: Backend) -> None:
    port = free_port()
    hp.config_path.write_text(config(run_dir, port, [("app1", app.port)]))
    hp.start()
    master = hp.status().master_pid
    other = HAProxyProcess(binary, config_path=hp.config_path, run_dir=run_dir)
    assert other.adopt()
    assert other.status().master_pid == master
    other.start()  # adopts; never a second master
    assert other.status().master_pid == master
    masters = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(hp.config_path) in (p.info["cmdline"] or []) and p.status() != psutil.STATUS_ZOMBIE
    ]
    assert {p.pid for p in masters} == {master, *hp.worker_pids()}
    # Adoption through the pidfile alone (the master socket gone).
    hp.master_socket.rename(run_dir / "moved.sock")
    third = HAProxyProcess(binary, config_path=hp.config_path, run_dir=run_dir)
    assert third.adopt() and third.status().master_pid == master
    (run_dir / "moved.sock").rename(hp.master_socket)
    assert other.reload().ok


def test_stale_pidfile_never_signalled(hp: HAProxyProcess, run_dir: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        hp.pidfile.write_text(f"{sleeper.pid}\n")
        hp.config_path.write_text(config(run_dir, free_port(), [("s", 1)]))
        assert hp.adopt() is False
        assert hp.is_running() is False
        hp.stop()
        with pytest.raises(HAProxyUnavailable):
            hp.reload()
        assert hp.status().running is False
        assert sleeper.poll() is None and psutil.Process(sleeper.pid).status() != "stopped"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_pidfile_of_other_haproxy_config_not_adopted(
    binary: HAProxyBinary, run_dir: Path, hp: HAProxyProcess
) -> None:
    hp.config_path.write_text(config(run_dir, free_port(), [("s", 1)]))
    hp.start()
    other_cfg = run_dir / "other.cfg"
    other_cfg.write_text(hp.config_path.read_text())
    other_dir = run_dir / "o"
    other_dir.mkdir()
    (other_dir / "haproxy.pid").write_text(hp.pidfile.read_text())
    other = HAProxyProcess(binary, config_path=other_cfg, run_dir=other_dir)
    assert other.adopt() is False  # a haproxy, but not running other.cfg


def test_start_failure_reports_output(hp: HAProxyProcess, run_dir: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        hp.config_path.write_text(config(run_dir, held.getsockname()[1], [("s", 1)]))
        with pytest.raises(ProcessError) as err:
            hp.start()
    assert "cannot bind socket" in err.value.output
    assert not hp.is_running()


def test_stop_soft_lets_requests_finish(hp: HAProxyProcess, run_dir: Path, app: Backend) -> None:
    port = free_port()
    hp.config_path.write_text(config(run_dir, port, [("app1", app.port)]))
    hp.start()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(http_get, port, "/slow")  # the backend answers after 1 s
        wait_for(lambda: app_busy(hp), 2)
        started = time.monotonic()
        hp.stop(timeout=5)
        took = time.monotonic() - started
        # It waited for the request (answered in full, no SIGTERM), within its own timeout.
        assert pending.done() and pending.result()[0] == 200
        assert took < 5, took
    with pytest.raises(OSError):
        http_get(port, timeout=1)


def app_busy(hp: HAProxyProcess) -> bool:
    """True once frontend ``f`` holds a client connection (``scur`` in ``show stat``)."""
    rows = RuntimeClient(hp.run_dir / "haproxy.sock").show_stat()
    return any(r["pxname"] == "f" and r["svname"] == "FRONTEND" and int(r["scur"]) > 0 for r in rows)


@pytest.mark.parametrize(
    ("caps", "mode", "method"),
    [
        (Capabilities.for_target(HAProxyVersion(1, 7)), "legacy", "sf"),
        (Capabilities.for_target(HAProxyVersion(1, 8)), "master-worker", "signal"),
        (Capabilities.for_target(HAProxyVersion(2, 4)), "master-worker", "master-cli"),
    ],
    ids=["legacy-sf", "1.8-sigusr2", "1.9-master-cli"],
)
def test_older_release_paths_on_real_binary(
    caps: Capabilities,
    mode: str,
    method: str,
    monkeypatch: pytest.MonkeyPatch,
    run_dir: Path,
    app: Backend,
) -> None:
    """The 2.8 binary still runs the pre-2.7 process-control paths (``-sf``, SIGUSR2, master
    CLI without ``Success=``); the version gate is forced to take them."""
    monkeypatch.setattr(HAProxyBinary, "capabilities", lambda self: caps)
    binary = inspect_binary(bundled_haproxy())
    proc = HAProxyProcess(binary, config_path=run_dir / "haproxy.cfg", run_dir=run_dir)
    with managed(proc):
        port = free_port()
        proc.config_path.write_text(config(run_dir, port, [("app1", app.port)], header="one"))
        proc.start()
        assert proc.status().mode == mode
        before = proc.worker_pids()
        assert before and http_get(port)[1]["x-gen"] == "one"
        proc.config_path.write_text(config(run_dir, port, [("app1", app.port)], header="two"))
        result = proc.reload()
        assert result.ok and result.method == method, result.output
        assert http_get(port)[1]["x-gen"] == "two"
        assert set(proc.worker_pids()).isdisjoint(before)
        serving = proc.worker_pids()
        with socket.socket() as held:  # a config that passes -c but cannot bind
            held.bind(("127.0.0.1", 0))
            held.listen()
            bad = config(
                run_dir,
                port,
                [("app1", app.port)],
                header="bad",
                extra_frontend=f"bind 127.0.0.1:{held.getsockname()[1]}",
            )
            proc.config_path.write_text(bad)
            failed = proc.reload(timeout=3 if method == "signal" else 6)
        assert not failed.ok and failed.method == method
        assert proc.worker_pids() == serving
        assert http_get(port)[1]["x-gen"] == "two"
        if mode == "legacy":
            assert "cannot bind socket" in failed.output
        elif method == "master-cli":  # no [failed: N] before 2.5: no new worker generation
            assert "started no new worker" in failed.output
        else:
            assert "no new worker within 3 s" in failed.output
        adopted = HAProxyProcess(binary, config_path=proc.config_path, run_dir=run_dir)
        assert adopted.adopt()
        assert adopted.worker_pids() == proc.worker_pids()
        pids = [*proc.worker_pids(), *([proc.status().master_pid] if mode != "legacy" else [])]
        proc.stop()
        assert all(gone(pid) for pid in pids if pid)
        assert not os.path.exists(proc.pidfile)
