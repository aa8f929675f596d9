"""Writes that fail at reload, and writes that race: real HAProxy (2.8 and 2.6), real sockets.

- A config ``haproxy -c`` accepts but HAProxy cannot load (a bind on a port the test holds):
  409 with HAProxy's own words, old workers serve, live file byte-identical, version unchanged,
  the failed attempt in the history.
- 20 simultaneous PUTs naming the same version: exactly one wins.
- 50 writes within about a second, each naming the newest version its client knows: every
  answer is its own truthful outcome, each 200's version is in the history with its reload,
  the final config is the last accepted write, one reload per accepted write, never two at
  once (the figures are printed: ``pytest -s``).
"""

from __future__ import annotations

import copy
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lbctl.demo.backend import RecordingBackend
from lbctl.haproxy.binary import detect
from lbctl.haproxy.validate import check_file
from lbctl.spec import validate_spec
from lbctl.state.history import sha256_text

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent


@pytest.fixture
def agent_any(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    """A live agent on each HAProxy binary (2.8 bundled, 2.6 Debian)."""
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, haproxy_bin) as agent:
        yield agent


def weighted(data: dict[str, Any], weight: int) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    changed["backends"][0]["servers"][0]["weight"] = weight
    return changed


def _workers(agent: Agent) -> list[int]:
    return list(agent.api.get("/api/v1/haproxy").json()["haproxy"]["worker_pids"])


def _reloads(agent: Agent) -> int:
    return int(agent.api.get("/api/v1/haproxy").json()["haproxy"]["reload_count"])


def test_reload_refused_for_a_busy_port(agent_any: Agent, haproxy_bin: str) -> None:
    agent = agent_any
    live, lkg = agent.state.config_path.read_bytes(), agent.state.lkg_path.read_bytes()
    workers = _workers(agent)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        data = copy.deepcopy(agent.data)
        data["frontends"][0]["bind"].append(f"127.0.0.1:{busy}")
        resp = agent.api.put("/api/v1/config", json=data, headers={"If-Match": '"1"'})
        assert resp.status_code == 409, resp.text
        body = resp.json()
        assert body["error"] == "ReloadFailed" and "old workers keep serving" in body["detail"]
        if detect(haproxy_bin).version.at_least(2, 7):  # the new process's own alerts
            assert "cannot bind socket" in body["output"] and str(busy) in body["output"]
            assert "Address already in use" in body["output"]
        else:  # 2.6: the master CLI says only that the reload failed
            assert "failed reload" in body["output"]
        # Nothing changed: the same workers serve, the same bytes, the same version.
        assert agent.through_haproxy().status_code == 200
        assert _workers(agent) == workers
        assert agent.state.config_path.read_bytes() == live
        assert agent.state.lkg_path.read_bytes() == lkg
        assert agent.api.get("/api/v1/config").headers["etag"] == '"1"'
        [attempt, initial] = agent.api.get("/api/v1/config/versions").json()["entries"]
        assert (attempt["kind"], attempt["result"], attempt["version"]) == ("apply", "failed", None)
        assert attempt["base_version"] == 1 and attempt["error"].startswith("ReloadFailed: ")
        assert attempt["reload"]["ok"] is False and attempt["reload"]["output"] == body["output"]
        failed = agent.api.get(f"/api/v1/config/entries/{attempt['id']}").json()
        assert f"bind 127.0.0.1:{busy}" in failed["config"]
        assert initial["version"] == 1
    # The port is free again: the same spec applies, and serves on it.
    resp = agent.api.put("/api/v1/config", json=data, headers={"If-Match": '"1"'})
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == 2
    assert httpx.get(f"http://127.0.0.1:{busy}/x", timeout=10).status_code == 200


def test_same_if_match_from_20_clients_one_wins(agent_any: Agent) -> None:
    agent = agent_any
    start = threading.Barrier(20)
    answers: dict[int, httpx.Response] = {}

    def put(i: int) -> None:
        with httpx.Client(base_url=agent.url, headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=60) as client:
            start.wait()
            answers[i] = client.put("/api/v1/config", json=weighted(agent.data, 10 + i),
                                    headers={"If-Match": '"1"'})

    threads = [threading.Thread(target=put, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in answers.values())
    assert statuses == [200] + [412] * 19, statuses
    [winner] = [i for i, r in answers.items() if r.status_code == 200]
    assert all(r.json()["current_version"] == 2 for r in answers.values() if r.status_code == 412)
    versions = [e["version"] for e in agent.api.get("/api/v1/config/versions").json()["entries"]]
    assert versions == [2, 1]  # one new version, no failed attempts (412s attempt nothing)
    v2 = agent.api.get("/api/v1/config/versions/2").json()
    assert v2["spec"] == validate_spec(weighted(agent.data, 10 + winner)).to_data()
    assert f"weight {10 + winner} " in agent.state.config_path.read_text()
    check_file(detect(agent.controller.haproxy_bin), agent.state.config_path)  # raises if not
    assert agent.through_haproxy().status_code == 200


def test_burst_of_50_writes(agent_any: Agent) -> None:
    """50 writers, one every 20 ms, each with the newest version any answer has shown so far
    (what a GUI or a retrying client knows)."""
    agent = agent_any
    reloads_before = _reloads(agent)
    newest = {"version": 1}
    lock = threading.Lock()
    answers: dict[int, httpx.Response] = {}
    sent: dict[int, int] = {}  # the If-Match each writer sent
    clients = [httpx.Client(base_url=agent.url, headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=60) for _ in range(50)]
    t0 = time.monotonic() + 0.2

    def write(i: int, client: httpx.Client) -> None:
        time.sleep(max(0.0, t0 + i * 0.02 - time.monotonic()))
        with lock:
            base = sent[i] = newest["version"]
        resp = client.put("/api/v1/config", json=weighted(agent.data, 100 + i),
                          headers={"If-Match": f'"{base}"'})
        answers[i] = resp
        seen = resp.json()["version" if resp.status_code == 200 else "current_version"]
        with lock:
            newest["version"] = max(newest["version"], seen)

    threads = [threading.Thread(target=write, args=(i, clients[i])) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    for c in clients:
        c.close()

    statuses = {i: r.status_code for i, r in answers.items()}
    assert set(statuses.values()) <= {200, 412}, statuses  # no 5xx, nothing else
    ok = {i: r.json() for i, r in answers.items() if r.status_code == 200}
    versions = sorted(body["version"] for body in ok.values())
    assert versions == list(range(2, 2 + len(ok)))  # one version per accepted write, no holes
    reloads = _reloads(agent) - reloads_before
    longest = max(body["duration_s"] for body in ok.values())
    print(f"\nHAProxy {agent.controller.status()['binary']['version']}: 50 writes in "
          f"{elapsed:.2f} s: {len(ok)} × 200, {len(answers) - len(ok)} × 412; {reloads} reloads; "
          f"longest accepted apply {longest * 1000:.0f} ms")
    assert reloads == len(ok) <= 50
    # Every 200 is in the history as its own version, with its own spec and its reload.
    entries = {e["version"]: e for e in
               agent.api.get("/api/v1/config/versions", params={"limit": 100}).json()["entries"]}
    for i, body in ok.items():
        entry = agent.api.get(f"/api/v1/config/versions/{body['version']}").json()
        assert entry["spec"] == validate_spec(weighted(agent.data, 100 + i)).to_data()
        assert entry["reload"]["ok"] and entry["result"] == "ok"
        assert body["reload"]["ok"]
    assert None not in entries  # a 412 attempts nothing: no failed entries
    # No lost update: each accepted write was based on the version just before its own (its
    # If-Match was still current under the lock), and no two accepted writes share a base.
    based = {i: entries[body["version"]]["base_version"] for i, body in ok.items()}
    stale = {i: (sent[i], based[i], body["version"]) for i, body in ok.items()
             if not sent[i] == based[i] == body["version"] - 1}
    assert not stale, f"accepted on a stale If-Match (sent, base_version, version): {stale}"
    assert sorted(based.values()) == list(range(1, 1 + len(ok))), based
    # One write at a time: the spans under the lock (queue excluded) never overlap.
    spans = sorted((e["at"] - (e["duration_ms"] - e["queued_ms"]) / 1000, e["at"])
                   for v, e in entries.items() if v is not None and v >= 2)
    assert all(a_end <= b_start + 0.002 for (_, a_end), (b_start, _) in itertools.pairwise(spans)), spans
    # The final config is the last accepted write's.
    last = max(ok, key=lambda i: ok[i]["version"])
    current = agent.api.get("/api/v1/config")
    assert current.headers["etag"] == f'"{ok[last]["version"]}"'
    assert current.json()["spec"] == validate_spec(weighted(agent.data, 100 + last)).to_data()
    final = entries[ok[last]["version"]]
    assert sha256_text(agent.state.config_path.read_text()) == final["config_sha256"]
    assert agent.through_haproxy().status_code == 200


def test_sequential_writes_each_wait_for_their_reload(agent_any: Agent) -> None:
    """One client, 50 writes back to back: all 200, one reload each; the write rate is the
    reload rate (each answer comes once HAProxy runs that version)."""
    agent = agent_any
    reloads_before = _reloads(agent)
    started = time.monotonic()
    for n in range(50):
        resp = agent.api.put("/api/v1/config", json=weighted(agent.data, 200 + n),
                             headers={"If-Match": f'"{n + 1}"'})
        assert resp.status_code == 200, resp.text
        assert resp.json()["version"] == n + 2 and resp.json()["reload"]["ok"]
    elapsed = time.monotonic() - started
    reloads = _reloads(agent) - reloads_before
    print(f"\nHAProxy {agent.controller.status()['binary']['version']}: 50 sequential writes "
          f"in {elapsed:.2f} s ({50 / elapsed:.0f}/s), {reloads} reloads")
    assert reloads == 50
    assert "weight 249 " in agent.state.config_path.read_text()
