"""The fleet on a real etcd with three real agents and HAProxies (``a``, ``b`` on 2.8; ``c`` on 2.6).

The tests share one module fixture (:func:`tests.fleet.conftest.fleet`) and run in file order;
each leaves the fleet whole (three live nodes on one committed version) for the next: a write
through one node runs on all three; a version one node's ``haproxy -c`` refuses runs nowhere;
writes a fleet does not decide are refused on a member; a node that cannot apply a committed
version reports it while the others keep it; two writers with one base (412); ``kill -9`` of an
agent (lease, two-node proposals, R/2, catch-up); etcd stopped and restarted; fleet-wide
smoothing; a ``mode: reject`` rate shared through the peers. The figures are printed (``-s``)
and kept in docs/fleet.md.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from typing import Any

import httpx
from typer.testing import CliRunner

from lbctl.cli.main import app
from lbctl.client import error_from_problem
from lbctl.client.models import FleetStatus
from lbctl.demo.backend import max_in_window
from lbctl.demo.load import run_simultaneous, status_counts
from lbctl.demo.pacing import ON_TIME_S
from lbctl.errors import FleetRefused
from tests.agent_helpers import TOKEN
from tests.fleet.conftest import DEADLINE_S, TTL_S, Fleet, wait_versions
from tests.haproxy_helpers import wait_for

#: A global keyword HAProxy 2.8 knows and 2.6 does not (``haproxy -c`` on both says so).
ONLY_28 = "tune.h2.fe.max-concurrent-streams 100"


def _spec(fleet: Fleet) -> tuple[int, dict[str, Any]]:
    body = fleet.nodes["a"].api("GET", "/api/v1/config").json()
    return int(body["version"]), body["spec"]


def _put(node: Any, spec: dict[str, Any], version: int) -> httpx.Response:
    resp: httpx.Response = node.api("PUT", "/api/v1/config", content=json.dumps(spec),
                                    headers={"If-Match": f'"{version}"',
                                             "Content-Type": "application/json"})
    return resp


def _with_route(spec: dict[str, Any], prefix: str) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    out["frontends"][0]["routes"] = [{"path_prefix": prefix, "backend": "app"}]
    return out


def _cli(fleet: Fleet, *args: str) -> Any:
    return CliRunner().invoke(app, ["--url", fleet.nodes["a"].url, "--token", TOKEN, *args])


def _paces(node: Any, words: str) -> bool:
    return f"lua.lbctl_pace client1 {words} " in node.api("GET", "/api/v1/config/source").text


def test_a_write_through_one_node_runs_on_all_three(fleet: Fleet) -> None:
    version, spec = _spec(fleet)
    started = time.monotonic()
    resp = _put(fleet.nodes["a"], _with_route(spec, "/applied"), version)
    answered = time.monotonic() - started
    assert resp.status_code == 200, resp.text
    assert resp.headers["etag"] == f'"{version + 1}"'
    # Every node serves it within 2 s of the answer, with the same version and bytes.
    spread = wait_versions(fleet, version + 1, {"a", "b", "c"}, 2.0)
    for node in fleet.nodes.values():
        assert "/applied" in node.api("GET", "/api/v1/config/source").text
    status = fleet.nodes["b"].api("GET", "/api/v1/fleet").json()
    FleetStatus.model_validate(status)  # the declared response model
    assert status["committed_version"] == version + 1 and status["summary"]["ok"], status
    assert {n["name"]: n["applied_version"] for n in status["nodes"]} == {
        "a": version + 1, "b": version + 1, "c": version + 1}
    # Each node's own history records the fleet version; the others' say where it came from.
    entries = fleet.nodes["b"].api("GET", "/api/v1/config/versions").json()["entries"]
    made = [e for e in entries if e["version"] == version + 1]
    assert len(made) == 1 and made[0]["who"] == "fleet", made
    assert f"fleet version {version + 1} from node a" in made[0]["message"]
    print(f"\nfleet apply: answered in {answered:.3f} s, all three nodes on the version "
          f"{spread:.3f} s later")
    # lbctl fleet status: the table, --json, exit 0 while every live node is on the version.
    result = _cli(fleet, "fleet", "status")
    assert result.exit_code == 0, result.output
    assert "committed version" in result.output and "3 of 3 live" in result.output
    result = _cli(fleet, "fleet", "status", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["summary"]["live"] == 3


def test_runtime_and_source_writes_are_refused_on_a_member(fleet: Fleet) -> None:
    version, _ = _spec(fleet)
    resp = fleet.nodes["a"].api("PUT", "/api/v1/backends/app/servers/s1/state",
                                json={"state": "drain"}, headers={"If-Match": f'"{version}"'})
    assert resp.status_code == 422 and "fleet member" in resp.json()["detail"], resp.text
    source = fleet.nodes["a"].api("GET", "/api/v1/config/source").text
    resp = fleet.nodes["a"].api("PUT", "/api/v1/config/source", content=source + "\n",
                                headers={"If-Match": f'"{version}"', "Content-Type": "text/plain"})
    assert resp.status_code == 422 and "fleet member" in resp.json()["detail"], resp.text
    assert fleet.nodes["a"].version() == version


def test_a_version_one_node_refuses_is_applied_nowhere(fleet: Fleet) -> None:
    version, spec = _spec(fleet)
    bad = copy.deepcopy(spec)
    bad.setdefault("global", {})["extra"] = [ONLY_28]
    resp = _put(fleet.nodes["a"], bad, version)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["error"] == "FleetRefused" and set(body["nodes"]) == {"c"}, body
    assert "2.6" in body["nodes"]["c"] and "tune.h2.fe.max-concurrent-streams" in body["detail"]
    assert any(d["message"].startswith("node c:") for d in body["diagnostics"])
    err = error_from_problem(422, body)
    assert isinstance(err, FleetRefused) and err.nodes == body["nodes"]
    time.sleep(0.5)  # nobody applies it, not even a moment later
    for node in fleet.nodes.values():
        assert node.version() == version
        assert "max-concurrent-streams" not in node.api("GET", "/api/v1/config/source").text


def test_a_node_that_cannot_apply_reports_failed_and_the_others_keep_it(fleet: Fleet) -> None:
    version, spec = _spec(fleet)
    # A port taken on c's host only: c's local peer listens on global.peers_port (a and b
    # have their own --peer-address). haproxy -c binds nothing, so every node says yes.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = copy.deepcopy(spec)
    taken["global"]["peers_port"] = blocker.getsockname()[1]
    try:
        resp = _put(fleet.nodes["a"], taken, version)
        assert resp.status_code == 200, resp.text
        wait_versions(fleet, version + 1, {"a", "b"}, 2.0)

        def split() -> dict[str, Any] | None:
            body: dict[str, Any] = fleet.nodes["b"].api("GET", "/api/v1/fleet").json()
            return body if body["summary"]["failed"] == ["c"] else None

        status = wait_for(split, 10, interval=0.1)
        c = next(n for n in status["nodes"] if n["name"] == "c")
        assert c["live"] and c["lagging"] and c["applied_version"] == version, c
        assert c["last_result"]["version"] == version + 1 and "ReloadFailed" in c["last_result"]["error"]
        assert status["summary"]["lagging"] == ["c"] and not status["summary"]["ok"]
        assert fleet.nodes["c"].version() == version  # c keeps serving what it had
        result = _cli(fleet, "fleet", "status")
        assert result.exit_code == 1 and "c lags" in result.output, result.output
    finally:
        blocker.close()
    # The next version puts the port back: c applies it and the fleet is whole again.
    resp = _put(fleet.nodes["b"], spec, version + 1)
    assert resp.status_code == 200, resp.text
    wait_versions(fleet, version + 2, {"a", "b", "c"}, 5.0)
    assert _cli(fleet, "fleet", "status").exit_code == 0


def test_two_writers_with_the_same_base_one_wins_one_gets_412(fleet: Fleet) -> None:
    version, spec = _spec(fleet)
    answers: dict[str, httpx.Response] = {}

    def write(name: str) -> None:
        answers[name] = _put(fleet.nodes[name], _with_route(spec, f"/by-{name}"), version)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    codes = sorted(r.status_code for r in answers.values())
    assert codes == [200, 412], {n: r.text for n, r in answers.items()}
    winner = next(n for n, r in answers.items() if r.status_code == 200)
    loser = next(n for n, r in answers.items() if r.status_code == 412)
    assert answers[loser].json()["current_version"] in (version, version + 1)
    wait_versions(fleet, version + 1, {"a", "b", "c"}, 5.0)
    for node in fleet.nodes.values():
        source = node.api("GET", "/api/v1/config/source").text
        assert f"/by-{winner}" in source and f"/by-{loser}" not in source


def test_a_killed_node_stops_counting_and_catches_up_on_restart(fleet: Fleet) -> None:
    victim = fleet.nodes["c"]
    victim.kill9()
    killed = time.monotonic()
    # Its lease expires: within the TTL plus a keep-alive period and some slack.
    wait_for(lambda: fleet.live() == {"a", "b"}, TTL_S + 5, interval=0.1)
    expired = time.monotonic() - killed
    status = fleet.nodes["a"].api("GET", "/api/v1/fleet").json()
    assert [n["live"] for n in status["nodes"] if n["name"] == "c"] == [False]
    # A proposal proceeds with the two live nodes (no wait for c's verdict).
    version, spec = _spec(fleet)
    started = time.monotonic()
    resp = _put(fleet.nodes["b"], _with_route(spec, "/two-nodes"), version)
    assert resp.status_code == 200, resp.text
    assert time.monotonic() - started < DEADLINE_S
    wait_versions(fleet, version + 1, {"a", "b"}, 2.0)
    # The smooth client's rate R = 10 is now split over two nodes: 5 each (queue 100 / 2).
    for name in ("a", "b"):
        wait_for(lambda n=name: _paces(fleet.nodes[n], "5 50"), 5, interval=0.1)
        assert "peer c " not in fleet.nodes[name].api("GET", "/api/v1/config/source").text
    # Restarted, c applies the committed version before it counts as live again.
    restarted = time.monotonic()
    victim.start()
    assert victim.version() == version + 1
    assert "/two-nodes" in victim.api("GET", "/api/v1/config/source").text
    wait_for(lambda: fleet.live() == {"a", "b", "c"}, 10, interval=0.1)
    back = time.monotonic() - restarted
    print(f"\nkill -9: lease expired after {expired:.2f} s (TTL {TTL_S} s); restarted node "
          f"caught up and live again after {back:.2f} s")


def test_etcd_down_nodes_keep_serving_writes_503_and_resume(fleet: Fleet) -> None:
    version, spec = _spec(fleet)
    fleet.etcd.stop()
    stopped = time.monotonic()
    try:
        # Traffic keeps flowing through every HAProxy (the shared port reaches all three).
        codes = [httpx.get(f"http://127.0.0.1:{fleet.front}/x", timeout=5).status_code
                 for _ in range(30)]
        assert codes == [200] * 30
        resp = _put(fleet.nodes["a"], _with_route(spec, "/while-down"), version)
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"] == "FleetUnavailable" and "etcd" in resp.json()["detail"]

        def degraded() -> bool:
            report = fleet.nodes["b"].api("GET", "/api/v1/health").json()
            return any(w.startswith("fleet-degraded") for w in report.get("warnings", []))

        wait_for(degraded, 10, interval=0.1)
        status = fleet.nodes["b"].api("GET", "/api/v1/fleet").json()
        FleetStatus.model_validate(status)
        assert status["etcd"]["reachable"] is False and status["summary"]["ok"] is False
        assert {n["name"] for n in status["nodes"]} == {"a", "b", "c"}  # the last view
        result = _cli(fleet, "fleet", "status")
        assert result.exit_code == 1 and "etcd unreachable" in result.output, result.output
        for node in fleet.nodes.values():
            assert node.version() == version
    finally:
        fleet.etcd.start()
    restarted = time.monotonic()
    resp = wait_for(lambda: (r := _put(fleet.nodes["a"], _with_route(spec, "/after"), version))
                    .status_code == 200 and r, 20, interval=0.2)
    recovered = time.monotonic() - restarted
    assert resp.headers["etag"] == f'"{version + 1}"'
    wait_versions(fleet, version + 1, {"a", "b", "c"}, 5.0)
    wait_for(lambda: fleet.live() == {"a", "b", "c"}, 10, interval=0.1)
    print(f"\netcd down {restarted - stopped:.2f} s; first write through {recovered:.2f} s "
          "after etcd was back")


def test_a_smooth_clients_rate_holds_fleet_wide(fleet: Fleet) -> None:
    rate, burst, n = 10, 100, 3
    wait_for(lambda: fleet.live() == {"a", "b", "c"}, 10, interval=0.1)
    for node in fleet.nodes.values():  # R / N = 3.33333 a node, queue 100 / N
        wait_for(lambda nd=node: _paces(nd, "3.33333 33.3333"), 5, interval=0.1)
    before = _rejected(fleet)
    fleet.backend.clear()
    out = run_simultaneous(f"http://127.0.0.1:{fleet.front}",
                           {"client1": ("/client1", 150), "client2": ("/client2", 100)},
                           timeout_s=40)
    arrivals = fleet.backend.snapshot("/client1")
    c1 = [a.t for a in arrivals]
    worst = max_in_window(c1)
    codes1, codes2 = status_counts(out["client1"]), status_counts(out["client2"])
    assert set(codes1) <= {200, 429} and sum(codes1.values()) == 150, codes1
    assert codes1[200] == len(c1)
    # The schedule: N pacers, each at most floor(R/N) + 1 slots in any 1 s window, so at most
    # R + N in all (docs/fleet.md); exact, whatever the machine's load.
    slots = [a.slot for a in arrivals if a.slot is not None]
    assert len(slots) == len(c1)  # every paced request carries its slot
    assert max_in_window(slots) <= rate + n, max_in_window(slots)
    # What the backend saw: the target 1.1 x R + N in any sliding second. A request HAProxy
    # could not release on time (the OS did not run it: ON_TIME_S; a loaded 2-core machine
    # running three HAProxies, three agents and etcd) may add one to a window.
    late = sum(1 for a in arrivals if a.slot is not None and a.t - a.slot > ON_TIME_S)
    assert worst <= 1.1 * rate + n + late, (worst, late, codes1)
    # The fleet's queue is R/N x (burst/N)/(R/N) = burst/R seconds deep on every node, as on one
    # node: about burst + N requests served of a simultaneous burst, the rest 429.
    assert burst - 10 <= codes1[200] <= burst + 2 * n, codes1
    after = _rejected(fleet)
    # The 429 count fleet-wide is what the clients got. The nodes' shared stick-table entry
    # does not add up simultaneous increments on several nodes (peers replicate an entry's
    # values, the last update wins: docs/fleet.md), so its gpc0 is no count of them here.
    counted = {name: after[name] - before[name] for name in after}
    # client2 is not paced: all 200 at once.
    assert codes2 == {200: 100}, codes2
    assert max(r.latency_s for r in out["client2"]) < 2.0
    print(f"\nfleet smoothing (R={rate}/s, N={n}): max {worst} client1 arrivals in any 1 s at "
          f"the backend (slots: {max_in_window(slots)}, late: {late}); client1 {codes1[200]} x 200, {codes1[429]} x 429; client2 slowest "
          f"{max(r.latency_s for r in out['client2']):.3f} s; shared 429 counter by node {counted}")


def _rejected(fleet: Fleet, client: str = "client1") -> dict[str, int]:
    out = {}
    for name, node in fleet.nodes.items():
        report = node.api("GET", "/api/v1/clients").json()
        out[name] = sum(c["rejected_total"] for c in report["clients"] if c["client"] == client)
    return out


def test_a_reject_clients_rate_is_counted_fleet_wide(fleet: Fleet) -> None:
    rate, n, seconds, every = 5, 3, 3.0, 0.05
    for name, node in fleet.nodes.items():  # every node lists the two others as peers
        source = node.api("GET", "/api/v1/config/source").text
        for other in fleet.nodes.values():
            assert f"peer {other.name} {other.peer}" in source, (name, other)
    before = _rejected(fleet, "client3")
    codes: list[int] = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:  # 20 requests/s, each on a new connection
        codes.append(httpx.get(f"http://127.0.0.1:{fleet.front}/client3/x", timeout=5).status_code)
        time.sleep(every)
    time.sleep(0.5)
    after = _rejected(fleet, "client3")
    passed, refused = codes.count(200), codes.count(429)
    assert passed + refused == len(codes), codes
    # Fleet-wide: the first R of the first second pass (a few more while updates travel
    # between the nodes), then the shared rate stays over R. Per node it would be N x R.
    assert 1 <= passed <= rate + 2 * n, (passed, refused)
    # Each node's counter is the fleet's: requests 50 ms or more apart are replicated
    # before the next arrives (on a loaded machine an update may now and then be lost).
    for name in after:
        assert refused - 2 * n <= after[name] - before[name] <= refused, (name, before, after)
    print(f"\nreject R={rate}/s over {seconds:g} s at {len(codes) / seconds:.0f}/s: {passed} x 200, "
          f"{refused} x 429; 429 counters by node: "
          f"{ {k: after[k] - before[k] for k in after} }")
