"""TLS on the 3.x builds of the version matrix (issue 17, "done when": 2.6, 2.8 and the 3.x
builds that have OpenSSL; tests/test_tls.py covers 2.6 and 2.8 test by test).

One real agent per build (``tests/haproxy_builds.py``: 3.0.0, 3.2.0, 3.3.0 are made with
``USE_OPENSSL=1``; 1.5–2.4 do not compile against Debian 12's OpenSSL 3, see
``../shared/haproxy-src/README.md``), certificates made by the test with ``cryptography``, and
in one run of that agent what each TLS feature promises on that HAProxy:

* HTTPS with the store's certificate, ALPN ``h2`` negotiated, HSTS on the answer, plain HTTP
  redirected with 308;
* mTLS ``verify: required``: no client certificate, no answer; one from the client CA, 200;
* hot update: replacing the certificate in use under four keep-alive clients goes through the
  runtime API (``applied: runtime``), new handshakes see the new fingerprint, HAProxy's pids are
  unchanged and no request fails;
* server-side TLS with ``verify required``: the right CA brings the server UP, a wrong CA takes
  it DOWN with a check status.
"""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import haproxy_builds
from tests.agent_helpers import Agent, free_port, running_agent, wait_for
from tests.test_tls import apply, put_cert, tls_spec
from tests.tls_helpers import HttpsBackend, bundle, https_load, issue, make_ca, peer_fingerprint

pytestmark = pytest.mark.slow

#: The builds of the matrix made with OpenSSL.
TLS_BUILDS = [b.name for b in haproxy_builds.BUILDS if "USE_OPENSSL=1" in b.args]


@pytest.fixture(scope="module")
def tls_builds() -> tuple[dict[str, Path], dict[str, str]]:
    """The TLS builds, built now when not cached (as tests/test_versions.py's fixture)."""
    return haproxy_builds.ensure_builds(TLS_BUILDS)


@pytest.fixture(params=TLS_BUILDS)
def build(request: pytest.FixtureRequest, tls_builds: tuple[dict[str, Path], dict[str, str]]
          ) -> str:
    """The binary of one TLS build; skips, saying why, when it could not be built."""
    built, failed = tls_builds
    if request.param not in built:
        pytest.skip(f"HAProxy build {request.param}: {failed.get(request.param, 'not built')}")
    return str(built[request.param])


def _hot_update(agent: Agent, port: int, ca: Any, ca_file: Path) -> None:
    old = peer_fingerprint("127.0.0.1", port, ca_file)
    pids = agent.controller.haproxy_pids()
    with https_load(f"https://localhost:{port}/x", ca_file) as counts:
        time.sleep(0.5)
        new = issue(ca)
        r = put_cert(agent, "site", bundle(new))
        time.sleep(0.5)
    assert r.status_code == 200, r.text
    assert r.json()["applied"] == "runtime"
    assert peer_fingerprint("127.0.0.1", port, ca_file) == new.fingerprint != old
    assert agent.controller.haproxy_pids() == pids
    assert counts["failed"] == 0 and counts["ok"] > 20, counts


def test_tls_on_the_3x_builds(build: str, short_dir: Path, backend: Any,
                              tmp_path: Path) -> None:
    authority = make_ca()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(authority.cert_pem)
    context = ssl.create_default_context(cafile=str(ca_file))
    data = tls_spec(free_port(), free_port(), free_port(), backend.port)
    front = data["frontends"][0]
    plain_only = {**data, "frontends": [{**front, "bind": [front["bind"][0]]}]}
    with HttpsBackend(issue(authority, "app.internal"), tmp_path) as https, \
            running_agent(short_dir / "state", plain_only, build) as agent:
        assert put_cert(agent, "site", bundle(issue(authority))).status_code == 200
        pids = agent.controller.haproxy_pids()
        assert pids and all(Path(f"/proc/{pid}/exe").resolve() == Path(build).resolve()
                            for pid in pids)  # this build runs, not another HAProxy
        # HTTPS, h2, HSTS, redirect.
        front.update(redirect_http_to_https=True, redirect_code=308, hsts={"max_age": 600})
        r = apply(agent, data)
        assert r.status_code == 200, r.text
        port = int(front["bind"][1]["address"].rsplit(":", 1)[1])
        with httpx.Client(verify=context, http2=True) as client:
            r = client.get(f"https://localhost:{port}/x")
        assert r.status_code == 200 and r.http_version == "HTTP/2"
        assert r.headers["strict-transport-security"] == "max-age=600"
        r = httpx.get(f"http://{front['bind'][0]}/a?b=1")
        assert r.status_code == 308 and r.headers["location"].startswith("https://")
        # Hot update through the runtime API, under load.
        _hot_update(agent, port, authority, ca_file)
        # mTLS.
        clients = make_ca("clients CA")
        assert put_cert(agent, "clients", clients.cert_pem).status_code == 200
        front["bind"][1]["tls"].update(client_ca="clients", verify="required")
        assert apply(agent, data).status_code == 200
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            httpx.get(f"https://localhost:{port}/x", verify=context)
        cert, key = issue(clients, "client1", client=True).write(tmp_path, "client1")
        mine = ssl.create_default_context(cafile=str(ca_file))
        mine.load_cert_chain(str(cert), str(key))
        assert httpx.get(f"https://localhost:{port}/x", verify=mine).status_code == 200
        # Server-side TLS, verify required, right CA then a wrong one.
        assert put_cert(agent, "internal", authority.cert_pem).status_code == 200
        assert put_cert(agent, "wrong", make_ca("wrong CA").cert_pem).status_code == 200
        data["backends"][0] = {
            "name": "app",
            "health_check": {"method": "GET", "path": "/", "inter": "300ms", "rise": 1,
                             "fall": 1},
            "servers": [{"name": "s1", "address": "127.0.0.1", "port": https.port,
                         "tls": {"ca": "internal", "sni": "app.internal"}}]}
        assert apply(agent, data).status_code == 200

        def server() -> dict[str, Any]:
            health = agent.api.get("/api/v1/health").json()
            (be,) = [b for b in health["backends"] if b["name"] == "app"]
            return dict(be["servers"][0])

        wait_for(lambda: server()["status"] == "UP", timeout=10)
        assert httpx.get(f"https://localhost:{port}/", verify=mine).status_code == 200
        data["backends"][0]["servers"][0]["tls"]["ca"] = "wrong"
        assert apply(agent, data).status_code == 200
        wait_for(lambda: server()["status"] == "DOWN", timeout=10)
        assert server()["check_status"], server()
