"""A runtime server change edits one server of the spec (:func:`lbctl.control.servers.edit_server`).

Only that server is validated again and the new spec shares every other part with the old;
it must be the very spec the full round trip gives (``to_data``, the edit, ``validate_spec``),
with the same field errors, and equal to the old one exactly when the server is.
"""

from __future__ import annotations

from typing import Any

import pytest

from lbctl.control.servers import edit_server
from lbctl.errors import SpecError
from lbctl.spec import Spec, validate_spec

from .test_render import SPECS


def _round_trip(spec: Spec, bi: int, si: int, change: dict[str, Any]) -> Spec:
    data = spec.to_data()
    data["backends"][bi]["servers"][si].update(change)
    return validate_spec(data)


SPEC = validate_spec(SPECS["everything"])
SERVERS = [(bi, si) for bi, be in enumerate(SPEC.backends) for si in range(len(be.servers))]
CHANGES = [{"state": "drain"}, {"state": "maint"}, {"weight": 0}, {"weight": 256},
           {"state": "ready", "weight": 7}]


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_the_edit_is_the_round_trip_s_spec_sharing_the_rest(change: dict[str, Any]) -> None:
    for bi, si in SERVERS:
        be = SPEC.backends[bi]
        new, before, after = edit_server(SPEC, be.name, be.servers[si].name, **{
            "state": change.get("state"), "weight": change.get("weight")})
        assert new == _round_trip(SPEC, bi, si, change)
        assert new.to_data() == _round_trip(SPEC, bi, si, change).to_data()
        assert before is be.servers[si] and after is new.backends[bi].servers[si]
        assert all(new.backends[i] is b for i, b in enumerate(SPEC.backends) if i != bi)
        assert all(new.backends[bi].servers[k] is s for k, s in enumerate(be.servers) if k != si)
        assert new.frontends is SPEC.frontends and new.global_ is SPEC.global_
        assert (new == SPEC) == (after == before)


def test_the_same_state_again_changes_nothing() -> None:
    be = SPEC.backends[0]
    server = be.servers[0]
    new, before, after = edit_server(SPEC, be.name, server.name, state=server.state,
                                     weight=server.weight)
    assert after == before and new == SPEC


@pytest.mark.parametrize("weight", [257, -1])
def test_a_bad_weight_names_the_field_as_the_round_trip_does(weight: int) -> None:
    bi, si = 0, 1
    be = SPEC.backends[bi]
    with pytest.raises(SpecError) as edited:
        edit_server(SPEC, be.name, be.servers[si].name, state=None, weight=weight)
    with pytest.raises(SpecError) as full:
        _round_trip(SPEC, bi, si, {"weight": weight})
    assert [(e.loc, e.message) for e in edited.value.errors] == \
        [(e.loc, e.message) for e in full.value.errors]
    assert edited.value.errors[0].loc == f"backends[{bi}].servers[{si}].weight"
