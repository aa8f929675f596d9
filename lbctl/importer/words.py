"""What the importer asks of a line's words: is it a plain directive, is a word a count.

A line becomes a spec field only when lbctl would write it back the same; these two
questions decide that for every section (:mod:`lbctl.importer.settings`,
:mod:`lbctl.importer.proxies`).
"""

from __future__ import annotations

from lbctl.config.document import DIRECTIVE, Line

__all__ = ["number", "plain"]


def plain(line: Line) -> bool:
    """A directive without ``no`` in front and without a comment beside it."""
    return line.kind == DIRECTIVE and line.comment is None and line.directive is not None \
        and not line.directive.negated


def number(text: str, high: int | None = None) -> int | None:
    """A plain decimal count (``"0"``, ``"4096"``; not ``"007"``, ``"+1"``, ``"1e3"``) within
    ``1..high`` when ``high`` is given, else any; ``None`` otherwise."""
    if not (text.isdigit() and str(int(text)) == text):
        return None
    value = int(text)
    if high is not None and not 1 <= value <= high:
        return None
    return value
