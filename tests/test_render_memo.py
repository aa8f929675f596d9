"""lbctl.render.memo: a backend unchanged since the last render is not rendered again, and a
render never gives other bytes than a render from scratch — after a changed field, another
target or another render context."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from lbctl.features import Capabilities, HAProxyVersion
from lbctl.render import RenderContext, forget_backend_texts, render, render_proxy
from lbctl.render.memo import BackendTexts
from lbctl.render.view import build_view
from lbctl.spec import Backend, Spec, validate_spec

from .test_render import SPECS

CTX = RenderContext(Path("/run/lbctl"))
CAPS = Capabilities.for_target(HAProxyVersion.parse("2.8.0"))


def fresh(spec: Spec, caps: Capabilities = CAPS, ctx: RenderContext = CTX) -> str:
    """The text with every backend rendered now: the memo of the module emptied first."""
    forget_backend_texts()
    return render(spec, caps, ctx)


def changed(data: dict[str, Any], **server: Any) -> Spec:
    out = copy.deepcopy(data)
    out["backends"][0]["servers"][0].update(server)
    return validate_spec(out)


def test_every_render_equals_a_render_from_scratch() -> None:
    data = SPECS["everything"]
    first = validate_spec(data)
    variants = [
        changed(data, weight=7), changed(data, port=9011), changed(data, state="maint"),
        changed(data, weight=None),  # no weight word at all
        changed(data, check=False), changed(data, comment=["# moved"]),
        first,
    ]
    render(first, CAPS, CTX)
    for spec in variants:
        got = render(spec, CAPS, CTX)  # after the previous spec's render: the memo holds it
        assert got == fresh(spec)
        render(spec, CAPS, CTX)  # the memo holds this spec for the next one


def test_another_target_or_context_renders_afresh() -> None:
    spec = validate_spec(SPECS["everything"])
    old = Capabilities.for_target(HAProxyVersion.parse("1.8.0"))
    render(spec, CAPS, CTX)
    on_old = render(spec, old, CTX)
    assert on_old == fresh(spec, old)
    assert "option httpchk GET /health" in on_old  # 1.8's form, not 2.2's http-check send
    other = RenderContext(Path("/run/other"))
    render(spec, CAPS, CTX)
    assert render(spec, CAPS, other) == fresh(spec, CAPS, other)


def test_a_session_reuses_only_the_same_json() -> None:
    calls: list[str] = []

    def render_one(be: Backend) -> str:
        calls.append(be.name)
        return render_proxy(be, CAPS, CTX)

    texts = BackendTexts()
    spec = validate_spec(SPECS["everything"])
    first = texts.session(CAPS, CTX, render_one)
    before = [first.text(be) for be in spec.backends]
    first.done()
    assert calls == [be.name for be in spec.backends]
    calls.clear()
    again = validate_spec(copy.deepcopy(SPECS["everything"]))  # equal, other objects
    second = texts.session(CAPS, CTX, render_one)
    assert [second.text(be) for be in again.backends] == before
    assert calls == []
    other = changed(SPECS["everything"], weight=7)
    third = texts.session(CAPS, CTX, render_one)
    assert third.text(other.backends[0]) == render_proxy(other.backends[0], CAPS, CTX)
    assert calls == [other.backends[0].name]
    unfinished = texts.session(CAPS, CTX, render_one)  # never done(): nothing kept from it
    unfinished.text(other.backends[0])
    assert texts.session(CAPS, CTX, render_one).before == second.texts


@pytest.mark.parametrize("name", sorted(SPECS))
def test_whole_configs_are_the_same_with_and_without_the_memo(name: str) -> None:
    spec = validate_spec(SPECS[name])
    assert render(spec, CAPS, CTX) == fresh(spec) == render(spec, CAPS, CTX)


def test_a_view_takes_the_rules_of_the_very_route_at_the_same_index() -> None:
    """The route rules of the last view (:func:`lbctl.render.view.build_view`): the very route
    object at the same index keeps its ACLs and rule; a changed route, and a route that moved
    (its ACL is named by its index), get new ones; every view equals one built afresh."""
    data = {"frontends": [{"name": "f", "bind": ["127.0.0.1:8080"], "default_backend": "b0",
                           "routes": [{"path_prefix": f"/r{i}", "backend": f"b{i % 3}"}
                                      for i in range(6)] + [{"path_prefix": "/in/", "backend": "b1",
                                                             "inline": True}]}],
            "backends": [{"name": f"b{i}", "servers": []} for i in range(3)]}
    first = validate_spec(data)
    routes = list(first.frontends[0].routes)
    edited = first.model_copy(update={"frontends": [first.frontends[0].model_copy(update={
        "routes": [routes[0], routes[1].model_copy(update={"backend": "b2"}), *routes[3:]]})]})
    one = build_view(first, CAPS).frontends[0]
    two = build_view(edited, CAPS).frontends[0]
    forget_backend_texts()
    assert two == build_view(edited, CAPS).frontends[0]

    def rule(view: Any, condition: str) -> Any:
        return next(r for r in view.routes if r.condition == condition)

    assert rule(two, "lbctl_route_0") is rule(one, "lbctl_route_0")  # the same route, index 0
    others = [r for r in two.routes if r.condition != "lbctl_route_0"]
    assert len(others) == 5 and not any(r is o for r in others for o in one.routes)
    assert rule(two, "lbctl_route_1").backend == "b2"  # changed
    assert [a.name for a in two.acls if a.value == "/r3"] == ["lbctl_route_2"]  # moved: renamed
