"""Listeners written on a section header (the 1.x form ``listen stats :1936``) import as the
binds they mean, on every target; other words after a proxy's name are an error naming the line.
Issue "Importer fidelity", defect 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbctl.config import loads
from lbctl.config.normal import section_directives
from lbctl.config.sections import header_addresses
from lbctl.errors import ConfigRejected, SpecError
from lbctl.haproxy.validate import check_file
from lbctl.importer import import_config
from lbctl.render import render

from .haproxy_helpers import bundled_haproxy, load_binary
from .test_render import CTX, caps

HEADERS = """\
global
    maxconn 100

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

listen stats 127.0.0.1:{stats}
    stats enable
    stats uri /

frontend www 127.0.0.1:{a},127.0.0.1:{b}
    default_backend app

backend app
    server s1 127.0.0.1:9000
"""


@pytest.mark.parametrize(("kind", "args", "addresses"), [
    ("listen", ("stats", ":1936"), [":1936"]),
    ("frontend", ("www", ":8080,:8081"), [":8080", ":8081"]),
    ("frontend", ("www", "from", "d", ":80"), [":80"]),
    ("frontend", ("www", ":80", "from", "d"), [":80"]),
    ("frontend", ("www",), []),
    ("backend", ("app", ":80"), []),
    ("peers", ("p",), []),
])
def test_header_addresses(kind: str, args: tuple[str, ...], addresses: list[str]) -> None:
    assert header_addresses(kind, args) == addresses


@pytest.mark.parametrize("version", ["2.8", "2.6", "2.0", "1.5"])
def test_header_listeners_become_binds_on_every_target(version: str) -> None:
    text = HEADERS.format(stats=1936, a=8080, b=8081)
    spec = import_config(loads(text), caps=caps(version), ctx=CTX).spec
    rendered = render(spec, caps(version), CTX)
    assert "listen stats\n    bind 127.0.0.1:1936\n" in rendered
    fe = spec.frontends[0]
    assert [str(b) for b in fe.bind] == ["127.0.0.1:8080", "127.0.0.1:8081"]
    # The no-loss check counts header words as the binds they mean: nothing lost, nothing added
    # in those sections.
    before, after = section_directives(loads(text)), section_directives(loads(rendered))
    for key in (("listen", "stats"), ("frontend", "www"), ("backend", "app")):
        assert before[key] <= after[key], key
    assert before[("listen", "stats")][("bind", "127.0.0.1:1936")] == 1


def test_rendering_of_a_header_listener_passes_haproxy_check(short_dir: Path) -> None:
    """2.8 refuses the original ("please use the 'bind' keyword") and accepts the import's
    rendering, which still listens there."""
    from lbctl.demo.load import free_port

    binary = load_binary(bundled_haproxy())
    text = HEADERS.format(stats=free_port(), a=free_port(), b=free_port())
    original = short_dir / "original.cfg"
    original.write_text(text)
    with pytest.raises(ConfigRejected) as info:
        check_file(binary, original)
    assert "bind" in info.value.output
    spec = import_config(loads(text), caps=binary.capabilities(), ctx=CTX).spec
    rendered = render(spec, binary.capabilities(), CTX)
    path = short_dir / "rendered.cfg"
    path.write_text(rendered.replace("/run/lbctl", str(short_dir)))
    check_file(binary, path)


def test_words_after_a_backend_name_are_an_error_naming_the_line() -> None:
    text = "global\n    maxconn 1\n\nbackend app :80\n    server s 127.0.0.1:1\n"
    with pytest.raises(SpecError) as info:
        import_config(loads(text), caps=caps("2.8"), ctx=CTX)
    [error] = info.value.errors
    assert error.line == 4 and "':80'" in error.message


def test_words_after_a_defaults_name_are_kept_in_sight() -> None:
    """``defaults d mode http`` (seen in real configs): HAProxy ignores the words, so the
    import means the same without them, and keeps them as a comment above the section."""
    text = "global\n    maxconn 1\n\ndefaults d    mode http\n    timeout connect 5s\n"
    spec = import_config(loads(text), caps=caps("2.8"), ctx=CTX).spec
    assert spec.defaults.name == "d" and spec.defaults.mode is None
    assert spec.defaults.comment == [
        "# lbctl import: words after the defaults name, which HAProxy ignores: mode http"]
    assert "mode http" in render(spec, caps("2.8"), CTX).split("defaults d")[0]


def test_rule_order_is_kept() -> None:
    """``http-check expect`` written before ``http-check send`` means something else than after
    it: the import keeps them as written (extra lines) instead of moving them into the
    health-check fields, which render send first. Issue "Importer fidelity", defect 5."""
    text = ("global\n    maxconn 1\n\nbackend app\n    option httpchk\n"
            "    http-check expect status 200\n    http-check send meth GET uri /health\n"
            "    server s 127.0.0.1:1\n")
    spec = import_config(loads(text), caps=caps("2.8"), ctx=CTX).spec
    rendered = render(spec, caps("2.8"), CTX)
    section = rendered[rendered.index("backend app"):]
    assert section.index("http-check expect status 200") < section.index("http-check send")
    # Written in lbctl's order, the same lines do become the health-check fields.
    ordered = text.replace("    http-check expect status 200\n", "").replace(
        "uri /health\n", "uri /health\n    http-check expect status 200\n")
    back = import_config(loads(ordered), caps=caps("2.8"), ctx=CTX).spec
    assert back.backends[0].health_check is not None
    assert back.backends[0].health_check.expect_status == 200
