"""``lbctl.state.jsontext``: the fast JSON text is exactly :func:`json.dumps`'s (issue 19: the
pure-Python ``indent`` encoder was half a second of every apply at 50,000 servers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lbctl.spec import Spec, load_spec
from lbctl.state import jsontext

SPECS = sorted((Path(__file__).resolve().parents[1] / "haproxy" / "specs").glob("*.yaml"))

ODD: list[dict[str, Any]] = [
    {}, {"a": []}, {"a": {}}, {"a": [[], {}, [{}]]},
    {"s": "quote \" backslash \\ slash / tab \t newline \n nul \x00 unit \x1f del \x7f"},
    {"s": "é ü 日本 \u2028 \ud7ff"}, {"n": [0, -1, 2**62, True, False, None]},
    {"nested": {"k": [{"x": 1, "y": ["a", "b"]}, {"z": None}]}, "after": 1},
]


@pytest.mark.parametrize("doc", ODD)
@pytest.mark.parametrize("indent", [None, 2])
def test_same_text_as_json_dumps(doc: dict[str, Any], indent: int | None) -> None:
    want = json.dumps(doc, indent=indent) if indent else json.dumps(doc, separators=(",", ":"))
    assert jsontext.dumps(doc, indent=indent) == want


@pytest.mark.parametrize("doc", ODD)
def test_spec_file_text(doc: dict[str, Any]) -> None:
    texts = jsontext.SpecTexts.of(doc)  # made ahead, while haproxy -c runs: the same bytes
    assert texts.compact == json.dumps(doc, separators=(",", ":"))
    for updated_at in (0.0, 1764650000.123456, 1e-07, 1e22):
        want = json.dumps({"version": 7, "updated_at": updated_at, "spec": doc}, indent=2) + "\n"
        assert jsontext.spec_file(7, updated_at, doc) == want
        assert jsontext.spec_file(7, updated_at, texts) == want


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_every_example_spec(path: Path) -> None:
    data = load_spec(path).to_data()
    assert jsontext.dumps(data, indent=2) == json.dumps(data, indent=2)
    assert jsontext.dumps(data) == json.dumps(data, separators=(",", ":"))


def _types(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        kind = node.get("type")
        found |= set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()
        for value in node.values():
            found |= _types(value)
    elif isinstance(node, list):
        for value in node:
            found |= _types(value)
    return found


def test_a_spec_document_holds_no_float() -> None:
    """``dumps`` takes no floats (pydantic-core writes ``1e-7`` where json writes ``1e-07``):
    no field of the spec's JSON Schema is a ``number``."""
    types = _types(Spec.model_json_schema(mode="serialization"))
    assert "number" not in types and {"integer", "string"} <= types
