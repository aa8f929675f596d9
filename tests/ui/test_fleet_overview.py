"""The overview page's fleet card in Chromium, against a real etcd and two real
``lbctl serve --fleet`` agents (bundled HAProxy 2.8), and against a single agent.

Fleet: signed in on node ``a``'s UI, both nodes are live on the committed version; a version
node ``b`` cannot apply (its local peer's port taken on its host only) marks ``b`` lagging
with a failed last apply; ``kill -9`` of ``b``'s agent turns it "not live" once its lease
expires, without reloading the page. Single agent: the card says single node, no table.
"""

from __future__ import annotations

import copy
import json
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from lbctl.demo.backend import RecordingBackend
from lbctl.demo.load import free_port
from tests.agent_helpers import Agent, seed_state
from tests.fleet.conftest import TTL_S, Etcd, Node, fleet_spec
from tests.haproxy_helpers import wait_for

from .conftest import WAIT_MS, Ui, _bundled

#: The overview refreshes every 3 s (ui/js/pages/overview.js EVERY_MS).
REFRESH_S = 3


@pytest.fixture
def two_nodes(backend: RecordingBackend) -> Iterator[dict[str, Node]]:
    """Etcd and nodes ``a`` (own ``--peer-address``) and ``b`` (its local peer on the spec's
    ``global.peers_port``), both on the bundled HAProxy 2.8, live; all stopped by pid after."""
    root = Path(tempfile.mkdtemp(prefix="lbu", dir="/tmp"))
    etcd = Etcd(root)
    nodes: dict[str, Node] = {}
    try:
        etcd.start()
        spec = fleet_spec(free_port(), backend.port, free_port())
        for name in ("a", "b"):
            seed_state(root / name, spec)
            nodes[name] = Node(name, root, _bundled(), etcd, spec["global"]["peers_port"],
                               free_port() if name == "a" else None)
        for node in nodes.values():
            node.start()
        wait_for(lambda: _live(nodes["a"]) == {"a", "b"}, 20, interval=0.1)
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()
        etcd.stop()
        shutil.rmtree(root, ignore_errors=True)


def _live(node: Node) -> set[str]:
    body = node.api("GET", "/api/v1/fleet").json()
    return {n["name"] for n in body["nodes"] if n["live"]}


def _cell(ui: Ui, node: str, col: str) -> Any:
    return ui.page.locator(f"#fleet-table tr[data-node='{node}'] td[data-col='{col}']")


def test_fleet_card_shows_live_nodes_a_lagging_one_and_a_killed_one(
        two_nodes: dict[str, Node], ui_factory: Any) -> None:
    a, b = two_nodes["a"], two_nodes["b"]
    version = a.version()
    ui = ui_factory(a.url)
    ui.login()
    card = ui.page.locator("#fleet[data-mode='fleet']")
    card.wait_for()
    # A node reports its health as it changes: its server's first check may still be due.
    expect(ui.page.locator("#fleet-summary")).to_have_text("2 of 2 live · OK", timeout=WAIT_MS)
    for name in ("a", "b"):
        expect(_cell(ui, name, "live")).to_have_text("yes")
        expect(_cell(ui, name, "applied")).to_have_text(str(version))
        expect(_cell(ui, name, "health")).to_have_text("healthy")
    expect(_cell(ui, "a", "name")).to_have_text("a (this node)")
    # Seeded locally, nothing written through the fleet yet: no committed version in etcd.
    expect(ui.page.locator("#fleet-committed")).to_have_text("none yet (nothing written through the fleet)")
    ui.shot("fleet-two-live")

    # A version b cannot apply: its local peer's port is taken on its host only (haproxy -c
    # binds nothing, so both nodes vote yes); a runs it, b reports failed and lags.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    try:
        spec = copy.deepcopy(a.api("GET", "/api/v1/config").json()["spec"])
        spec["global"]["peers_port"] = blocker.getsockname()[1]
        resp = a.api("PUT", "/api/v1/config", content=json.dumps(spec),
                     headers={"If-Match": f'"{version}"', "Content-Type": "application/json"})
        assert resp.status_code == 200, resp.text
        row = ui.page.locator("#fleet-table tr[data-node='b']")
        expect(row).to_have_class("lagging failed", timeout=WAIT_MS)
        expect(_cell(ui, "b", "applied")).to_have_text(f"{version} lagging: committed {version + 1}")
        expect(_cell(ui, "b", "last_result")).to_contain_text("failed (v")
        expect(_cell(ui, "a", "applied")).to_have_text(str(version + 1))
        expect(ui.page.locator("#fleet-committed")).to_have_text(str(version + 1))
        expect(ui.page.locator("#fleet-summary")).to_contain_text("NOT OK (lagging: b")
        ui.shot("fleet-b-lagging")
    finally:
        blocker.close()

    # kill -9 of b's agent (by its pid): the page, left open, shows it not live once its
    # lease expires: within the TTL, a keep-alive period and slack (as tests/fleet), plus
    # two refreshes of the page.
    bound_s = TTL_S + 5 + 2 * REFRESH_S
    b.kill9()
    killed = time.monotonic()
    expect(_cell(ui, "b", "live")).to_have_text("no (lease expired)", timeout=bound_s * 1000)
    seen = time.monotonic() - killed
    expect(ui.page.locator("#fleet-table tr[data-node='b']")).to_have_class("down")
    expect(_cell(ui, "b", "health")).to_have_text("healthy (last report)")
    expect(_cell(ui, "a", "live")).to_have_text("yes")
    expect(ui.page.locator("#fleet-summary")).to_have_text("1 of 2 live · OK")
    ui.shot("fleet-b-killed")
    print(f"\nUI: b shown not live {seen:.2f} s after kill -9 (TTL {TTL_S} s, bound {bound_s} s)")
    assert ui.csp_violations() == [] and ui.errors == []


def test_fleet_card_on_a_single_agent_says_single_node(agent: Agent, ui_factory: Any) -> None:
    ui = ui_factory(agent.url)
    ui.login()
    card = ui.page.locator("#fleet[data-mode='single']")
    card.wait_for()
    assert "Single node" in card.inner_text()
    assert ui.page.locator("#fleet-table").count() == 0
    ui.shot("fleet-single")
    assert ui.csp_violations() == [] and ui.errors == []
