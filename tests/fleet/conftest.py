"""Fleet fixtures: one real etcd and three real ``lbctl serve --fleet`` agents on 127.0.0.1.

* :class:`Etcd` — Debian's ``etcd`` (3.4) on free client and peer ports with a fresh data dir
  in a temp dir; :meth:`Etcd.start` waits until it answers, :meth:`Etcd.stop` stops it by pid
  (SIGTERM, then SIGKILL) and a later :meth:`Etcd.start` brings it back on the same ports and
  data (the fault tests).
* :class:`Node` — one ``lbctl serve`` process (a subprocess, so a test can ``kill -9`` it) with
  ``--fleet``, ``--node``, its own state dir, agent port and ``--peer-address`` (all but
  ``c``, whose local peer listens on the spec's ``global.peers_port``); its HAProxy
  masters are remembered and stopped by pid at teardown (an agent killed with SIGKILL leaves
  its HAProxy serving, as on a real host; the restarted agent adopts it).
* :func:`fleet` — module-scoped: etcd + nodes ``a`` and ``b`` on the bundled HAProxy 2.8 and
  ``c`` on Debian's 2.6, all seeded with one spec whose frontend port they share
  (HAProxy binds with ``SO_REUSEPORT`` on Linux, so the kernel spreads connections over the
  three, standing in for DNS or anycast), in front of one recording backend.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from lbctl.demo.backend import RecordingBackend
from lbctl.demo.load import free_port
from lbctl.demo.pacing import FORWARD_SLOT_LINE
from tests.agent_helpers import TOKEN, seed_state
from tests.conftest import BINARIES
from tests.haproxy_helpers import wait_for

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
#: Lease TTL and proposal deadline of the test nodes (seconds): short, so a killed node
#: stops counting within a few seconds, long enough for a loaded 2-core machine.
TTL_S = 3
DEADLINE_S = 8.0


def _stop_pid(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Etcd:
    """One etcd member on 127.0.0.1 (module docstring)."""

    def __init__(self, root: Path) -> None:
        self.data = root / "etcd"
        self.client_port, self.peer_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.client_port}"
        self.log = root / "etcd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Etcd:
        """Start it (same ports and data dir every time) and wait until it answers."""
        peer = f"http://127.0.0.1:{self.peer_port}"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [ETCD, "--name", "t", "--data-dir", str(self.data),
                 "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"t={peer}", "--heartbeat-interval", "50",
                 "--election-timeout", "500", "--log-level", "warn"],
                stdout=subprocess.DEVNULL, stderr=log)
        wait_for(self.ready, 30, interval=0.1)
        return self

    def ready(self) -> bool:
        """True when etcd serves reads (``/health`` says so)."""
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-2000:]
        try:
            return bool(httpx.get(self.url + "/health", timeout=1).json().get("health") == "true")
        except (httpx.HTTPError, ValueError):
            return False

    def stop(self) -> None:
        """Stop it by pid (SIGTERM, then SIGKILL)."""
        if self.proc is not None:
            _stop_pid(self.proc)
            self.proc = None


@dataclass
class Node:
    """One ``lbctl serve --fleet`` agent process (module docstring)."""

    name: str
    root: Path
    binary: str
    etcd: Etcd
    #: The spec's ``global.peers_port``: where the local peer listens without ``--peer-address``.
    spec_peer_port: int
    #: ``--peer-address 127.0.0.1:<explicit_peer>``; ``None``: none (the spec's port).
    explicit_peer: int | None = field(default_factory=free_port)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    haproxy_pids: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The agent's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def peer(self) -> str:
        """``host:port`` of this node's local peer."""
        return f"127.0.0.1:{self.explicit_peer or self.spec_peer_port}"

    @property
    def log(self) -> Path:
        """The agent's stderr."""
        return self.root / f"{self.name}.log"

    def start(self) -> Node:
        """Start ``lbctl serve`` (adopting its HAProxy if one runs) and wait for ``/healthz``."""
        env = {**os.environ, "LBCTL_TOKEN": TOKEN}
        env.pop("LBCTL_FLEET", None)
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lbctl.cli", "serve", "--listen", f"127.0.0.1:{self.port}",
                 "--state-dir", str(self.root / self.name), "--haproxy-bin", self.binary,
                 "--log-level", "warning", "--fleet", self.etcd.url, "--node", self.name,
                 "--fleet-ttl", str(TTL_S), "--fleet-deadline", str(DEADLINE_S),
                 *(["--peer-address", self.peer] if self.explicit_peer else [])],
                env=env, stdout=subprocess.DEVNULL, stderr=err)
        wait_for(self.up, 40, interval=0.1)
        self.remember_haproxy()
        return self

    def up(self) -> bool:
        """True once the agent answers ``/healthz``."""
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One call of the agent's API with the token (timeout 60 s)."""
        headers = {"Authorization": f"Bearer {TOKEN}", **kw.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=60, **kw)

    def version(self) -> int:
        """The version this node runs (``GET /api/v1/config``'s ETag)."""
        return int(self.api("GET", "/api/v1/config").json()["version"])

    def remember_haproxy(self) -> None:
        """Note the HAProxy master's pid, to stop it at teardown."""
        proc = self.api("GET", "/api/v1/haproxy").json().get("haproxy") or {}
        if proc.get("master_pid"):
            self.haproxy_pids.add(int(proc["master_pid"]))

    def kill9(self) -> None:
        """SIGKILL the agent (its HAProxy keeps running, as on a real host)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM the agent (it soft-stops its HAProxy), then make sure every HAProxy master
        it had is gone (by pid)."""
        if self.proc is not None:
            _stop_pid(self.proc, timeout=30)
            self.proc = None
        for pid in self.haproxy_pids:
            try:
                proc = psutil.Process(pid)
                for child in proc.children(recursive=True):
                    child.kill()
                proc.kill()
            except psutil.Error:
                pass


@dataclass
class Fleet:
    """The etcd, the nodes by name, the shared frontend port and the recording backend."""

    etcd: Etcd
    nodes: dict[str, Node]
    front: int
    backend: RecordingBackend
    spec: dict[str, Any]

    def live(self) -> set[str]:
        """The live nodes as node ``a`` reports them."""
        body = self.nodes["a"].api("GET", "/api/v1/fleet").json()
        return {n["name"] for n in body["nodes"] if n["live"]}


def fleet_spec(front: int, backend_port: int, peers_port: int = 9901) -> dict[str, Any]:
    """The seed spec: frontend ``web`` on 127.0.0.1:``front`` (shared by every node), backend
    ``app`` with one server (checked every 500 ms), smooth client ``client1`` on ``/client1``
    (10 req/s, queue 100; its slots forwarded in ``X-Lbctl-Slot``), ``mode: reject`` client
    ``client3`` on ``/client3`` (5 req/s) and ``client2`` on ``/client2`` (not limited)."""
    return {
        "global": {"peers_port": peers_port},
        "frontends": [{
            "name": "web", "bind": [f"127.0.0.1:{front}"], "default_backend": "app",
            "clients": [{"name": "client1", "path_prefix": "/client1", "rate": 10, "burst": 100,
                         "mode": "smooth"},
                        {"name": "client3", "path_prefix": "/client3", "rate": 5, "burst": 0,
                         "mode": "reject"}],
            "extra": [FORWARD_SLOT_LINE],  # each paced request's slot, to judge the pacers
        }],
        "backends": [{
            "name": "app",
            "health_check": {"method": "HEAD", "path": "/", "inter": "500ms", "rise": 1,
                             "fall": 2},
            "servers": [{"name": "s1", "address": "127.0.0.1", "port": backend_port}],
        }],
    }


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    """Etcd and three nodes (``a``, ``b``: HAProxy 2.8; ``c``: 2.6), module docstring."""
    if BINARIES["2.8"] is None or BINARIES["2.6"] is None:
        pytest.fail("the fleet tests need the bundled HAProxy 2.8 and Debian's 2.6")
    root = Path(tempfile.mkdtemp(prefix="lbf", dir="/tmp"))
    etcd = Etcd(root)
    backend = RecordingBackend("backend").start()
    nodes: dict[str, Node] = {}
    try:
        etcd.start()
        front = free_port()
        spec = fleet_spec(front, backend.port, free_port())
        for name, version in (("a", "2.8"), ("b", "2.8"), ("c", "2.6")):
            seed_state(root / name, spec)
            binary = BINARIES[version]
            assert binary is not None
            # c has no --peer-address: its local peer listens on the spec's global.peers_port.
            nodes[name] = Node(name, root, binary, etcd, spec["global"]["peers_port"],
                               None if name == "c" else free_port())
        for node in nodes.values():
            node.start()
        result = Fleet(etcd, nodes, front, backend, spec)
        wait_for(lambda: result.live() == {"a", "b", "c"}, 20, interval=0.1)
        yield result
    finally:
        for node in nodes.values():
            node.stop()
        etcd.stop()
        backend.stop()
        shutil.rmtree(root, ignore_errors=True)


def wait_versions(fleet: Fleet, version: int, names: set[str], timeout: float) -> float:
    """Wait until every node in ``names`` runs ``version``; the seconds it took."""
    started = time.monotonic()
    wait_for(lambda: all(fleet.nodes[n].version() == version for n in names), timeout,
             interval=0.05)
    return time.monotonic() - started
