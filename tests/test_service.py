"""Running as a service: ``haproxy/lbctl.service`` passes ``systemd-analyze verify``, and a
real ``lbctl serve`` speaks systemd's notify protocol (``READY=1`` on a real datagram socket
set as ``$NOTIFY_SOCKET``, ``STOPPING=1`` on SIGTERM); ``--log-format json`` writes one JSON
object a line and ``--haproxy-log`` gets HAProxy's lines."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lbctl import paths
from lbctl.control.logs import log_socket
from lbctl.haproxy.privileges import drop_to
from lbctl.state.store import StateDir

from .agent_helpers import free_port, make_spec, seed_state, wait_for
from .test_cli_serve import _bundled

SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """The unit as shipped in the assets, with ExecStart pointed at this venv's real lbctl."""
    assert os.access(SYSTEMD_ANALYZE, os.X_OK), "Debian's systemd package is installed here"
    unit = (paths.assets_dir() / "lbctl.service").read_text()
    lbctl = shutil.which("lbctl", path=str(Path(sys.executable).parent))
    assert lbctl is not None
    assert "ExecStart=/usr/local/bin/lbctl serve" in unit
    for needed in ("Type=notify", "Restart=on-failure", "KillMode=mixed",
                   "StateDirectory=lbctl", "User=lbctl"):
        assert needed in unit.splitlines(), needed
    (tmp_path / "lbctl.service").write_text(unit.replace("/usr/local/bin/lbctl", lbctl))
    proc = subprocess.run([SYSTEMD_ANALYZE, "verify", str(tmp_path / "lbctl.service")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lbctl.service" not in proc.stderr, proc.stderr  # no warning about the unit


def _messages(sock: socket.socket, want: str, timeout_s: float) -> list[str]:
    """Datagrams received until one holds the line ``want`` (or ``timeout_s`` passes)."""
    got: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if want in got[-1].splitlines():
            break
    return got


def test_serve_notifies_systemd_and_logs_json(short_dir: Path, tmp_path: Path) -> None:
    from lbctl.demo.backend import RecordingBackend

    backend = RecordingBackend("backend").start()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(short_dir / "notify.sock"))
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    seed_state(short_dir / "state", data)
    port = free_port()
    env = {**os.environ, "NOTIFY_SOCKET": str(short_dir / "notify.sock"), "LBCTL_TOKEN": "t0k"}
    err = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lbctl.cli", "serve", "--listen", f"127.0.0.1:{port}",
         "--state-dir", str(short_dir / "state"), "--haproxy-bin", _bundled(),
         "--log-format", "json", "--haproxy-log", str(tmp_path / "haproxy.log")],
        env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        ready = _messages(notify, "READY=1", 30)
        assert ready and "READY=1" in ready[-1].splitlines(), ready
        status = [ln for ln in ready[-1].splitlines() if ln.startswith("STATUS=")]
        assert status and f"127.0.0.1:{port}" in status[0] and "HAProxy running" in status[0]
        # READY=1 came once the API was bound: it answers now.
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        front = f"http://{data['frontends'][0]['bind'][0]}"
        assert httpx.get(front + "/to-the-file", timeout=10).status_code == 200
        assert wait_for(lambda: "GET /to-the-file HTTP/1.1" in
                        (tmp_path / "haproxy.log").read_text(), 5, interval=0.05)
        proc.send_signal(signal.SIGTERM)
        stopping = _messages(notify, "STOPPING=1", 30)
        assert any("STOPPING=1" in m.splitlines() for m in stopping), stopping
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        err.close()
        notify.close()
        backend.stop()
    lines = [ln for ln in (tmp_path / "serve.log").read_text().splitlines() if ln.startswith("{")]
    assert lines, (tmp_path / "serve.log").read_text()
    for line in lines:
        doc = json.loads(line)
        assert {"ts", "level", "logger", "message"} <= doc.keys()
    # a clean stop leaves no socket
    assert not log_socket(StateDir(short_dir / "state"), drop_to()).exists()


@pytest.mark.parametrize("where", ["path", "abstract"])
def test_sd_notify_sends_one_datagram(short_dir: Path, where: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from lbctl.api.notify import sd_notify

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = str(short_dir / "n.sock") if where == "path" else f"@lbctl-test-{os.getpid()}"
    sock.bind(name if where == "path" else "\0" + name[1:])
    monkeypatch.setenv("NOTIFY_SOCKET", name)
    try:
        assert sd_notify("READY=1", "STATUS=up")
        sock.settimeout(5)
        assert sock.recv(100) == b"READY=1\nSTATUS=up"
    finally:
        sock.close()
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not sd_notify("READY=1")


def test_serve_says_what_it_found_and_a_stale_log_socket_is_replaced(
        short_dir: Path, tmp_path: Path) -> None:
    """First start: HAProxy started; with --keep-haproxy it stays, and a stale log socket
    (a socket file nobody reads, as a killed agent leaves it) is in the state dir. The second
    start adopts HAProxy, says so, replaces the socket and collects HAProxy's lines again."""
    import psutil

    from lbctl.demo.backend import RecordingBackend

    from .test_cli_serve import Serve

    backend = RecordingBackend("backend").start()
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    seed_state(short_dir, data)
    port = free_port()
    pids: list[int] = []
    try:
        first = Serve(short_dir, port, tmp_path / "first.log", "--keep-haproxy")
        pids.append(first.proc.pid)
        headers = {"Authorization": f"Bearer {(short_dir / 'token').read_text().strip()}"}
        master = httpx.get(first.url + "/api/v1/haproxy", headers=headers).json()["haproxy"][
            "master_pid"]
        pids.append(master)
        assert first.stop(signal.SIGTERM) == 0
        said = first.log.read_text()
        where = log_socket(StateDir(short_dir), drop_to())  # the socket dir when root
        assert f"(state dir {short_dir}; HAProxy running (started master pid {master}); " \
               f"HAProxy's logs at {where})" in said, said
        assert not where.exists()
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        stale.bind(str(where))
        stale.close()  # the file stays: a stale socket
        second = Serve(short_dir, port, tmp_path / "second.log")
        pids.append(second.proc.pid)
        assert f"HAProxy running (adopted master pid {master}, started before this agent)" \
            in second.log.read_text()
        front = f"http://{data['frontends'][0]['bind'][0]}"
        assert httpx.get(front + "/after-adopt", timeout=10).status_code == 200

        def logged() -> bool:
            lines = httpx.get(second.url + "/api/v1/logs", headers=headers).json()["lines"]
            return any(ln["http"] and ln["http"]["request"] == "GET /after-adopt HTTP/1.1"
                       for ln in lines)

        assert wait_for(logged, 5, interval=0.05)
        assert second.stop(signal.SIGTERM) == 0
        assert wait_for(lambda: not psutil.pid_exists(master)
                        or psutil.Process(master).status() == psutil.STATUS_ZOMBIE, 10)
    finally:
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                for child in proc.children(recursive=True):
                    child.kill()
                proc.kill()
            except psutil.Error:
                pass
        backend.stop()
