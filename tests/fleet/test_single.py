"""Without ``--fleet`` nothing changes: ``GET /api/v1/fleet`` says ``single``, ``lbctl fleet
status`` says so and exits 0; the fleet options are checked before anything starts; an etcd that
does not answer is :class:`FleetUnavailable` naming it. Also the single-node apply latency the
fleet's is compared with (docs/fleet.md)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lbctl.cli.main import app
from lbctl.client.models import FleetStatus
from lbctl.demo.backend import RecordingBackend
from lbctl.errors import FleetUnavailable
from lbctl.fleet.store import FleetStore
from tests.agent_helpers import TOKEN, Agent, free_port, running_agent
from tests.conftest import BINARIES
from tests.fleet.conftest import fleet_spec


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    """One single-node agent (bundled 2.8) over :func:`fleet_spec`."""
    with running_agent(short_dir, fleet_spec(free_port(), backend.port), BINARIES["2.8"]) as a:
        yield a


def test_single_node_fleet_view_and_apply_latency(agent: Agent) -> None:
    body = agent.api.get("/api/v1/fleet").json()
    FleetStatus.model_validate(body)  # the declared response model
    assert body["mode"] == "single" and body["nodes"] == [] and body["summary"]["ok"]
    result = CliRunner().invoke(app, ["--url", agent.url, "--token", TOKEN, "fleet", "status"])
    assert result.exit_code == 0 and "single node" in result.output, result.output
    version = agent.api.get("/api/v1/config").json()["version"]
    spec = copy.deepcopy(agent.data)
    spec["frontends"][0]["routes"] = [{"path_prefix": "/applied", "backend": "app"}]
    started = time.monotonic()
    resp = agent.api.put("/api/v1/config", content=json.dumps(spec),
                         headers={"If-Match": f'"{version}"', "Content-Type": "application/json"})
    took = time.monotonic() - started
    assert resp.status_code == 200, resp.text
    print(f"\nsingle-node apply: answered in {took:.3f} s")


def test_fleet_options_are_checked_before_start(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--state-dir", str(tmp_path), "--node", "a"])
    assert result.exit_code == 2 and "--fleet" in result.output
    result = runner.invoke(app, ["serve", "--state-dir", str(tmp_path), "--fleet",
                                 "http://127.0.0.1:2379", "--node", "bad/name"])
    assert result.exit_code == 2 and "--node" in result.output
    assert not (tmp_path / "token").exists()  # nothing was started or created


def test_an_etcd_that_does_not_answer_is_fleet_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(FleetUnavailable) as info:
        FleetStore(url, "default", timeout=1).committed()
    assert url in str(info.value) and info.value.details() == {"etcd": url}
    assert info.value.http_status == 503 and info.value.exit_code == 13
