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
from typing import Any

from lbctl.spec import Spec

__all__ = ["KINDS", "Plan", "make_plan", "summarize", "unified_diff"]

#: The summary's groups, in the order they are printed.
KINDS = ("frontends", "backends", "servers", "clients", "sections")


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """``difflib.unified_diff`` of two texts, 3 lines of context (``""`` when equal)."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=old_name, tofile=new_name)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _items(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per summary group, each item's name and its data (a frontend without its clients, a
    backend without its servers: those are items of their own), from a spec's
    :meth:`~lbctl.spec.Spec.to_data`."""
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
        name = f"{section['kind']} {section.get('name') or ''}".rstrip()
        out["sections"][name] = section
    for listen in data.get("listens", []):  # a listen section, structured or not, is a section
        out["sections"][f"listen {listen['name']}"] = listen
    return out


def summarize(old: Spec, new: Spec) -> dict[str, Any]:
    """What ``new`` changes from ``old``::

        {"frontends": {"added": [...], "removed": [...], "changed": [...]},
         "backends": ..., "servers": ..., "clients": ..., "sections": ...,
         "settings": ["global", "defaults", "comment"]}   # the top-level parts that differ

    Names are sorted; servers are ``backend/server``, clients ``frontend/client``, sections
    ``kind name``. A frontend is changed when anything but its clients is; a backend when
    anything but its servers is.
    """
    old_data, new_data = old.to_data(), new.to_data()  # once each: large specs take long
    before, after = _items(old_data), _items(new_data)
    summary: dict[str, Any] = {}
    for kind in KINDS:
        a, b = before[kind], after[kind]
        summary[kind] = {
            "added": sorted(set(b) - set(a)),
            "removed": sorted(set(a) - set(b)),
            "changed": sorted(n for n in set(a) & set(b) if a[n] != b[n]),
        }
    summary["settings"] = [part for part in ("global", "defaults", "comment")
                           if old_data.get(part) != new_data.get(part)]
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
    return Plan(version, new != current or new_text != live, diff, summarize(current, new),
                new_text)
