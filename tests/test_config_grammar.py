"""The line grammar (configuration.txt §2.2–2.3) and its fast path.

The pyparsing grammar is the definition; ``lex_fast`` reads the common line shapes with one
regular expression and must agree with it on every line of the real-world corpus and on the
tricky lines below, or decline (``None``) so the grammar decides.
"""

from __future__ import annotations

import pytest

from lbctl.config.grammar import Lexed, lex, lex_fast, lex_grammar
from lbctl.errors import ParseError

from .config_corpus import SKIP_REASON, corpus_files

FILES = corpus_files()

#: line → (word values, comment)
OK: list[tuple[str, list[str], str | None]] = [
    ("", [], None),
    ("   \t ", [], None),
    ("# a comment", [], "# a comment"),
    ("  server s1 10.0.0.1:80 check  # primary", ["server", "s1", "10.0.0.1:80", "check"], "# primary"),
    ("\tbind\t:80", ["bind", ":80"], None),
    ("bind 127.0.0.1:10000-10100#,192.168.1.2:3129", ["bind", "127.0.0.1:10000-10100"], "#,192.168.1.2:3129"),
    ('acl h hdr(host) -i "a b" c', ["acl", "h", "hdr(host)", "-i", "a b", "c"], None),
    ("log-format '%ci:%cp [%t]'", ["log-format", "%ci:%cp [%t]"], None),
    ("x 'a\\b' \"c\\\"d\"", ["x", "a\\b", 'c"d'], None),
    ('x "#not a comment"#but this is', ["x", "#not a comment"], "#but this is"),
    ("x a\\ b a\\#b a\\\\b a\\'b", ["x", "a b", "a#b", "a\\b", "a'b"], None),
    ("reqrep ^Host:\\ www\\.(.*) Host:\\ \\1", ["reqrep", "^Host: www\\.(.*)", "Host: \\1"], None),
    ("x \\x41\\x42 \"\\x43\" '\\x44'", ["x", "AB", "C", "\\x44"], None),
    ("x \\t\\n\\r", ["x", "\t\n\r"], None),
    ("x a'b c'\"d e\"f", ["x", "ab cd ef"], None),
    ('x "" \'\'', ["x", "", ""], None),
    ('maxconn "${MAXCONN}"', ["maxconn", "${MAXCONN}"], None),
    ('x "${A-default value}" "\\${B}" $C ${D}', ["x", "${A-default value}", "${B}", "$C", "${D}"], None),
    ("http-request deny if !{ ssl_fc } { path_beg /x }",
     ["http-request", "deny", "if", "!{", "ssl_fc", "}", "{", "path_beg", "/x", "}"], None),
    ("rspidel ^Server:\\", ["rspidel", "^Server:\\"], None),
    ("a\rb c", ["a"], "\rb c"),
    ("caf\u00e9 \u00fcber", ["caf\u00e9", "\u00fcber"], None),
]

#: line → (column, words of the message)
FAIL: list[tuple[str, int, str]] = [
    ('x "abc', 3, "unterminated quote"),
    ("x 'abc", 3, "unterminated quote"),
    ("x a'b", 4, "unterminated quote"),
    ("x \"a'b", 3, "unterminated quote"),
    ('x "a\\"', 3, "unterminated quote"),
    ("x \\xZ1", 3, "\\x escape"),
    ('x "a\\x4"', 5, "\\x escape"),
    ('x "${HOME"', 4, "unmatched brace"),
    ('x "${A} ${B"', 9, "unmatched brace"),
]


def _shape(lexed: Lexed) -> tuple[list[str], str | None]:
    return [w.value for w in lexed.words], lexed.comment


@pytest.mark.parametrize(("line", "values", "comment"), OK, ids=[repr(c[0]) for c in OK])
def test_lex_ok(line: str, values: list[str], comment: str | None) -> None:
    lexed = lex_grammar(line)
    assert _shape(lexed) == (values, comment)
    for word in lexed.words:  # raw text and column point back into the line
        assert line[word.col - 1:word.col - 1 + len(word.raw)] == word.raw
    fast = lex_fast(line)
    assert fast is None or fast == lexed
    assert lex(line) == lexed


@pytest.mark.parametrize(("line", "column", "message"), FAIL, ids=[repr(c[0]) for c in FAIL])
def test_lex_fail(line: str, column: int, message: str) -> None:
    assert lex_fast(line) is None  # the fast path leaves errors to the grammar
    with pytest.raises(ParseError) as info:
        lex(line, 7)
    assert (info.value.line, info.value.column) == (7, column)
    assert message in info.value.reason


def test_columns_count_tabs_as_one_character() -> None:
    assert [w.col for w in lex_grammar("\t\tserver\ts1 'x'").words] == [3, 10, 13]


@pytest.mark.skipif(not FILES, reason=SKIP_REASON)
def test_fast_path_agrees_with_the_grammar_on_the_corpus() -> None:
    """Every corpus line: the fast path gives what the grammar gives, or declines."""
    lines = fast = 0
    for path in FILES:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        for lineno, line in enumerate(text.split("\n"), 1):
            line = line.removesuffix("\r")
            lines += 1
            expected = lex_grammar(line, lineno)
            got = lex_fast(line)
            if got is not None:
                fast += 1
                assert got == expected, f"{path.name}:{lineno}: {line!r}"
    assert lines > 20_000 and fast > 0.9 * lines  # the fast path carries the common shapes

