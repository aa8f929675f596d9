"""The line grammar of ``haproxy.cfg``: one line of text → its words and its comment.

HAProxy reads its configuration one line at a time and splits each line into words before it
looks at any keyword (configuration.txt §2.2 "Quoting and escaping"; ``parse_line()`` in
``src/tools.c``). This module is that lexical level, written as a declarative pyparsing grammar:

* words are separated by unescaped, unquoted blanks (space, tab, vertical tab, form feed);
* ``#`` outside quotes starts a comment that runs to the end of the line, even inside a word;
* a backslash outside single quotes escapes the next character: ``\\ `` (a space), ``\\\\``,
  ``\\#``, ``\\'``, ``\\"``, ``\\t``, ``\\n``, ``\\r`` and ``\\xHH``; before any other character
  it stays a literal backslash (``\\1`` in a regex);
* ``'...'`` quotes strongly (nothing is interpreted inside), ``"..."`` quotes weakly
  (escapes and environment variables are interpreted); quotes may start or end mid-word;
* ``$NAME`` / ``${NAME}`` / ``${NAME-default}`` / ``${NAME[*]}`` inside double quotes are
  environment variables (§2.3); they are kept unexpanded in :attr:`Word.value`;
* a carriage return ends the line, so whatever follows a stray ``\\r`` is ignored like a comment.

Text HAProxy cannot read raises :class:`pyparsing.ParseFatalException` at the offending
column: an unterminated quote, a ``\\x`` not followed by two hex digits, a ``${`` without its
``}``. :func:`lex` turns that into :class:`lbctl.errors.ParseError`.

Section keywords, dot-directives and ACL conditions sit on top of these words and are handled
by :mod:`lbctl.config.document` and :mod:`lbctl.config.directives`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyparsing as pp

from lbctl.errors import ParseError

__all__ = ["LINE", "Lexed", "Word", "lex", "lex_fast", "lex_grammar", "lex_parts"]

#: Blanks that separate words (C ``isspace()`` minus the CR and LF that end a line).
BLANKS = " \t\v\f"
_SIMPLE_ESCAPES = {" ": " ", "\\": "\\", "#": "#", "'": "'", '"': '"',
                   "t": "\t", "n": "\n", "r": "\r"}


@dataclass(slots=True)
class Word:
    """One word of a line: ``raw`` as written, ``value`` unquoted and unescaped (environment
    variables left as ``${NAME}``), ``col`` the 1-based column of its first character."""

    raw: str
    value: str
    col: int


@dataclass(frozen=True, slots=True)
class Lexed:
    """A lexed line: its words and its trailing comment (from ``#``, or ``None``)."""

    words: tuple[Word, ...]
    comment: str | None


def _unescape(body: str, in_dquote: bool) -> str:
    """Decode backslash escapes of ``body`` (§2.2); ``\\$`` is an escape only inside ``"``."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt == "x":
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        elif nxt == "$" and in_dquote:
            out.append("$")
            i += 2
        else:
            out.append("\\")
            i += 1
    return "".join(out)


_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")


def _plain(toks: pp.ParseResults) -> tuple[str, str]:
    text = str(toks[0])
    return text, text


def _escape(toks: pp.ParseResults) -> tuple[str, str]:
    text = str(toks[0])
    return text, _unescape(text, in_dquote=False)


def _squoted(toks: pp.ParseResults) -> tuple[str, str]:
    text = str(toks[0])
    return text, text[1:-1]


def _check_dquoted(body: str) -> tuple[int, str] | None:
    """The first error inside a double-quoted body as ``(offset, message)``, or ``None``: a
    ``\\x`` without two hex digits, or a ``${`` without its ``}`` (§2.2, §2.3)."""
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "\\":
            if body.startswith("x", i + 1):
                if not _HEX2.match(body, i + 2):
                    return i, "invalid \\x escape: two hex digits expected"
                i += 4
            else:
                i += 2
        elif c == "$" and body.startswith("{", i + 1):
            close = body.find("}", i + 2)
            if close < 0:
                return i, "unmatched brace in environment variable name"
            i = close + 1
        else:
            i += 1
    return None


def _dquoted(s: str, loc: int, toks: pp.ParseResults) -> tuple[str, str]:
    text = str(toks[0])
    body = text[1:-1]
    error = _check_dquoted(body)
    if error is not None:
        raise pp.ParseFatalException(s, loc + 1 + error[0], error[1])
    return text, _unescape(body, in_dquote=True)


def _word(s: str, loc: int, toks: pp.ParseResults) -> Word:
    pieces: list[tuple[str, str]] = list(toks)
    return Word("".join(p[0] for p in pieces), "".join(p[1] for p in pieces), loc + 1)


def _unterminated(s: str, loc: int, _toks: pp.ParseResults) -> None:
    raise pp.ParseFatalException(s, loc, "unterminated quote")


def _bad_hex(s: str, loc: int, _toks: pp.ParseResults) -> None:
    raise pp.ParseFatalException(s, loc, "invalid \\x escape: two hex digits expected")


# --- the grammar ------------------------------------------------------------------------------
BLANK = pp.Regex(f"[{BLANKS}]+").suppress()
PLAIN = pp.Regex(r"[^ \t\v\f#'\"\\\r]+").set_parse_action(_plain)
HEX_ESCAPE = pp.Regex(r"\\x[0-9A-Fa-f]{2}").set_parse_action(_escape)
BAD_HEX_ESCAPE = pp.Literal("\\x").set_parse_action(_bad_hex)
ESCAPE = pp.Regex(r"\\[^\r]?").set_parse_action(_escape)
SQUOTED = pp.Regex(r"'[^'\r]*'").set_parse_action(_squoted)
DQUOTED = pp.Regex(r'"(?:[^"\\\r]|\\[^\r])*"').set_parse_action(_dquoted)
UNTERMINATED = pp.Regex(r"['\"]").set_parse_action(_unterminated)
PIECE = PLAIN | HEX_ESCAPE | BAD_HEX_ESCAPE | ESCAPE | SQUOTED | DQUOTED | UNTERMINATED
WORD = pp.OneOrMore(PIECE).set_parse_action(_word)
#: ``#`` to the end of the line; a stray CR ends the line for HAProxy, so it counts as one too.
COMMENT = pp.Regex(r"[#\r].*")("comment")
WORDS = pp.Group(pp.Opt(WORD + pp.ZeroOrMore(BLANK + WORD)))("words")
LINE = (
    (pp.Opt(BLANK) + WORDS + pp.Opt(BLANK) + pp.Opt(COMMENT) + pp.StringEnd())
    .leave_whitespace(recursive=True)
    .parse_with_tabs()
)


def lex_grammar(text: str, lineno: int = 1) -> Lexed:
    """Lex one line (without its line ending) with :data:`LINE`.

    Raises :class:`ParseError` (``line`` = ``lineno``) when HAProxy could not read it either.
    """
    try:
        result = LINE.parse_string(text, parse_all=True)
    except pp.ParseBaseException as exc:
        raise ParseError(exc.msg, lineno, exc.loc + 1) from None
    words: tuple[Word, ...] = tuple(result["words"])
    return Lexed(words, str(result["comment"]) if "comment" in result else None)


_FAST_TOKEN = re.compile(
    r"(?P<blank>[ \t\v\f]+)"
    r"|(?P<word>(?:[^ \t\v\f#'\"\\\r]+|'[^'\r]*'|\"[^\"\\\r]*\")+)"
    r"|(?P<comment>#.*)"
    r"|(?P<other>.)"
)
_FAST_WORD = re.compile(f"[^{BLANKS}]+")
_FAST_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def _fast_value(raw: str) -> str | None:
    if "'" not in raw and '"' not in raw:
        return raw
    if '"' in raw:
        for m in _FAST_QUOTED.finditer(raw):
            body = m[2]
            # Each ${ runs to the next }: one after the last } is never closed.
            if body and body.rfind("${") > body.rfind("}"):
                return None  # the grammar reports the unmatched brace
    return _FAST_QUOTED.sub(lambda m: m[1] if m[1] is not None else m[2], raw)


def lex_fast(text: str) -> Lexed | None:
    """Lex a line without backslashes or carriage returns; ``None`` for any other line, and
    for one the grammar must reject (so that it reports the error and its column).

    The common shapes of a config line, read with one regular expression; it must give exactly
    what :func:`lex_grammar` gives (``tests/test_config_grammar.py`` checks every corpus line).
    """
    parts = _fast_parts(text)
    return Lexed(*parts) if parts is not None else None


def _fast_parts(text: str) -> tuple[tuple[Word, ...], str | None] | None:
    """:func:`lex_fast`'s words and comment, as a pair (no :class:`Lexed` made: a frozen
    dataclass costs a large file's parse more than the words do)."""
    if "\\" in text or "\r" in text:
        return None
    if "'" not in text and '"' not in text:
        hash_at = text.find("#")
        if hash_at < 0:
            return tuple([Word(w := m[0], w, m.start() + 1) for m in _FAST_WORD.finditer(text)]), None
        return (tuple([Word(w := m[0], w, m.start() + 1)
                       for m in _FAST_WORD.finditer(text, 0, hash_at)]), text[hash_at:])
    words: list[Word] = []
    comment = None
    for m in _FAST_TOKEN.finditer(text):
        group = m.lastgroup
        if group == "word":
            raw = m[0]
            value = _fast_value(raw)
            if value is None:
                return None
            words.append(Word(raw, value, m.start() + 1))
        elif group == "comment":
            comment = m[0]
        elif group == "other":
            return None
    return tuple(words), comment


def lex(text: str, lineno: int = 1) -> Lexed:
    """Lex one line: the fast path when it applies, else the grammar. Raises :class:`ParseError`."""
    return lex_fast(text) or lex_grammar(text, lineno)


def lex_parts(text: str, lineno: int = 1) -> tuple[tuple[Word, ...], str | None]:
    """:func:`lex` as ``(words, comment)``, for :func:`lbctl.config.document.build`'s loop over
    every line. Raises :class:`ParseError`."""
    parts = _fast_parts(text)
    if parts is not None:
        return parts
    lexed = lex_grammar(text, lineno)
    return lexed.words, lexed.comment
