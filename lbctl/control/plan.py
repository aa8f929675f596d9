"""Plans: what applying a spec would change, before it is applied.

A plan compares a new spec and its rendered ``haproxy.cfg`` with the current version and the
live file: a unified diff of the config text (what HAProxy would read differently) and a
structured summary of the spec (what was added, removed or changed, by name). Nothing is
checked by HAProxy and nothing is written: ``POST /api/v1/config/plan`` and ``lbctl plan``
answer from it. ``changed`` is exactly the controller's own test: an apply is a no-op when
the spec is the current one and its rendering is the live file, byte for byte.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import BaseModel

from lbctl.spec import Spec

__all__ = ["KINDS", "Plan", "make_plan", "summarize", "unified_diff"]

#: The summary's groups, in the order they are printed.
KINDS = ("frontends", "backends", "servers", "clients", "sections")


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """``difflib.unified_diff`` of two texts, 3 lines of context (``""`` when equal)."""
    if old == new:  # what difflib answers, without matching 80,000 lines to tell
        return ""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=old_name, tofile=new_name)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


class _Item(NamedTuple):
    """A summary item: its ``model``, the member it is compared without (``skip``: a
    frontend without its clients, a backend without its servers, those are items of their
    own; ``""``: none), the frontend or backend it is in (``parent``: a client's, a server's)
    and the spec ``member`` holding it (or its parent)."""

    model: BaseModel
    skip: str
    parent: BaseModel | None
    member: str


#: The spec members that hold the summary's items (:func:`_alone` leaves them out).
_MANY: dict[str, Any] = {"frontends": [], "backends": [], "listens": [], "sections": []}


def _items(spec: Spec) -> dict[str, dict[str, _Item]]:
    """Per summary group, each item's name (as :meth:`~lbctl.spec.Spec.to_data` names it) →
    the item; of two items of one name, the later (as a dict of the data would keep)."""
    out: dict[str, dict[str, _Item]] = {kind: {} for kind in KINDS}
    for fe in spec.frontends:
        out["frontends"][fe.name] = _Item(fe, "clients", None, "frontends")
        for client in fe.clients:
            out["clients"][f"{fe.name}/{client.name}"] = _Item(client, "", fe, "frontends")
    for be in spec.backends:
        out["backends"][be.name] = _Item(be, "servers", None, "backends")
        for server in be.servers:
            out["servers"][f"{be.name}/{server.name}"] = _Item(server, "", be, "backends")
    for section in spec.sections:
        name = f"{section.kind} {section.name or ''}".rstrip()
        out["sections"][name] = _Item(section, "", None, "sections")
    for listen in spec.listens:  # a listen section, structured or not, is a section
        out["sections"][f"listen {listen.name}"] = _Item(listen, "", None, "listens")
    return out


def _same(a: _Item, b: _Item) -> bool:
    """Whether two items' models are equal but for the member they are compared without:
    then their data are too (frozen models; the data is a function of the fields)."""
    x, y, skip = a.model, b.model, a.skip
    if type(x) is not type(y):
        return False
    if not skip:
        return x == y
    mine, theirs = vars(x), vars(y)  # the fields' values
    return all(v == theirs[k] for k, v in mine.items() if k != skip)


def _alone(spec: Spec, **members: list[BaseModel]) -> dict[str, Any]:
    """:meth:`~lbctl.spec.Spec.to_data` of ``spec`` holding only ``members``' items: what the
    whole spec's data says of them and of its other parts (each part's data is its own:
    serialised and compacted by its place, not its neighbours), without serialising the rest."""
    return spec.model_copy(update={**_MANY, **members}).to_data()


def _data(spec: Spec, item: _Item) -> Any:
    """An item's data, as the whole spec's :meth:`~lbctl.spec.Spec.to_data` holds it, without
    the member it is compared without."""
    model, skip, parent, member = item
    if parent is not None:  # a client in its frontend, a server in its backend
        inner = "clients" if member == "frontends" else "servers"
        outer = parent.model_copy(update={inner: [model]})
        return _alone(spec, **{member: [outer]})[member][0][inner][0]
    if skip:
        data = _alone(spec, **{member: [model.model_copy(update={skip: []})]})[member][0]
        return {k: v for k, v in data.items() if k != skip}
    return _alone(spec, **{member: [model]})[member][0]


#: The top-level parts of ``settings``: their data key → the spec member.
_SETTINGS = {"global": "global_", "defaults": "defaults", "comment": "comment"}


def summarize(old: Spec, new: Spec) -> dict[str, Any]:
    """What ``new`` changes from ``old``::

        {"frontends": {"added": [...], "removed": [...], "changed": [...]},
         "backends": ..., "servers": ..., "clients": ..., "sections": ...,
         "settings": ["global", "defaults", "comment"]}   # the top-level parts that differ

    Names are sorted; servers are ``backend/server``, clients ``frontend/client``, sections
    ``kind name``. A frontend is changed when anything but its clients is; a backend when
    anything but its servers is: when its data (:meth:`~lbctl.spec.Spec.to_data`) differs.
    Only the items whose models differ are serialised to tell (:func:`_same`), each alone
    (:func:`_alone`): a large spec is never serialised whole.
    """
    before, after = _items(old), _items(new)
    summary: dict[str, Any] = {}
    for kind in KINDS:
        a, b = before[kind], after[kind]
        summary[kind] = {
            "added": sorted(b.keys() - a.keys()),
            "removed": sorted(a.keys() - b.keys()),
            "changed": sorted(n for n in a.keys() & b.keys() if not _same(a[n], b[n])
                              and _data(old, a[n]) != _data(new, b[n])),
        }
    parts = [part for part, member in _SETTINGS.items()
             if getattr(old, member) != getattr(new, member)]
    if parts:
        old_data, new_data = _alone(old), _alone(new)
        parts = [part for part in parts if old_data.get(part) != new_data.get(part)]
    summary["settings"] = parts
    return summary


@dataclass(frozen=True)
class Plan:
    """A plan over ``version``: ``changed`` (an apply would make a new version), the config
    ``diff`` (live → planned, ``""`` when equal) and the spec ``summary`` (:func:`summarize`)."""

    version: int
    changed: bool
    diff: str
    summary: dict[str, Any]
    config: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``config``: the planned haproxy.cfg)."""
        return {"version": self.version, "changed": self.changed, "diff": self.diff,
                "summary": self.summary, "config": self.config}


def make_plan(version: int, current: Spec, live: str, new: Spec, new_text: str) -> Plan:
    """The plan of applying ``new`` (rendered as ``new_text``) over ``version`` (spec
    ``current``, live file ``live``)."""
    diff = unified_diff(live, new_text, f"live haproxy.cfg (version {version})",
                        "planned haproxy.cfg")
    # The texts first: unequal, they answer without comparing two large specs.
    return Plan(version, new_text != live or new != current, diff, summarize(current, new),
                new_text)
