"""Runtime operations and health on servers written the way real configs write them (issue 12,
item 6): no ``weight`` word (``weight: null``, HAProxy's weight 1), ``check`` with the server's
own ``inter`` / ``fall`` in the file's order, and a health check that writes no line
(``type: tcp``: HAProxy's connect check).

Real uvicorn, real Controller, the bundled HAProxy 2.8 and Debian's 2.6, two real backends;
``show stat`` is read on the stats socket directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lbctl.demo.backend import RecordingBackend

from .agent_helpers import Agent, free_port, make_spec, running_agent, wait_for
from .test_servers import STATE, _stat


@pytest.fixture
def agent(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    with RecordingBackend("second") as second:
        data = make_spec(free_port(), free_port(), [("s1", backend.port), ("s2", second.port)])
        app = data["backends"][0]
        app["health_check"] = {"type": "tcp", "inter": None, "rise": None, "fall": None}
        for server in app["servers"]:
            server.update(weight=None, inter="300ms", fall=2, order=["check", "fall", "inter"])
        with running_agent(short_dir, data, haproxy_bin) as live:
            yield live


def _server_lines(agent: Agent) -> dict[str, str]:
    return {ln.split()[1]: ln.strip() for ln in agent.state.config_path.read_text().splitlines()
            if ln.strip().startswith("server ")}


def _put(agent: Agent, version: int, body: dict[str, Any]) -> dict[str, Any]:
    resp = agent.api.put(STATE.format("app", "s1"), json=body, headers={"If-Match": f'"{version}"'})
    assert resp.status_code == 200, resp.text
    server: dict[str, Any] = resp.json()["server"]
    return server


def test_drain_and_ready_on_a_server_without_weight(agent: Agent) -> None:
    port = agent.data["backends"][0]["servers"][0]["port"]
    assert _server_lines(agent)["s1"] == f"server s1 127.0.0.1:{port} check fall 2 inter 300ms"
    wait_for(lambda: all(s.status == "UP" for s in _stat(agent).values()), 10)
    assert _stat(agent)["s1"].weight == 1  # HAProxy's default weight

    s1 = _put(agent, 1, {"state": "drain"})
    assert (s1["state"], s1["weight"], s1["runtime_weight"], s1["usable"]) == ("drain", 1, 0, False)
    # `order` names no weight: the drain's `weight 0` follows the ordered options
    assert _server_lines(agent)["s1"] == f"server s1 127.0.0.1:{port} check fall 2 inter 300ms weight 0"
    assert _stat(agent)["s1"].weight == 0

    s1 = _put(agent, 2, {"state": "ready"})
    assert (s1["state"], s1["runtime_weight"], s1["usable"]) == ("ready", 1, True)
    assert _server_lines(agent)["s1"] == f"server s1 127.0.0.1:{port} check fall 2 inter 300ms"
    spec = agent.api.get("/api/v1/config").json()["spec"]
    assert spec["backends"][0]["servers"][0]["weight"] is None
    assert _stat(agent)["s1"].weight == 1


def test_a_connect_check_marks_a_stopped_server_down(agent: Agent,
                                                     backend: RecordingBackend) -> None:
    wait_for(lambda: all(s.status == "UP" for s in _stat(agent).values()), 10)
    backend.stop()
    # fall 2 at inter 300ms: DOWN after about 0.6 s; 10 s leaves room on a loaded machine
    wait_for(lambda: _stat(agent)["s1"].status == "DOWN", 10)
    assert _stat(agent)["s2"].status == "UP"
