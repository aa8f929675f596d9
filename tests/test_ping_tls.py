"""Pinging a spec server that uses TLS goes as HAProxy goes: over TLS, verified against the
server's ``ca`` from the certificate store, with its ``sni`` — the right CA answers 200, the
wrong one fails in phase ``tls``. Real HAProxy behind the agent, a real HTTPS server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .agent_helpers import free_port, running_agent
from .haproxy_helpers import bundled_haproxy
from .tls_helpers import HttpsBackend, issue, make_ca

PEM = {"Content-Type": "application/x-pem-file"}


def test_ping_inherits_the_servers_tls(short_dir: Path, tmp_path: Path) -> None:
    ca = make_ca()
    with HttpsBackend(issue(ca, "app.internal"), tmp_path) as https:
        data: dict[str, Any] = {
            "global": {"peers_port": free_port()},
            "frontends": [{"name": "web", "bind": [f"127.0.0.1:{free_port()}"],
                           "default_backend": "app"}],
            "backends": [{"name": "app", "servers": [
                {"name": "s1", "address": "127.0.0.1", "port": https.port, "check": False,
                 "tls": {"ca": "internal", "sni": "app.internal"}}]}]}
        seed = {**data, "backends": [{"name": "app", "servers": []}]}
        with running_agent(short_dir / "state", seed, bundled_haproxy()) as agent:
            for name, pem in (("internal", ca.cert_pem), ("wrong", make_ca("wrong CA").cert_pem)):
                r = agent.api.put(f"/api/v1/certificates/{name}", content=pem,
                                  headers={**PEM, "If-Match": f'"{agent.controller.version}"'})
                assert r.status_code == 200, r.text
            r = agent.api.put("/api/v1/config", json=data,
                              headers={"If-Match": f'"{agent.controller.version}"'})
            assert r.status_code == 200, r.text

            ok = agent.api.post("/api/v1/backends/app/servers/s1/ping").json()
            assert (ok["ok"], ok["status"], ok["tls"], ok["error"]) == (True, 200, True, None), ok
            assert ok["url"].startswith("https://127.0.0.1:") and ok["tls_ms"] >= 0

            data["backends"][0]["servers"][0]["tls"]["ca"] = "wrong"
            r = agent.api.put("/api/v1/config", json=data,
                              headers={"If-Match": f'"{agent.controller.version}"'})
            assert r.status_code == 200, r.text
            bad = agent.api.post("/api/v1/backends/app/servers/s1/ping").json()
            assert (bad["ok"], bad["status"]) == (False, None), bad
            assert (bad["error"]["phase"], bad["error"]["kind"]) == ("tls", "tls"), bad
            assert "certificate verify failed" in bad["error"]["message"], bad
