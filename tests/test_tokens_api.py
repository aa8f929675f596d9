"""``/api/v1/tokens`` and ``GET /api/v1/audit`` against a live agent (real uvicorn, real
Controller, real HAProxy 2.8, real backend): a token created over the API authenticates with
its role; the list never shows a secret or a hash; revoking ends the token and its UI session;
409 / 422 / 404 / 403 answers; the audit lines of it all, paged, and kept on disk.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from lbctl.api.errors import PROBLEM_JSON
from lbctl.cli.main import app as cli_app
from lbctl.client import Client
from lbctl.demo.backend import RecordingBackend
from lbctl.errors import NameTaken, NotFound
from lbctl.state.audit import AuditTrail
from lbctl.state.tokens import TokenStore, hash_token

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent, wait_for
from .conftest import BINARIES

runner = CliRunner()


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    binary = BINARIES["2.8"] or BINARIES["2.6"]
    assert binary is not None, "no HAProxy binary"
    root = Path(tempfile.mkdtemp(prefix="lbtk", dir="/tmp"))
    be = RecordingBackend("backend").start()
    try:
        with running_agent(root, make_spec(free_port(), free_port(), [("s1", be.port)]),
                           binary) as live:
            wait_for(lambda: live.api.get("/api/v1/health").status_code == 200, 20.0)
            yield live
    finally:
        be.stop()
        shutil.rmtree(root, ignore_errors=True)


def _client(agent: Agent, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=agent.url, headers=headers, timeout=60)


def _create(agent: Agent, name: str, role: str) -> str:
    resp = agent.api.post("/api/v1/tokens", json={"name": name, "role": role})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert set(body) == {"name", "role", "created_at", "token"}
    assert (body["name"], body["role"]) == (name, role)
    return str(body["token"])


def _problem(resp: httpx.Response, status: int, error: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = resp.json()
    assert body["error"] == error, body
    return body


@contextlib.contextmanager
def _session(agent: Agent, token: str) -> Iterator[httpx.Client]:
    """A client holding a UI session cookie opened with ``token`` (no bearer token)."""
    with httpx.Client(base_url=agent.url, timeout=60) as client:
        resp = client.post("/api/v1/session", json={"token": token})
        assert resp.status_code == 200, resp.text
        yield client


def test_a_created_token_authenticates_with_its_role(agent: Agent) -> None:
    secret = _create(agent, "ops1", "operator")
    assert agent.controller.state.tokens_path.read_text().count(hash_token(secret)) == 1
    assert secret not in agent.controller.state.tokens_path.read_text()
    with _client(agent, secret) as ops:
        assert ops.get("/api/v1/haproxy").status_code == 200
        assert ops.post("/api/v1/haproxy/reload").status_code == 200  # operator may
        denied = _problem(ops.put("/api/v1/config", json=agent.data,
                                  headers={"If-Match": f'"{agent.controller.version}"'}),
                          403, "Forbidden")
        assert denied["required_role"] == "admin"
        newest = agent.api.get("/api/v1/config/versions").json()["entries"][0]
        assert (newest["kind"], newest["who"]) == ("reload", "ops1")


def test_the_list_shows_no_secret_or_hash(agent: Agent) -> None:
    secret = _create(agent, "lister", "viewer")
    resp = agent.api.get("/api/v1/tokens")
    assert resp.status_code == 200
    assert secret not in resp.text and hash_token(secret) not in resp.text
    doc = resp.json()
    by_name = {t["name"]: t for t in doc["tokens"]}
    assert set(by_name["lister"]) == {"name", "role", "created_at"}
    assert by_name["lister"]["role"] == "viewer"
    assert doc["bootstrap"]["name"] == "admin" and doc["bootstrap"]["revocable"] is False
    assert "cannot be revoked" in doc["bootstrap"]["note"]
    # The CLI reads the same store: a token made over the API is listed there too.
    listed = runner.invoke(cli_app, ["token", "list", "--json", "--state-dir",
                                     str(agent.controller.state.root)])
    assert listed.exit_code == 0, listed.output
    assert "lister" in {row["name"] for row in json.loads(listed.stdout)["tokens"]}


def test_revoke_refuses_the_token_and_ends_its_session(agent: Agent) -> None:
    secret = _create(agent, "gone", "operator")
    with _client(agent, secret) as bearer, _session(agent, secret) as cookie:
        assert cookie.get("/api/v1/haproxy").status_code == 200
        sessions = agent.controller.state.root / "sessions.json"
        assert hash_token(secret) in sessions.read_text()
        resp = agent.api.delete("/api/v1/tokens/gone")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert (body["name"], body["role"], body["sessions_ended"]) == ("gone", "operator", 1)
        assert hash_token(secret) not in sessions.read_text()  # removed, not just refused
        _problem(bearer.get("/api/v1/haproxy"), 401, "AuthError")
        _problem(cookie.get("/api/v1/haproxy"), 401, "AuthError")
        _problem(cookie.get("/api/v1/session"), 401, "AuthError")
    assert "gone" not in {r.name for r in TokenStore(agent.controller.state).records()}
    _problem(agent.api.delete("/api/v1/tokens/gone"), 404, "NotFound")


def test_a_token_may_revoke_itself(agent: Agent) -> None:
    secret = _create(agent, "selfie", "admin")
    with _client(agent, secret) as me:
        assert me.delete("/api/v1/tokens/selfie").status_code == 200
        _problem(me.get("/api/v1/tokens"), 401, "AuthError")


def test_taken_and_bad_names_and_roles(agent: Agent) -> None:
    _create(agent, "twice", "viewer")
    taken = _problem(agent.api.post("/api/v1/tokens", json={"name": "twice", "role": "admin"}),
                     409, "NameTaken")
    assert "twice" in str(taken["detail"])
    for body, loc in (({"name": "<img src=x onerror=alert(1)>", "role": "viewer"}, "body.name"),
                      ({"name": "", "role": "viewer"}, "body.name"),
                      ({"name": "x" * 64, "role": "viewer"}, "body.name"),
                      ({"name": "admin", "role": "viewer"}, "body.name"),
                      ({"name": "fine", "role": "root"}, "body.role"),
                      ({"name": "fine"}, "body.role")):
        problem = _problem(agent.api.post("/api/v1/tokens", json=body), 422, "InvalidRequest")
        assert [e["loc"] for e in problem["errors"]] == [loc], problem  # type: ignore[attr-defined]
    bootstrap = _problem(agent.api.delete("/api/v1/tokens/admin"), 422, "InvalidRequest")
    assert bootstrap["errors"][0]["loc"] == "path.name"  # type: ignore[index]
    assert "fine" not in {r.name for r in TokenStore(agent.controller.state).records()}
    # The bootstrap token still works, whatever was refused.
    assert agent.api.get("/api/v1/tokens").status_code == 200


def test_only_admins_manage_tokens_and_viewers_read_no_audit(agent: Agent) -> None:
    secrets = {role: _create(agent, f"role-{role}", role) for role in ("viewer", "operator")}
    for role, secret in secrets.items():
        with _client(agent, secret) as api:
            for resp in (api.get("/api/v1/tokens"),
                         api.post("/api/v1/tokens", json={"name": "sneaky", "role": "admin"}),
                         api.delete("/api/v1/tokens/role-viewer")):
                assert _problem(resp, 403, "Forbidden")["required_role"] == "admin", role
            audit = api.get("/api/v1/audit")
            if role == "viewer":
                assert _problem(audit, 403, "Forbidden")["required_role"] == "operator"
            else:
                assert audit.status_code == 200
    assert {"sneaky"}.isdisjoint(r.name for r in TokenStore(agent.controller.state).records())
    assert "role-viewer" in {r.name for r in TokenStore(agent.controller.state).records()}


def test_the_audit_trail_lists_creations_and_revocations_paged(agent: Agent) -> None:
    secret = _create(agent, "audited", "viewer")
    with _session(agent, secret) as cookie:  # a login ...
        assert cookie.get("/api/v1/audit").status_code == 403  # (a read: not audited)
    with _client(agent, secret) as viewer:  # ... and a denied write
        assert viewer.post("/api/v1/haproxy/reload").status_code == 403
    headers = {"X-Lbctl-Message": "retired", "X-Lbctl-Author": "ana@host"}
    assert agent.api.delete("/api/v1/tokens/audited", headers=headers).status_code == 200
    agent.api.post("/api/v1/tokens", json={"name": "audited2", "role": "viewer"})
    assert agent.api.post("/api/v1/tokens", json={"name": "audited2", "role": "viewer"}
                          ).status_code == 409
    page = agent.api.get("/api/v1/audit", params={"limit": 500}).json()
    lines = page["lines"]
    ids = [line["id"] for line in lines]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    made = [x for x in lines if x["what"] == "token-create" and x["target"] == "audited (viewer)"]
    gone = [x for x in lines if x["what"] == "token-revoke" and x["target"] == "audited (viewer)"]
    assert len(made) == 1 and len(gone) == 1
    assert (made[0]["who"], made[0]["result"]) == ("admin", "changed")
    assert (gone[0]["message"], gone[0]["author"]) == ("retired", "ana@host")
    assert gone[0]["id"] > made[0]["id"]
    conflict = [x for x in lines if x["target"] == "audited2 (viewer)"]
    assert [x["result"] for x in conflict] == ["conflict", "changed"]
    assert conflict[0]["error"].startswith("NameTaken: ")
    # Every audit line is there: the denied write and the login too.
    assert any(x["what"] == "denied" and x["who"] == "audited" for x in lines)
    assert any(x["what"] == "login" and x["who"] == "audited" for x in lines)
    # Pages of 2, following next_before, walk the same lines, newest first.
    walked: list[int] = []
    before: int | None = None
    for _ in range(len(ids)):
        params: dict[str, int] = {"limit": 2, **({"before": before} if before else {})}
        chunk = agent.api.get("/api/v1/audit", params=params).json()
        walked += [x["id"] for x in chunk["lines"]]
        before = chunk["next_before"]
        if before is None:
            break
    assert walked == ids and before is None
    _problem(agent.api.get("/api/v1/audit", params={"limit": 0}), 422, "InvalidRequest")
    # On disk: the state dir's audit.db holds them (a restarted agent still serves them).
    stored = AuditTrail(agent.controller.state).page(limit=len(ids))
    assert [row_id for row_id, _ in stored] == ids


def test_the_python_client_manages_tokens_and_reads_the_audit(agent: Agent) -> None:
    with Client(agent.url, TOKEN) as client:
        made = client.create_token("by-client", "viewer", message="from python").unwrap()
        assert made.role == "viewer" and made.token
        with Client(agent.url, made.token) as viewer:
            assert viewer.status().ok
            refused = viewer.tokens()
            assert refused.status_code == 403 and refused.details is not None
        assert "by-client" in {t.name for t in client.tokens().unwrap().tokens}
        taken = client.create_token("by-client", "admin")
        with pytest.raises(NameTaken):
            taken.raise_for_problem()
        assert client.revoke_token("by-client").unwrap().sessions_ended == 0
        with pytest.raises(NotFound):
            client.revoke_token("by-client").raise_for_problem()
        page = client.audit(limit=4).unwrap()
        assert [(x.what, x.result) for x in page.lines] == [
            ("token-revoke", "failed"), ("token-revoke", "changed"),
            ("token-create", "conflict"), ("token-create", "changed")]
        assert page.lines[3].message == "from python" and page.next_before == page.lines[3].id
        assert client.audit(limit=1, before=page.lines[0].id).unwrap().lines[0].id == page.lines[1].id


def test_the_cli_goes_through_the_api_with_url(agent: Agent) -> None:
    base = ["--url", agent.url, "--token", TOKEN, "token"]
    made = runner.invoke(cli_app, [*base, "create", "--role", "operator", "--name", "by-cli"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    with _client(agent, secret) as ops:
        assert ops.get("/api/v1/haproxy").status_code == 200
    listed = runner.invoke(cli_app, [*base, "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in json.loads(listed.stdout)["tokens"]}
    assert rows["by-cli"]["role"] == "operator" and rows["admin"]["bootstrap"] is True
    assert secret not in listed.stdout
    dup = runner.invoke(cli_app, [*base, "create", "--role", "viewer", "--name", "by-cli"])
    assert dup.exit_code == 1 and "NameTaken" in dup.stderr
    with _session(agent, secret) as cookie:
        gone = runner.invoke(cli_app, [*base, "revoke", "by-cli"])
        assert gone.exit_code == 0, gone.output
        assert "1 UI session(s) ended" in gone.stdout
        _problem(cookie.get("/api/v1/haproxy"), 401, "AuthError")
    again = runner.invoke(cli_app, [*base, "revoke", "by-cli"])
    assert again.exit_code == 4 and "NotFound" in again.stderr
    with _client(agent, secret) as ops:
        _problem(ops.get("/api/v1/haproxy"), 401, "AuthError")
    denied = runner.invoke(cli_app, ["--url", agent.url, "--token", _create(agent, "v", "viewer"),
                                     "token", "list"])
    assert denied.exit_code == 5 and "Forbidden" in denied.stderr
