"""``lbctl.config.document.build`` reads a line the last document also had from that document:
the same words and directive objects, and a document equal in every field to a fresh build,
whatever the last document was — on every corpus file, for a section kind that reads the line
differently, and for errors, which are never kept. ``read_before`` vouches only for a text that
``read_line`` reads as the same directive in a section of that kind, on every corpus file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lbctl.config import dumps, loads
from lbctl.config.document import DIRECTIVE, Document, Line, forget_lines, read_before, read_line
from lbctl.errors import ParseError
from lbctl.spec.lines import trim_line

from .config_corpus import SKIP_REASON, corpus_files


@pytest.fixture(autouse=True)
def _forgotten() -> Iterator[None]:
    forget_lines()
    yield
    forget_lines()


def _line(line: Line) -> tuple[Any, ...]:
    return (line.lineno, line.text, line.eol, line.kind,
            [(w.raw, w.value, w.col) for w in line.words], line.comment, line.directive,
            type(line.directive), line.args, [c.lineno for c in line.comments_before])


def _fields(doc: Document) -> list[Any]:
    """Every field of every line and section of ``doc`` (directives by value and type)."""
    out: list[Any] = [[_line(ln) for ln in doc.preamble]]
    for section in doc.sections:
        out.append((section.kind, section.name, section.parent,
                    [_line(ln) for ln in section.lines]))
    return out


def _fresh(text: str) -> Document:
    forget_lines()
    return loads(text)


TEXT = """global
    maxconn 100
    server not-a-server-here

defaults
    mode http
    timeout connect 5s

backend app
    balance roundrobin
    server s1 127.0.0.1:8080 check
    server s2 127.0.0.1:8081 check

peers mesh
    server s1 127.0.0.1:8080 check
"""


def test_an_edited_text_shares_the_unchanged_lines_with_the_last_document() -> None:
    first = loads(TEXT)
    edited = TEXT.replace("maxconn 100", "maxconn 200")
    second = loads(edited)
    assert dumps(second) == edited
    assert _fields(second) == _fields(_fresh(edited))
    old = {(s.kind, ln.text): ln for s in first.sections for ln in s.lines}
    for section in second.sections:
        for line in section.lines[1:]:
            if line.text == "    maxconn 200":
                assert line.directive is not None and line.directive.args == ("200",)
                continue
            before = old[(section.kind, line.text)]
            assert line.words is before.words  # read from the last document, not again
            if section.kind != "peers":  # (a text keeps the directive of its first kind)
                assert line.directive is before.directive


def test_a_line_in_a_section_of_another_kind_is_read_by_that_kind() -> None:
    doc = loads(TEXT)
    backend, peers = doc.section("backend", "app"), doc.section("peers", "mesh")
    assert backend is not None and peers is not None
    in_backend, in_peers = backend.lines[2], peers.lines[1]
    assert in_backend.text == in_peers.text
    assert in_backend.words is in_peers.words  # one lexing for the text
    assert type(in_backend.directive).__name__ == "Server"
    assert type(in_peers.directive).__name__ == "OptionalAddressServer"
    again = loads(TEXT)  # every line from the last document now
    assert _fields(again) == _fields(_fresh(TEXT))


def test_an_error_is_not_kept_and_names_its_line_after_a_good_build() -> None:
    loads(TEXT)
    bad = TEXT.replace("    balance roundrobin", "    balance 'roundrobin")
    with pytest.raises(ParseError) as first:
        loads(bad)
    with pytest.raises(ParseError) as second:
        loads(bad)
    assert (first.value.line, first.value.column) == (second.value.line, second.value.column)
    assert first.value.line == 10
    assert _fields(loads(TEXT)) == _fields(_fresh(TEXT))  # the failed build left nothing


def test_an_empty_build_forgets_nothing_it_should_not_read() -> None:
    loads(TEXT)
    assert _fields(loads("")) == _fields(_fresh(""))
    assert _fields(loads(TEXT)) == _fields(_fresh(TEXT))


@pytest.mark.skipif(not corpus_files(), reason=SKIP_REASON)
def test_every_corpus_file_reads_the_same_after_any_other() -> None:
    files = corpus_files()
    texts = [path.read_bytes().decode("utf-8", "surrogateescape") for path in files]
    for before, text in zip([texts[-1], *texts[:-1]], texts, strict=True):
        fresh = _fields(_fresh(text))
        loads(before)
        assert _fields(loads(text)) == fresh  # after another file
        assert _fields(loads(text)) == fresh  # after itself: every line kept


def test_read_before_answers_for_the_kind_that_read_the_line_only() -> None:
    loads(TEXT)
    assert read_before("global", "maxconn 100")
    assert read_before("backend", "server s1 127.0.0.1:8080 check")
    assert not read_before("backend", "maxconn 100")  # read in global, not in a backend
    # the text was first read in the backend: the peers section's reading is not kept for it
    assert not read_before("peers", "server s1 127.0.0.1:8080 check")
    assert not read_before("backend", "balance leastconn")  # never read
    assert not read_before("global", "")
    loads(TEXT.replace("    maxconn 100", "\tmaxconn 100"))
    assert read_before("global", "maxconn 100")  # a tab indents too
    forget_lines()
    assert not read_before("global", "maxconn 100")


def test_a_failed_build_vouches_for_none_of_its_lines() -> None:
    loads(TEXT)
    bad = TEXT.replace("    maxconn 100", "    maxconn 100\n    maxconn 7").replace(
        "    balance roundrobin", "    balance 'roundrobin")
    with pytest.raises(ParseError):
        loads(bad)
    assert not read_before("global", "maxconn 7")  # read before the error, never published
    assert read_before("global", "maxconn 100")  # the last good document stays


@pytest.mark.skipif(not corpus_files(), reason=SKIP_REASON)
def test_read_before_vouches_only_for_what_read_line_reads_the_same() -> None:
    vouched = 0
    for path in corpus_files():
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        try:
            doc = loads(text)
        except ParseError:
            continue
        for section in doc.sections:
            for line in section.lines[1:]:
                alone = trim_line(line.text)
                if not read_before(section.kind, alone):
                    continue
                vouched += 1
                again = read_line(section.kind, alone)
                assert again.kind == DIRECTIVE, (path.name, line.text)
                assert type(again.directive) is type(line.directive), (path.name, line.text)
                assert again.directive == line.directive and again.args == line.args
    assert vouched > 5_000  # (7,977 lines of the 243 files)
