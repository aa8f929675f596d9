"""The one error → HTTP mapping and its inverse in the CLI client, for every error class.

Most of these errors (a reload HAProxy refuses, a full disk, a runtime API timeout) cannot be
produced on demand against a real HAProxy, so a tiny app raises each class and the real
handlers answer; the live-agent paths are in ``test_api.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from lbctl import errors as E
from lbctl.api.errors import PROBLEM_JSON, install_error_handlers
from lbctl.client import AgentClient, error_from_problem, resolve_token

from .agent_helpers import UvicornThread, free_port

INSTANCES: list[E.LbctlError] = [
    E.SpecError([E.FieldError("frontends[0].name", "must not contain '#'"),
                 E.FieldError("backends[1].servers[0].port", "too big")]),
    E.PolicyRefused([E.FieldError("global.extra[0]", "lua-load runs code (allow: --allow-directive "
                                                      "lua-load)")], ["lua-load"]),
    E.ConfigRejected([E.Diagnostic("alert", "unknown keyword 'x'", 3, "x y", "global")], "out"),
    E.ParseError("unterminated quote", 3, 17),
    E.RenderError("template error"),
    E.PreconditionRequired("send If-Match"),
    E.VersionConflict(1, 2),
    E.NotFound("no backend b"),
    E.NameTaken("a token named 'ci' exists: revoke it first"),
    E.AuthError("wrong bearer token"),
    E.Forbidden("read-only token"),
    E.CsrfRefused("X-CSRF-Token is missing"),
    E.HAProxyError("it broke", "stderr text"),
    E.BinaryNotFound("no haproxy"),
    E.HAProxyUnavailable("not running"),
    E.ProcessError("start failed", "exit 1"),
    E.ReloadFailed("refused", "Success=0"),
    E.RuntimeAPIError("timeout"),
    E.CommandRefused("';' refused"),
    E.StoreError("disk full"),
    E.AgentError("cannot reach"),
    E.InvalidRequest([E.FieldError("query.before", "Input should be a valid integer")]),
    E.UnreadableBody([E.FieldError("", "the request body is not UTF-8 text")]),
    E.UnsupportedOnTarget.field("global.prometheus_exporter", "1.8.0", "HAProxy 2.0 or newer "
                                "built with the Prometheus exporter", "leave it unset"),
    E.ConfirmationRequired(["backend app is in use and would lose all its servers (s1)"]),
    E.Busy("4 pings already in flight"),
    E.FleetRefused([E.Diagnostic("alert", "node c: unknown keyword 'tune.h2.fe.x'", 5, "x", None)],
                   "", {"c": "haproxy -c rejected the config (line 5)"}),
    E.FleetUnavailable("etcd at http://127.0.0.1:2379 is unreachable", "http://127.0.0.1:2379"),
    E.FileUnreadable("cannot read live.cfg: No such file or directory"),
    E.ListenError("cannot listen on 127.0.0.1:9900: the port is taken by pid 42 (lbctl)"),
]


def test_every_error_class_is_covered() -> None:
    classes = {cls for _, cls in inspect.getmembers(E, inspect.isclass)
               if issubclass(cls, E.LbctlError) and cls is not E.LbctlError}
    assert classes == {type(err) for err in INSTANCES}


@pytest.fixture(scope="module")
def raiser() -> Iterator[httpx.Client]:
    """A real uvicorn serving a tiny app whose routes raise each error class."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{index}")
    def _raise(index: int) -> None:
        raise INSTANCES[index]

    @app.get("/bug")
    def _bug() -> None:
        raise RuntimeError("secret internals")

    server = UvicornThread(app).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            yield client
    finally:
        server.stop()


@pytest.mark.parametrize("index", range(len(INSTANCES)), ids=lambda i: type(INSTANCES[i]).__name__)
def test_problem_json_and_back(raiser: httpx.Client, index: int) -> None:
    err = INSTANCES[index]
    cls = type(err)
    resp = raiser.get(f"/raise/{index}")
    assert resp.status_code == cls.http_status
    assert resp.headers["content-type"] == PROBLEM_JSON
    body = resp.json()
    assert body["status"] == cls.http_status and body["title"] == cls.title
    assert body["detail"] == str(err) and body["error"] == cls.__name__
    assert body["type"].startswith("urn:lbctl:problem:")
    for key, value in err.details().items():
        assert body[key] == value
    assert ("www-authenticate" in resp.headers) == (cls.http_status == 401)
    # The CLI client rebuilds the same class, message and details.
    back = error_from_problem(resp.status_code, body)
    assert type(back) is cls and str(back) == str(err) and back.details() == err.details()
    assert back.exit_code == cls.exit_code


def test_unnamed_problems_map_by_status() -> None:
    assert type(error_from_problem(412, {"detail": "x"})) is E.VersionConflict
    assert type(error_from_problem(422, {"detail": "x", "diagnostics": []})) is E.ConfigRejected
    assert type(error_from_problem(422, {"detail": "x"})) is E.SpecError
    assert type(error_from_problem(422, {"detail": "x", "line": 1, "column": 2})) is E.ParseError
    assert type(error_from_problem(500, {"detail": "x", "error": "Nonsense"})) is E.AgentError
    # A name that does not match the status is not trusted.
    assert type(error_from_problem(401, {"error": "StoreError"})) is E.AuthError


def test_unexpected_exception_is_a_500_problem_without_internals(raiser: httpx.Client) -> None:
    resp = raiser.get("/bug")
    assert resp.status_code == 500 and resp.headers["content-type"] == PROBLEM_JSON
    assert "secret" not in resp.text
    assert resp.headers["connection"] == "close"  # the server closes it after a bug


def test_validation_error_names_fields(raiser: httpx.Client) -> None:
    body = raiser.get("/raise/notanumber").json()
    assert body["status"] == 422 and body["error"] == "InvalidRequest"  # not "Invalid spec"
    assert body["title"] == "Invalid request" and body["errors"][0]["loc"] == "path.index"


def test_client_connection_error_is_agent_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with AgentClient(url, "t", timeout=2) as client, pytest.raises(E.AgentError) as info:
        client.status()
    assert url in str(info.value) and info.value.exit_code == 8


def test_token_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LBCTL_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("LBCTL_TOKEN", raising=False)
    assert resolve_token() is None
    (tmp_path / "token").write_text("from-file\n")
    assert resolve_token() == "from-file"
    monkeypatch.setenv("LBCTL_TOKEN", "from-env")
    assert resolve_token() == "from-env"
    assert resolve_token("explicit") == "explicit"
    assert not (tmp_path / "other").exists()
