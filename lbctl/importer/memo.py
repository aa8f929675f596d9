"""Proxy sections kept from the last import: a frontend, backend or listen section whose lines
(and what else its import reads) did not change is not read, validated and rendered again.

The source view imports the whole text at every press of *validate*, *validate and save* or
*plan*, and an operator changes a few lines of it between presses. Reading a backend's lines,
validating its model and checking its round trip (:mod:`lbctl.importer.roundtrip`) was about
60 % of an 80,000-line import (10,000 backends), the frontend of its 10,000 routes most of the
rest. A backend's import depends on its own section only (``lbctl.importer.core._Importer
._proxy``: its lines, the comments right above its header, which of its lines are its own,
which are inside ``.if`` blocks) and on the target (``caps``, ``ctx``): :func:`section_key` is
all of that, its line texts and positions, and no line number. A frontend's and a listen's
import also read the binds of the proxies before them (a repeated bind stays an extra line), the
render context the file implies, and a frontend's the names of the file's backends and listens
(what a route may name): the importer adds those to its key. An equal key gives the same model,
the same data, the same binds taken and the same field → line offsets, which the import takes
with the line numbers of the text it reads now (:class:`KeptProxy`).

What is kept is the last import that succeeded, for one target (one generation: at most one
entry per proxy section of that text, the models shared with that import's spec; the texts
of its proxies' lines, about 5 MB at 80,000 lines). An import that fails keeps the previous
generation; an import for another target starts afresh. Kept models are frozen and never
changed in place once an import published them (the importer's one in-place assignment,
``comment`` and ``extra`` in ``_take_models``, comes before): sharing them between specs is
safe, and a reused model is the very object the render memo (:mod:`lbctl.render.memo`) last
rendered, so rendering it costs nothing either. Imports may run in several threads at once:
each reads the last generation and offers its own when it succeeds; the last to finish is kept.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from lbctl.config.document import Line, Section
from lbctl.features import Capabilities
from lbctl.render import RenderContext
from lbctl.spec import Backend, Frontend
from lbctl.spec.models import Listen

__all__ = ["MEMO", "KeptProxy", "SectionMemo", "section_key"]


@dataclass(frozen=True)
class KeptProxy:
    """One proxy section's import: its spec ``data`` (read by the importer's section order and
    lbctl's own sections), its validated ``model`` (comment and extra included), its ``origin``
    entries as (field path after the proxy's own, e.g. ``".servers[1]"``, ``""`` for the
    section; line offset from the section header's line), and the ``binds`` it took (a
    frontend's or listen's: the next proxies' repeated binds stay extra lines)."""

    data: dict[str, Any]
    model: Frontend | Backend | Listen
    origin: tuple[tuple[str, int], ...]
    binds: frozenset[str] = frozenset()


def section_key(section: Section, lines: list[Line], blocked: set[int]) -> Hashable:
    """What a proxy's import depends on within its section: the header's text and the
    comments right above it, the text of every line of the section (blank lines tell which
    comments sit right above a server), which of them are the section's own (``lines``: not
    claimed by the next header, not moved by a block around sections) and which of those are
    inside ``.if`` blocks (``blocked``: their ids). No line number."""
    header = section.lines[0]
    own = {id(ln) for ln in lines}
    texts = tuple([ln.text for ln in section.lines])
    mine = tuple([i for i, ln in enumerate(section.lines) if id(ln) in own])
    inside = tuple([i for i, ln in enumerate(lines) if id(ln) in blocked]) if blocked else ()
    return texts, tuple([c.text for c in header.comments_before]), mine, inside


class SectionMemo:
    """The proxy sections of the last successful import, for one process (see the module
    docstring)."""

    def __init__(self) -> None:
        self.last: tuple[tuple[Capabilities, RenderContext | None],
                         dict[Hashable, KeptProxy]] | None = None

    def generation(self, caps: Capabilities,
                   ctx: RenderContext | None) -> dict[Hashable, KeptProxy]:
        """The last import's sections when it was for ``caps`` and ``ctx``, else none. The dict
        is never changed once published: read it, do not write it."""
        last = self.last
        if last is None or last[0] != (caps, ctx):
            return {}
        return last[1]

    def keep(self, caps: Capabilities, ctx: RenderContext | None,
             sections: dict[Hashable, KeptProxy]) -> None:
        """Publish the sections of an import that succeeded, for the next import."""
        self.last = ((caps, ctx), sections)

    def clear(self) -> None:
        """Forget every section (the next import reads all of its backends)."""
        self.last = None


#: The process's memo, which :func:`lbctl.importer.import_config` reads and keeps.
MEMO = SectionMemo()
