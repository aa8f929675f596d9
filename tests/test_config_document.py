"""The document model: sections → lines, access by kind and name, comments, dot-directives,
and the errors of the document level (section headers, ``.if`` nesting)."""

from __future__ import annotations

import pytest

import lbctl.config as config
from lbctl.config import Bind, Option, Server, dumps, loads
from lbctl.config.document import BLANK, COMMENT, DIRECTIVE, DOT, HEADER, SCOPE
from lbctl.errors import ParseError

TEXT = (
    "# managed by hand\r\n"
    "global\r\n"
    "\tmaxconn 100 # per process\r\n"
    "\r\n"
    "defaults base\r\n"
    "    mode http\r\n"
    "defaults tcp from base\r\n"
    "    mode tcp\r\n"
    "\r\n"
    "# the public entry point\r\n"
    "# (two comment lines)\r\n"
    "frontend www from base # beside the header\r\n"
    "    bind :80\r\n"
    ".if defined(WITH_TLS)\r\n"
    "    bind :443 ssl crt /etc/ssl/site.pem\r\n"
    ".else\r\n"
    "    no option forwardfor\r\n"
    ".endif\r\n"
    "    # route the API\r\n"
    "    use_backend api if { path_beg /api }\r\n"
    "backend api\r\n"
    "    server a1 10.0.0.1:80 check\r\n"
    "crt-store web\r\n"
    "    load crt site.pem"
)


def test_sections_by_kind_and_name() -> None:
    doc = loads(TEXT)
    assert dumps(doc) == TEXT
    assert [(s.kind, s.name, s.parent) for s in doc.sections] == [
        ("global", None, None), ("defaults", "base", None), ("defaults", "tcp", "base"),
        ("frontend", "www", "base"), ("backend", "api", None), ("crt-store", "web", None)]
    assert doc.section("defaults", "tcp") is doc.sections[2]
    assert doc.section("defaults") is doc.sections[1]
    assert doc.section("backend", "nope") is None
    assert [s.name for s in doc.sections_of("defaults")] == ["base", "tcp"]
    assert [ln.text for ln in doc.preamble] == ["# managed by hand"]


def test_lines_keep_text_and_ending() -> None:
    doc = loads(TEXT)
    lines = list(doc.lines())
    assert all(ln.eol == "\r\n" for ln in lines[:-1]) and lines[-1].eol == ""
    assert [ln.lineno for ln in lines] == list(range(1, len(lines) + 1))
    assert lines[2].raw == "\tmaxconn 100 # per process\r\n"
    assert lines[2].keyword == "maxconn" and lines[2].args == ("100",)
    assert [ln.kind for ln in lines[:5]] == [COMMENT, HEADER, DIRECTIVE, BLANK, HEADER]


def test_directives_and_comments() -> None:
    doc = loads(TEXT)
    www = doc.section("frontend", "www")
    assert www is not None
    assert www.comment == "# beside the header"
    assert [c.text for c in www.comments_before] == ["# the public entry point", "# (two comment lines)"]
    binds = www.directives("bind")
    assert all(isinstance(b, Bind) for b in binds) and len(binds) == 2
    option = www.get("option")
    assert isinstance(option, Option) and option.negated and option.name == "forwardfor"
    use = next(ln for ln in www.lines if ln.keyword == "use_backend")
    assert [c.text for c in use.comments_before] == ["    # route the API"]
    server = doc.section("backend", "api").get("server")  # type: ignore[union-attr]
    assert isinstance(server, Server) and server.address == "10.0.0.1:80"
    assert doc.section("global").lines[1].comment == "# per process"  # type: ignore[union-attr]


def test_dot_directives_are_lines_of_their_section() -> None:
    doc = loads(TEXT)
    www = doc.section("frontend", "www")
    assert www is not None
    dots = [ln for ln in www.lines if ln.kind == DOT]
    assert [(d.keyword, d.args) for d in dots] == [(".if", ("defined(WITH_TLS)",)), (".else", ()), (".endif", ())]
    assert all(d.directive is None for d in dots)


def test_conditional_block_may_span_sections() -> None:
    text = ".if version_atleast(3.1)\ntraces\n\ttrace h1 start now\n.endif\ndefaults\n\tmode http\n"
    doc = loads(text)
    assert dumps(doc) == text
    assert doc.preamble[0].kind == DOT and doc.sections[0].lines[-1].keyword == ".endif"


def test_messages_and_unknown_dot_directives_are_kept() -> None:
    text = ".notice 'starting'\n.diag x\n.custom a b\nglobal\n"
    assert [ln.kind for ln in loads(text).preamble] == [DOT, DOT, DOT]


def test_lines_before_the_first_section_are_kept_unread() -> None:
    text = "PATCH_LIST=\nfunction f {\n}\nglobal\n  daemon\n"
    doc = loads(text)
    assert dumps(doc) == text and len(doc.preamble) == 3
    assert all(ln.directive is not None and ln.directive.family == "unknown" for ln in doc.preamble)


def test_scope_lines() -> None:
    doc = loads("[my-spoe]\nspoe-agent a\n")
    assert doc.preamble[0].kind == SCOPE


def test_listen_with_the_old_address_argument() -> None:
    doc = loads("listen app 0.0.0.0:80\n  server s 10.0.0.1:80\n")
    assert (doc.sections[0].name, doc.sections[0].header.args) == ("app", ("app", "0.0.0.0:80"))


@pytest.mark.parametrize(("text", "line", "column", "reason"), [
    ("global\n.endif\n", 2, 1, "'.endif' without '.if'"),
    ("global\n  .else\n", 2, 3, "'.else' without '.if'"),
    (".if defined(A)\n.else\n.elif defined(B)\n.endif\n", 3, 1, "'.elif' after '.else'"),
    (".if defined(A)\n.else\n.else\n.endif\n", 3, 1, "'.else' after '.else'"),
    ("global\n.if defined(A)\n.if defined(B)\n.endif\n", 2, 1, "'.if' without '.endif'"),
    (".if\n.endif\n", 1, 4, "'.if' needs a condition"),
    ("frontend\n", 1, 9, "missing name for 'frontend'"),
    ("backend b from\n", 1, 15, "missing defaults name after 'from'"),
    ("defaults from\n", 1, 14, "missing defaults name after 'from'"),
    ("global\r\n\tlog \"x 'y\r\n", 2, 6, "unterminated quote"),
    ("global\n\n\n  maxconn 1\n  stats socket '/run/x\n", 5, 16, "unterminated quote"),
])
def test_document_errors(text: str, line: int, column: int, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        loads(text)
    assert (info.value.line, info.value.column, info.value.reason) == (line, column, reason)


def test_public_names() -> None:
    assert sorted(config.__all__) == sorted(
        ["Acl", "Balance", "Bind", "Condition", "Directive", "Document", "Errorfile", "Flag",
         "Generic", "Line", "Log", "Named", "Option", "Rule", "Section", "Server",
         "ServerTemplate", "Subcommand", "Switch", "TcpRule", "Timeout", "Unknown", "Value",
         "Word", "dumps", "load", "loads"])
    for name in config.__all__:
        assert hasattr(config, name)
