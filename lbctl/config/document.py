"""The document model of ``haproxy.cfg``: sections → lines, every line kept byte for byte.

A :class:`Document` is the lines before the first section (the preamble) followed by its
sections in file order; a :class:`Section` is its header line followed by every line up to the
next header, blank lines and comments included. A :class:`Line` keeps its exact ``text`` and
its line ending (``"\\n"``, ``"\\r\\n"``, or ``""`` for a last line without one), so
:func:`lbctl.config.dumps` gives back the very bytes that were read. On top of that text each
line carries its words (:class:`~lbctl.config.grammar.Word`), its trailing comment, the
full-line comments right above it, and for a directive its reading by the family its section's
table names (:mod:`lbctl.config.sections`).

Assembly is one pass over the lines (:func:`build`): lex the line, recognise a section header
by its keyword (configuration.txt §2.1: a section runs until the next section keyword),
follow ``.if``/``.elif``/``.else``/``.endif`` nesting (§2.4), read the directive. Any error is a
:class:`lbctl.errors.ParseError` with the line and column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lbctl.config.directives import ArgError, Directive, Unknown
from lbctl.config.grammar import Word, lex, lex_parts
from lbctl.config.pause import gc_paused
from lbctl.config.sections import SECTION_KEYWORDS, family_for, parse_header
from lbctl.errors import ParseError

__all__ = ["BLANK", "COMMENT", "DIRECTIVE", "DOT", "HEADER", "SCOPE", "Document", "Line",
           "Section", "arg_error", "build", "forget_lines", "read_before", "read_line"]

BLANK = "blank"
COMMENT = "comment"
HEADER = "header"
DIRECTIVE = "directive"
DOT = "dot"
SCOPE = "scope"
_CONDITIONALS = (".if", ".elif", ".else", ".endif")


@dataclass(slots=True, eq=False)
class Line:
    """One line: ``text`` without its ending, ``eol``, ``kind`` (blank, comment, header,
    directive, dot, scope), ``words``, the trailing ``comment`` (from ``#``), the full-line
    ``comments_before`` it (no blank line between), and its ``directive`` reading."""

    lineno: int
    text: str
    eol: str
    kind: str
    words: tuple[Word, ...] = ()
    comment: str | None = None
    directive: Directive | None = None
    comments_before: tuple[Line, ...] = ()
    _args: tuple[str, ...] | None = field(default=None, init=False, repr=False)

    @property
    def raw(self) -> str:
        """The line exactly as read, ending included."""
        return self.text + self.eol

    @property
    def keyword(self) -> str:
        """The first word, unquoted (``""`` for a blank or comment line)."""
        return self.words[0].value if self.words else ""

    @property
    def args(self) -> tuple[str, ...]:
        """The words after the first one, unquoted (made once: ``words`` never changes)."""
        args = self._args
        if args is None:
            args = self._args = tuple([w.value for w in self.words[1:]])
        return args


@dataclass(slots=True, eq=False)
class Section:
    """A section: ``kind`` (``backend`` ...), ``name`` (``None`` for ``global`` or an unnamed
    ``defaults``), ``parent`` (the ``from <defaults>`` name), and its ``lines``, header first."""

    kind: str
    name: str | None
    parent: str | None
    lines: list[Line] = field(default_factory=list)

    @property
    def header(self) -> Line:
        """The section keyword line."""
        return self.lines[0]

    @property
    def comment(self) -> str | None:
        """The comment beside the header."""
        return self.header.comment

    @property
    def comments_before(self) -> tuple[Line, ...]:
        """The full-line comments right above the header."""
        return self.header.comments_before

    def directives(self, keyword: str | None = None) -> list[Directive]:
        """The directives of the section in order, or only those with ``keyword``."""
        return [ln.directive for ln in self.lines[1:] if ln.directive is not None
                and (keyword is None or ln.directive.keyword == keyword)]

    def get(self, keyword: str) -> Directive | None:
        """The first directive with ``keyword``, or ``None``."""
        found = self.directives(keyword)
        return found[0] if found else None


@dataclass(slots=True, eq=False)
class Document:
    """A whole ``haproxy.cfg``: the ``preamble`` lines before any section, then ``sections``."""

    preamble: list[Line] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def lines(self) -> Iterator[Line]:
        """Every line in file order."""
        yield from self.preamble
        for section in self.sections:
            yield from section.lines

    def sections_of(self, kind: str) -> list[Section]:
        """The sections of ``kind`` in file order."""
        return [s for s in self.sections if s.kind == kind]

    def section(self, kind: str, name: str | None = None) -> Section | None:
        """The first section of ``kind`` called ``name`` (any name when ``None``), or ``None``."""
        return next((s for s in self.sections
                     if s.kind == kind and (name is None or s.name == name)), None)

    def dumps(self) -> str:
        """The text of the document: every line's text and ending, in order."""
        return "".join([ln.text + ln.eol for ln in self.lines()])


def arg_error(err: ArgError, line: Line, first_arg: int) -> ParseError:
    """``err`` (about argument ``err.index`` after word ``first_arg`` of ``line``) as a
    :class:`ParseError` at the line and column of that argument (after the last word when it
    is missing)."""
    at = first_arg + err.index
    if at < len(line.words):
        column = line.words[at].col
    else:
        last = line.words[-1]
        column = last.col + len(last.raw)
    return ParseError(err.message, line.lineno, column)


def build(text: str) -> Document:
    """Read ``text`` into a :class:`Document` in one pass. Raises :class:`ParseError`.

    The cyclic garbage collector is paused meanwhile: the document only grows, holds no
    cycles, and full collections over its hundreds of thousands of young objects would
    otherwise take half the time of a large file.

    A line whose text the last document built also had is not read again: its words, comment,
    arguments and (in a section of the same kind) its directive are that document's, which
    nothing changes once built (one generation: :func:`forget_lines`). The source view reads
    the whole text at every press of *validate*, and an operator's edit changes a few lines;
    the same holds for the lines one document repeats (``balance roundrobin`` in every
    backend). Measured on the 80,017-line file of ``tests/bench/bench_parse.py``: the file
    with its first line changed, read right after the file, 0.93–1.03 → 0.21–0.25 s; what is
    kept, 55 MB (the document itself: 70 MB).
    """
    global _LAST
    with gc_paused():
        doc, _LAST = _build(text, _LAST)
    return doc


def forget_lines() -> None:
    """Forget the lines of the last document built (:func:`build` reads every line anew)."""
    global _LAST
    _LAST = {}


#: The indentations :func:`read_before` looks for: lbctl's, and a tab.
_INDENTS = ("    ", "\t")


def read_before(kind: str, text: str) -> bool:
    """Whether the last document built read ``text``, indented by four blanks or a tab (as
    lbctl and most files write a section's lines), as a directive line of a section of
    ``kind``: then :func:`read_line` reads ``text`` in such a section as a directive line
    without error (indentation changes no word, and that document's directive was read by
    the same family). ``False`` says nothing: the line may still read. The spec's check of
    an imported section's ``extra`` lines asks it first (:mod:`lbctl.spec.lines`): the text
    was read moments ago, in the document the import came from."""
    last = _LAST
    for indent in _INDENTS:
        read = last.get(indent + text)
        if read is not None:
            known = read[2]
            if known is not None and known[0] == kind:
                return True
    return False


#: What reading a line text gave: its words, its trailing comment, and for a directive line the
#: kind of section it was read in, its directive there and its arguments (``None`` until read).
_Read = tuple[tuple[Word, ...], str | None, tuple[str, Directive, tuple[str, ...]] | None]
#: The lines of the last document built, by text (:func:`build`); never changed once
#: published, so builds in several threads may read it at once.
_LAST: dict[str, _Read] = {}


def _build(text: str, before: dict[str, _Read]) -> tuple[Document, dict[str, _Read]]:
    doc = Document()
    lines = doc.preamble
    kind = ""
    pending: list[Line] = []
    blocks: list[tuple[Line, bool]] = []  # open .if lines, and whether .else was seen
    # A line written many times (``balance roundrobin`` in every backend), or read in the last
    # document (``before``), is lexed once: its words are never changed, so its lines share
    # them, and its directive too when read in a section of the same kind.
    seen: dict[str, _Read] = {}
    parts = text.split("\n")  # each line, its "\r" kept in its ending below
    last = len(parts) - 1
    if not parts[last]:
        parts.pop()
    for lineno, text_ in enumerate(parts, 1):
        eol = "\n" if lineno <= last else ""
        if text_.endswith("\r"):
            text_, eol = text_[:-1], "\r" + eol
        read = seen.get(text_)
        if read is None:
            read = before.get(text_)
            if read is None:
                read = (*lex_parts(text_, lineno), None)
            seen[text_] = read
        words, comment, known = read
        if not words:
            line = Line(lineno, text_, eol, COMMENT if comment is not None else BLANK, (),
                        comment)
            lines.append(line)
            if comment is not None:
                pending.append(line)
            else:
                pending = []
            continue
        first = words[0].value
        line = Line(lineno, text_, eol, DIRECTIVE, words, comment, None, tuple(pending))
        if pending:
            pending = []
        if first.startswith("."):
            line.kind = DOT
            _track_block(line, blocks)
        elif words[0].raw.startswith("["):
            line.kind = SCOPE
        elif first in SECTION_KEYWORDS:
            line.kind = HEADER
            try:
                name, parent = parse_header(first, line.args)
            except ArgError as err:
                raise arg_error(err, line, 1) from None
            kind = first
            section = Section(kind, name, parent, [line])
            doc.sections.append(section)
            lines = section.lines
            continue
        elif known is not None and known[0] == kind:
            line.directive, line._args = known[1], known[2]
        else:
            directive = line.directive = _read_directive(kind, line)
            if known is None:
                seen[text_] = (words, comment, (kind, directive, line.args))
        lines.append(line)
    if blocks:
        opened = blocks[-1][0]
        raise ParseError("'.if' without '.endif'", opened.lineno, opened.words[0].col)
    return doc, seen


def read_line(kind: str, text: str, lineno: int = 1) -> Line:
    """Read one line of text as a line of a section of ``kind`` (``"backend"`` ...), alone.

    The line is lexed and classified as :func:`build` does (blank, comment, header, dot,
    scope, directive); a directive is read by the family its section's table names. Nothing
    about other lines is checked (``.if`` nesting, the section a header would open). Raises
    :class:`ParseError` at ``lineno`` and the column at fault.
    """
    lexed = lex(text, lineno)
    if not lexed.words:
        return Line(lineno, text, "", COMMENT if lexed.comment is not None else BLANK, (),
                    lexed.comment)
    line = Line(lineno, text, "", DIRECTIVE, lexed.words, lexed.comment)
    first = lexed.words[0]
    if first.value.startswith("."):
        line.kind = DOT
    elif first.raw.startswith("["):
        line.kind = SCOPE
    elif first.value in SECTION_KEYWORDS:
        line.kind = HEADER
    else:
        line.directive = _read_directive(kind, line)
    return line


def _read_directive(kind: str, line: Line) -> Directive:
    words = line.words
    negated = words[0].value == "no" and len(words) > 1
    first = 2 if negated else 1
    keyword = words[first - 1].value
    family = family_for(kind, keyword) if kind else Unknown
    try:
        args = line.args if first == 1 else tuple([w.value for w in words[first:]])
        return family.parse(keyword, args, negated)
    except ArgError as err:
        raise arg_error(err, line, first) from None


def _track_block(line: Line, blocks: list[tuple[Line, bool]]) -> None:
    """Follow ``.if`` nesting (configuration.txt §2.4); raise on a stray or misplaced one."""
    word = line.words[0]
    directive = word.value
    if directive not in _CONDITIONALS:
        return
    if directive in (".if", ".elif") and len(line.words) < 2:
        raise ParseError(f"'{directive}' needs a condition", line.lineno, word.col + len(word.raw))
    if directive == ".if":
        blocks.append((line, False))
        return
    if not blocks:
        raise ParseError(f"'{directive}' without '.if'", line.lineno, word.col)
    if directive == ".endif":
        blocks.pop()
    elif blocks[-1][1]:
        raise ParseError(f"'{directive}' after '.else'", line.lineno, word.col)
    elif directive == ".else":
        blocks[-1] = (blocks[-1][0], True)
