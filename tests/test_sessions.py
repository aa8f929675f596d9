"""The admin UI's session against a live agent (real uvicorn, real Controller, real HAProxy 2.8,
real backend): login → cookie flags, the cookie as the token with its role, the CSRF guard of
cookie writes (header and Origin), logout, expiry, revocation, the hashed store, audit lines,
the security headers of every response, and the UI's static files at ``/ui/``.

Requests go through httpx; a cookie is sent by hand (``Cookie:`` header) where the test replays
one the server has cleared. Over TLS (a certificate of :mod:`tests.tls_helpers`) the cookie is
``Secure`` and the agent's own origin is ``https://``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import pytest
import uvicorn
from fastapi import FastAPI

from lbctl.api import create_app
from lbctl.api.errors import PROBLEM_JSON
from lbctl.api.server import Listen, bind_socket
from lbctl.api.ui import CSP
from lbctl.control.controller import Controller
from lbctl.demo.backend import RecordingBackend
from lbctl.paths import ui_dir
from lbctl.state.sessions import hash_session_id
from lbctl.state.tokens import TokenStore

from .agent_helpers import TOKEN, UvicornThread, free_port, make_spec, seed_state, wait_for
from .conftest import BINARIES
from .test_cli_serve import Serve
from .tls_helpers import issue, make_ca

COOKIE = "lbctl_session"
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


@dataclass
class Live:
    """The module's agent: its app, controller, URL and one token per role."""

    app: FastAPI
    controller: Controller
    url: str
    tokens: dict[str, str]
    store: TokenStore

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=60)

    @contextlib.contextmanager
    def login(self, name: str = "admin") -> Iterator[tuple[httpx.Client, httpx.Response]]:
        """A client without a bearer token, logged in as ``name`` (its cookie in the jar),
        and the login's response."""
        with httpx.Client(base_url=self.url, timeout=60) as client:
            resp = client.post("/api/v1/session", json={"token": self.tokens[name]})
            assert resp.status_code == 200, resp.text
            yield client, resp

    @property
    def sessions_file(self) -> Path:
        return self.controller.state.root / "sessions.json"


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    binary = BINARIES["2.8"] or BINARIES["2.6"]
    assert binary is not None, "no HAProxy binary"
    root = Path(tempfile.mkdtemp(prefix="lbss", dir="/tmp"))
    be = RecordingBackend("backend").start()
    state = seed_state(root, make_spec(free_port(), free_port(), [("s1", be.port)]))
    store = TokenStore(state)
    tokens = {"admin": TOKEN}
    for name, role in (("ann", "viewer"), ("ops", "operator")):
        tokens[name] = store.create(name, role)[0]
    controller = Controller(state, haproxy_bin=binary)
    controller.start()
    try:
        app = create_app(controller, token=TOKEN)
        server = UvicornThread(app).start()
        try:
            live = Live(app, controller, server.url, tokens, store)
            with live.admin() as api:
                wait_for(lambda: api.get("/api/v1/health").status_code == 200, 20.0)
            yield live
        finally:
            server.stop()
    finally:
        controller.shutdown()
        be.stop()
        shutil.rmtree(root, ignore_errors=True)


def _attributes(set_cookie: str) -> tuple[str, str, dict[str, str]]:
    """``name=value; A=b; Flag`` → ``(name, value, {"a": "b", "flag": ""})``."""
    first, *rest = [part.strip() for part in set_cookie.split(";")]
    name, _, value = first.partition("=")
    attrs = {}
    for part in rest:
        key, _, val = part.partition("=")
        attrs[key.lower()] = val
    return name, value, attrs


def _problem(resp: httpx.Response, status: int, error: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = resp.json()
    assert body["error"] == error, body
    return body


def _newest_entry(live: Live) -> int:
    with live.admin() as api:
        entries = api.get("/api/v1/config/versions").json()["entries"]
    return int(entries[0]["id"]) if entries else 0


# -- login ----------------------------------------------------------------------------------
def test_login_sets_a_strict_http_only_cookie(live: Live) -> None:
    before = time.time()
    with live.login("ann") as (client, resp):
        name, value, attrs = _attributes(resp.headers["set-cookie"])
        assert name == COOKIE and len(value) >= 40
        assert "httponly" in attrs and attrs["samesite"] == "Strict" and attrs["path"] == "/"
        assert attrs["max-age"] == str(8 * 3600)
        assert "secure" not in attrs  # plain HTTP here; see the TLS test
        assert resp.headers["cache-control"] == "no-store"
        body = resp.json()
        assert set(body) == {"role", "token_name", "csrf_token", "expires_at"}
        assert body["role"] == "viewer" and body["token_name"] == "ann"
        assert len(body["csrf_token"]) == 43 and body["csrf_token"] != value
        expires = datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert before + 8 * 3600 - 2 <= expires.timestamp() <= time.time() + 8 * 3600 + 1
        # A reloaded page recovers the same session, CSRF token included.
        again = client.get("/api/v1/session")
        assert again.status_code == 200 and again.json() == body


def test_a_wrong_token_is_401_and_sets_no_cookie(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=60) as anon:
        resp = anon.post("/api/v1/session", json={"token": "not-a-token"})
        _problem(resp, 401, "AuthError")
        assert "set-cookie" not in resp.headers
        # The hash of a token (what tokens.json holds) is no token either.
        resp = anon.post("/api/v1/session", json={"token": live.store.records()[0].sha256})
        _problem(resp, 401, "AuthError")
        _problem(anon.post("/api/v1/session", json={"token": ""}), 422, "InvalidRequest")
        _problem(anon.post("/api/v1/session", json={"tok": TOKEN}), 422, "InvalidRequest")
        # A form post (not JSON) carries no token FastAPI will read: refused, no session.
        form = anon.post("/api/v1/session", content=f'{{"token": "{TOKEN}"}}',
                         headers={"Content-Type": "text/plain"})
        assert form.status_code == 422 and "set-cookie" not in form.headers
        # No session without a cookie; a bearer token is not a session.
        _problem(anon.get("/api/v1/session"), 401, "AuthError")
        _problem(anon.get("/api/v1/session", headers={"Authorization": f"Bearer {TOKEN}"}),
                 401, "AuthError")


def test_login_from_another_origin_is_refused(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=60) as anon:
        resp = anon.post("/api/v1/session", json={"token": TOKEN},
                         headers={"Origin": "http://evil.example"})
        body = _problem(resp, 403, "CsrfRefused")
        assert "http://evil.example" in str(body["detail"]) and "set-cookie" not in resp.headers
        # The agent's own origin (what a browser sends from /ui/) is fine.
        ok = anon.post("/api/v1/session", json={"token": TOKEN}, headers={"Origin": live.url})
        assert ok.status_code == 200


# -- the cookie as the token ----------------------------------------------------------------
def test_the_cookie_reads_with_the_tokens_role(live: Live) -> None:
    with live.login("ann") as (client, resp):
        csrf = resp.json()["csrf_token"]
        assert client.get("/api/v1/haproxy").status_code == 200
        assert client.get("/api/v1/config").status_code == 200
        assert client.get("/metrics").status_code == 200
        # The role check stays the same: a viewer's cookie on an operator route is a 403,
        # with the CSRF header and origin right.
        resp = client.post("/api/v1/haproxy/reload",
                           headers={"X-CSRF-Token": csrf, "Origin": live.url})
        body = _problem(resp, 403, "Forbidden")
        assert body["required_role"] == "operator"


def test_a_cookie_write_without_the_csrf_header_is_refused(live: Live) -> None:
    with live.login("ops") as (client, _):
        before = _newest_entry(live)
        for headers in ({"Origin": live.url},
                        {"Origin": live.url, "X-CSRF-Token": "wrong"},
                        {"Origin": live.url, "X-CSRF-Token": ""}):
            refused = client.post("/api/v1/haproxy/reload", headers=headers)
            body = _problem(refused, 403, "CsrfRefused")
            assert body["title"] == "Cross-site request refused"
            assert "X-CSRF-Token" in str(body["detail"])
        # Another session's CSRF token does not fit this one.
        with live.login("ops") as (_, other_resp):
            theirs = other_resp.json()["csrf_token"]
        _problem(client.post("/api/v1/haproxy/reload",
                             headers={"Origin": live.url, "X-CSRF-Token": theirs}),
                 403, "CsrfRefused")
        assert _newest_entry(live) == before  # no reload happened


@pytest.mark.parametrize(("headers", "why"), [
    ({"Origin": "http://evil.example"}, "Origin 'http://evil.example'"),
    ({"Origin": "null"}, "Origin 'null'"),
    ({"Origin": "https://127.0.0.1"}, "Origin 'https://127.0.0.1'"),
    ({}, "neither Origin nor Referer"),
    ({"Referer": "http://evil.example/ui/"}, "Referer 'http://evil.example/ui/'"),
])
def test_a_cookie_write_from_another_origin_is_refused(live: Live, headers: dict[str, str],
                                                       why: str) -> None:
    with live.login("ops") as (client, resp):
        before = _newest_entry(live)
        refused = client.post("/api/v1/haproxy/reload",
                              headers={"X-CSRF-Token": resp.json()["csrf_token"], **headers})
        body = _problem(refused, 403, "CsrfRefused")
        assert why in str(body["detail"])
        assert _newest_entry(live) == before


def test_a_same_origin_cookie_write_passes_as_the_tokens_name(live: Live) -> None:
    with live.login("ops") as (client, resp):
        csrf = resp.json()["csrf_token"]
        port = live.url.rsplit(":", 1)[1]
        for headers in ({"Origin": live.url},
                        {"Origin": f"HTTP://127.0.0.1:{port}"},  # scheme and host: any case
                        {"Referer": f"{live.url}/ui/#/servers"}):  # no Origin: the Referer
            done = client.post("/api/v1/haproxy/reload", headers={"X-CSRF-Token": csrf,
                                                                  "X-Lbctl-Message": "ui",
                                                                  **headers})
            assert done.status_code == 200, done.text
        with live.admin() as api:
            newest = api.get("/api/v1/config/versions").json()["entries"][0]
        assert newest["kind"] == "reload" and newest["who"] == "ops"
        assert newest["message"] == "ui"


def test_a_bearer_token_needs_no_csrf_and_wins_over_the_cookie(live: Live) -> None:
    with live.login("ann") as (client, _):  # a viewer's cookie in the jar
        resp = client.post("/api/v1/haproxy/reload",
                           headers={"Authorization": f"Bearer {live.tokens['ops']}"})
        assert resp.status_code == 200, resp.text
        _problem(client.post("/api/v1/haproxy/reload",
                             headers={"Authorization": "Bearer nope"}), 401, "AuthError")


# -- logout, expiry, revocation -------------------------------------------------------------
def test_logout_ends_the_session_on_the_server(live: Live) -> None:
    with live.login("ops") as (client, resp):
        csrf, cookie = resp.json()["csrf_token"], client.cookies[COOKIE]
        # Logout is a write too: without its CSRF header it is refused and changes nothing.
        _problem(client.delete("/api/v1/session", headers={"Origin": live.url}), 403,
                 "CsrfRefused")
        assert client.get("/api/v1/session").status_code == 200
        out = client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf, "Origin": live.url})
        assert out.status_code == 204 and out.content == b""
        name, value, attrs = _attributes(out.headers["set-cookie"])
        assert (name, value, attrs["max-age"]) == (COOKIE, "", "0")
    assert hash_session_id(cookie) not in live.sessions_file.read_text()
    with httpx.Client(base_url=live.url, timeout=60, headers={"Cookie": f"{COOKIE}={cookie}"}
                      ) as replay:
        _problem(replay.get("/api/v1/session"), 401, "AuthError")
        body = _problem(replay.get("/api/v1/haproxy"), 401, "AuthError")
        assert "log in again" in str(body["detail"])
        _problem(replay.delete("/api/v1/session",
                               headers={"X-CSRF-Token": csrf, "Origin": live.url}),
                 401, "AuthError")


def test_an_expired_session_is_refused_and_pruned(live: Live) -> None:
    ttl = 3.0
    app = create_app(live.controller, token=TOKEN, session_ttl_s=ttl)
    server = UvicornThread(app).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            resp = client.post("/api/v1/session", json={"token": live.tokens["ann"]})
            assert resp.status_code == 200
            assert _attributes(resp.headers["set-cookie"])[2]["max-age"] == "3"
            cookie = client.cookies[COOKIE]
            assert hash_session_id(cookie) in live.sessions_file.read_text()
            assert client.get("/api/v1/haproxy").status_code == 200
        # Wait past the expiry (bounded: the lifetime plus a margin), then present the cookie
        # anyway (httpx's jar would drop it: a browser honours Max-Age, a forger need not).
        time.sleep(ttl + 0.5)
        with httpx.Client(base_url=server.url, timeout=60,
                          headers={"Cookie": f"{COOKIE}={cookie}"}) as replay:
            body = _problem(replay.get("/api/v1/haproxy"), 401, "AuthError")
            assert "expired" in str(body["detail"])
            _problem(replay.get("/api/v1/session"), 401, "AuthError")
        assert hash_session_id(cookie) not in live.sessions_file.read_text()
    finally:
        server.stop()


def test_revoking_a_token_ends_its_sessions(live: Live) -> None:
    token = live.store.create("late", "operator")[0]
    live.tokens["late"] = token
    with live.login("late") as (client, _):
        cookie = client.cookies[COOKIE]
        assert client.get("/api/v1/haproxy").status_code == 200
        live.store.revoke("late")
        body = _problem(client.get("/api/v1/haproxy"), 401, "AuthError")
        assert "revoked" in str(body["detail"])
        _problem(client.get("/api/v1/session"), 401, "AuthError")
    assert hash_session_id(cookie) not in live.sessions_file.read_text()
    # A session of a revoked token that is never presented again goes at the next login.
    live.tokens["later"] = live.store.create("later", "viewer")[0]
    with live.login("later") as (client, _):
        cookie = client.cookies[COOKIE]
    assert hash_session_id(cookie) in live.sessions_file.read_text()
    live.store.revoke("later")
    with live.login("ann"):
        assert hash_session_id(cookie) not in live.sessions_file.read_text()


def test_the_session_file_holds_no_session_id_token_or_csrf_token(live: Live) -> None:
    with live.login("ann") as (client, resp):
        cookie, csrf = client.cookies[COOKIE], resp.json()["csrf_token"]
        raw = live.sessions_file.read_text()
        assert live.sessions_file.stat().st_mode & 0o777 == 0o600
        assert cookie not in raw and csrf not in raw
        for token in live.tokens.values():
            assert token not in raw
        assert hash_session_id(cookie) in raw
        assert '"token_name": "ann"' in raw


def test_login_and_logout_are_audited(live: Live, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lbctl.audit")
    with httpx.Client(base_url=live.url, timeout=60) as anon:
        anon.post("/api/v1/session", json={"token": "nope"})
    with live.login("ops") as (client, resp):
        csrf = resp.json()["csrf_token"]
        client.post("/api/v1/haproxy/reload", headers={"X-CSRF-Token": csrf})  # no Origin
        client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf, "Origin": live.url})
    lines = [r.audit for r in caplog.records if r.name == "lbctl.audit"]  # type: ignore[attr-defined]
    seen = [(a["what"], a["who"], a["result"]) for a in lines]
    assert seen == [("login", "anonymous", "unauthorized"), ("login", "ops", "ok"),
                    ("denied", "ops", "forbidden"), ("logout", "ops", "ok")]
    assert lines[2]["error"].startswith("CsrfRefused: ")
    assert lines[2]["target"] == "POST /api/v1/haproxy/reload"


# -- headers and the static UI --------------------------------------------------------------
def test_every_response_carries_the_security_headers(live: Live) -> None:
    with live.login("ann") as (client, _), live.admin() as api:
        responses = [client.get("/ui/"), client.get("/api/v1/session"), api.get("/api/v1/haproxy"),
                     api.get("/healthz"), api.get("/api/v1/nope"), api.get("/docs"),
                     api.get("/ui/no-such-file.js"), api.options("/api/v1/config"),
                     client.post("/api/v1/haproxy/reload")]
    for resp in responses:
        for name, value in HEADERS.items():
            assert resp.headers.get(name) == value, (resp.request.url, name)
    assert "unsafe" not in CSP


def test_the_ui_is_served_at_ui_from_its_directory(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=60) as anon:
        redirect = anon.get("/ui")
        assert redirect.status_code == 307 and redirect.headers["location"] == "/ui/"
        index = anon.get("/ui/")
        assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
        assert index.content == (ui_dir() / "index.html").read_bytes()
        assert index.headers["cache-control"] == "no-cache" and "etag" in index.headers
        _problem(anon.get("/ui/no-such-file.js"), 404, "NotFound")
        assert anon.head("/ui/").status_code == 200


def test_ui_files_from_a_given_directory_with_their_types(live: Live, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "js").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>fixture</title>")
    (site / "js" / "app.js").write_text("export const x = 1;\n")
    (site / "app.css").write_text("body { margin: 0 }\n")
    (tmp_path / "secret.txt").write_text("outside the UI")
    server = UvicornThread(create_app(live.controller, token=TOKEN, ui=site)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as anon:
            assert anon.get("/ui/").text == "<!doctype html><title>fixture</title>"
            js = anon.get("/ui/js/app.js")
            assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
            assert anon.get("/ui/app.css").headers["content-type"].startswith("text/css")
            for path in ("/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/js/../../secret.txt"):
                resp = anon.get(path)
                assert resp.status_code == 404 and "outside" not in resp.text, path
    finally:
        server.stop()


# -- TLS --------------------------------------------------------------------------------------
class _TlsAgent:
    """``app`` served over HTTPS on 127.0.0.1 by uvicorn in a thread (the socket bound first)."""

    def __init__(self, app: FastAPI, cert: Path, key: Path) -> None:
        self.sock = bind_socket(Listen("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                                    ssl_certfile=str(cert), ssl_keyfile=str(key)))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self) -> _TlsAgent:
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), 15.0)
        assert self.server.started
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def test_under_tls_the_cookie_is_secure_and_the_origin_https(live: Live, tmp_path: Path) -> None:
    ca = make_ca()
    cert, key = issue(ca).write(tmp_path, "agent")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert_pem)
    verify = ssl.create_default_context(cafile=str(ca_file))
    with _TlsAgent(create_app(live.controller, token=TOKEN), cert, key) as agent, \
            httpx.Client(base_url=agent.url, verify=verify, timeout=60) as client:
        resp = client.post("/api/v1/session", json={"token": live.tokens["ops"]})
        assert resp.status_code == 200, resp.text
        attrs = _attributes(resp.headers["set-cookie"])[2]
        assert "secure" in attrs and "httponly" in attrs and attrs["samesite"] == "Strict"
        csrf = resp.json()["csrf_token"]
        plain = agent.url.replace("https://", "http://")
        _problem(client.post("/api/v1/haproxy/reload",
                             headers={"X-CSRF-Token": csrf, "Origin": plain}), 403, "CsrfRefused")
        done = client.post("/api/v1/haproxy/reload",
                           headers={"X-CSRF-Token": csrf, "Origin": agent.url})
        assert done.status_code == 200, done.text
        out = client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf, "Origin": agent.url})
        assert out.status_code == 204 and "secure" in _attributes(out.headers["set-cookie"])[2]


# -- lbctl serve ------------------------------------------------------------------------------
def test_serve_session_ttl_sets_the_lifetime(short_dir: Path, tmp_path: Path,
                                             backend: RecordingBackend) -> None:
    """``lbctl serve --session-ttl 120`` (a real process): the cookie lasts 120 s, and the
    served UI is the bundled one, under the CSP."""
    seed_state(short_dir, make_spec(free_port(), free_port(), [("s1", backend.port)]))
    serve = Serve(short_dir, free_port(), tmp_path / "serve.log", "--session-ttl", "120")
    try:
        token = (short_dir / "token").read_text().strip()
        with httpx.Client(base_url=serve.url, timeout=60) as client:
            resp = client.post("/api/v1/session", json={"token": token})
            assert resp.status_code == 200, resp.text
            assert _attributes(resp.headers["set-cookie"])[2]["max-age"] == "120"
            index = client.get("/ui/")
            assert index.status_code == 200 and index.headers["content-security-policy"] == CSP
            assert index.content == (ui_dir() / "index.html").read_bytes()
        assert serve.stop(signal.SIGTERM) == 0
    finally:
        if serve.proc.poll() is None:  # a failure half-way: its HAProxy too, by pid
            for child in psutil.Process(serve.proc.pid).children(recursive=True):
                child.kill()
            serve.kill()


# -- the store on its own -------------------------------------------------------------------
def test_the_store_keeps_at_most_max_sessions_and_prunes_expired(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lbctl.state import sessions
    from lbctl.state.store import StateDir
    from lbctl.state.tokens import Authenticator, Principal, hash_token

    monkeypatch.setattr(sessions, "MAX_SESSIONS", 3)
    now = [1_000_000.0]
    store = sessions.SessionStore(StateDir(tmp_path), ttl_s=60, clock=lambda: now[0])
    auth = Authenticator(TOKEN)
    who = Principal("admin", "admin")
    ids = [store.open(hash_token(TOKEN), who)[0] for _ in range(4)]
    assert len(store.records()) == 3
    assert store.lookup(ids[0], auth) is None  # the oldest went
    found = store.lookup(ids[3], auth)
    assert found is not None and found.principal == who
    assert found.csrf_token == sessions.csrf_token(ids[3]) != sessions.csrf_token(ids[2])
    now[0] += 60  # the lifetime is over: refused, and every expired one removed
    assert store.lookup(ids[3], auth) is None and store.records() == []
    old = store.open(hash_token(TOKEN), who)[0]
    now[0] += 60
    new = store.open(hash_token(TOKEN), who)[0]  # a login prunes the expired ones too
    assert [r.sha256 for r in store.records()] == [hash_session_id(new)]
    assert store.lookup(old, auth) is None
    # Under another bootstrap token the session's token is gone: refused and removed.
    assert store.lookup(new, Authenticator("another-token")) is None
    assert store.records() == []
