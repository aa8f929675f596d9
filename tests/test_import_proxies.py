"""Frontend rules and ``listen`` sections become spec fields where they map exactly (issue
"Importer fidelity", item 6): a frontend's ``mode``, ``timeout`` lines and options without
arguments; ``bind :80`` as written; routes written with a named ``path_beg`` ACL or inline;
``listen`` sections as :class:`~lbctl.spec.models.Listen` (binds, ``maxconn``, what a
backend has). Each mapping renders back the same directives, in the same sections and order,
HAProxy 2.8 accepts the rendering, and a second import renders the same bytes; what does not
map exactly stays an extra line, in order."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lbctl.config import loads
from lbctl.config.normal import section_directives
from lbctl.errors import SpecError
from lbctl.haproxy.validate import check_text
from lbctl.importer import import_config
from lbctl.render import RenderContext, peer_args, render
from lbctl.spec import Spec, validate_spec

from .haproxy_helpers import bundled_haproxy, load_binary
from .test_render import CTX, caps

CONFIG = """\
global
    maxconn 100

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend www
    bind :{www}
    mode http
    timeout client 10s
    timeout http-request 5s
    option httplog
    option dontlognull
    acl is_api path_beg /api/
    acl is_docs path /docs
    acl is_docs path_beg /docs/
    use_backend app if {{ path_beg /static/ }}
    use_backend api if is_api
    use_backend app if is_docs
    default_backend app

listen stats :{stats}
    mode http
    maxconn 10
    timeout client 5s
    option httplog
    stats enable
    stats uri /

listen db
    bind 127.0.0.1:{db}
    mode tcp
    balance leastconn
    option tcplog
    timeout server 1m
    server d1 127.0.0.1:5432 check inter 2s
    server d2 127.0.0.1:5433 check backup

backend api
    server a1 127.0.0.1:9001

backend app
    server s1 127.0.0.1:9000
"""


def _import(text: str) -> tuple[str, Spec]:
    imported = import_config(loads(text), caps=caps("2.8.25"), ctx=CTX)
    return render(imported.spec, caps("2.8.25"), CTX), imported.spec


def _text(www: int = 8080, stats: int = 1936, db: int = 15432) -> str:
    return CONFIG.format(www=www, stats=stats, db=db)


def test_frontend_settings_become_fields() -> None:
    _, spec = _import(_text())
    fe = spec.frontends[0]
    assert fe.mode == "http"
    assert (fe.timeouts.client, fe.timeouts.http_request) == (10_000, 5_000)
    assert fe.options == ["httplog", "dontlognull"]
    assert [str(b) for b in fe.bind] == [":8080"]  # written as HAProxy's ":port", kept so
    assert fe.extra == []


def test_routes_as_configs_write_them_become_routes() -> None:
    _, spec = _import(_text())
    routes = [(r.path_prefix, r.backend, r.acl, r.inline) for r in spec.frontends[0].routes]
    # in the order written, which is lbctl's too (longest prefix first)
    assert routes == [("/static/", "app", None, True), ("/api/", "api", "is_api", False),
                      ("/docs", "app", "is_docs", False)]


def test_listen_sections_become_listens() -> None:
    text, spec = _import(_text())
    stats, db = spec.listens
    assert ([str(b) for b in stats.bind], stats.maxconn, stats.mode, stats.timeouts.client,
            stats.options, stats.extra) == ([":1936"], 10, "http", 5_000, ["httplog"],
                                            ["stats enable", "stats uri /"])
    assert (db.mode, db.balance, db.timeouts.server, db.options) == ("tcp", "leastconn", 60_000,
                                                                    ["tcplog"])
    assert [(s.name, s.check, s.inter, s.backup) for s in db.servers] == [
        ("d1", True, "2s", False), ("d2", True, None, True)]
    assert spec.sections == []
    # the order of the sections is the file's (proxies keep their numbers)
    headers = [ln.split()[:2] for ln in text.splitlines() if ln[:1].isalpha()]
    assert headers[2:] == [["frontend", "www"], ["listen", "stats"], ["listen", "db"],
                           ["backend", "api"], ["backend", "app"]]


def test_render_keeps_every_directive_and_a_second_import_changes_nothing() -> None:
    original = _text()
    text, spec = _import(original)
    before, after = section_directives(loads(original)), section_directives(loads(text))
    for key, counter in before.items():
        if key[0] != "global" and key[0] != "defaults":
            assert after[key] == counter, key
    again, _ = _import(text)
    assert again == text
    data = spec.to_data()
    assert validate_spec(data) == spec


def test_haproxy_accepts_the_rendering(short_dir: Path) -> None:
    from lbctl.demo.load import free_port

    binary = load_binary(bundled_haproxy())
    c = binary.capabilities()
    ctx = RenderContext(short_dir)
    spec = import_config(loads(_text(free_port(), free_port(), free_port())), caps=c, ctx=ctx).spec
    assert spec.listens and spec.frontends[0].routes
    check_text(binary, render(spec, c, ctx), directory=short_dir, extra_args=peer_args(c))


@pytest.mark.parametrize(("lines", "extra"), [
    # a later line overrides an earlier one: only the first may be a field (extra lines are
    # written after the fields); here the first has a comment beside it, so neither moves
    (["option tcplog  # first", "option httplog"], ["option tcplog  # first", "option httplog"]),
    (["timeout client 5s  # x", "timeout client 6s"], ["timeout client 5s  # x",
                                                       "timeout client 6s"]),
    (["no option httplog", "option httplog"], ["no option httplog", "option httplog"]),
    (["option httplog clf"], ["option httplog clf"]),  # an argument: no field has it
    (["mode health"], ["mode health"]),
])
def test_frontend_lines_that_do_not_map_exactly_stay_extra(lines: list[str],
                                                            extra: list[str]) -> None:
    body = "".join(f"    {ln}\n" for ln in lines)
    text = ("global\n    maxconn 1\n\nfrontend www\n    bind 127.0.0.1:80\n"
            f"{body}    default_backend app\n\nbackend app\n    server s 127.0.0.1:1\n")
    rendered, spec = _import(text)
    fe = spec.frontends[0]
    assert fe.extra == extra and fe.options == [] and fe.mode is None
    section = rendered[rendered.index("frontend www"):rendered.index("\nbackend app")]
    assert [ln.strip() for ln in section.splitlines() if ln.strip() in extra] == extra


@pytest.mark.parametrize("rules", [
    # path_beg without a final "/" also matches /apix: no route means that
    ["acl is_api path_beg /api", "use_backend app if is_api"],
    # a flag on the ACL
    ["acl is_api path_beg -i /api/", "use_backend app if is_api"],
    # the ACL has a second, other test
    ["acl is_api path_beg /api/", "acl is_api hdr(host) api", "use_backend app if is_api"],
    # lbctl writes routes longest prefix first; written the other way, they keep their order
    ["use_backend app if { path_beg /a/ }", "use_backend app if { path_beg /a/b/ }"],
    # a backend the file does not have
    ["use_backend nowhere if { path_beg /a/ }"],
    # the ACL written after the rule (HAProxy refuses the rule): not made valid by moving it
    ["use_backend app if is_api", "acl is_api path_beg /api/"],
])
def test_routes_that_do_not_map_exactly_stay_extra(rules: list[str]) -> None:
    body = "".join(f"    {ln}\n" for ln in rules)
    text = ("global\n    maxconn 1\n\nfrontend www\n    bind 127.0.0.1:80\n"
            f"{body}    default_backend app\n\nbackend app\n    server s 127.0.0.1:1\n")
    rendered, spec = _import(text)
    fe = spec.frontends[0]
    assert fe.routes == [] and fe.extra == rules
    section = rendered[rendered.index("frontend www"):rendered.index("\nbackend app")]
    assert [ln.strip() for ln in section.splitlines() if ln.strip() in rules] == rules


def test_a_listen_that_cannot_be_held_keeps_its_lines_in_order() -> None:
    """A repeated bind (the second stays extra) and a TLS bind (an extra line) in a listen."""
    text = ("global\n    maxconn 1\n\nfrontend www\n    bind 127.0.0.1:80\n"
            "    default_backend app\n\nlisten l\n    bind 127.0.0.1:80\n"
            "    bind 127.0.0.1:443 ssl crt /x.pem\n    server s 127.0.0.1:1\n\n"
            "backend app\n    server s 127.0.0.1:1\n")
    rendered, spec = _import(text)
    [li] = spec.listens
    assert li.bind == [] and li.extra == ["bind 127.0.0.1:80", "bind 127.0.0.1:443 ssl crt /x.pem"]
    assert [s.name for s in li.servers] == ["s"]
    assert section_directives(loads(rendered))[("listen", "l")] == section_directives(
        loads(text))[("listen", "l")]


def test_listens_with_the_same_name_are_refused_naming_the_field() -> None:
    text = ("global\n    maxconn 1\n\nlisten l\n    bind 127.0.0.1:80\n\n"
            "listen l\n    bind 127.0.0.1:81\n")
    with pytest.raises(SpecError) as info:
        import_config(loads(text), caps=caps("2.8.25"), ctx=CTX)
    assert any(e.loc == "listens[1].name" and e.line == 7 for e in info.value.errors)


def test_a_hand_written_spec_with_the_new_fields_renders_them() -> None:
    spec = validate_spec({
        "frontends": [{"name": "www", "bind": [":80"], "mode": "http", "options": ["httplog"],
                       "timeouts": {"client": "10s"}, "default_backend": "app",
                       "routes": [{"path_prefix": "/api/", "backend": "app", "inline": True},
                                  {"path_prefix": "/a", "backend": "app", "acl": "is_a"}]}],
        "backends": [{"name": "app", "servers": [{"name": "s", "address": "127.0.0.1",
                                                  "port": 9000}]}],
        "listens": [{"name": "stats", "bind": ["127.0.0.1:1936"], "mode": "http",
                     "extra": ["stats enable"]}]})
    text = render(spec, caps("2.8.25"), CTX)
    fe = text[text.index("frontend www"):text.index("\nbackend app")]
    assert fe.splitlines()[1:4] == ["    mode http", "    timeout client 10s", "    option httplog"]
    assert "    bind :80\n" in fe
    assert "    acl is_a path /a\n    acl is_a path_beg /a/\n" in fe
    assert fe.index("use_backend app if { path_beg /api/ }") < fe.index("use_backend app if is_a")
    assert "listen stats\n    bind 127.0.0.1:1936\n    mode http\n    stats enable\n" in text
    back = import_config(loads(text), caps=caps("2.8.25"), ctx=CTX).spec
    assert (back.frontends, back.listens) == (spec.frontends, spec.listens)  # import(render(S)) == S
    # the frontend's own timeout client bounds a smooth client's wait, not the defaults'
    with pytest.raises(SpecError, match=r"frontends\[0\]\.clients\[0\]\.burst"):
        validate_spec({"frontends": [{
            "name": "www", "bind": [":80"], "default_backend": "app", "timeouts": {"client": "1s"},
            "clients": [{"name": "c", "path_prefix": "/c", "rate": 1, "burst": 5}]}],
            "backends": [{"name": "app"}]})


@pytest.mark.parametrize(("route", "message"), [
    ({"path_prefix": "/a", "inline": True}, "ending in '/'"),
    ({"path_prefix": "/a/", "inline": True, "acl": "x"}, "not both"),
    ({"path_prefix": "/b/", "acl": "x", "also": {"path_prefix": "/c/", "acl": "x"}},
     r"routes\[1\]\.acl: duplicate route ACL 'x'"),
])
def test_route_forms_are_checked(route: dict[str, object], message: str) -> None:
    first = {k: v for k, v in route.items() if k != "also"}
    also = route.get("also")
    routes = [{"backend": "app", **first}] + ([{"backend": "app", **also}] if isinstance(also, dict) else [])
    with pytest.raises(SpecError, match=message):
        validate_spec({"frontends": [{"name": "www", "bind": [":80"], "routes": routes}],
                       "backends": [{"name": "app"}]})


def test_stats_count_listen_lines_as_fields() -> None:
    from lbctl.importer.stats import import_stats

    doc = loads(_text())
    stats = import_stats(doc, import_config(doc, caps=caps("2.8.25"), ctx=CTX))
    assert stats.lines["listen"] == Counter(field=11, extra=2)  # "stats enable", "stats uri /"
    assert stats.lines["frontend"] == Counter(field=13)


def test_a_route_added_to_imported_routes_reads_back() -> None:
    """The config form adds a route in lbctl's form to a frontend whose routes a config wrote:
    the rendering reads back to the same routes, each in its place, and renders the same bytes."""
    spec = validate_spec({
        "frontends": [{"name": "www", "bind": [":80"], "default_backend": "app", "routes": [
            {"path_prefix": "/api/", "backend": "app", "acl": "is_api"},
            {"path_prefix": "/img/", "backend": "app", "inline": True},
            {"path_prefix": "/new/", "backend": "app"}]}],
        "backends": [{"name": "app", "servers": [{"name": "s", "address": "127.0.0.1",
                                                  "port": 9000}]}]})
    text = render(spec, caps("2.8.25"), CTX)
    assert "    acl lbctl_route_2 path_beg /new/\n" in text
    back = import_config(loads(text), caps=caps("2.8.25"), ctx=CTX).spec
    assert back.frontends[0].routes == spec.frontends[0].routes
    assert render(back, caps("2.8.25"), CTX) == text
