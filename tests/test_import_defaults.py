"""Several ``defaults`` sections, named defaults (``from``) and conditional blocks around whole
sections: valid configs the importer refused before (issue 12, item 3).

Each config imports, renders back with every section's normalised directives and in the
file's section order (so every defaults section still applies to the proxies it applied to),
HAProxy accepts the rendering (bundled 2.8 and Debian's 2.6; 1.5 for anonymous defaults, 2.4
for named ones), and a second import renders the same bytes. ``from`` on a target before 2.4
is refused naming the field (:data:`lbctl.features.GATES`). A ``.if`` block around a section
survives an edit of another section.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lbctl.config import Document, load, loads
from lbctl.config.normal import section_directives
from lbctl.errors import SpecError, UnsupportedOnTarget
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.haproxy.binary import inspect_binary
from lbctl.haproxy.validate import check_text
from lbctl.importer import import_config
from lbctl.render import RenderContext, field_for_line, peer_args, render
from lbctl.spec import Defaults, validate_spec

from . import haproxy_builds
from .config_corpus import SKIP_REASON, corpus_dir
from .test_import_corpus import DEFAULTS_IMPORTED

CAPS = Capabilities.for_target(HAProxyVersion(2, 8, 25))
CTX = RenderContext(Path("/run/lbctl"))

NAMED = """\
global
    maxconn 100

defaults common
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

defaults tcpish
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s

frontend www from common
    bind 127.0.0.1:18080
    default_backend app

backend app from common
    server s1 127.0.0.1:18081

listen db from tcpish
    bind 127.0.0.1:18082
    server d1 127.0.0.1:18083
"""

#: Two anonymous defaults sections, a proxy before the first: each applies to what follows.
ANONYMOUS = """\
global
    maxconn 100

backend early
    timeout connect 2s
    timeout server 2s
    server e1 127.0.0.1:18084

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend www
    bind 127.0.0.1:18080
    default_backend app

backend app
    server s1 127.0.0.1:18081

defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s

backend db
    server d1 127.0.0.1:18083
"""

#: A conditional block around a whole section, between two proxies.
GUARDED = """\
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend www
    bind 127.0.0.1:18080
    default_backend app

backend app
    server s1 127.0.0.1:18081
.if defined(LBCTL_TEST_STATS)
# the stats page, only where asked for
listen stats
    bind 127.0.0.1:18085
    stats enable
.endif

backend other
    server o1 127.0.0.1:18086
"""


def _headers(doc: Document) -> list[tuple[str, str | None]]:
    return [(s.kind, s.name) for s in doc.sections if not (s.name or "").startswith("lbctl")]


def _directives(doc: Document) -> dict[object, Counter[tuple[str, ...]]]:
    own = {("option", "idle-close-on-response"), ("log", "global"), ("option", "httplog")}
    out: dict[object, Counter[tuple[str, ...]]] = {}
    for key, counter in section_directives(doc).items():
        if key[0] == "global" or (key[1] or "").startswith("lbctl"):
            continue  # lbctl's own lines there (stats socket, log target): its to write
        kept = Counter({w: n for w, n in counter.items() if w not in own})
        if kept:
            out[key] = kept
    return out


def _round_trip(text: str, caps: Capabilities = CAPS) -> tuple[Document, str]:
    doc = loads(text)
    spec = import_config(doc, caps=caps, ctx=CTX).spec
    rendered = render(spec, caps, CTX)
    again = import_config(loads(rendered), caps=caps, ctx=CTX).spec
    assert render(again, caps, CTX) == rendered  # a second import changes nothing
    return doc, rendered


@pytest.mark.parametrize("text", [NAMED, ANONYMOUS, GUARDED], ids=["named", "anonymous", "if"])
def test_render_keeps_every_section_in_place(text: str) -> None:
    doc, rendered = _round_trip(text)
    out = loads(rendered)
    assert [h for h in _headers(out) if h[0] != "global"] == \
        [h for h in _headers(doc) if h[0] != "global"]
    assert _directives(out) == _directives(doc)


def test_named_defaults_become_a_list_each_proxy_naming_its_from() -> None:
    imported = import_config(loads(NAMED), caps=CAPS, ctx=CTX)
    spec = imported.spec
    assert isinstance(spec.defaults, list)
    assert [(d.name, d.mode, d.timeouts.client) for d in spec.defaults] == [
        ("common", "http", 30_000), ("tcpish", "tcp", 10_000)]
    assert [(fe.name, fe.from_) for fe in spec.frontends] == [("www", "common")]
    assert [(be.name, be.from_) for be in spec.backends] == [("app", "common")]
    assert [(li.name, li.from_, [s.name for s in li.servers]) for li in spec.listens] == [
        ("db", "tcpish", ["d1"])]
    assert imported.line_of("defaults[1].timeouts.client") == 13
    data = spec.to_data()
    assert [d["name"] for d in data["defaults"]] == ["common", "tcpish"]
    assert validate_spec(data) == spec


def test_anonymous_defaults_keep_their_place_in_order() -> None:
    spec = import_config(loads(ANONYMOUS), caps=CAPS, ctx=CTX).spec
    assert isinstance(spec.defaults, list) and [d.mode for d in spec.defaults] == ["http", "tcp"]
    assert spec.order == ["backend early", "defaults", "frontend www", "backend app",
                          "defaults", "backend db"]


def test_one_defaults_section_still_imports_as_the_mapping() -> None:
    spec = import_config(loads(GUARDED), caps=CAPS, ctx=CTX).spec
    assert isinstance(spec.defaults, Defaults)
    assert isinstance(spec.to_data()["defaults"], dict)


def test_a_spec_of_one_defaults_mapping_renders_as_before() -> None:
    """The mapping and a list of that one mapping render the same bytes."""
    data = {"defaults": {"name": "base", "mode": "http"},
            "frontends": [{"name": "www", "from": "base", "bind": ["127.0.0.1:18080"],
                           "default_backend": "app"}],
            "backends": [{"name": "app", "from": "base",
                          "servers": [{"name": "s1", "address": "127.0.0.1", "port": 18081}]}]}
    one = validate_spec(data)
    listed = validate_spec({**data, "defaults": [data["defaults"]]})
    assert render(one, CAPS, CTX) == render(listed, CAPS, CTX)
    assert one.to_data()["defaults"]["name"] == "base"  # the mapping stays a mapping
    assert [d["name"] for d in listed.to_data()["defaults"]] == ["base"]


def test_from_must_name_one_of_the_defaults_sections() -> None:
    with pytest.raises(SpecError) as info:
        validate_spec({"defaults": [{"name": "a"}, {"name": "b"}],
                       "backends": [{"name": "app", "from": "c"}]})
    [error] = info.value.errors
    assert error.loc == "backends[0].from" and "'c'" in error.message and "'b'" in error.message


def test_from_with_several_defaults_is_gated_before_2_4() -> None:
    spec = import_config(loads(NAMED), caps=CAPS, ctx=CTX).spec
    with pytest.raises(UnsupportedOnTarget) as info:
        render(spec, Capabilities.for_target(HAProxyVersion(2, 3, 0)), CTX)
    [error] = info.value.errors
    assert error.loc == "frontends[0].from" and "HAProxy 2.3" in error.message
    assert "2.4" in error.message
    render(spec, Capabilities.for_target(HAProxyVersion(2, 4, 0)), CTX)
    # Anonymous defaults sections need no gate: every version takes them.
    anonymous = import_config(loads(ANONYMOUS), caps=CAPS, ctx=CTX).spec
    render(anonymous, Capabilities.for_target(HAProxyVersion(1, 5, 0)), CTX)


def test_field_of_a_line_in_the_second_defaults_section() -> None:
    spec = import_config(loads(ANONYMOUS), caps=CAPS, ctx=CTX).spec
    text = render(spec, CAPS, CTX)
    lines = text.splitlines()
    second = [i for i, ln in enumerate(lines, 1) if ln.strip() == "timeout client 10s"]
    assert field_for_line(spec, text, second[0]) == "defaults[1].timeouts.client"
    first = [i for i, ln in enumerate(lines, 1) if ln.strip() == "timeout client 30s"]
    assert field_for_line(spec, text, first[0]) == "defaults[0].timeouts.client"


def test_if_block_around_a_section_survives_an_edit_of_another(haproxy_bin: str,
                                                                 short_dir: Path) -> None:
    binary = inspect_binary(haproxy_bin)
    caps = binary.capabilities()
    ctx = RenderContext(short_dir)
    spec = import_config(loads(GUARDED), caps=caps, ctx=ctx).spec
    [stats] = spec.sections
    assert (stats.before, stats.after) == ([".if defined(LBCTL_TEST_STATS)"], [".endif"])
    app = spec.backends[0]
    server = app.servers[0].model_copy(update={"port": 18090})
    edited = spec.model_copy(update={"backends": [app.model_copy(update={"servers": [server]}),
                                                  *spec.backends[1:]]})
    text = render(edited, caps, ctx)
    lines = text.splitlines()
    at = lines.index("listen stats")
    assert lines[at - 2:at] == [".if defined(LBCTL_TEST_STATS)", "# the stats page, only where asked for"]
    assert lines[at + 1:at + 4] == ["    bind 127.0.0.1:18085", "    stats enable", ".endif"]
    assert "    server s1 127.0.0.1:18090" in lines
    check_text(binary, text, directory=short_dir, extra_args=peer_args(caps))


@pytest.mark.parametrize(("text", "line", "why"), [
    (".if defined(X)\nglobal\n    maxconn 1\n.endif\n", 1, "outside any section"),
    ("backend b\n.if defined(X)\n# c\n\n# d\nbackend c\n.endif\n", 2, "spanning sections"),
    ("backend b\n.if defined(X)\ndefaults\n    mode http\n.endif\n", 3, "around a defaults"),
    ("defaults d from e\n    mode http\n", 1, "'from' on the defaults section"),
])
def test_blocks_that_cannot_be_kept_are_errors_naming_their_line(text: str, line: int,
                                                                  why: str) -> None:
    with pytest.raises(SpecError) as info:
        import_config(loads(text), caps=CAPS, ctx=CTX)
    assert any(e.line == line and why in e.message for e in info.value.errors), info.value.errors


@pytest.fixture(scope="module")
def old_builds() -> dict[str, Path]:
    built, failed = haproxy_builds.ensure_builds(["1.5.0", "2.4.0"])
    if set(built) != {"1.5.0", "2.4.0"}:
        pytest.skip(f"HAProxy builds: {failed}")
    return built


@pytest.mark.parametrize(("text", "build"), [(ANONYMOUS, "1.5.0"), (NAMED, "2.4.0")],
                         ids=["anonymous-1.5", "named-2.4"])
def test_old_versions_accept_the_rendering(text: str, build: str, old_builds: dict[str, Path],
                                           short_dir: Path) -> None:
    binary = inspect_binary(str(old_builds[build]))
    caps = binary.capabilities()
    ctx = RenderContext(short_dir)
    spec = import_config(loads(text), caps=caps, ctx=ctx).spec
    rendered = render(spec, caps, ctx)
    check_text(binary, rendered, directory=short_dir, extra_args=peer_args(caps))
    assert _directives(loads(rendered)) == _directives(loads(text))


def test_corpus_files_with_several_defaults_import() -> None:
    folder = corpus_dir()
    if folder is None:
        pytest.skip(SKIP_REASON)
    for name in sorted(DEFAULTS_IMPORTED):
        doc = load(folder / name)
        assert len(doc.sections_of("defaults")) > 1 or any(
            s.kind in ("frontend", "backend", "listen")
            for s in doc.sections[:doc.sections.index(doc.sections_of("defaults")[0])])
        spec = import_config(doc, caps=CAPS, ctx=CTX).spec
        assert len(spec.defaults_sections()) == len(doc.sections_of("defaults")), name
        assert _directives(loads(render(spec, CAPS, CTX))) == _directives(doc), name
