"""Normalised directives: what HAProxy reads from a line, without how it was written.

Two configurations that differ only in quoting, escapes, indentation, comments, blank lines,
line endings, section order or the spelling of a time value (``5000`` / ``5s``) hold the same
normalised directives, section by section. :func:`normalised` is one line's;
:func:`section_directives` is a whole document's, as a multiset per section. ``lbctl import``
is checked with it: rendering an imported config must leave every section's multiset as it
was, apart from lbctl's own lines (``tests/test_import_corpus.py``).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterator

from lbctl import units
from lbctl.config.document import COMMENT, DIRECTIVE, DOT, HEADER, Document, Line
from lbctl.config.grammar import BLANKS, lex
from lbctl.config.pause import gc_paused
from lbctl.config.sections import header_addresses

__all__ = ["SectionKey", "line_map", "normal_words", "normalised", "section_directives",
           "text_directives", "time_ms"]

#: A section of a document: ``(kind, name)`` (``("global", None)``, ``("backend", "app")``).
SectionKey = tuple[str, str | None]

#: Keywords whose only argument is a time (configuration.txt §2.5 units).
_TIME_KEYWORDS = frozenset(("hard-stop-after", "grace"))


def time_ms(text: str) -> str:
    """A HAProxy time value in milliseconds as text, as HAProxy stores it (``"5s"`` → ``"5000"``,
    ``"500us"`` → ``"1"``: :func:`lbctl.units.time_ms`); anything that is not a plain time
    (``${T}``, ``15min``) is returned unchanged."""
    value = units.time_ms(text)
    return text if value is None else str(value)


def normalised(line: Line) -> tuple[str, ...]:
    """The words of a directive or dot line, unquoted and unescaped, ``no`` kept in front;
    the time of ``timeout <event> <time>``, ``hard-stop-after`` and ``grace`` in milliseconds.
    ``()`` for blank, comment and header lines."""
    if line.kind not in (DIRECTIVE, DOT):
        return ()
    return normal_words([w.value for w in line.words])


def text_directives(text: str) -> list[tuple[str, ...]]:
    """The normalised directives (:func:`normalised`) of ONE section's text, header first line
    excluded, in order: what ``[normalised(ln) for ln in build(text).sections[0].lines[1:]]``
    gives without blanks and comments, by lexing each line alone (no document is built).
    Raises :class:`~lbctl.errors.ParseError` for a line the grammar refuses."""
    out = []
    for lineno, raw in enumerate(text.splitlines()[1:], 2):
        if _PLAIN.search(raw) is None:  # no quote, escape or comment: the words are the text's
            words = _WORD.findall(raw)
        else:
            words = [w.value for w in lex(raw, lineno).words]
        if words:
            out.append(normal_words(words))
    return out


#: A character that makes a line more than blank-separated words (what :func:`lex` reads).
_PLAIN = re.compile(r"[\\'\"#\r]")
_WORD = re.compile(f"[^{BLANKS}]+")


def normal_words(words: list[str]) -> tuple[str, ...]:
    """The normalised form (:func:`normalised`) of a directive's unquoted ``words`` (at least
    one; the list is changed in place)."""
    at = 1 if words[0] == "no" and len(words) > 1 else 0
    keyword = words[at]
    if keyword == "timeout" and len(words) == at + 3:
        words[at + 2] = time_ms(words[at + 2])
    elif keyword in _TIME_KEYWORDS and len(words) == at + 2:
        words[at + 1] = time_ms(words[at + 1])
    return tuple(words)


#: The name tests/test_import_roundtrip.py imports.
_normal = normal_words


def section_directives(doc: Document) -> dict[SectionKey, Counter[tuple[str, ...]]]:
    """Per section ``(kind, name)``, the multiset of its normalised directives (dot lines
    included, comments and blank lines not); a listener written on the header
    (``listen stats :1936``) counts as the ``bind`` line it means. Sections of the same kind and name (two
    ``global`` sections) are counted together; lines before the first section are under
    ``("", None)``."""
    out: dict[SectionKey, Counter[tuple[str, ...]]] = {}
    pre = [normalised(ln) for ln in doc.preamble if ln.kind != COMMENT]
    if any(pre):
        out[("", None)] = Counter(w for w in pre if w)
    for section in doc.sections:
        counter = out.setdefault((section.kind, section.name), Counter())
        counter.update(("bind", address) for address in header_addresses(
            section.kind, section.header.args))
        counter.update(w for w in (normalised(ln) for ln in section.lines[1:]) if w)
    return out


def _keyed(doc: Document) -> Iterator[tuple[tuple[object, ...], Line]]:
    """Each line with what it says: its section and normalised directive, its section for a
    header, its text for a comment (wherever it moved: beside a line or above it)."""
    for line in doc.preamble:
        if line.comment is not None:
            yield ("#", line.comment.strip()), line
    for section in doc.sections:
        where = (section.kind, section.name)
        for line in section.lines:
            if line.kind == HEADER:
                yield (*where, "<header>"), line
            elif (words := normalised(line)):
                yield (*where, *words), line
            if line.comment is not None:
                yield ("#", line.comment.strip()), line


def line_map(source: Document, target: Document) -> dict[int, int]:
    """Target line number → the source line it carries, for every line of ``target`` saying
    what a line of ``source`` says (a directive of the same section, the same header, the
    same comment); repeated lines pair up in order. Lines of ``target`` that no source line
    gave (lbctl's own) are absent. Used to point ``haproxy -c`` messages about a rendered
    config at the lines of the text a user submitted."""
    with gc_paused():  # a pool of every line: lbctl.config.pause
        return _line_map(source, target)


def _line_map(source: Document, target: Document) -> dict[int, int]:
    pool: dict[tuple[object, ...], deque[int]] = {}
    for key, line in _keyed(source):
        same = pool.get(key)
        if same is None:
            pool[key] = deque((line.lineno,))
        else:
            same.append(line.lineno)
    out: dict[int, int] = {}
    for key, line in _keyed(target):
        found = pool.get(key)
        if found and line.lineno not in out:
            out[line.lineno] = found.popleft()
    return out
