""":class:`lbctl.config.linemap.LineMap` answers exactly what the full
:func:`lbctl.config.normal.line_map` does, for every line of a target text: the corpus files
against themselves and against reshuffled copies (sections reversed, lines dropped and
repeated, comments moved), and the edge cases of headers the lexer must read; given the source
as its document or as its text, the same lines."""

from __future__ import annotations

import pytest

from lbctl.config import Document, loads
from lbctl.config.linemap import LineMap
from lbctl.config.normal import line_map
from lbctl.errors import ParseError

from .bench.bench_parse import generate
from .config_corpus import SKIP_REASON, corpus_files

FILES = corpus_files()


def assert_same(source: Document, target: str) -> None:
    """Every target line (and one past either end) maps as the full map maps it."""
    full = line_map(source, loads(target))
    lazy = LineMap(source, target)
    count = len(target.split("\n"))
    got = {n: line.lineno for n in range(0, count + 2) if (line := lazy.get(n)) is not None}
    assert got == full
    texts = {ln.lineno: ln.text for ln in source.lines()}
    assert all(lazy.get(n) is not None and lazy.get(n).text == texts[m]  # type: ignore[union-attr]
               for n, m in full.items())
    # The source as its text (the source view's kept submission): the same lines, read only
    # in the sections asked.
    from_text = LineMap(source.dumps(), target)
    got_text = {n: (line.lineno, line.text) for n in range(0, count + 2)
                if (line := from_text.get(n)) is not None}
    assert got_text == {n: (m, texts[m]) for n, m in full.items()}


def reversed_sections(doc: Document) -> str:
    """``doc`` with its sections in reverse order."""
    out = [ln.text + "\n" for ln in doc.preamble]
    for section in reversed(doc.sections):
        out += [ln.text + "\n" for ln in section.lines]
    return "".join(out)


def reshuffled(text: str) -> str:
    """``text`` with every third line dropped, every fifth written twice, and every seventh's
    comment moved to a line of its own above it."""
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if i % 3 == 0:
            continue
        if i % 7 == 0 and "#" in line and "\\" not in line and "'" not in line \
                and '"' not in line:
            at = line.index("#")
            out += [line[at:], line[:at]]
        else:
            out.append(line)
        if i % 5 == 0:
            out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.skipif(not FILES, reason=SKIP_REASON)
def test_the_corpus_maps_as_the_full_map_does() -> None:
    for path in FILES:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        doc = loads(text)
        for target in (text, reversed_sections(doc), reshuffled(text)):
            try:
                loads(target)
            except Exception:  # a reshuffle may break a .if block: not a rendered text
                continue
            assert_same(doc, target)


def test_the_benchmark_config_maps_as_the_full_map_does() -> None:
    text = generate(300)
    doc = loads(text)
    assert_same(doc, text)
    assert_same(doc, reshuffled(text))
    assert_same(doc, reversed_sections(doc))


@pytest.mark.parametrize(("source", "target"), [
    # Headers written with quotes, escapes, comments and CRLF endings.
    ("backend b\n  server s 1.1.1.1:80\n", '"backend" b\n  server s 1.1.1.1:80\n'),
    ("backend b\n  server s 1.1.1.1:80\n", "back'end' b # c\r\n  server s 1.1.1.1:80\r\n"),
    ("defaults\n  mode http\n", "defaults#c\n  mode http\ndefaults\\\n  mode http\n"),
    ("backend b\n  server s 1.1.1.1:80\n", '  backend b\n  "backendx" y\n  server s 1.1.1.1:80\n'),
    # The same section twice, repeated lines, a line saying "<header>", scope and dot lines.
    ("global\n  daemon\nglobal\n  daemon\n  daemon\n",
     "global\n  daemon\n  daemon\n  daemon\nglobal\n  daemon\n"),
    ("backend b\n  <header>\n", "backend b\n  <header>\n  <header>\nbackend b\n"),
    ("backend b\n  .if defined(X)\n  mode http\n  .endif\n",
     "backend b\n  [scope]\n  .if defined(X)\n  mode http\n  .endif\n"),
    # Comments pair across sections, for lines that say nothing or that nothing pairs.
    ("# top\nbackend b\n  mode http # why\n  # alone\n",
     "backend c\n  mode tcp # why\n  # top\nbackend b\n  # alone\n  mode http\n"),
    ("global\n  daemon # x\n", "# pre\nglobal\n  daemon # x\n  daemon # x\n"),
    # Time values normalised, a "no" in front.
    ("defaults\n  timeout client 5s\n  no option httplog\n",
     "defaults\n  timeout client 5000\n  no   option httplog\n"),
    ("", ""),
    ("global\n", "global"),
])
def test_edge_cases_map_as_the_full_map_does(source: str, target: str) -> None:
    assert_same(loads(source), target)


@pytest.mark.parametrize("target", ["backend\n  server s 1.1.1.1:80\n", "global\nbackend # x\n",
                                    "global\n  daemon \"\n"])
def test_a_header_without_its_name_or_an_unlexable_line_is_the_parse_error_of_loads(
        target: str) -> None:
    with pytest.raises(ParseError) as expected:
        loads(target)
    with pytest.raises(ParseError) as got:
        lazy = LineMap(loads("global\n"), target)
        for n in range(1, 4):
            lazy.get(n)
    assert (got.value.line, got.value.column, str(got.value)) == \
        (expected.value.line, expected.value.column, str(expected.value))
