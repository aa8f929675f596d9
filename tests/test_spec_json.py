"""The API's one-pass reading of a JSON spec (:func:`lbctl.spec.spec_from_json`) gives exactly
what the two-pass reading (``validate_spec(json.loads(raw))``) gives.

On a valid spec it must build the same :class:`Spec` (equal models, equal ``to_data``); on
anything pydantic refuses it answers ``None``, so that the API reads the body the usual way
and answers that reading's errors (fields and messages: ``tests/test_api_errors.py``); a spec
whose fields are valid but whose cross-field rules are not raises the same :class:`SpecError`.
Checked on the shipped specs, the render tests' specs (every field kind: binds, clients,
health checks, verbatim lines, extra sections) and a generated 1,000-backend spec, and on the
JSON texts where two JSON readers can differ (a byte-order mark, ``NaN``, lone surrogates,
duplicate keys, numbers written as strings or floats). The API tests (``tests/test_api*.py``)
send their bodies through it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from lbctl import paths
from lbctl.config import loads
from lbctl.errors import SpecError
from lbctl.importer import import_config
from lbctl.spec import spec_from_json, validate_spec
from lbctl.spec.models import _OMITTED_IN, _OMITTED_WHEN_EMPTY

from .config_corpus import corpus_files
from .test_render import SPECS


def _shipped() -> dict[str, Any]:
    out = {}
    for path in sorted((paths.assets_dir() / "specs").glob("*.yaml")):
        out[path.stem] = yaml.safe_load(path.read_text())
    return out


def _generated(size: int = 1000) -> dict[str, Any]:
    backends = [{"name": f"be{i:04d}", "balance": "leastconn" if i % 2 else "roundrobin",
                 "health_check": {"path": f"/h{i}"} if i % 3 == 0 else None,
                 "servers": [{"name": f"s{k}", "address": f"10.0.{i % 256}.{k + 1}",
                              "port": 8000 + k, "weight": 1 + k, "backup": k == 2}
                             for k in range(3)]} for i in range(size)]
    return {"frontends": [{"name": "f", "bind": ["127.0.0.1:8080"], "default_backend": "be0000",
                           "routes": [{"path_prefix": f"/b{i:04d}", "backend": f"be{i:04d}"}
                                      for i in range(size)]}],
            "backends": backends}


CASES = {**{f"shipped-{k}": v for k, v in _shipped().items()},
         **{f"render-{k}": v for k, v in SPECS.items()}, "generated-1000": _generated()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_valid_spec_reads_the_same_in_one_pass(name: str) -> None:
    data = CASES[name]
    raw = json.dumps(data)
    two = validate_spec(json.loads(raw))
    one = spec_from_json(raw)
    assert one is not None, f"{name}: the one-pass reading refused a valid spec"
    assert one == two
    assert one.to_data() == two.to_data()
    assert spec_from_json(raw.encode()) == two  # the body's bytes, as the API passes them


def _two_pass(raw: str | bytes) -> Any:
    """What the usual reading gives: the spec's data, or the error (class, message)."""
    try:
        return validate_spec(json.loads(raw)).to_data()
    except (ValueError, SpecError) as exc:
        return (type(exc).__name__, str(exc))


EDGES = {
    "bom": b"\xef\xbb\xbf{}",
    "nan": b'{"global": {"maxconn": NaN}}',
    "infinity": b'{"global": {"maxconn": Infinity}}',
    "lone surrogate": b'{"comment": ["# \\ud800"]}',
    "escaped text": b'{"comment": ["# caf\\u00e9"]}',
    "duplicate keys": b'{"global": {"maxconn": 10}, "global": {"maxconn": 20}}',
    "number as string": b'{"global": {"maxconn": "100"}}',
    "number as float": b'{"global": {"maxconn": 100.0}}',
    "fraction": b'{"global": {"maxconn": 100.5}}',
    "exponent": b'{"global": {"maxconn": 1e2}}',
    "huge number": b'{"global": {"maxconn": 123456789012345678901234567890}}',
    "bool for a number": b'{"global": {"maxconn": true}}',
    "trailing text": b'{} []',
    "array": b"[]",
    "null": b"null",
    "not utf-8": b'{"comment": ["# \xff"]}',
    "unknown field": b'{"frontend": []}',
    "bad name": b'{"backends": [{"name": "a b"}]}',
    "cross-field": b'{"frontends": [{"name": "f", "bind": ["127.0.0.1:1"], '
                   b'"default_backend": "missing"}]}',
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_where_json_readers_differ_the_answer_is_the_usual_one(name: str) -> None:
    raw = EDGES[name]
    usual = _two_pass(raw)
    try:
        one = spec_from_json(raw)
    except SpecError as exc:  # only for fields that are valid one by one
        assert usual == ("SpecError", str(exc))
        return
    if one is None:  # the API then reads it the usual way: its answer is the usual one
        return
    assert one.to_data() == usual, f"{name}: one pass accepted what the usual reading gives otherwise"


def _left_out(data: Any, omitted: dict[str, Any] | None = None) -> Any:
    """What ``Spec.to_data`` leaves out, written the plain way: each dict without the members
    at their left-out value (the general ones and those of the key it sits under)."""
    if isinstance(data, dict):
        drop = {**_OMITTED_WHEN_EMPTY, **(omitted or {})}
        return {k: _left_out(v, _OMITTED_IN.get(k)) for k, v in data.items()
                if not (k in drop and v == drop[k])}
    if isinstance(data, list):
        return [_left_out(v, omitted) for v in data]
    return data


def test_to_data_leaves_out_exactly_the_members_at_their_left_out_values() -> None:
    specs = [validate_spec(d) for d in [*_shipped().values(), _generated(200), *SPECS.values()]]
    for path in corpus_files():
        try:
            specs.append(import_config(loads(path.read_text(errors="replace"))).spec)
        except SpecError:
            continue
    assert len(specs) > 200
    for spec in specs:
        data = spec.to_data()
        assert json.dumps(data) == json.dumps(_left_out(spec.model_dump(mode="json",
                                                                           by_alias=True)))
