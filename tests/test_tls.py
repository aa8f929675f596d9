"""TLS termination and the certificate store, end to end: real HAProxy (2.8 and 2.6), real TLS,
certificates made by the test with ``cryptography`` (tests/tls_helpers.py)."""

from __future__ import annotations

import os
import ssl
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lbctl.errors import SpecError
from lbctl.spec import validate_spec
from tests.agent_helpers import Agent, free_port, running_agent, wait_for
from tests.tls_helpers import HttpsBackend, bundle, https_load, issue, make_ca, peer_fingerprint

PEM = {"Content-Type": "application/x-pem-file"}


def tls_spec(plain: int, tls: int, peers: int, server: int, **tls_opts: Any) -> dict[str, Any]:
    """Frontend ``web``: plain HTTP on ``plain`` (redirected when asked), TLS on ``tls`` with
    certificate ``site``; backend ``app`` with one plain server."""
    return {
        "global": {"peers_port": peers},
        "frontends": [{
            "name": "web", "default_backend": "app",
            "bind": [f"127.0.0.1:{plain}",
                     {"address": f"127.0.0.1:{tls}",
                      "tls": {"certificates": ["site"], "alpn": ["h2", "http/1.1"], **tls_opts}}],
        }],
        "backends": [{"name": "app", "servers": [
            {"name": "s1", "address": "127.0.0.1", "port": server, "check": False}]}],
    }


def put_cert(agent: Agent, name: str, pem: bytes) -> httpx.Response:
    version = agent.controller.version
    return agent.api.put(f"/api/v1/certificates/{name}", content=pem,
                         headers={**PEM, "If-Match": f'"{version}"'})


def apply(agent: Agent, data: dict[str, Any]) -> httpx.Response:
    return agent.api.put("/api/v1/config", json=data,
                         headers={"If-Match": f'"{agent.controller.version}"'})


@pytest.fixture
def ca(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    authority = make_ca()
    path = tmp_path / "ca.pem"
    path.write_bytes(authority.cert_pem)
    yield authority, path


@pytest.fixture
def site(short_dir: Path, haproxy_bin: str, backend: Any, ca: Any) -> Iterator[tuple[Agent, dict[str, Any]]]:
    """An agent with certificate ``site`` in the store (no TLS in the spec yet)."""
    data = tls_spec(free_port(), free_port(), free_port(), backend.port)
    plain_only = {**data, "frontends": [{**data["frontends"][0], "bind": [data["frontends"][0]["bind"][0]]}]}
    with running_agent(short_dir / "state", plain_only, haproxy_bin) as agent:
        r = put_cert(agent, "site", bundle(issue(ca[0])))
        assert r.status_code == 200, r.text
        yield agent, data


def test_store_refuses_bad_bundles_and_writes_nothing(site: Any, ca: Any) -> None:
    agent, _ = site
    authority, _path = ca
    leaf, other = issue(authority), issue(authority)
    inter = make_ca("intermediate", issuer=authority)
    cases = {
        "body.key": bundle(leaf, key=other),
        "body.certificates[0]": bundle(issue(authority, expired=True)),
        "body.chain": inter.cert_pem + leaf.cert_pem + leaf.key_pem,
        "body": b"-----BEGIN GARBAGE-----\nAAAA\n-----END GARBAGE-----\n",
    }
    wrong_chain = issue(inter)
    cases["body.chain[0]"] = bundle(wrong_chain, make_ca("not the issuer"))
    before = sorted(os.listdir(agent.state.root / "certs"))
    version = agent.controller.version
    for loc, pem in cases.items():
        r = put_cert(agent, "bad", pem)
        assert r.status_code == 422, (loc, r.text)
        assert [e["loc"] for e in r.json()["errors"]] == [loc], r.text
    assert sorted(os.listdir(agent.state.root / "certs")) == before
    assert agent.controller.version == version
    r = agent.api.get("/api/v1/certificates/bad")
    assert r.status_code == 404


def test_store_files_listing_and_delete(site: Any) -> None:
    agent, _ = site
    path = agent.state.root / "certs" / "site.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    listing = agent.api.get("/api/v1/certificates")
    assert listing.status_code == 200
    body = listing.text
    assert "PRIVATE" not in body and "localhost" in body
    (entry,) = listing.json()["certificates"]
    assert entry["name"] == "site" and entry["kind"] == "certificate"
    assert "127.0.0.1" in entry["sans"] and entry["expires_in_s"] > 80 * 86400
    versions = agent.api.get("/api/v1/config/versions").json()
    assert any(e.get("kind") == "certificate" for e in versions["entries"]), versions
    r = agent.api.delete("/api/v1/certificates/site", headers={"If-Match": "1"})
    assert r.status_code == 412
    r = agent.api.delete("/api/v1/certificates/site",
                         headers={"If-Match": f'"{agent.controller.version}"'})
    assert r.status_code == 200, r.text
    assert r.json()["applied"] == "removed" and not path.exists()


def test_https_h2_redirect_hsts(site: Any, ca: Any, haproxy_bin: str) -> None:
    agent, data = site
    front = data["frontends"][0]
    front.update(redirect_http_to_https=True, redirect_code=308,
                 hsts={"max_age": 600, "include_subdomains": True})
    r = apply(agent, data)
    assert r.status_code == 200, r.text
    tls_port = front["bind"][1]["address"].rsplit(":", 1)[1]
    plain = front["bind"][0]
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca[1])), http2=True) as client:
        r = client.get(f"https://localhost:{tls_port}/x")
    assert r.status_code == 200 and r.http_version == "HTTP/2"
    assert r.headers["strict-transport-security"] == "max-age=600; includeSubDomains"
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca[1]))) as client:
        assert client.get(f"https://127.0.0.1:{tls_port}/x").http_version == "HTTP/1.1"
    r = httpx.get(f"http://{plain}/a/b?c=1")
    assert r.status_code == 308
    assert r.headers["location"].startswith("https://") and "strict-transport-security" not in r.headers
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"https://localhost:{tls_port}/x")  # the system CAs do not know the test CA


def test_mtls_required(site: Any, ca: Any, tmp_path: Path) -> None:
    agent, data = site
    clients_ca = make_ca("clients CA")
    assert put_cert(agent, "clients", clients_ca.cert_pem).status_code == 200
    data["frontends"][0]["bind"][1]["tls"].update(client_ca="clients", verify="required")
    assert apply(agent, data).status_code == 200
    port = data["frontends"][0]["bind"][1]["address"].rsplit(":", 1)[1]
    url = f"https://localhost:{port}/x"
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.get(url, verify=ssl.create_default_context(cafile=str(ca[1])))
    cert, key = issue(clients_ca, "client1", client=True).write(tmp_path, "client1")
    ctx = ssl.create_default_context(cafile=str(ca[1]))
    ctx.load_cert_chain(str(cert), str(key))
    assert httpx.get(url, verify=ctx).status_code == 200


def test_missing_certificate_is_a_422_naming_the_field(site: Any) -> None:
    agent, data = site
    data["frontends"][0]["bind"][1]["tls"]["certificates"] = ["site", "nosuch"]
    r = apply(agent, data)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == ["frontends[0].bind[1].tls.certificates[1]"]
    data["frontends"][0]["bind"][1]["tls"]["certificates"] = ["site"]
    assert apply(agent, data).status_code == 200
    r = agent.api.delete("/api/v1/certificates/site",
                         headers={"If-Match": f'"{agent.controller.version}"'})
    assert r.status_code == 422 and "frontends[0].bind[1].tls.certificates[0]" in r.text


def test_hot_update_keeps_pids_and_drops_nothing(site: Any, ca: Any) -> None:
    agent, data = site
    assert apply(agent, data).status_code == 200
    port = int(data["frontends"][0]["bind"][1]["address"].rsplit(":", 1)[1])
    old_fp = peer_fingerprint("127.0.0.1", port, ca[1])
    pids = agent.controller.haproxy_pids()
    with https_load(f"https://localhost:{port}/x", ca[1]) as counts:
        time.sleep(0.5)
        new = issue(ca[0])
        started = time.monotonic()
        r = put_cert(agent, "site", bundle(new))
        took = time.monotonic() - started
        assert r.status_code == 200, r.text
        time.sleep(0.5)
    assert r.json()["applied"] == "runtime" and r.json()["used_by"] == [
        "frontends[0].bind[1].tls.certificates[0]"]
    assert peer_fingerprint("127.0.0.1", port, ca[1]) == new.fingerprint != old_fp
    assert agent.controller.haproxy_pids() == pids
    assert counts["failed"] == 0 and counts["ok"] > 20, counts
    print(f"hot update: {took * 1000:.0f} ms, {counts['ok']} requests, 0 failed")


def test_server_tls_verify(short_dir: Path, haproxy_bin: str, ca: Any, tmp_path: Path) -> None:
    with HttpsBackend(issue(ca[0], "app.internal"), tmp_path) as https:
        front = free_port()
        data = {"global": {"peers_port": free_port()},
                "frontends": [{"name": "web", "bind": [f"127.0.0.1:{front}"],
                               "default_backend": "app"}],
                "backends": [{"name": "app",
                              "health_check": {"method": "GET", "path": "/", "inter": "300ms",
                                               "rise": 1, "fall": 1},
                              "servers": [{"name": "s1", "address": "127.0.0.1",
                                           "port": https.port,
                                           "tls": {"ca": "internal", "sni": "app.internal"}}]}]}
        with running_agent(short_dir / "state", {**data, "backends": [
                {"name": "app", "servers": []}]}, haproxy_bin) as agent:
            assert put_cert(agent, "internal", ca[0].cert_pem).status_code == 200
            assert put_cert(agent, "wrong", make_ca("wrong CA").cert_pem).status_code == 200
            assert apply(agent, data).status_code == 200
            assert httpx.get(f"http://127.0.0.1:{front}/").status_code == 200

            def server() -> dict[str, Any]:
                health = agent.api.get("/api/v1/health").json()
                (be,) = [b for b in health["backends"] if b["name"] == "app"]
                return dict(be["servers"][0])

            wait_for(lambda: server()["status"] == "UP", timeout=10)
            data["backends"][0]["servers"][0]["tls"]["ca"] = "wrong"
            assert apply(agent, data).status_code == 200
            wait_for(lambda: server()["status"] == "DOWN", timeout=10)
            assert server()["check_status"], server()


def test_names_never_paths(site: Any, tmp_path: Path) -> None:
    agent, data = site
    for bad in ("..%2F..%2Fetc%2Fpasswd", ".hidden", "a%20b"):
        r = agent.api.put(f"/api/v1/certificates/{bad}", content=b"x",
                          headers={**PEM, "If-Match": f'"{agent.controller.version}"'})
        assert r.status_code in (404, 422), (bad, r.status_code)
    with pytest.raises(SpecError) as err:
        validate_spec({**data, "frontends": [{**data["frontends"][0], "bind": [
            {"address": "127.0.0.1:1", "tls": {"certificates": ["/etc/ssl/x"]}}]}]})
    assert err.value.errors[0].loc == "frontends[0].bind[0].tls.certificates[0]"
    front = {**data["frontends"][0], "bind": [data["frontends"][0]["bind"][0]],
             "extra": [f"bind 127.0.0.1:{free_port()} ssl crt /etc/ssl/private/site.pem"]}
    r = apply(agent, {**data, "frontends": [front]})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == "frontends[0].extra[0]", r.text
    store = agent.state.root / "certs" / "site.pem"
    front["extra"] = [f"bind 127.0.0.1:{free_port()} ssl crt {store}"]
    assert apply(agent, {**data, "frontends": [front]}).status_code == 200  # the store is a root


def _health(agent: Agent) -> tuple[int, dict[str, Any]]:
    r = agent.api.get("/api/v1/health")
    return r.status_code, r.json()


def _expiry_metric(agent: Agent, name: str) -> float:
    text = agent.api.get("/metrics").text
    (line,) = [ln for ln in text.splitlines()
               if ln.startswith(f'lbctl_certificate_expiry_seconds{{name="{name}"}}')]
    return float(line.split()[-1])


def test_expiry_in_two_days_is_critical_naming_the_certificate(site: Any, ca: Any) -> None:
    agent, data = site
    r = put_cert(agent, "site", bundle(issue(ca[0], days=2)))
    assert r.status_code == 200 and r.json()["warnings"], r.text  # accepted, with a warning
    assert _health(agent)[0] == 200  # not in use yet: the store alone never pages
    assert apply(agent, data).status_code == 200
    code, report = _health(agent)
    assert code == 503 and report["ok"] is False, report
    (reason,) = [r for r in report["reasons"] if "certificate" in r]
    assert reason.startswith("certificate site expires in ") and "critical within 3 days" in reason
    assert report["certificates"][0]["name"] == "site"
    assert report["certificates"][0]["status"] == "critical"
    assert 1.9 * 86400 < _expiry_metric(agent, "site") <= 2 * 86400


def test_expiry_in_ten_days_is_a_warning_and_health_stays_ok(site: Any, ca: Any) -> None:
    agent, data = site
    assert apply(agent, data).status_code == 200
    assert put_cert(agent, "site", bundle(issue(ca[0], days=10))).status_code == 200
    code, report = _health(agent)
    assert code == 200 and report["ok"] is True and report["reasons"] == [], report
    (warning,) = report["warnings"]
    assert warning.startswith("certificate site expires in ") and "within 14 days" in warning
    assert [(c["name"], c["status"]) for c in report["certificates"]] == [("site", "warning")]
    assert 9.9 * 86400 < _expiry_metric(agent, "site") <= 10 * 86400
