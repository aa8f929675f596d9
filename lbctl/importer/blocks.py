"""Conditional blocks around whole sections (``.if`` ... ``.endif``, configuration.txt §2.4).

The parser keeps every line in the section it follows, so in::

    backend app
        server s1 127.0.0.1:8080
    .if defined(WITH_STATS)
    listen stats
        bind :8404
    .endif

the ``.if`` is the last line of ``backend app`` and the ``.endif`` the last of ``listen stats``.
:func:`section_blocks` finds such lines: the conditional lines a section's own lines leave
unmatched, when they come after its last directive. A block's lines that open or continue it
(``.if``, ``.elif``, ``.else``, and what follows them there) go with the NEXT section, written
above it (``before``); the ``.endif`` lines that close it stay with their section, written below
it (``after``). Every section between them is ``wrapped``: the importer keeps it whole, as a
``sections`` entry. A block that opens or closes among a section's directives, or before the
first section (lbctl writes ``global`` first), cannot be kept that way: the importer refuses
it, naming its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lbctl.config.document import BLANK, DOT, Document, Line
from lbctl.spec.lines import CONDITIONALS

__all__ = ["SectionBlocks", "section_blocks"]


@dataclass
class SectionBlocks:
    """What :func:`section_blocks` found, by index in ``doc.sections``: ``before`` and
    ``after`` (the block lines written above / below the section), ``wrapped`` (the sections
    inside a block) and ``moved`` (the ids of those lines: no longer lines of the section they
    follow). The lines of a block that cannot be kept are not moved: the importer's walk
    finds them unmatched in their section, and refuses them naming their line."""

    before: dict[int, list[Line]] = field(default_factory=dict)
    after: dict[int, list[Line]] = field(default_factory=dict)
    wrapped: set[int] = field(default_factory=set)
    moved: set[int] = field(default_factory=set)


def _conditional(line: Line) -> bool:
    return line.kind == DOT and line.keyword in CONDITIONALS


def _unmatched(lines: list[Line]) -> list[Line]:
    """The conditional lines of ``lines`` that do not belong to a block opened and closed
    within ``lines``, in order."""
    groups: list[list[Line]] = []  # open blocks, each: its lines so far
    loose: list[Line] = []
    for line in lines:
        if not _conditional(line):
            continue
        if line.keyword == ".if":
            groups.append([line])
        elif not groups:
            loose.append(line)
        elif line.keyword == ".endif":
            groups.pop()
        else:
            groups[-1].append(line)
    return sorted(loose + [ln for g in groups for ln in g], key=lambda ln: ln.lineno)


def section_blocks(doc: Document, claimed: set[int]) -> SectionBlocks:
    """The conditional blocks around whole sections of ``doc`` (see the module docstring);
    ``claimed``: the ids of the comment lines that belong to the next section's header."""
    out = SectionBlocks()
    depth = 0
    pending: list[Line] = []
    last = len(doc.sections) - 1
    for index, section in enumerate(doc.sections):
        if pending:
            out.before[index] = pending
            pending = []
        if depth > 0:
            out.wrapped.add(index)
        if all(ln.kind != DOT for ln in section.lines):
            continue  # no conditional line: none left unmatched
        own = [ln for ln in section.lines[1:] if id(ln) not in claimed]
        loose = _unmatched(own)
        if not loose:
            continue
        start = own.index(loose[0])
        tail = [ln for ln in own[start:] if ln.kind != BLANK]
        if not all(_conditional(ln) for ln in tail):
            continue  # a directive or comment inside: refused by the walk, naming the line
        closers = 0
        while closers < len(tail) and tail[closers].keyword == ".endif":
            closers += 1
        if closers:
            out.after[index] = tail[:closers]
            out.wrapped.add(index)
        if index == last:
            out.after[index] = tail
        else:
            pending = tail[closers:]
        depth += sum(ln.keyword == ".if" for ln in tail) - sum(ln.keyword == ".endif" for ln in tail)
        out.moved.update(id(ln) for ln in tail)
    return out
