"""A plan's summary (:func:`lbctl.control.plan.summarize`) is what it was when it serialised
both specs whole (:meth:`~lbctl.spec.Spec.to_data`) to compare every item, now that equal
models and items only one spec has are not serialised: every pair of the rendering tests'
specs, each against itself and edited copies of itself, and the imported benchmark config."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from lbctl.config import loads
from lbctl.control.plan import KINDS, summarize
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.importer import import_spec
from lbctl.spec import Spec, validate_spec

from .bench.bench_parse import generate
from .test_render import SPECS


def _items(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
    for fe in data.get("frontends", []):
        out["frontends"][fe["name"]] = {k: v for k, v in fe.items() if k != "clients"}
        for client in fe.get("clients", []):
            out["clients"][f"{fe['name']}/{client['name']}"] = client
    for be in data.get("backends", []):
        out["backends"][be["name"]] = {k: v for k, v in be.items() if k != "servers"}
        for server in be.get("servers", []):
            out["servers"][f"{be['name']}/{server['name']}"] = server
    for section in data.get("sections", []):
        out["sections"][f"{section['kind']} {section.get('name') or ''}".rstrip()] = section
    for listen in data.get("listens", []):
        out["sections"][f"listen {listen['name']}"] = listen
    return out


def whole_data_summary(old: Spec, new: Spec) -> dict[str, Any]:
    """The summary as it was made from both specs' whole data."""
    old_data, new_data = old.to_data(), new.to_data()
    before, after = _items(old_data), _items(new_data)
    summary: dict[str, Any] = {}
    for kind in KINDS:
        a, b = before[kind], after[kind]
        summary[kind] = {"added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)),
                         "changed": sorted(n for n in set(a) & set(b) if a[n] != b[n])}
    summary["settings"] = [part for part in ("global", "defaults", "comment")
                           if old_data.get(part) != new_data.get(part)]
    return summary


def edits(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of spec ``data`` with one thing changed each: a server's weight, a time written
    another way (the same value), a client's rate, a server renamed, a comment."""
    out = []
    for be_at, be in enumerate(data.get("backends", [])):
        for s_at, server in enumerate(be.get("servers", [])):
            one = copy.deepcopy(data)
            one["backends"][be_at]["servers"][s_at]["weight"] = 7
            out.append(one)
            one = copy.deepcopy(data)
            one["backends"][be_at]["servers"][s_at]["name"] = f"{server['name']}x"
            out.append(one)
    for fe_at, fe in enumerate(data.get("frontends", [])):
        for c_at, _ in enumerate(fe.get("clients", [])):
            one = copy.deepcopy(data)
            one["frontends"][fe_at]["clients"][c_at]["rate"] += 1
            out.append(one)
    if isinstance(data.get("defaults"), dict) and "timeouts" in data["defaults"]:
        one = copy.deepcopy(data)
        one["defaults"]["timeouts"]["connect"] = "2000ms"  # == 2s: the same data
        out.append(one)
    one = copy.deepcopy(data)
    one["comment"] = ["# planned"]
    out.append(one)
    return out


@pytest.mark.parametrize(("old", "new"), list(itertools.product(SPECS, repeat=2)))
def test_every_pair_of_specs_summarises_as_their_whole_data_did(old: str, new: str) -> None:
    a, b = validate_spec(SPECS[old]), validate_spec(SPECS[new])
    assert summarize(a, b) == whole_data_summary(a, b)


@pytest.mark.parametrize("name", list(SPECS))
def test_edited_copies_summarise_as_their_whole_data_did(name: str) -> None:
    spec = validate_spec(SPECS[name])
    for data in edits(spec.to_data()):
        edited = validate_spec(data)
        assert summarize(spec, edited) == whole_data_summary(spec, edited)
        assert summarize(edited, spec) == whole_data_summary(edited, spec)


def test_an_imported_config_summarises_as_its_whole_data_did() -> None:
    caps = Capabilities.for_target(HAProxyVersion(2, 8, 25))
    spec = import_spec(loads(generate(30)), caps=caps)
    edited = import_spec(loads(generate(31).replace("check inter 2s backup", "check inter 3s")),
                         caps=caps)
    for a, b in ((spec, spec), (spec, edited), (edited, spec), (validate_spec(SPECS["minimal"]), spec)):
        assert summarize(a, b) == whole_data_summary(a, b)
    assert summarize(spec, edited)["servers"]["changed"]  # the edit is seen
