"""The proxies of a known spec (the live one), found again in a submitted JSON body by their text.

A client changes a spec by reading it (``GET /api/v1/config``: ``Spec.to_data()``), changing
a few proxies and sending the whole document back (``PUT``); the admin GUI and
:mod:`lbctl.client` do exactly that. At 10,000 backends / 50,000 servers validating the body
took 0.3–0.5 s of every apply, nearly all of it spent validating again backends that are
byte for byte those of the live spec. :class:`KnownProxies` keeps, for one spec and the
document it was written as, each frontend, backend and listen section's JSON text (compact,
pydantic-core's serialiser) → its validated model; :func:`spec_from_known` reads a body with
:func:`json.loads` (the usual reading, :func:`lbctl.spec.validate_spec`'s input), puts the
known model in place of every proxy whose JSON text is a known one, and validates the rest
(pydantic takes a model instance as it is).

Why that is the very spec the usual reading gives: validation of one proxy depends on nothing
but its own data (the spec has no validator of the whole model that rewrites a proxy), so the
same text gives the same model; equal texts are equal JSON values with equal types (``1``,
``1.0`` and ``true`` are different texts, although Python's ``==`` calls them equal), and a
proxy whose keys come in another order is only not found (validated as usual). The
cross-field rules (:func:`lbctl.spec.checks.validate_spec`) still run on the whole spec.
``tests/test_spec_known.py`` proves the result equal to the usual reading, with the known
models reused, on every spec of the render tests and on the JSON texts where readers differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pydantic_core
from pydantic import ValidationError

from lbctl.spec.models import Backend, Frontend, Listen, Spec

__all__ = ["PROXY_FIELDS", "KnownProxies", "spec_from_known"]

#: The spec's lists of proxies, by their JSON name.
PROXY_FIELDS = ("frontends", "backends", "listens")
_to_json = pydantic_core.to_json


class KnownProxies:
    """The proxies of ``spec`` by the JSON text of their item in ``document`` (the data the
    spec was validated from or written as: ``spec.to_data()``, or the ``spec`` member of
    ``spec.json``). The texts are made here, about 3 µs per proxy (35 ms at 10,000 backends /
    50,000 servers: an apply makes them while ``haproxy -c`` runs); ``document`` is only read,
    and not kept (the texts are: 7 MB there, against 19 MB for the document). Raises
    ``ValueError`` when ``document`` does not hold as many proxies of each kind as ``spec``
    (it is not that spec's document)."""

    def __init__(self, spec: Spec, document: dict[str, Any]) -> None:
        self.spec = spec
        self._texts: dict[str, dict[bytes, Frontend | Backend | Listen]] = {}
        for key in PROXY_FIELDS:
            items = document.get(key, [])
            models = getattr(spec, key)
            if not isinstance(items, list) or len(items) != len(models):
                raise ValueError(f"the document's {key} are not the spec's")
            self._texts[key] = {_to_json(item): model
                                for item, model in zip(items, models, strict=True)}

    def model(self, key: str, item: Any) -> Frontend | Backend | Listen | None:
        """The known model of the ``key`` list (``"backends"``) whose JSON text is ``item``'s,
        or ``None``."""
        if not isinstance(item, dict):
            return None
        return self._texts[key].get(_to_json(item))


def spec_from_known(raw: bytes | str, known: KnownProxies,
                    checked: Callable[[Spec], Spec]) -> Spec | None:
    """``raw`` (a JSON text) as a :class:`Spec`, each proxy whose text ``known`` holds taken
    as its model (module docstring), the whole spec then given to ``checked`` (the
    cross-field rules; it raises :class:`~lbctl.errors.SpecError`). ``None`` when the text is
    not a JSON object or pydantic refuses a field: the caller reads it the usual way, whose
    errors are the ones to answer."""
    try:
        data = json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        return None
    if not isinstance(data, dict):
        return None
    for key in PROXY_FIELDS:
        items = data.get(key)
        if isinstance(items, list):
            data[key] = [item if (model := known.model(key, item)) is None else model
                         for item in items]
    try:
        spec = Spec.model_validate(data)
    except ValidationError:
        return None
    return checked(spec)
