"""``lbctl cert put|list|rm`` against a live agent and a real HAProxy (through
:class:`lbctl.client.AgentClient`): a put not in use, a hot update of one in use, the list with
expiry in days coloured, a refused and a done rm, the exit codes of what goes wrong."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from lbctl.cli.certs import expiry_cell
from lbctl.cli.main import app
from tests.agent_helpers import TOKEN, Agent, free_port, running_agent
from tests.test_tls import tls_spec
from tests.tls_helpers import Issued, bundle, issue, make_ca, peer_fingerprint

runner = CliRunner()


@pytest.fixture
def live(short_dir: Path, haproxy_bin: str, backend: Any) -> Iterator[Agent]:
    data = tls_spec(free_port(), free_port(), free_port(), backend.port)
    plain = {**data, "frontends": [{**data["frontends"][0], "bind": [data["frontends"][0]["bind"][0]]}]}
    with running_agent(short_dir / "state", plain, haproxy_bin) as agent:
        agent.data = data
        yield agent


def cli(agent: Agent, *args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["--url", agent.url, "--token", TOKEN, *args], env=env)


def write(tmp_path: Path, name: str, pem: bytes) -> str:
    path = tmp_path / f"{name}.pem"
    path.write_bytes(pem)
    return str(path)


def test_expiry_cell_colours() -> None:
    assert expiry_cell(2 * 86400) == ("2.0 days", "bold red")
    assert expiry_cell(-86400) == ("expired 1.0 days ago", "bold red")
    assert expiry_cell(10 * 86400) == ("10.0 days", "yellow")
    assert expiry_cell(90 * 86400) == ("90.0 days", "green")


def test_put_list_hot_update_rm(live: Agent, tmp_path: Path) -> None:
    ca = make_ca()
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(ca.cert_pem)
    first: Issued = issue(ca, days=90)
    r = cli(live, "cert", "put", "site", write(tmp_path, "first", bundle(first)), "-m", "first")
    assert r.exit_code == 0, r.output
    assert "kept site as version 2 (was 1): not in use by the spec" in r.stdout
    assert "expires in 90.0 days" in r.stdout or "expires in 89.9 days" in r.stdout
    assert live.api.get("/api/v1/certificates/site").json()["fingerprint_sha256"]

    # The spec uses it: the next put is a hot update (no reload), new handshakes see it.
    assert live.api.put("/api/v1/config", json=live.data,
                        headers={"If-Match": f'"{live.controller.version}"'}).status_code == 200
    port = int(live.data["frontends"][0]["bind"][1]["address"].rsplit(":", 1)[1])
    pids = live.controller.haproxy_pids()
    soon = issue(ca, days=10)
    r = cli(live, "cert", "put", "site", write(tmp_path, "soon", bundle(soon)))
    assert r.exit_code == 0, r.output
    assert "replaced in the running HAProxy (no reload)" in r.stdout
    assert "warning: certificates[0]" in r.stderr  # within the store's 30-day warning
    assert peer_fingerprint("127.0.0.1", port, ca_file) == soon.fingerprint
    assert live.controller.haproxy_pids() == pids
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca_file))) as client:
        assert client.get(f"https://localhost:{port}/x").status_code == 200

    # A CA next to it, then the list: expiry in days, coloured, and who uses each.
    r = cli(live, "cert", "put", "clients", write(tmp_path, "ca", make_ca("clients").cert_pem))
    assert r.exit_code == 0, r.output
    r = cli(live, "cert", "list", env={"FORCE_COLOR": "1", "COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "site" in out and "clients" in out and "frontends[0].bind[1].tls.certificates[0]" in out
    assert "\x1b[33m10.0 days" in out or "\x1b[33m9.9 days" in out  # yellow: within 14 days
    assert "\x1b[32m" in out  # green: the CA, ten years
    r = cli(live, "cert", "list", "--json")
    listing = json.loads(r.stdout)
    assert sorted(c["name"] for c in listing["certificates"]) == ["clients", "site"]
    assert "PRIVATE" not in r.stdout

    # rm: refused while in use (exit 1 naming the field), done when not, 4 when unknown.
    r = cli(live, "cert", "rm", "site")
    assert r.exit_code == 1 and "frontends[0].bind[1].tls.certificates[0]" in r.stderr, r.output
    version = live.controller.version
    r = cli(live, "cert", "rm", "clients", "-m", "unused")
    assert r.exit_code == 0, r.output
    assert f"removed clients as version {version + 1} (was {version})" in r.stdout
    assert cli(live, "cert", "rm", "clients").exit_code == 4
    entries = live.api.get("/api/v1/config/versions").json()["entries"]
    assert [e["message"] for e in entries if e["kind"] == "certificate"][:1] == ["unused"]


def test_put_refusals_exit_codes(live: Agent, tmp_path: Path) -> None:
    ca = make_ca()
    leaf, other = issue(ca), issue(ca)
    r = cli(live, "cert", "put", "bad", write(tmp_path, "bad", bundle(leaf, key=other)))
    assert r.exit_code == 1 and "body.key" in r.stderr, r.output
    r = cli(live, "cert", "put", "site", write(tmp_path, "ok", bundle(leaf)), "--if-match", "99")
    assert r.exit_code == 3, r.output
    r = cli(live, "cert", "put", "site", str(tmp_path / "missing.pem"))
    assert r.exit_code == 2, r.output
    r = runner.invoke(app, ["--url", live.url, "--token", "wrong", "cert", "list"])
    assert r.exit_code == 5, r.output
    assert cli(live, "cert", "list", "--json").stdout.strip().startswith("{")
