"""The proxies of a known spec (the live one), found again in a submitted JSON body by their text.

A client changes a spec by reading it (``GET /api/v1/config``: ``Spec.to_data()``), changing
a few proxies and sending the whole document back (``PUT``); the admin GUI and
:mod:`lbctl.client` do exactly that. At 10,000 backends / 50,000 servers validating the body
took 0.3–0.5 s of every apply, nearly all of it spent validating again backends that are
byte for byte those of the live spec. :class:`KnownProxies` keeps, for one spec and the
document it was written as, each frontend, backend and listen section's JSON text (compact,
pydantic-core's serialiser) → its validated model; :func:`spec_from_known` reads a body with
pydantic-core's JSON reader (``from_json``: the values :func:`json.loads`, the usual reading,
gives :func:`lbctl.spec.validate_spec`, in 60 % of its time; a text it refuses is left to the
usual reading, whose answer is then the API's), puts the
known model in place of every proxy whose JSON text is a known one, and of every route and
client (:data:`ITEM_FIELDS`) of a frontend that is not, and validates the rest (pydantic takes
a model instance as it is): an edit of one route of a frontend of 1,000 validates one route.

Why that is the very spec the usual reading gives: validation of one proxy depends on nothing
but its own data (the spec has no validator of the whole model that rewrites a proxy), nor
does a route's or a client's (a frontend has no validator of its own), so the same text gives
the same model; equal texts are equal JSON values with equal types (``1``,
``1.0`` and ``true`` are different texts, although Python's ``==`` calls them equal), and a
proxy whose keys come in another order is only not found (validated as usual). The
cross-field rules (:func:`lbctl.spec.checks.validate_spec`) still run on the whole spec.
``tests/test_spec_known.py`` proves the result equal to the usual reading, with the known
models reused, on every spec of the render tests and on the JSON texts where readers differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic_core
from pydantic import BaseModel, ValidationError

from lbctl.spec.models import Backend, Frontend, Listen, Spec

__all__ = ["ITEM_FIELDS", "PROXY_FIELDS", "KnownProxies", "spec_from_known"]

#: The spec's lists of proxies, by their JSON name.
PROXY_FIELDS = ("frontends", "backends", "listens")
#: The lists of a frontend whose items are found again one by one when the frontend itself
#: is not (a frontend of 1,000 routes with one route changed): a route and a client are
#: validated from their own data alone, as a proxy is.
ITEM_FIELDS = ("routes", "clients")
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
        self._items: dict[str, dict[bytes, BaseModel]] = {name: {} for name in ITEM_FIELDS}
        for key in PROXY_FIELDS:
            items = document.get(key, [])
            models = getattr(spec, key)
            if not isinstance(items, list) or len(items) != len(models):
                raise ValueError(f"the document's {key} are not the spec's")
            self._texts[key] = {_to_json(item): model
                                for item, model in zip(items, models, strict=True)}
        for item, frontend in zip(document.get("frontends", []), spec.frontends, strict=True):
            subs_of = item if isinstance(item, dict) else {}
            for name in ITEM_FIELDS:  # a list the document writes otherwise: not indexed
                subs, models = subs_of.get(name), getattr(frontend, name)
                if isinstance(subs, list) and len(subs) == len(models):
                    self._items[name].update(
                        (_to_json(sub), model) for sub, model in zip(subs, models, strict=True))

    def model(self, key: str, item: Any) -> Frontend | Backend | Listen | None:
        """The known model of the ``key`` list (``"backends"``) whose JSON text is ``item``'s,
        or ``None``."""
        if not isinstance(item, dict):
            return None
        return self._texts[key].get(_to_json(item))

    def item(self, name: str, item: Any) -> BaseModel | None:
        """The known model of a frontend's ``name`` list (:data:`ITEM_FIELDS`: ``"routes"``)
        whose JSON text is ``item``'s, or ``None``."""
        if not isinstance(item, dict):
            return None
        return self._items[name].get(_to_json(item))


def spec_from_known(raw: bytes | str, known: KnownProxies,
                    checked: Callable[[Spec], Spec]) -> Spec | None:
    """``raw`` (a JSON text) as a :class:`Spec`, each proxy whose text ``known`` holds taken
    as its model (module docstring), the whole spec then given to ``checked`` (the
    cross-field rules; it raises :class:`~lbctl.errors.SpecError`). ``None`` when the text is
    not a JSON object or pydantic refuses a field: the caller reads it the usual way, whose
    errors are the ones to answer."""
    try:
        data = pydantic_core.from_json(raw)
    except ValueError:  # also where json.loads reads on (a byte-order mark, a lone surrogate)
        return None
    if not isinstance(data, dict):
        return None
    for key in PROXY_FIELDS:
        items = data.get(key)
        if isinstance(items, list):
            data[key] = [item if (model := known.model(key, item)) is None else model
                         for item in items]
    for item in data.get("frontends") or []:  # a frontend not known whole: its known items
        if isinstance(item, dict):
            for name in ITEM_FIELDS:
                subs = item.get(name)
                if isinstance(subs, list):
                    item[name] = [sub if (found := known.item(name, sub)) is None else found
                                  for sub in subs]
    try:
        spec = Spec.model_validate(data)
    except ValidationError:
        return None
    return checked(spec)
