"""Keywords that look misspelled: an unlisted keyword close to one its section accepts.

The parser keeps a keyword its section's table does not list as
:class:`~lbctl.config.directives.Unknown` (HAProxy judges it, :mod:`lbctl.config.sections`).
When a text cannot be imported, the reason is often one such line — ``htp-request`` for
``http-request`` breaks the rules of a rate-limited client, and the import then reports the
sections that depend on them. :func:`misspelled` names those lines first.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from lbctl.config.directives import Unknown
from lbctl.config.document import Document
from lbctl.config.sections import TABLES

__all__ = ["Misspelling", "misspelled"]

#: difflib ratio from which an unlisted keyword counts as a misspelling of a listed one
#: (``htp-request``/``http-request`` 0.96, ``timout``/``timeout`` 0.92; ``use-server`` and
#: ``use_backend``, 0.38, are not).
CUTOFF = 0.8


@dataclass(frozen=True)
class Misspelling:
    """Line ``line`` (1-based) of a ``kind`` section starts with ``keyword``, which that
    section's table does not list; ``suggestion`` is the closest keyword it does."""

    line: int
    kind: str
    section: str | None
    keyword: str
    suggestion: str

    def message(self) -> str:
        """``"unknown keyword 'htp-request' in frontend web; did you mean 'http-request'?"``"""
        where = f"{self.kind} {self.section}" if self.section else self.kind
        return (f"unknown keyword {self.keyword!r} in {where}; "
                f"did you mean {self.suggestion!r}?")


def misspelled(doc: Document) -> list[Misspelling]:
    """The directives of ``doc`` whose keyword is unlisted in their section and within
    :data:`CUTOFF` of a listed one, in file order. Lines before any section are not looked at
    (the parser already refuses them)."""
    found = []
    for section in doc.sections:
        table = TABLES.get(section.kind)
        if not table:
            continue
        for line in section.lines[1:]:
            if not isinstance(line.directive, Unknown):
                continue
            close = difflib.get_close_matches(line.keyword, table, n=1, cutoff=CUTOFF)
            if close:
                found.append(Misspelling(line.lineno, section.kind, section.name,
                                         line.keyword, close[0]))
    return found
