"""The order of the sections after ``global`` in the rendered config (:attr:`Spec.order`).

HAProxy numbers proxies without an ``id`` in file order, and those numbers show in stats,
logs and ``show stat`` consumers (configuration.txt §4.2 "id"), so ``lbctl import`` keeps a
file's order and the renderer follows it. Without an order (a hand-written spec) lbctl writes
its own: the ``sections`` entries, listens, frontends, backends.

HAProxy applies a ``defaults`` section to the proxies after it that name no ``from``
(configuration.txt §4), so its place matters too: a defaults section the order names is written
there, one it does not name (a hand-written spec, a spec of one defaults section) before every
other section. An unnamed section is named by its kind once per section: two ``defaults``
entries place the first and the second anonymous defaults section, in list order.

Each block is ``(kind, item)``: ``("defaults", Defaults)``, ``("section", ExtraSection)``,
``("listen", Listen)``, ``("frontend", FrontendView)``
(the template writes its throttles and 429 backend right after it), ``("backend", Backend)``,
and lbctl's own ``("peers", None)`` (before the first frontend) and ``("prometheus", None)``
(after the last frontend, else before the first backend, else last).
"""

from __future__ import annotations

from typing import Any

from lbctl.spec import Spec

__all__ = ["ordered_blocks", "section_ref"]


def section_ref(kind: str, name: str | None) -> str:
    """How :attr:`Spec.order` names a section: ``"<kind> <name>"``, or ``"<kind>"``."""
    return kind if name is None else f"{kind} {name}"


def ordered_blocks(spec: Spec, frontends: list[Any], *, peers: bool) -> list[tuple[str, Any]]:
    """The blocks the template writes after ``global``, in order (see the module
    docstring); ``frontends``: the frontends' views, in ``spec.frontends`` order; ``peers``:
    whether lbctl's peers section is written."""
    defaults: list[tuple[str, str, Any]] = [
        ("defaults", section_ref("defaults", d.name), d) for d in spec.defaults_sections()]
    items: list[tuple[str, str, Any]] = list(defaults)
    items += [("section", section_ref(s.kind, s.name), s) for s in spec.sections]
    items += [("listen", section_ref("listen", li.name), li) for li in spec.listens]
    items += [("frontend", section_ref("frontend", fv.spec.name), fv) for fv in frontends]
    items += [("backend", section_ref("backend", be.name), be) for be in spec.backends]
    placed: list[tuple[str, str, Any]] = []
    for ref in spec.order or ():
        found = next((it for it in items if it[1] == ref), None)
        if found is not None:
            items.remove(found)
            placed.append(found)
    first = [it for it in items if it[0] == "defaults"]
    rest = [it for it in items if it[0] != "defaults"]
    blocks = [(kind, item) for kind, _, item in first + placed + rest]
    kinds = [kind for kind, _ in blocks]
    if spec.global_.prometheus_exporter is not None:
        if "frontend" in kinds:
            at = len(kinds) - kinds[::-1].index("frontend")
        else:
            at = kinds.index("backend") if "backend" in kinds else len(kinds)
        blocks.insert(at, ("prometheus", None))
    if peers:
        kinds = [kind for kind, _ in blocks]
        blocks.insert(kinds.index("frontend") if "frontend" in kinds else len(kinds), ("peers", None))
    return blocks
