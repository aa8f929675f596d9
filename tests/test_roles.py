"""Roles end to end: every route of the app × every role against a live agent (real uvicorn,
real Controller, real HAProxy 2.8, real backend), tokens created and revoked while it runs.

The route list comes from the app itself, so a new route that declares no role, or a route
missing from :data:`EXPECTED` that is not ``admin``-only, fails here.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, routing
from fastapi.routing import APIRoute
from typer.testing import CliRunner

from lbctl.api import create_app
from lbctl.api.auth import RoleCheck, require_role, require_token
from lbctl.api.errors import PROBLEM_JSON
from lbctl.cli.main import app as cli_app
from lbctl.control.controller import Controller
from lbctl.demo.backend import RecordingBackend
from lbctl.state.tokens import ROLES, Role, TokenStore, role_allows

from .agent_helpers import TOKEN, UvicornThread, free_port, make_spec, seed_state, wait_for
from .conftest import BINARIES
from .tls_helpers import make_ca

#: The role each route needs. A route of the app not listed here must be ``admin``-only.
EXPECTED: dict[tuple[str, str], Role] = {
    ("GET", "/api/v1/config"): "viewer",
    ("GET", "/api/v1/fleet"): "viewer",
    ("PUT", "/api/v1/config"): "admin",
    ("POST", "/api/v1/config/validate"): "admin",
    ("GET", "/api/v1/config/source"): "viewer",
    ("GET", "/api/v1/health"): "viewer",
    ("GET", "/api/v1/haproxy"): "viewer",
    ("POST", "/api/v1/haproxy/reload"): "operator",
    ("GET", "/api/v1/config/versions"): "viewer",
    ("GET", "/api/v1/config/versions/{version}"): "viewer",
    ("GET", "/api/v1/config/entries/{entry_id}"): "viewer",
    ("POST", "/api/v1/config/versions/{version}/rollback"): "admin",
    ("PUT", "/api/v1/backends/{backend}/servers/{server}/state"): "operator",
    ("POST", "/api/v1/backends/{backend}/servers/{server}/ping"): "operator",
    ("GET", "/api/v1/clients"): "viewer",
    ("GET", "/api/v1/operations/{operation_id}"): "viewer",
    ("DELETE", "/api/v1/clients/{name}/counters"): "operator",
    ("GET", "/api/v1/certificates"): "viewer",
    ("GET", "/api/v1/logs"): "viewer",
    ("GET", "/api/v1/logs/stream"): "viewer",
    ("GET", "/api/v1/certificates/{name}"): "viewer",
    ("GET", "/metrics"): "viewer",
    ("GET", "/api/v1/audit"): "operator",
    ("GET", "/api/v1/tokens"): "admin",
    ("POST", "/api/v1/tokens"): "admin",
    ("DELETE", "/api/v1/tokens/{name}"): "admin",
}
#: Routes open to anyone (no token).
OPEN = {("GET", "/healthz")}
#: The admin UI's session routes: they authenticate themselves (a token in the login's body,
#: then the session cookie only; a bearer token is no session), so they declare no role;
#: tests/test_sessions.py covers them. Here: without a session they are 401, whatever token.
SESSION = {("POST", "/api/v1/session"), ("GET", "/api/v1/session"),
           ("DELETE", "/api/v1/session")}

runner = CliRunner()


@dataclass
class LiveAgent:
    """A live agent for this module, with one token per role (name → token)."""

    app: FastAPI
    controller: Controller
    url: str
    data: dict[str, Any]
    tokens: dict[str, str]
    store: TokenStore

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveAgent]:
    binary = BINARIES["2.8"] or BINARIES["2.6"]
    if binary is None:
        pytest.skip("no HAProxy binary")
    root = Path(tempfile.mkdtemp(prefix="lbr", dir="/tmp"))
    be = RecordingBackend("backend").start()
    data = make_spec(free_port(), free_port(), [("s1", be.port)])
    state = seed_state(root, data)
    store = TokenStore(state)
    tokens = {"admin": TOKEN}
    for name, role in (("ann", "viewer"), ("ops", "operator"), ("ci", "admin")):
        tokens[name] = store.create(name, role)[0]
    controller = Controller(state, haproxy_bin=binary)
    controller.start()
    try:
        app = create_app(controller, token=TOKEN)
        server = UvicornThread(app).start()
        try:
            agent = LiveAgent(app, controller, server.url, data, tokens, store)
            with agent.client(TOKEN) as api:
                wait_for(lambda: api.get("/api/v1/health").status_code == 200, 20.0)
                # A CA named c1 in the certificate store, so GET /certificates/{name} has one.
                resp = api.put("/api/v1/certificates/c1", content=make_ca().cert_pem,
                               headers={"Content-Type": "application/x-pem-file",
                                        "If-Match": f'"{controller.version}"'})
                assert resp.status_code == 200, resp.text
            yield agent
        finally:
            server.stop()
    finally:
        controller.shutdown()
        be.stop()
        shutil.rmtree(root, ignore_errors=True)


def _protected_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route in the app's OpenAPI document but the open ones."""
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops
            if (method.upper(), path) not in OPEN | SESSION}


def _declared_roles(app: FastAPI) -> dict[tuple[str, str], list[Role]]:
    """(method, path) → the roles its ``require_role`` dependencies name, read from the
    routes themselves (FastAPI ≥ 0.16x keeps included routers lazily: walk them)."""
    contexts: Iterable[Any] = (routing.iter_route_contexts(app.routes)
                               if hasattr(routing, "iter_route_contexts") else app.routes)
    declared: dict[tuple[str, str], list[Role]] = {}
    for route in contexts:
        if not isinstance(getattr(route, "original_route", route), APIRoute):
            continue
        roles = [d.dependency.role for d in route.dependencies
                 if isinstance(d.dependency, RoleCheck)]
        for method in route.methods - {"HEAD"}:
            declared[(method, route.path)] = roles
    return declared


def _declaration_problems(app: FastAPI) -> list[str]:
    """What is wrong with the roles ``app``'s routes declare (empty when all is well)."""
    routes = _protected_routes(app)
    problems = [f"{key} is missing from the app" for key in sorted(set(EXPECTED) - routes)]
    declared = _declared_roles(app)
    for key in sorted(routes):
        roles = declared.get(key)
        if roles is None or len(roles) != 1:
            problems.append(f"{key} declares roles {roles}: add "
                            "dependencies=[Depends(require_role(...))]")
        elif roles[0] != EXPECTED.get(key, "admin"):
            problems.append(f"{key} needs {roles[0]!r}; expected "
                            f"{EXPECTED.get(key, 'admin')!r} (routes not in EXPECTED must be "
                            "admin-only)")
    return problems


def test_every_route_declares_one_role(live: LiveAgent) -> None:
    assert _declaration_problems(live.app) == []


def test_a_route_without_a_role_is_caught(live: LiveAgent) -> None:
    app = create_app(live.controller, token=TOKEN)
    extra = APIRouter()

    @extra.get("/forgotten")
    def forgotten() -> None: ...

    @extra.get("/viewer-only", dependencies=[Depends(require_role("viewer"))])
    def viewer_only() -> None: ...

    app.include_router(extra, prefix="/api/v1", dependencies=[Depends(require_token)])
    assert _declaration_problems(app) == [
        "('GET', '/api/v1/forgotten') declares roles []: add "
        "dependencies=[Depends(require_role(...))]",
        "('GET', '/api/v1/viewer-only') needs 'viewer'; expected 'admin' (routes not in "
        "EXPECTED must be admin-only)",
    ]


def _request(live: LiveAgent, api: httpx.Client, method: str, path: str) -> httpx.Response:
    """A request to the route that succeeds (2xx) for a role that is allowed: writes name the
    current version and change nothing (the spec already says so); a route not in
    :data:`EXPECTED` (added later) gets its path parameters and no body."""
    with live.client(TOKEN) as admin:
        version = int(admin.get("/api/v1/config").headers["etag"].strip('"'))
    match_ = {"If-Match": f'"{version}"'}
    concrete = (path.replace("{version}", "1").replace("{entry_id}", "1")
                .replace("{backend}", "app").replace("{server}", "s1").replace("{name}", "c1"))
    if "{operation_id}" in path:  # an operation of an asynchronous no-op apply
        with live.client(TOKEN) as admin:
            op = admin.put("/api/v1/config", params={"wait": "false"}, json=live.data,
                           headers=match_).json()["id"]
        return api.request(method, path.replace("{operation_id}", op))
    if (method, path) == ("PUT", "/api/v1/config"):
        return api.put(concrete, json=live.data, headers=match_)
    if (method, path) == ("POST", "/api/v1/config/validate"):
        return api.post(concrete, json=live.data)
    if path.endswith("/rollback"):
        return api.post(concrete, headers=match_)
    if path.endswith("/state"):
        return api.put(concrete, json={"state": "ready"}, headers=match_)
    if path.endswith("/logs/stream"):  # a stream that ends after max_s
        return api.get(concrete, params={"max_s": 0.2})
    if path.startswith("/api/v1/tokens") and method != "GET":  # a fresh name: make, revoke
        name = f"rt-{secrets.token_hex(6)}"
        if method == "POST":
            return api.post(path, json={"name": name, "role": "viewer"})
        live.store.create(name, "viewer")
        return api.delete(path.replace("{name}", name))
    return api.request(method, concrete)


#: What a route may answer an allowed caller that sent it no body (bad request, not found,
#: conflict, precondition failed, unprocessable, precondition required).
ROUTE_CLIENT_ERRORS = (400, 404, 409, 412, 422, 428)


def test_route_role_table(live: LiveAgent) -> None:
    """Every route × every role (and the bootstrap admin token): 2xx when the role is
    enough, 403 problem+json naming the role needed otherwise. Judged by behaviour alone, so
    a route that checks no role at all fails here too (a viewer gets through)."""
    who: dict[str, Role] = {"ann": "viewer", "ops": "operator", "ci": "admin", "admin": "admin"}
    failures = []
    for method, path in sorted(_protected_routes(live.app)):
        needed = EXPECTED.get((method, path), "admin")
        for name, role in who.items():
            with live.client(live.tokens[name]) as api:
                resp = _request(live, api, method, path)
            allowed = role_allows(role, needed)
            if allowed:
                # A route not in EXPECTED gets no body: it may refuse the request itself, with
                # a client error of its own (problem+json), never a 401/403 or a 5xx.
                ok = (200 <= resp.status_code < 300 if (method, path) in EXPECTED
                      else 200 <= resp.status_code < 300
                      or (resp.status_code in ROUTE_CLIENT_ERRORS
                          and resp.headers["content-type"] == PROBLEM_JSON))
            else:
                ok = (resp.status_code == 403
                      and resp.headers["content-type"] == PROBLEM_JSON
                      and resp.json()["required_role"] == needed
                      and repr(needed) in resp.json()["detail"])
            if not ok:
                failures.append(f"{method} {path} as {name} ({role}): {resp.status_code} "
                                f"{resp.text[:200]}")
    assert not failures, "\n".join(failures)


def test_no_token_or_unknown_is_401_everywhere(live: LiveAgent) -> None:
    for method, path in sorted(_protected_routes(live.app)):
        for token in (None, "not-a-token", live.store.records()[0].sha256):
            with live.client(token) as api:
                resp = _request(live, api, method, path)
            assert resp.status_code == 401, (method, path, token, resp.text)
            assert resp.headers["www-authenticate"].startswith("Bearer")
    with live.client(None) as anon:
        assert anon.get("/healthz").status_code == 200


def test_forbidden_changes_nothing_and_who_is_the_token_name(
    live: LiveAgent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lbctl.audit")
    with live.client(TOKEN) as admin:
        before = admin.get("/api/v1/config/versions").json()["entries"][0]["id"]
        with live.client(live.tokens["ann"]) as viewer:
            resp = viewer.post("/api/v1/haproxy/reload", headers={"X-Lbctl-Message": "try"})
            assert resp.status_code == 403 and resp.json()["error"] == "Forbidden"
        assert admin.get("/api/v1/config/versions").json()["entries"][0]["id"] == before
    (denied,) = [r.audit for r in caplog.records  # type: ignore[attr-defined]
                 if r.name == "lbctl.audit" and r.audit["what"] == "denied"]
    assert denied["who"] == "ann" and denied["result"] == "forbidden"
    assert denied["target"] == "POST /api/v1/haproxy/reload" and denied["message"] == "try"
    caplog.clear()
    with live.client(TOKEN) as admin:
        with live.client(live.tokens["ops"]) as operator:
            assert operator.post("/api/v1/haproxy/reload",
                                 headers={"X-Lbctl-Message": "roles"}).status_code == 200
        newest = admin.get("/api/v1/config/versions").json()["entries"][0]
        assert newest["kind"] == "reload" and newest["who"] == "ops"
        assert newest["message"] == "roles"


def test_token_created_while_running_works_and_revoked_is_401(live: LiveAgent) -> None:
    state_dir = str(live.controller.state.root)
    result = runner.invoke(cli_app, ["token", "create", "--role", "operator", "--name", "late",
                                     "--state-dir", state_dir])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    with live.client(token) as api:
        assert api.get("/api/v1/haproxy").status_code == 200
        assert api.put("/api/v1/config", json=live.data).status_code == 403
        result = runner.invoke(cli_app, ["token", "revoke", "late", "--state-dir", state_dir])
        assert result.exit_code == 0, result.output
        resp = api.get("/api/v1/haproxy")
        assert resp.status_code == 401 and resp.json()["error"] == "AuthError"
    assert "late" not in {r.name for r in live.store.records()}


def test_session_routes_need_a_session_not_a_role(live: LiveAgent) -> None:
    paths: dict[str, dict[str, Any]] = live.app.openapi()["paths"]
    assert {(m.upper(), p) for p, ops in paths.items() for m in ops if "session" in p} == SESSION
    for name in ("ann", "ops", "admin"):
        with live.client(live.tokens[name]) as api:
            assert api.get("/api/v1/session").status_code == 401
            assert api.delete("/api/v1/session").status_code == 401
    with live.client(None) as anon:
        login = anon.post("/api/v1/session", json={"token": live.tokens["ann"]})
        assert login.status_code == 200 and login.json()["role"] == "viewer"
        # The session has the token's role: the role table holds for the cookie too.
        assert anon.get("/api/v1/haproxy").status_code == 200
        resp = anon.post("/api/v1/haproxy/reload", headers={
            "X-CSRF-Token": login.json()["csrf_token"], "Origin": live.url})
        assert resp.status_code == 403 and resp.json()["required_role"] == "operator"
        assert anon.post("/api/v1/session", json={"token": "nope"}).status_code == 401


def test_roles_in_openapi(live: LiveAgent) -> None:
    with live.client(None) as anon:
        doc = anon.get("/openapi.json").json()
    reload_op = doc["paths"]["/api/v1/haproxy/reload"]["post"]
    assert {"401", "403"} <= set(reload_op["responses"])


def test_tokens_file_is_hashed(live: LiveAgent) -> None:
    raw = live.store.path.read_text()
    assert live.store.path.stat().st_mode & 0o777 == 0o600
    for name, token in live.tokens.items():
        assert token not in raw, name
    doc = json.loads(raw)
    roles = {t["name"]: t["role"] for t in doc["tokens"]}
    assert {"ann": "viewer", "ops": "operator", "ci": "admin"}.items() <= roles.items()
    assert set(ROLES) == {"viewer", "operator", "admin"}


def test_cli_reports_forbidden_with_exit_5(live: LiveAgent) -> None:
    viewer = live.tokens["ann"]
    result = runner.invoke(cli_app, ["--url", live.url, "--token", viewer, "reload"])
    assert result.exit_code == 5, result.output
    assert result.stderr.startswith("Forbidden: token 'ann' has role 'viewer'; this call needs "
                                    "role 'operator'")
    status = runner.invoke(cli_app, ["--url", live.url, "--token", viewer, "status", "--json"])
    assert status.exit_code == 0, status.output
