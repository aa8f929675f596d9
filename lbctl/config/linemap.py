"""The line map of :func:`lbctl.config.normal.line_map`, read only where it is asked.

``line_map(source, loads(target))`` pairs every line of a target text (a rendered
``haproxy.cfg``) with the line of a source document it carries: it parses the whole target
and keys every line of both. A ``haproxy -c`` diagnostic names a handful of lines, so
:class:`LineMap` gives the same answer for each line asked without the full parse: it finds
the target's section headers with one regular expression over the text (every line that could
be a header, each then lexed to be sure), and keys only the lines of the sections called as the
asked line's is, in both texts. A line whose own key does not pair (lbctl's own line) but that
carries a comment — comments pair across sections — is answered from the full map, built then.
The source may be given as its text: it is then read as the target is, only in the sections
asked (the source view keeps a submitted text without its 65 MB document).
``tests/test_config_linemap.py`` checks it against :func:`~lbctl.config.normal.line_map` on
every line of the corpus.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import cast

from lbctl.config.directives import ArgError
from lbctl.config.document import HEADER, Document, Line, arg_error, build, read_line
from lbctl.config.grammar import BLANKS, lex
from lbctl.config.normal import SectionKey, line_map, normal_words, normalised
from lbctl.config.sections import SECTION_KEYWORDS, parse_header

__all__ = ["LineMap"]

#: The start of a line that may be a section header (configuration.txt §2.1), from the
#: ``\n`` before it: its first word is a section keyword, or holds a quote, an escape or a
#: carriage return (whose value only the lexer knows). Every header matches; each match is
#: read to be sure. (Led by a literal ``\n``, the search skips from line to line.)
_MAYBE_HEADER = re.compile(
    rf"\n[{BLANKS}]*(?:(?:{'|'.join(sorted(map(re.escape, SECTION_KEYWORDS)))})"
    rf"(?=[{BLANKS}#'\"\\\r\n]|$)|[^{BLANKS}#\n]*['\"\\\r])"
)
#: A character that makes a line more than blank-separated words and a comment (the lexer's
#: fast path then reads what this module reads with :data:`_WORD`).
_PLAIN = re.compile(r"[\\'\"\r]")
_WORD = re.compile(f"[^{BLANKS}]+")

#: What a line says, as :func:`lbctl.config.normal.line_map` keys it: its section and
#: normalised words, or its section and ``"<header>"``.
Key = tuple[object, ...]


class _Indexed:
    """A text, its lines, and its section headers found without a full parse (see the module
    docstring): ``starts`` (header line numbers, ascending) and ``keys`` (their sections)."""

    def __init__(self, text: str) -> None:
        self.text = text
        parts = text.split("\n")
        if parts and not parts[-1]:
            parts.pop()
        self.lines = parts  # line N is parts[N - 1] (a trailing "\r" is its ending)
        self.starts: list[int] = []
        self.keys: list[SectionKey] = []
        self._read_headers()
        self._keyed: dict[SectionKey, dict[int, tuple[Key, int]]] = {}

    def line_text(self, lineno: int) -> str:
        """Line ``lineno`` (1-based) without its ending."""
        text = self.lines[lineno - 1]
        return text[:-1] if text.endswith("\r") else text

    def words(self, lineno: int) -> tuple[list[str], bool, bool]:
        """Line ``lineno``'s words (unquoted), whether it is a scope line (``[...]``) and
        whether it has a comment, as :func:`lbctl.config.grammar.lex` reads it."""
        text = self.line_text(lineno)
        if _PLAIN.search(text) is None:  # what lex_fast reads, without the Word objects
            at = text.find("#")
            values = _WORD.findall(text if at < 0 else text[:at])
            return values, bool(values) and values[0].startswith("["), at >= 0
        lexed = lex(text, lineno)
        words = lexed.words
        return ([w.value for w in words], bool(words) and words[0].raw.startswith("["),
                lexed.comment is not None)

    def _read_headers(self) -> None:
        scan = "\n" + self.text
        lineno, at = 1, 0
        for m in _MAYBE_HEADER.finditer(scan):
            lineno += scan.count("\n", at, m.start())
            at = m.start()
            values = self.words(lineno)[0]
            if values and values[0] in SECTION_KEYWORDS:  # (a scope line's word starts with '[')
                try:
                    name, _ = parse_header(values[0], tuple(values[1:]))
                except ArgError as err:
                    words = lex(self.line_text(lineno), lineno).words
                    line = Line(lineno, self.line_text(lineno), "", HEADER, words)
                    raise arg_error(err, line, 1) from None
                self.starts.append(lineno)
                self.keys.append((values[0], name))

    def section_at(self, lineno: int) -> SectionKey | None:
        """The section line ``lineno`` is in, ``None`` before the first header."""
        at = bisect_right(self.starts, lineno) - 1
        return self.keys[at] if at >= 0 else None

    def keyed(self, section: SectionKey) -> dict[int, tuple[Key, int]]:
        """Each line of the sections called ``section`` that says something → its key and how
        many lines above it (in those sections) have that key."""
        found = self._keyed.get(section)
        if found is not None:
            return found
        found = {}
        seen: dict[Key, int] = {}
        ends = [*self.starts[1:], len(self.lines) + 1]
        for start, end, key in zip(self.starts, ends, self.keys, strict=True):
            if key != section:
                continue
            here: Key = (*section, "<header>")
            found[start] = (here, seen.get(here, 0))
            seen[here] = found[start][1] + 1
            for n in range(start + 1, end):
                values, scope, _ = self.words(n)
                if not values or (scope and not values[0].startswith(".")):
                    continue  # blank, comment or scope line: nothing said
                here = (*section, *normal_words(values))
                nth = seen.get(here, 0)
                found[n] = (here, nth)
                seen[here] = nth + 1
        self._keyed[section] = found
        return found


class LineMap:
    """``line_map(source, loads(target)).get(lineno)`` (1-based target lines → source
    :class:`Line`), computed per asked line (see the module docstring). ``source`` is the
    parsed document or its text: a text is read as the target is, only in the sections asked
    (the source view keeps a submitted text without its document). Raises
    :class:`~lbctl.errors.ParseError` for a line it reads that does not lex or a header
    without its name; lbctl renders neither, and a submitted text was parsed before."""

    def __init__(self, source: Document | str, target: str) -> None:
        self._source = source if isinstance(source, Document) else None
        self._source_text = _Indexed(source) if isinstance(source, str) else None
        self._target = _Indexed(target)
        #: Per section, per key, its source lines: :class:`Line` s of the document, or the
        #: numbers of the text's lines (each read into a :class:`Line` only when answered).
        self._sources: dict[SectionKey, dict[Key, list[Line] | list[int]]] = {}
        self._full: dict[int, Line] | None = None

    def get(self, lineno: int) -> Line | None:
        """The source line target line ``lineno`` carries, or ``None`` (lbctl's own line, or
        no such line)."""
        target = self._target
        if not 1 <= lineno <= len(target.lines):
            return None
        section = target.section_at(lineno)
        if section is not None:
            key, nth = target.keyed(section).get(lineno, (None, 0))
            if key is not None:
                same = self._source_keys(section).get(key, [])
                if nth < len(same):
                    return self._source_line(section, same[nth])
        # Unpaired by what it says: only its comment may pair it, and comments pair across
        # the whole text.
        if not target.words(lineno)[2]:
            return None
        return self._full_map().get(lineno)

    def _source_keys(self, section: SectionKey) -> dict[Key, list[Line] | list[int]]:
        """Per key, the source lines of the sections called ``section`` saying it, in order
        (from a text: their numbers, read by :meth:`_source_line` when answered)."""
        found = self._sources.get(section)
        if found is not None:
            return found
        if self._source_text is not None:
            numbers: dict[Key, list[int]] = {}
            for n, (key, _) in self._source_text.keyed(section).items():  # in line order
                numbers.setdefault(key, []).append(n)
            found = cast(dict[Key, list[Line] | list[int]], numbers)
            self._sources[section] = found
            return found
        lines: dict[Key, list[Line]] = {}
        for s in self._source_document().sections:
            if (s.kind, s.name) != section:
                continue
            for line in s.lines:
                if line.kind == HEADER:
                    lines.setdefault((*section, "<header>"), []).append(line)
                elif words := normalised(line):
                    lines.setdefault((*section, *words), []).append(line)
        found = cast(dict[Key, list[Line] | list[int]], lines)
        self._sources[section] = found
        return found

    def _source_line(self, section: SectionKey, item: Line | int) -> Line:
        """A source line of :meth:`_source_keys`: the document's, or line ``item`` of the
        text read as a line of a ``section[0]`` section."""
        if isinstance(item, Line):
            return item
        assert self._source_text is not None
        return read_line(section[0], self._source_text.line_text(item), item)

    def _source_document(self) -> Document:
        if self._source is None:
            assert self._source_text is not None
            self._source = build(self._source_text.text)
        return self._source

    def _full_map(self) -> dict[int, Line]:
        if self._full is None:
            source = self._source_document()
            by_number = {line.lineno: line for line in source.lines()}
            self._full = {n: by_number[m]
                          for n, m in line_map(source, build(self._target.text)).items()}
        return self._full
