"""Opening the source view reads the live text (:func:`lbctl.control.source.read_live`, after
``GET /api/v1/config/source`` answered): the first press of *validate* then takes the sections
it did not change from that read, on a live agent with the bundled HAProxy 2.8; a second
opening reads nothing; an opening while a read is under way leaves it alone, and a press waits
for the read under way."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Iterator
from pathlib import Path

import pytest

from lbctl.config import loads
from lbctl.control import source
from lbctl.demo.backend import RecordingBackend
from lbctl.importer.memo import MEMO, KeptProxy

from .agent_helpers import Agent, free_port, make_spec, running_agent
from .test_source_api import _bundled, put_source

DEADLINE_S = 30.0


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend) -> Iterator[Agent]:
    """A live agent on the bundled HAProxy 2.8: a frontend, two backends."""
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    data["backends"].append({"name": "other", "balance": "roundrobin", "servers": [
        {"name": "o1", "address": "127.0.0.1", "port": backend.port, "check": False}]})
    with running_agent(short_dir, data, _bundled()) as agent:
        yield agent


def kept_sections(agent: Agent) -> dict[Hashable, KeptProxy]:
    """The importer's sections once the read the opening started has finished (bounded wait)."""
    target = agent.controller.render_target()
    until = time.monotonic() + DEADLINE_S
    while time.monotonic() < until:
        kept = MEMO.generation(*target)
        if kept:
            with source._reading(agent.controller):  # the read publishes, then lets go
                return MEMO.generation(*target)
        time.sleep(0.02)
    raise AssertionError(f"nothing read {DEADLINE_S} s after GET /config/source")


def edited(live: str) -> str:
    """``live`` with the ``balance`` of backend ``other`` changed (one section)."""
    head, tail = live.split("backend other\n", 1)
    assert "    balance roundrobin\n" in tail.split("\n\n", 1)[0]
    return head + "backend other\n" + tail.replace("    balance roundrobin\n",
                                                   "    balance leastconn\n", 1)


def test_opening_the_view_reads_the_live_text_for_the_first_press(agent: Agent) -> None:
    resp = agent.api.get("/api/v1/config/source")
    assert resp.status_code == 200 and resp.headers["ETag"] == '"1"'
    live = resp.text
    kept = kept_sections(agent)
    doc = loads(live)
    proxies = [s for s in doc.sections if s.kind in ("frontend", "backend", "listen")
               and not (s.name or "").startswith("lbctl")]
    assert len(kept) == len(proxies) >= 3  # web, the demo's backend, other
    models = {id(k.model) for k in kept.values()}

    text = edited(live)
    body = put_source(agent, text, if_match=None, dry_run=True).json()
    assert body["ok"] and body["changed"], body
    spec = source.read(agent.controller, text).spec  # the press's read, kept
    assert [be.balance for be in spec.backends if be.name == "other"] == ["leastconn"]
    unchanged = [*spec.frontends, *(be for be in spec.backends if be.name != "other")]
    assert unchanged and all(id(p) in models for p in unchanged)  # the opening's models
    assert all(id(be) not in models for be in spec.backends if be.name == "other")
    assert agent.controller.version == 1  # a dry run: nothing written


def test_a_second_opening_reads_nothing(agent: Agent) -> None:
    assert agent.api.get("/api/v1/config/source").status_code == 200
    kept_sections(agent)
    generation = MEMO.last
    assert source.read_live(agent.controller) is False
    assert agent.api.get("/api/v1/config/source").status_code == 200
    assert source.read_live(agent.controller) is False
    assert MEMO.last is generation


def test_an_opening_during_a_read_leaves_it_alone(agent: Agent) -> None:
    answered: list[bool] = []
    with source._reading(agent.controller):  # a press's read under way
        opening = threading.Thread(target=lambda: answered.append(
            source.read_live(agent.controller)))
        opening.start()
        opening.join(DEADLINE_S)
        assert not opening.is_alive() and answered == [False]  # did not wait for it
    assert MEMO.generation(*agent.controller.render_target()) == {}
    assert source.read_live(agent.controller) is True  # once free, it reads
    assert MEMO.generation(*agent.controller.render_target())


def test_a_press_waits_for_the_read_under_way(agent: Agent) -> None:
    live = agent.controller.config_source()
    text = edited(live)
    got: list[source.Submitted] = []
    with source._reading(agent.controller):
        press = threading.Thread(target=lambda: got.append(source.read(agent.controller, text)))
        press.start()
        press.join(0.5)
        assert press.is_alive() and not got  # waiting: the read under way holds the lock
    press.join(DEADLINE_S)
    assert not press.is_alive() and got[0].text == text
    assert source.read(agent.controller, text).spec is got[0].spec  # kept: not read again
