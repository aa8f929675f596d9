"""The host policy's reading of a text, line by line, and what it keeps of the last text read.

:meth:`lbctl.spec.policy.HostPolicy.screen_text` screens the live file's text without building
a :class:`~lbctl.config.document.Document`; :func:`read_sections` is that reading: the
dot-directives before the first section and each section with its lines, read as
:func:`lbctl.config.loads` reads them (:func:`lbctl.config.document.build`).

What a screen keeps for the next (:class:`Clear`, one generation: the last text's only):

* **clear lines**, per section kind: a directive line whose words hold no refused keyword and
  no path at all (``balance roundrobin``, a ``server`` line with an IP address) is clear
  whatever the roots, the files and the operator's options, so its text and its section kind
  alone decide it; the same line in the next text is not read again (a clear chunk keeps
  its directive lines, so they stay known one by one when the next text changes it);
* **clear chunks**: the text is cut before every line that starts with neither a blank nor a
  tab nor is empty (``re.split``; the section headers and comments lbctl writes, and any line
  written there); a chunk every line of which was clear (directives clear, or no words, or a
  header of a kind that is not refused), read in a section of the same kind (or before any
  section), is clear the next time as a whole: its headers are taken from what it held, its
  lines are not split. A chunk holding a dot-directive, a ``*-base`` line, a path, a refused
  keyword or the header of a refused section kind is read line by line every time. An apply
  changes a few sections of many, so most of a large text is a few thousand chunk lookups.

Why a clear chunk reads the same: the reading of a line depends on its text and on the kind of
the section it is in, and that kind on the headers before it — within the chunk (the same
text), or the one the chunk was read in (part of the key). Nothing a clear chunk holds is
screened (its lines are clear, its headers open sections of kinds the policy does not refuse),
so leaving its lines out of the sections changes no refusal; the headers are kept, since the
lines of the next chunks belong to them. ``tests/test_policy_text.py`` screens every corpus
file and every golden render twice (the second time with the chunks known) and texts that
move a chunk under another kind of section.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from lbctl.config.grammar import BLANKS, lex
from lbctl.config.sections import SECTION_KEYWORDS
from lbctl.spec import policy_rules as rules

__all__ = ["Clear", "Reading", "Section", "Words", "read_sections"]

#: One line to screen: ``(lineno, is a dot-directive, its words unquoted, its text)``.
Words = tuple[int, bool, list[str], str]
#: A clear chunk's headers (``(line offset in the chunk, section kind)``) and its directive
#: lines by the kind of section they are in (all of them clear).
_Facts = tuple[tuple[tuple[int, str], ...], tuple[tuple[str, list[str]], ...]]

_PLAIN_WORD = re.compile(f"[^{BLANKS}]+")
#: Where chunks are cut: before a line that starts with neither a blank nor a tab and is not
#: empty (an empty line stays with the chunk before it).
_CHUNK_CUT = re.compile(r"\n(?=[^ \t\n])")


class Section(NamedTuple):
    """A section as the policy reads it: its kind, header line and screened lines (the
    directives and dot-directives of its body, in order)."""

    kind: str
    lineno: int
    lines: list[Words]


@dataclass(frozen=True)
class Clear:
    """What one screened text leaves for the next (module docstring): ``lines``, the clear
    lines by section kind; ``chunks``, the headers and the lines of each clear chunk by
    ``(section kind or None, chunk text)``."""

    lines: Mapping[str, frozenset[str]] = field(default_factory=dict)
    chunks: Mapping[tuple[str | None, str], _Facts] = field(default_factory=dict)


class _Read:
    """A chunk read line by line: the key it would be kept under, its first line's number and
    its number of lines, its headers, its directive lines by section kind, and whether
    anything in it keeps it from ever being clear (``plain`` false: a dot-directive, a
    header of a refused section kind). (A slotted class: one per chunk read.)"""

    __slots__ = ("count", "headers", "key", "lines", "plain", "start")

    def __init__(self, key: tuple[str | None, str], start: int, count: int) -> None:
        self.key, self.start, self.count = key, start, count
        self.headers: list[tuple[int, str]] = []
        self.lines: list[tuple[str, list[str]]] = []
        self.plain = True


@dataclass
class Reading:
    """One text read: ``dots`` (before the first section: ``(lineno, keyword)``),
    ``sections``, and for :meth:`next_clear` the chunks read line by line and the chunks
    found clear."""

    dots: list[tuple[int, str]]
    sections: list[Section]
    read: list[_Read]
    kept: dict[tuple[str | None, str], _Facts]

    def next_clear(self, clear_lines: dict[str, set[str]], unclear: list[int]) -> Clear:
        """What this text leaves for the next, once screened: ``clear_lines`` (the screen's
        clear lines by kind) and the chunks found clear now or before, where a chunk read
        now is clear when none of its lines is in ``unclear`` (the line numbers the screen
        did not find clear: a path, a refused keyword, a ``*-base`` line, a dot-directive, a
        line of a refused section)."""
        chunks = dict(self.kept)
        marks = sorted(unclear)
        for chunk in self.read:
            if chunk.plain:
                at = bisect_left(marks, chunk.start)
                if at == len(marks) or marks[at] >= chunk.start + chunk.count:
                    chunks[chunk.key] = (tuple(chunk.headers),  # (its lists, never changed again)
                                         tuple((k, ts) for k, ts in chunk.lines if ts))
        return Clear({k: frozenset(v) for k, v in clear_lines.items()}, chunks)


def read_sections(text: str, known: Clear | None = None,
                  clear: dict[str, set[str]] | None = None) -> Reading:
    """``text`` read as :func:`lbctl.config.loads` reads it (:func:`lbctl.config.document.build`):
    lines split on ``\\n`` (a ``\\r`` before it dropped); a line without quotes, backslashes
    or ``\\r`` is its blank-separated words up to a ``#`` (:func:`lbctl.config.grammar.lex_fast`),
    any other line goes through :func:`lbctl.config.grammar.lex`; a line whose first word
    starts with ``.`` is a dot-directive, one whose first raw word starts with ``[`` a scope
    (not screened), one whose first word is a section keyword a header.

    ``known`` (what the last screen left, :class:`Clear`): a line of a section of kind ``k``
    whose text is among ``known.lines[k]`` is clear: it is added to ``clear[k]`` and not read;
    a chunk among ``known.chunks`` is not split (module docstring). Raises
    :class:`~lbctl.errors.ParseError` for a line the lexer cannot read."""
    known = known or Clear()
    clear = {} if clear is None else clear
    dots: list[tuple[int, str]] = []
    sections: list[Section] = []
    lines: list[Words] | None = None
    kind: str | None = None
    body = text[:-1] if text.endswith("\n") else text
    findall = _PLAIN_WORD.findall
    skip: frozenset[str] = frozenset()
    seen: set[str] = set()
    read: list[_Read] = []
    kept: dict[tuple[str | None, str], _Facts] = {}
    lineno = 1
    for chunk in _CHUNK_CUT.split(body):
        key = (kind, chunk)
        facts = known.chunks.get(key)
        if facts is not None:  # every line clear: its headers opened, nothing else read
            kept[key] = facts
            for offset, head in facts[0]:
                lines, kind = [], head
                sections.append(Section(head, lineno + offset, lines))
                skip = known.lines.get(head, frozenset())
                seen = clear.setdefault(head, set())
            for of_kind, texts in facts[1]:  # its lines stay known one by one too
                clear.setdefault(of_kind, set()).update(texts)
            lineno += chunk.count("\n") + 1
            continue
        parts = chunk.split("\n")
        if "\r" in chunk:
            parts = [p[:-1] if p.endswith("\r") else p for p in parts]
        n = len(parts)
        start, lineno = lineno, lineno + n
        this = _Read(key, start, n)
        read.append(this)
        mine: list[str] = []
        if kind is not None:
            this.lines.append((kind, mine))
        pos = 0
        while pos < n:  # the lines not known clear in this kind; again after a header
            last, pos = pos, n
            for k in (k for k in range(last, n) if parts[k] not in skip) if skip else range(last, n):
                if k > last:  # known clear lines: kept as clear, not read
                    hits = parts[last:k]
                    seen.update(hits)
                    mine += hits
                last = k + 1
                part = parts[k]
                if "'" in part or '"' in part or "\\" in part or "\r" in part:
                    lexed = lex(part, start + k).words
                    if not lexed:
                        continue
                    words = [w.value for w in lexed]
                    raw = lexed[0].raw
                else:
                    hash_at = part.find("#")
                    words = findall(part if hash_at < 0 else part[:hash_at])
                    if not words:
                        continue
                    raw = words[0]
                first = words[0]
                if first.startswith("."):
                    this.plain = False
                    if lines is None:
                        dots.append((start + k, first))
                    else:
                        lines.append((start + k, True, words, part))
                elif raw.startswith("["):
                    continue
                elif first in SECTION_KEYWORDS:
                    lines, kind = [], first
                    sections.append(Section(first, start + k, lines))
                    this.headers.append((k, first))
                    this.plain = this.plain and first not in rules.REFUSED_SECTIONS
                    skip = known.lines.get(first, frozenset())
                    seen = clear.setdefault(first, set())
                    mine = []
                    this.lines.append((first, mine))
                    pos = k + 1  # the lines after it: known clear in this kind or not
                    break
                elif lines is not None:
                    lines.append((start + k, False, words, part))
                    mine.append(part)
            else:
                if last < n:
                    hits = parts[last:n]
                    seen.update(hits)
                    mine += hits
    return Reading(dots, sections, read, kept)
