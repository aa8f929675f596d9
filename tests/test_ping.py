"""Ping from the load balancer's host (issue 18): ``POST .../servers/{server}/ping``,
``POST /api/v1/ping`` and ``lbctl ping``, against real servers on 127.0.0.1 and a real agent.

The servers: the recording backend (``s1``, it records HEAD too), a closed port
(``closed``), a listener that accepts and never answers (``hang``, counting the connections
open at once) and a TLS server with a self-signed certificate made here.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from lbctl.cli.main import app as cli_app
from lbctl.control.ping import MAX_IN_FLIGHT
from lbctl.demo.backend import RecordingBackend
from lbctl.state.tokens import Role, TokenStore

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent
from .conftest import BINARIES

SERVER_PING = "/api/v1/backends/app/servers/{}/ping"


class HangServer:
    """Accepts connections and never answers; ``max_open`` is the most held open at once."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.open = 0
        self.max_open = 0
        self.accepted = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.open += 1
                self.accepted += 1
                self.max_open = max(self.max_open, self.open)
            worker = threading.Thread(target=self._hold, args=(conn,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _hold(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        with conn:
            while not self._stop.is_set():
                try:
                    if not conn.recv(4096):  # the client closed: the ping is over
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
        with self._lock:
            self.open -= 1

    def reset(self) -> None:
        with self._lock:
            self.max_open = self.open
            self.accepted = 0

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self.sock.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key: with ``cryptography`` when it is
    installed, else ``openssl req``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor openssl is installed")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
        return cert, key
    pkey = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    built = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(pkey.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.SubjectAlternativeName(
                 [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
             .sign(pkey, hashes.SHA256()))
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(pkey.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert, key


class TLSServer:
    """A TLS server on 127.0.0.1 with a self-signed certificate; answers ``204`` to whoever
    completes the handshake."""

    def __init__(self, directory: Path) -> None:
        cert, key = _self_signed(directory)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(4096)
                    tls.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            except OSError:  # the client refused the certificate (ssl.SSLError is an OSError)
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@dataclass
class Live:
    """The module's agent and servers."""

    agent: Agent
    backend: RecordingBackend
    hang: HangServer
    tls: TLSServer
    closed_port: int
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.agent.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.tokens[role]}"})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    binary = BINARIES["2.8"] or BINARIES["2.6"]
    if binary is None:
        pytest.skip("no HAProxy binary")
    root = Path(tempfile.mkdtemp(prefix="lbp", dir="/tmp"))
    backend = RecordingBackend("backend", record_checks=True).start()
    hang = HangServer()
    tls = TLSServer(root)
    closed = _closed_port()
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    app_backend = data["backends"][0]
    app_backend["health_check"]["path"] = "/hc"
    app_backend["servers"] += [{"name": "closed", "address": "127.0.0.1", "port": closed},
                               {"name": "hang", "address": "127.0.0.1", "port": hang.port}]
    for server in app_backend["servers"]:
        server["check"] = False  # no HAProxy health checks: every request seen is a ping
    try:
        with running_agent(root / "state", data, binary) as agent:
            store = TokenStore(agent.state)
            tokens = {"admin": TOKEN}
            roles: tuple[tuple[str, Role], ...] = (("ann", "viewer"), ("ops", "operator"))
            for name, role in roles:
                tokens[role] = store.create(name, role)[0]
            yield Live(agent, backend, hang, tls, closed, tokens)
    finally:
        backend.stop()
        hang.close()
        tls.close()
        shutil.rmtree(root, ignore_errors=True)


def _heads(backend: RecordingBackend, path: str) -> list[str]:
    return [a.method for a in backend.snapshot(path) if a.path == path]


def test_head_arrives_with_the_path_and_the_phases_are_timed(live: Live) -> None:
    with live.client("operator") as api:
        resp = api.post(SERVER_PING.format("s1"), json={"path": "/probe/a"})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert _heads(live.backend, "/probe/a") == ["HEAD"]
    assert out["ok"] is True and out["status"] == 200 and out["http_version"] == "HTTP/1.1"
    assert out["method"] == "HEAD" and out["error"] is None and out["tls"] is False
    assert out["resolved"] == "127.0.0.1" and out["url"].endswith(f":{live.backend.port}/probe/a")
    for phase in ("resolve_ms", "connect_ms", "ttfb_ms", "total_ms"):
        assert 0 <= out[phase] <= out["total_ms"], phase
    assert out["tls_ms"] is None


def test_default_path_is_the_health_check_path_and_get_works(live: Live) -> None:
    with live.client("operator") as api:
        assert api.post(SERVER_PING.format("s1")).json()["ok"] is True  # no body at all
        got = api.post(SERVER_PING.format("s1"), json={"method": "GET"}).json()
    assert [a.method for a in live.backend.snapshot("/hc")] == ["HEAD", "GET"]
    assert got["ok"] is True and got["body_bytes"] > 0


def test_ping_writes_nothing_but_one_audit_line(live: Live,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lbctl.audit")
    with live.client("admin") as admin:
        before = admin.get("/api/v1/config/versions").json()["entries"]
        version = admin.get("/api/v1/config").headers["etag"]
        with live.client("operator") as api:
            api.post(SERVER_PING.format("s1"), json={"path": "/audited"},
                     headers={"X-Lbctl-Message": "why not"})
        assert admin.get("/api/v1/config/versions").json()["entries"] == before
        assert admin.get("/api/v1/config").headers["etag"] == version
    audits = [getattr(r, "audit", {}) for r in caplog.records if r.name == "lbctl.audit"]
    lines = [a for a in audits if a.get("what") == "ping"]
    assert len(lines) == 1
    assert lines[0]["who"] == "ops" and lines[0]["result"] == "ok"
    assert lines[0]["message"] == "why not"
    assert lines[0]["target"].startswith("app/s1 HEAD http://127.0.0.1:")


def test_closed_port_fails_in_connect_refused(live: Live) -> None:
    with live.client("operator") as api:
        out = api.post(SERVER_PING.format("closed")).json()
    assert out["ok"] is False and out["status"] is None
    assert out["error"]["phase"] == "connect" and out["error"]["kind"] == "refused"


def test_a_server_that_never_answers_times_out_in_time(live: Live) -> None:
    with live.client("operator") as api:
        started = time.monotonic()
        out = api.post(SERVER_PING.format("hang"), json={"timeout_s": 1}).json()
        elapsed = time.monotonic() - started
    assert out["error"]["kind"] == "timeout" and out["error"]["phase"] == "response"
    assert out["connect_ms"] is not None
    assert 0.9 <= elapsed <= 1.5, elapsed


def test_tls_with_an_unknown_ca_fails_in_tls(live: Live) -> None:
    with live.client("admin") as admin:
        out = admin.post("/api/v1/ping", json={"address": "127.0.0.1", "port": live.tls.port,
                                               "tls": True}).json()
    assert out["ok"] is False and out["tls"] is True and out["url"].startswith("https://")
    assert out["error"]["phase"] == "tls" and out["error"]["kind"] == "tls"
    assert "verify failed" in out["error"]["message"], out["error"]
    assert out["connect_ms"] is not None


def test_address_ping_reaches_a_server_not_in_the_spec(live: Live) -> None:
    # A host name when it resolves to the backend's 127.0.0.1 first (the ping connects to
    # the first address the system resolver gives).
    first = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)[0][4][0]
    name = "localhost" if first == "127.0.0.1" else "127.0.0.1"
    with RecordingBackend("new", record_checks=True) as new:
        with live.client("admin") as admin:
            out = admin.post("/api/v1/ping", json={"address": name, "port": new.port,
                                                   "method": "GET", "path": "/new"}).json()
            # The recording backend has no OPTIONS handler: an answer (501), but not ok.
            options = admin.post("/api/v1/ping", json={"address": "127.0.0.1", "port": new.port,
                                                       "method": "OPTIONS"}).json()
        assert [(a.method, a.path) for a in new.snapshot()] == [("GET", "/new")]
    assert out["ok"] is True and out["backend"] is None and out["address"] == name
    assert out["resolved"] == "127.0.0.1"
    assert out["error"] is None
    assert options["status"] == 501 and options["ok"] is False and options["error"] is None


def test_roles(live: Live) -> None:
    with live.client("viewer") as viewer:
        resp = viewer.post(SERVER_PING.format("s1"))
        assert resp.status_code == 403 and resp.json()["required_role"] == "operator"
    with live.client("operator") as operator:
        resp = operator.post("/api/v1/ping", json={"address": "127.0.0.1", "port": 1})
        assert resp.status_code == 403 and resp.json()["required_role"] == "admin"


def test_unknown_server_is_404(live: Live) -> None:
    with live.client("operator") as api:
        resp = api.post(SERVER_PING.format("nope"))
        assert resp.status_code == 404 and resp.json()["error"] == "NotFound"
        assert api.post("/api/v1/backends/nope/servers/s1/ping").status_code == 404


@pytest.mark.parametrize(("url", "body", "loc"), [
    (SERVER_PING.format("s1"), {"method": "PUT"}, "body.method"),
    (SERVER_PING.format("s1"), {"path": "no-slash"}, "body.path"),
    (SERVER_PING.format("s1"), {"path": "/a b"}, "body.path"),
    (SERVER_PING.format("s1"), {"timeout_s": 11}, "body.timeout_s"),
    (SERVER_PING.format("s1"), {"tls": True}, "body.tls"),
    ("/api/v1/ping", {"address": "bad host", "port": 80}, "body.address"),
    ("/api/v1/ping", {"address": "127.0.0.1", "port": 80, "path": "/x#y"}, "body.path"),
    ("/api/v1/ping", {"address": "127.0.0.1", "port": 0}, "body.port"),
    ("/api/v1/ping", {"address": "127.0.0.1", "port": 80, "method": "DELETE"}, "body.method"),
])
def test_invalid_body_is_422_naming_the_field(live: Live, url: str, body: dict[str, Any],
                                              loc: str) -> None:
    with live.client("admin") as admin:
        resp = admin.post(url, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in resp.json()["errors"]] == [loc]


def test_twenty_concurrent_pings_are_bounded(live: Live) -> None:
    live.hang.reset()
    barrier = threading.Barrier(20)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def one() -> None:
        with live.client("operator") as api:
            barrier.wait()
            resp = api.post(SERVER_PING.format("hang"), json={"timeout_s": 1})
        with lock:
            answers.append(resp)

    started = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    elapsed = time.monotonic() - started
    assert len(answers) == 20 and elapsed < 5, elapsed  # none hangs
    codes = sorted(r.status_code for r in answers)
    busy = [r for r in answers if r.status_code == 429]
    assert set(codes) == {200, 429}, codes
    assert 1 <= codes.count(200) <= 20 - len(busy)
    assert live.hang.max_open <= MAX_IN_FLIGHT, live.hang.max_open
    problem = busy[0].json()
    assert problem["error"] == "Busy" and problem["retry_after_s"] >= 1
    assert busy[0].headers["content-type"] == "application/problem+json"
    # Every slot is free again.
    with live.client("operator") as api:
        assert api.post(SERVER_PING.format("s1")).json()["ok"] is True


runner = CliRunner()


def _cli(live: Live, *args: str) -> Any:
    return runner.invoke(cli_app, ["--url", live.agent.url, "--token", TOKEN, "ping", *args],
                         env={"COLUMNS": "160"})


def test_cli_ping_table_json_and_exit_codes(live: Live) -> None:
    result = _cli(live, "app/s1", "--path", "/cli", "--method", "get")
    assert result.exit_code == 0, result.output
    for word in ("resolve", "connect", "first byte", "total", "200 HTTP/1.1"):
        assert word in result.stdout, word
    assert _heads(live.backend, "/cli") == ["GET"]
    result = _cli(live, "app/closed", "--json")
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert out["error"]["phase"] == "connect" and out["error"]["kind"] == "refused"
    result = _cli(live, "app/closed")
    assert result.exit_code == 1 and "connect: refused" in result.stdout
    live.backend.status = 503
    try:
        assert _cli(live, "app/s1").exit_code == 1  # an answer, but not 2xx/3xx
    finally:
        live.backend.status = 200
    assert _cli(live, "app/nope").exit_code == 4
    assert _cli(live, "nope").exit_code == 2
    result = _cli(live, "app/s1", "--timeout", "11")
    assert result.exit_code == 1 and "body.timeout_s" in result.output
