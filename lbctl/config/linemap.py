"""The line map of :func:`lbctl.config.normal.line_map`, read only where it is asked.

``line_map(source, loads(target))`` pairs every line of a target text (a rendered
``haproxy.cfg``) with the line of a source document it carries: it parses the whole target
and keys every line of both. A ``haproxy -c`` diagnostic names a handful of lines, so
:class:`LineMap` gives the same answer for each line asked without the full parse: it finds
the target's section headers with one regular expression over the text (every line that could
be a header, each then lexed to be sure), and keys only the lines of the sections called as the
asked line's is, in both texts. A line whose own key does not pair (lbctl's own line) but that
carries a comment — comments pair across sections — is answered from the full map, built then.
``tests/test_config_linemap.py`` checks it against :func:`~lbctl.config.normal.line_map` on
every line of the corpus.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from lbctl.config.directives import ArgError
from lbctl.config.document import HEADER, Document, Line, arg_error, build
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


class LineMap:
    """``line_map(source, loads(target)).get(lineno)`` (1-based target lines → source
    :class:`Line`), computed per asked line (see the module docstring). Raises
    :class:`~lbctl.errors.ParseError` for a line it reads that does not lex or a header
    without its name; lbctl renders neither."""

    def __init__(self, source: Document, target: str) -> None:
        self._source = source
        self._target = target
        parts = target.split("\n")
        if parts and not parts[-1]:
            parts.pop()
        self._lines = parts  # line N is parts[N - 1] (a trailing "\r" is its ending)
        self._starts: list[int] = []  # the target's header lines, ascending
        self._keys: list[SectionKey] = []  # their sections, in the same order
        self._read_headers()
        self._targets: dict[SectionKey, dict[int, tuple[Key, int]]] = {}
        self._sources: dict[SectionKey, dict[Key, list[Line]]] = {}
        self._full: dict[int, Line] | None = None

    def _text(self, lineno: int) -> str:
        text = self._lines[lineno - 1]
        return text[:-1] if text.endswith("\r") else text

    def _words(self, lineno: int) -> tuple[list[str], bool, bool]:
        """Line ``lineno``'s words (unquoted), whether it is a scope line (``[...]``) and
        whether it has a comment, as :func:`lbctl.config.grammar.lex` reads it."""
        text = self._text(lineno)
        if _PLAIN.search(text) is None:  # what lex_fast reads, without the Word objects
            at = text.find("#")
            values = _WORD.findall(text if at < 0 else text[:at])
            return values, bool(values) and values[0].startswith("["), at >= 0
        lexed = lex(text, lineno)
        words = lexed.words
        return ([w.value for w in words], bool(words) and words[0].raw.startswith("["),
                lexed.comment is not None)

    def _read_headers(self) -> None:
        scan = "\n" + self._target
        lineno, at = 1, 0
        for m in _MAYBE_HEADER.finditer(scan):
            lineno += scan.count("\n", at, m.start())
            at = m.start()
            values = self._words(lineno)[0]
            if values and values[0] in SECTION_KEYWORDS:  # (a scope line's word starts with '[')
                try:
                    name, _ = parse_header(values[0], tuple(values[1:]))
                except ArgError as err:
                    words = lex(self._text(lineno), lineno).words
                    line = Line(lineno, self._text(lineno), "", HEADER, words)
                    raise arg_error(err, line, 1) from None
                self._starts.append(lineno)
                self._keys.append((values[0], name))

    def get(self, lineno: int) -> Line | None:
        """The source line target line ``lineno`` carries, or ``None`` (lbctl's own line, or
        no such line)."""
        if not 1 <= lineno <= len(self._lines):
            return None
        at = bisect_right(self._starts, lineno) - 1
        if at >= 0:
            section = self._keys[at]
            key, nth = self._target_keys(section).get(lineno, (None, 0))
            if key is not None:
                same = self._source_keys(section).get(key, [])
                if nth < len(same):
                    return same[nth]
        # Unpaired by what it says: only its comment may pair it, and comments pair across
        # the whole text.
        if not self._words(lineno)[2]:
            return None
        return self._full_map().get(lineno)

    def _target_keys(self, section: SectionKey) -> dict[int, tuple[Key, int]]:
        """Each line of the target's sections called ``section`` → its key and how many lines
        above it (in those sections) have that key."""
        found = self._targets.get(section)
        if found is not None:
            return found
        found = {}
        seen: dict[Key, int] = {}
        ends = [*self._starts[1:], len(self._lines) + 1]
        for start, end, key in zip(self._starts, ends, self._keys, strict=True):
            if key != section:
                continue
            here: Key = (*section, "<header>")
            found[start] = (here, seen.get(here, 0))
            seen[here] = found[start][1] + 1
            for n in range(start + 1, end):
                values, scope, _ = self._words(n)
                if not values or (scope and not values[0].startswith(".")):
                    continue  # blank, comment or scope line: nothing said
                here = (*section, *normal_words(values))
                nth = seen.get(here, 0)
                found[n] = (here, nth)
                seen[here] = nth + 1
        self._targets[section] = found
        return found

    def _source_keys(self, section: SectionKey) -> dict[Key, list[Line]]:
        """Per key, the source lines of the sections called ``section`` saying it, in order."""
        found = self._sources.get(section)
        if found is not None:
            return found
        found = {}
        for s in self._source.sections:
            if (s.kind, s.name) != section:
                continue
            for line in s.lines:
                if line.kind == HEADER:
                    found.setdefault((*section, "<header>"), []).append(line)
                elif words := normalised(line):
                    found.setdefault((*section, *words), []).append(line)
        self._sources[section] = found
        return found

    def _full_map(self) -> dict[int, Line]:
        if self._full is None:
            by_number = {line.lineno: line for line in self._source.lines()}
            self._full = {n: by_number[m]
                          for n, m in line_map(self._source, build(self._target)).items()}
        return self._full
