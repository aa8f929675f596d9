"""Reading a JSON body with the live spec's proxies known (:mod:`lbctl.spec.known`) gives
exactly what the usual reading (``validate_spec(json.loads(raw))``) gives, with every proxy
whose JSON text is a known one being that very model.

Checked on the shipped specs, the render tests' specs and a generated 1,000-backend spec
(sent back as they are, and with one backend changed; a frontend with one route changed,
whose other routes and clients are the known ones); on the proxy- and item-level JSON texts that
Python calls equal but are not the same JSON (``1`` / ``1.0`` / ``true``, ``"1"``), on keys in
another order, on a document that is not the spec's; through a live agent: a ``PUT`` of the
current document with one backend changed keeps the other backends as the very objects of the
live spec, also after a restart (the document read back from ``spec.json``), and a render of
those objects gives the same bytes as one of freshly validated ones.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lbctl.demo.backend import RecordingBackend
from lbctl.errors import SpecError
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.render import RenderContext, render
from lbctl.spec import Spec, spec_from_json, validate_spec
from lbctl.spec.known import PROXY_FIELDS, KnownProxies
from tests.agent_helpers import Agent, free_port, make_spec, running_agent
from tests.conftest import _bundled

from .test_spec_json import CASES
from .test_spec_json import EDGES as READER_EDGES


def _known(data: dict[str, Any]) -> tuple[Spec, KnownProxies]:
    spec = validate_spec(copy.deepcopy(data))
    return spec, KnownProxies(spec, spec.to_data())


def _usual(raw: str | bytes) -> Any:
    """The usual reading: the spec's data, or the error (class, message)."""
    try:
        return validate_spec(json.loads(raw)).to_data()
    except (ValueError, SpecError) as exc:
        return (type(exc).__name__, str(exc))


def _proxies(spec: Spec) -> list[Any]:
    return [p for key in PROXY_FIELDS for p in getattr(spec, key)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_body_of_known_proxies_reads_as_the_very_models(name: str) -> None:
    live, known = _known(CASES[name])
    raw = json.dumps(live.to_data())
    read = spec_from_json(raw, known)
    assert read is not None
    assert read == validate_spec(json.loads(raw))
    assert read.to_data() == live.to_data()
    assert all(a is b for a, b in zip(_proxies(read), _proxies(live), strict=True))


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_changed_proxy_is_validated_and_the_rest_reused(name: str) -> None:
    live, known = _known(CASES[name])
    assert live.backends, f"{name}: every case has a backend to change"
    data = live.to_data()
    data["backends"][-1]["balance"] = "first" if live.backends[-1].balance != "first" else "leastconn"
    raw = json.dumps(data)
    read = spec_from_json(raw, known)
    assert read is not None and read == validate_spec(json.loads(raw))
    assert read.backends[-1] != live.backends[-1] and read.backends[-1] is not live.backends[-1]
    assert all(a is b for a, b in zip(read.backends[:-1], live.backends[:-1], strict=True))
    assert all(a is b for a, b in zip(read.frontends, live.frontends, strict=True))


_BASE = {"frontends": [{"name": "f", "bind": ["127.0.0.1:8080"], "default_backend": "b"}],
         "backends": [{"name": "b", "servers": [
             {"name": "s1", "address": "127.0.0.1", "port": 9000, "weight": 1, "check": True}]}]}


def _server(**changes: Any) -> bytes:
    data = copy.deepcopy(_BASE)
    data["backends"][0]["servers"][0].update(changes)
    return json.dumps(data).encode()


# Each equal to the known backend by Python's ==, or by its values: never the same JSON text.
EDGES = {
    "bool for a weight": _server(weight=True),
    "float for a weight": _server(weight=1.0),
    "string for a weight": _server(weight="1"),
    "number for a bool": _server(check=1),
    "float for a port": _server(port=9000.0),
    "a server as a list": json.dumps({**_BASE, "backends": [{"name": "b", "servers": [[]]}]}).encode(),
    "a backend as a string": json.dumps({**_BASE, "backends": ["b"]}).encode(),
    "backends as a mapping": json.dumps({**_BASE, "backends": {"name": "b"}}).encode(),
    "duplicate keys": _server().replace(b'"weight": 1', b'"weight": 1, "weight": 300'),
    "a bad field beside a known proxy": json.dumps({**_BASE, "global": {"maxconn": "x"}}).encode(),
}


def _answers_as_usual(raw: bytes, known: KnownProxies, name: str, *,
                      refuses_only_errors: bool = True) -> None:
    """The known reading of ``raw`` gives the usual reading's spec or error; or nothing, the
    API then reading it the usual way (``refuses_only_errors``: only where that way refuses)."""
    usual = _usual(raw)
    try:
        read = spec_from_json(raw, known)
    except SpecError as exc:
        assert usual == ("SpecError", str(exc))
        return
    if read is None:  # the API reads it the usual way then: its answer is the usual one
        assert not refuses_only_errors or isinstance(usual, tuple), \
            f"{name}: refused what the usual reading accepts"
        return
    assert read.to_data() == usual, f"{name}: read otherwise than the usual reading"


@pytest.mark.parametrize("name", sorted(EDGES))
def test_where_texts_differ_the_answer_is_the_usual_one(name: str) -> None:
    _answers_as_usual(EDGES[name], _known(_BASE)[1], name)


@pytest.mark.parametrize("name", sorted(READER_EDGES))
def test_where_json_readers_differ_the_known_reading_answers_the_usual_way(name: str) -> None:
    """The known proxies' reading (pydantic-core's JSON reader) on the texts where JSON readers
    differ: the usual reading's spec, or nothing (the API then answers the usual way)."""
    _answers_as_usual(READER_EDGES[name], _known(_BASE)[1], name, refuses_only_errors=False)


def test_keys_in_another_order_are_validated_as_usual() -> None:
    live, known = _known(_BASE)
    data = live.to_data()
    data["backends"] = [dict(reversed(list(be.items()))) for be in data["backends"]]
    read = spec_from_json(json.dumps(data), known)
    assert read == live
    assert read is not None and read.backends[0] is not live.backends[0]


def test_a_document_that_is_not_the_specs_is_refused() -> None:
    live, _ = _known(_BASE)
    with pytest.raises(ValueError, match="backends"):
        KnownProxies(live, {**live.to_data(), "backends": []})


_ROUTED = {"frontends": [{"name": "f", "bind": ["127.0.0.1:8080"], "default_backend": "b0",
                          "routes": [{"path_prefix": f"/r{i}", "backend": f"b{i}"} for i in range(20)],
                          "clients": [{"name": "c1", "path_prefix": "/c1", "rate": 10, "burst": 5},
                                      {"name": "c2", "path_prefix": "/c2", "rate": 20}]}],
           "backends": [{"name": f"b{i}", "servers": [{"name": "s1", "address": "127.0.0.1",
                                                        "port": 9000}]} for i in range(20)]}


def _routed(**changes: Any) -> bytes:
    """``_ROUTED`` with route 5's fields changed (``client_<field>``: client 1's)."""
    live, _ = _known(_ROUTED)
    data = live.to_data()
    for key, value in changes.items():
        if key.startswith("client_"):
            data["frontends"][0]["clients"][1][key.removeprefix("client_")] = value
        else:
            data["frontends"][0]["routes"][5][key] = value
    return json.dumps(data).encode()


def test_a_changed_route_is_validated_and_the_frontends_other_items_reused() -> None:
    live, known = _known(_ROUTED)
    raw = _routed(backend="b7")
    read = spec_from_json(raw, known)
    assert read is not None and read == validate_spec(json.loads(raw))
    fe, was = read.frontends[0], live.frontends[0]
    assert fe is not was and fe.routes[5].backend == "b7" and fe.routes[5] is not was.routes[5]
    assert all(a is b for i, (a, b) in enumerate(zip(fe.routes, was.routes, strict=True)) if i != 5)
    assert all(a is b for a, b in zip(fe.clients, was.clients, strict=True))
    assert all(a is b for a, b in zip(read.backends, live.backends, strict=True))


# A frontend that is not known whole, whose routes and clients are each known but for one
# whose text differs from the known one's while Python calls it equal, or which is wrong.
ITEM_EDGES = {
    "number for a route's bool": _routed(inline=0),
    "a route's field unknown": _routed(weight=1),
    "a route's bad prefix": _routed(path_prefix="no-slash"),
    "a route to no backend": _routed(backend="nowhere"),
    "float for a client's rate": _routed(client_rate=20.0),
    "string for a client's rate": _routed(client_rate="20"),
    "a client's rate out of range": _routed(client_rate=0),
    "a route as a list": _routed().replace(b'{"path_prefix": "/r5", "backend": "b5"}', b"[]"),
}


@pytest.mark.parametrize("name", sorted(ITEM_EDGES))
def test_where_an_items_text_differs_the_answer_is_the_usual_one(name: str) -> None:
    raw = ITEM_EDGES[name]
    assert raw != _routed(), "the edge changes the document"
    _answers_as_usual(raw, _known(_ROUTED)[1], name)


def test_a_render_of_the_known_models_is_the_same_bytes() -> None:
    live, known = _known(CASES["generated-1000"])
    data = live.to_data()
    data["backends"][7]["balance"] = "first"
    raw = json.dumps(data)
    reused, fresh = spec_from_json(raw, known), validate_spec(json.loads(raw))
    assert reused is not None and reused.backends[0] is live.backends[0]
    caps = Capabilities.for_target(HAProxyVersion.parse("2.8.0"))
    ctx = RenderContext(Path("/run/lbctl-test"))
    render(live, caps, ctx)  # the last render: the live spec's very backends
    assert render(reused, caps, ctx) == render(fresh, caps, ctx)
    render(live, caps, ctx)
    assert render(fresh, caps, ctx) == render(reused, caps, ctx)


@pytest.fixture
def agent(short_dir: Path) -> Iterator[Agent]:
    """A live agent on the bundled HAProxy 2.8 with three backends."""
    with RecordingBackend("r") as backend:
        data = make_spec(free_port(), free_port(), [("s1", backend.port)])
        data["backends"] += [{"name": f"more{i}", "servers": [
            {"name": "s1", "address": "127.0.0.1", "port": backend.port, "check": False}]}
            for i in range(2)]
        with running_agent(short_dir, data, _bundled()) as running:
            yield running


def _put(agent: Agent, data: dict[str, Any]) -> None:
    version, _ = agent.controller.current()
    resp = agent.api.put("/api/v1/config", json=data, headers={"If-Match": f'"{version}"'})
    assert resp.status_code == 200, resp.text
    assert resp.json()["changed"] is True


def test_an_apply_keeps_the_unchanged_backends_of_the_live_spec(agent: Agent) -> None:
    _, before = agent.controller.current()  # read from spec.json at the start
    data = agent.api.get("/api/v1/config").json()["spec"]
    data["backends"][1]["balance"] = "first"
    _put(agent, data)
    _, after = agent.controller.current()
    assert after.backends[0] is before.backends[0] and after.backends[2] is before.backends[2]
    assert after.backends[1].balance == "first"
    assert after == validate_spec(data)
    data = agent.api.get("/api/v1/config").json()["spec"]  # after an apply: its own document
    data["backends"][2]["balance"] = "first"
    _put(agent, data)
    _, third = agent.controller.current()
    assert third.backends[1] is after.backends[1] and third.backends[0] is before.backends[0]
    assert third == validate_spec(data)


def test_a_document_of_another_spec_only_leaves_the_body_to_the_usual_reading(agent: Agent) -> None:
    core = agent.controller.core
    version, spec = agent.controller.current()
    with core.lock:
        core.set_current(version, spec, {"backends": []})  # not the spec's: no index, no error
    assert agent.controller.known_proxies() is None
    data = agent.api.get("/api/v1/config").json()["spec"]
    data["backends"][0]["balance"] = "first"
    _put(agent, data)
    _, after = agent.controller.current()
    assert after == validate_spec(data) and after.backends[1] is not spec.backends[1]
    assert agent.controller.known_proxies() is not None  # the apply's own document
