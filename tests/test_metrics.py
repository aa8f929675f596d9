"""Metrics (issue 5, item 4): the agent's ``/metrics`` (token-protected, its own registry) and
HAProxy's own Prometheus exporter turned on by ``global.prometheus_exporter``.

Real uvicorn, real Controller, real HAProxy, a real backend; the exposition text is parsed
with prometheus-client's own parser.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lbctl.demo.backend import RecordingBackend

from .agent_helpers import Agent, free_port, make_spec, running_agent
from .test_api import _bundled, _problem


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def scrape(agent: Agent) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` as ``{(sample name, sorted labels): value}``."""
    resp = agent.api.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_count_applies_reloads_and_validation_errors(agent: Agent) -> None:
    with httpx.Client(base_url=agent.url) as anon:
        assert _problem(anon.get("/metrics"), 401)["error"] == "AuthError"
    m = scrape(agent)
    assert value(m, "lbctl_haproxy_up") == 1 and value(m, "lbctl_spec_version") == 1
    assert all(value(m, "lbctl_applies_total", result=r) == 0
               for r in ("changed", "unchanged", "invalid", "conflict", "failed"))
    assert value(m, "lbctl_apply_duration_seconds_count") == 0
    assert value(m, "lbctl_haproxy_restarts_total", result="ok") == 0
    assert value(m, "lbctl_haproxy_restarts_total", result="failed") == 0

    data = copy.deepcopy(agent.data)
    data["backends"][0]["servers"][0]["weight"] = 5
    assert agent.api.put("/api/v1/config", json=data, headers={"If-Match": "1"}).status_code == 200
    bad_field = copy.deepcopy(data)
    bad_field["backends"][0]["servers"][0]["port"] = 0
    _problem(agent.api.put("/api/v1/config", json=bad_field, headers={"If-Match": "2"}), 422)
    _problem(agent.api.post("/api/v1/config/validate", json=bad_field), 422)
    rejected = copy.deepcopy(data)
    rejected["backends"][0]["servers"][0]["address"] = "nonexistent.invalid"
    _problem(agent.api.put("/api/v1/config", json=rejected, headers={"If-Match": "2"}), 422)
    _problem(agent.api.put("/api/v1/config", json=data, headers={"If-Match": "1"}), 412)
    assert agent.api.post("/api/v1/haproxy/reload").status_code == 200

    m = scrape(agent)
    assert value(m, "lbctl_applies_total", result="changed") == 1
    assert value(m, "lbctl_applies_total", result="invalid") == 2  # a field error, haproxy -c
    assert value(m, "lbctl_applies_total", result="conflict") == 1
    assert value(m, "lbctl_applies_total", result="failed") == 0
    assert value(m, "lbctl_validation_errors_total", stage="spec") == 2  # PUT and dry run
    assert value(m, "lbctl_validation_errors_total", stage="haproxy") == 1
    assert value(m, "lbctl_reloads_total", result="ok") == 2  # the apply and the POST
    assert value(m, "lbctl_reloads_total", result="failed") == 0
    # Timed: the applies that reached the controller (changed, rejected by haproxy -c, stale).
    assert value(m, "lbctl_apply_duration_seconds_count") == 3
    assert 0 < value(m, "lbctl_apply_duration_seconds_sum") < 10
    assert value(m, "lbctl_apply_duration_seconds_bucket", le="+Inf") == 3
    assert value(m, "lbctl_spec_version") == 2


def test_haproxy_exporter_frontend(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> None:
    exporter = free_port()
    data: dict[str, Any] = make_spec(free_port(), free_port(), [("s1", backend.port)])
    data["global"]["prometheus_exporter"] = {"bind": f"127.0.0.1:{exporter}"}
    with running_agent(short_dir, data, haproxy_bin) as agent:
        assert agent.through_haproxy().status_code == 200
        resp = httpx.get(f"http://127.0.0.1:{exporter}/metrics", timeout=10)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
        names = {f.name for f in text_string_to_metric_families(resp.text)}
        assert {"haproxy_process_start_time_seconds", "haproxy_frontend_http_requests",
                "haproxy_server_status"} <= names, sorted(names)[:20]
        web = [s for f in text_string_to_metric_families(resp.text)
               if f.name == "haproxy_frontend_http_requests" for s in f.samples
               if s.labels.get("proxy") == "web"]
        assert web and web[0].value >= 1
        assert "frontend lbctl_prometheus" in agent.state.config_path.read_text()
