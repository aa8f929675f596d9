"""The order of the sections after ``defaults`` in the rendered config (:attr:`Spec.order`).

HAProxy numbers proxies without an ``id`` in file order, and those numbers show in stats,
logs and ``show stat`` consumers (configuration.txt §4.2 "id"), so ``lbctl import`` keeps a
file's order and the renderer follows it. Without an order (a hand-written spec) lbctl writes
its own: the ``sections`` entries, frontends, backends.

Each block is ``(kind, item)``: ``("section", ExtraSection)``, ``("frontend", FrontendView)``
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
    """The blocks the template writes after ``defaults``, in order (see the module
    docstring); ``frontends``: the frontends' views, in ``spec.frontends`` order; ``peers``:
    whether lbctl's peers section is written."""
    items: list[tuple[str, str, Any]] = [
        ("section", section_ref(s.kind, s.name), s) for s in spec.sections]
    items += [("frontend", section_ref("frontend", fv.spec.name), fv) for fv in frontends]
    items += [("backend", section_ref("backend", be.name), be) for be in spec.backends]
    placed: list[tuple[str, str, Any]] = []
    for ref in spec.order or ():
        found = next((it for it in items if it[1] == ref), None)
        if found is not None:
            items.remove(found)
            placed.append(found)
    blocks = [(kind, item) for kind, _, item in placed + items]
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
