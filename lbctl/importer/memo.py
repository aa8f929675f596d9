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
with the line numbers of the text it reads now (:class:`KeptProxy`). Measured on the 80,017-line
text with one line changed (``tests/bench/bench_parse.py``): 1.6–2.0 s → 0.28–0.33 s CPU.

What is kept is the last import that succeeded, for one target (one generation: at most one
entry per proxy section of that text, under a digest of its key; the models shared with that
import's spec; measured at 80,000 lines, 10,000 backends: 6.9 MB beside the spec's own 69 MB,
where keeping the keys' texts and each section's whole data took 39 MB). An import that fails
keeps the previous generation; an import for another target starts afresh. Kept models are
frozen and never changed in place once an import published them (the importer's one in-place
assignment, ``comment`` and ``extra`` in ``_take_models``, comes before): sharing them between
specs is safe, and a reused model is the very object the render memo
(:mod:`lbctl.render.memo`) last rendered, so rendering it costs nothing either. Imports may
run in several threads at once: each reads the last generation and offers its own when it
succeeds; the last to finish is kept.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from lbctl.config.document import Line, Section
from lbctl.features import Capabilities
from lbctl.render import RenderContext
from lbctl.spec import Backend, Frontend
from lbctl.spec.models import Listen

__all__ = ["MEMO", "KeptProxy", "SectionMemo", "kept_data", "section_key", "shared_origin"]


@dataclass(frozen=True)
class KeptProxy:
    """One proxy section's import: the members of its spec ``data`` the importer still reads
    (:func:`kept_data`), its validated ``model`` (comment and extra included), its ``origin``
    entries as (field path after the proxy's own, e.g. ``".servers[1]"``, ``""`` for the
    section; line offset from the section header's line), and the ``binds`` it took (a
    frontend's or listen's: the next proxies' repeated binds stay extra lines)."""

    data: dict[str, Any]
    model: Frontend | Backend | Listen
    origin: tuple[tuple[str, int], ...]
    binds: frozenset[str] = frozenset()


def section_key(section: Section, lines: list[Line], blocked: set[int]) -> bytes:
    """What a proxy's import depends on within its section: the header's text and the
    comments right above it, the text of every line of the section (blank lines tell which
    comments sit right above a server), which of them are the section's own (``lines``: not
    claimed by the next header, not moved by a block around sections) and which of those are
    inside ``.if`` blocks (``blocked``: their ids). No line number. As a BLAKE2b digest of
    that, 16 bytes (not the texts themselves: 80,000 of them would stay in memory; a line text
    holds no newline, so the joined form names one section's lines exactly)."""
    header = section.lines[0]
    own = {id(ln) for ln in lines}
    mine = [str(i) for i, ln in enumerate(section.lines) if id(ln) in own]
    inside = [str(i) for i, ln in enumerate(lines) if id(ln) in blocked] if blocked else []
    parts = ["\n".join([ln.text for ln in section.lines]),
             "\n".join([c.text for c in header.comments_before]), ",".join(mine), ",".join(inside)]
    return hashlib.blake2b("\0".join(parts).encode("utf-8", "surrogatepass"),
                           digest_size=16).digest()


def kept_data(data: dict[str, Any]) -> dict[str, Any]:
    """The members of a proxy's spec data the importer reads once its model is taken (the
    name, for the section order; a frontend's clients, for lbctl's own sections): what a kept
    section holds instead of all its data."""
    return {k: data[k] for k in ("name", "clients") if k in data}


_ORIGINS: dict[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]] = {}


def shared_origin(origin: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """``origin`` as one tuple shared by every section of the same shape (10,000 backends of a
    generated file have a handful of shapes between them), its paths interned."""
    found = _ORIGINS.get(origin)
    if found is None:
        if len(_ORIGINS) > 65_536:  # a bound: shapes beyond it are simply not shared
            return origin
        found = _ORIGINS[origin] = tuple([(sys.intern(loc), at) for loc, at in origin])
    return found


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
