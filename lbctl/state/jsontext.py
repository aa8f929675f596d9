"""JSON text of spec documents, byte for byte what :func:`json.dumps` writes, only faster.

``json.dumps(doc, indent=2)`` runs CPython's pure-Python encoder (its C encoder has no
``indent``): for a 10,000-backend / 50,000-server spec that is half a second on every apply,
longer than ``haproxy -c`` on the same config. pydantic-core's serialiser (Rust, already a
dependency through pydantic) writes the same text for the documents lbctl stores: objects and
lists, strings, integers, booleans and ``null``, in insertion order, with ``": "`` after a key
and two-space indents. The two differ in what :func:`json.dumps` escapes and pydantic-core does
not (``ensure_ascii``: every character outside ``' '``..``'~'``), so the fast text is used
only when it holds no such character; otherwise :func:`json.dumps` writes it. Floats are the
third difference (``1e-07`` against ``1e-7``): :func:`dumps` takes documents without floats,
and a spec document has none (``tests/test_jsontext.py`` checks the spec's JSON Schema);
:func:`spec_file` writes the one float of ``spec.json``, ``updated_at``, with :func:`json.dumps`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pydantic_core

__all__ = ["SpecTexts", "dumps", "spec_file"]


def dumps(doc: dict[str, Any], *, indent: int | None = None) -> str:
    """``json.dumps(doc, indent=indent)`` (``indent=None``: with ``separators=(",", ":")``),
    the same text, for a ``doc`` of objects, lists, strings, integers, booleans and ``None``
    (no floats: see the module docstring)."""
    fast = pydantic_core.to_json(doc, indent=indent)
    if fast.isascii() and b"\x7f" not in fast:
        return fast.decode("ascii")
    if indent is None:
        return json.dumps(doc, separators=(",", ":"))
    return json.dumps(doc, indent=indent)


def _nested(doc: dict[str, Any]) -> str:
    return dumps(doc, indent=2).replace("\n", "\n  ")  # one level deeper; strings hold no newline


@dataclass(frozen=True)
class SpecTexts:
    """A spec ``document`` (``Spec.to_data()``) with the two texts lbctl stores of it, made
    once: ``compact`` (:func:`dumps`: the history's blob) and ``nested`` (``indent=2``, one
    level deeper: the ``"spec"`` member of ``spec.json``, :func:`spec_file`). An apply makes
    them while ``haproxy -c`` runs (:meth:`lbctl.state.journal.Write.prepare_document`)."""

    document: dict[str, Any]
    compact: str
    nested: str

    @classmethod
    def of(cls, document: dict[str, Any]) -> SpecTexts:
        """Both texts of ``document``."""
        return cls(document, dumps(document), _nested(document))


def spec_file(version: int, updated_at: float, spec: dict[str, Any] | SpecTexts) -> str:
    """The text of ``spec.json``: ``json.dumps({"version": version, "updated_at": updated_at,
    "spec": spec}, indent=2) + "\\n"``, with ``spec`` (a spec document, or its
    :class:`SpecTexts`) written by :func:`dumps`."""
    body = spec.nested if isinstance(spec, SpecTexts) else _nested(spec)
    return (f'{{\n  "version": {json.dumps(version)},\n  "updated_at": {json.dumps(updated_at)},'
            f'\n  "spec": {body}\n}}\n')
