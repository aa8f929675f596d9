"""Directive families: ``ok`` / ``fail`` tables, as haproxytech/config-parser tests them.

Each ``ok`` line is read inside a section that accepts it and must give the named fields;
each ``fail`` line must raise :class:`ParseError` at the given column (1-based, of the whole
line) with the given words in its reason. Every line is indented by four spaces.
"""

from __future__ import annotations

from typing import Any

import pytest

from lbctl.config import directives as D
from lbctl.config import loads
from lbctl.config import rules as R
from lbctl.config.sections import FAMILIES, SECTION_KEYWORDS, TABLES, family_for
from lbctl.errors import ParseError

# (section, line, family, fields)
OK: list[tuple[str, str, type[D.Directive], dict[str, Any]]] = [
    # Flag
    ("global", "daemon", D.Flag, {"args": ()}),
    ("global", "no strict-limits", D.Flag, {"negated": True, "keyword": "strict-limits"}),
    # Value
    ("global", "maxconn 4096", D.Value, {"value": "4096"}),
    ("global", 'maxconn "${HAPROXY_MAXCONN}"', D.Value, {"value": "${HAPROXY_MAXCONN}"}),
    ("frontend f", "default_backend app", D.Value, {"value": "app"}),
    ("cache c", "total-max-size 200", D.Value, {"value": "200"}),
    # Timeout
    ("defaults", "timeout connect 5s", D.Timeout, {"event": "connect", "value": "5s"}),
    ("defaults", "timeout http-keep-alive 500", D.Timeout, {"event": "http-keep-alive", "value": "500"}),
    ("defaults", "timeout client 15min", D.Timeout, {"value": "15min"}),  # HAProxy 2.x only warns
    ("resolvers dns", "timeout retry 1s", D.Timeout, {"event": "retry"}),
    # Option
    ("defaults", "option httplog", D.Option, {"name": "httplog", "params": (), "negated": False}),
    ("defaults", "no option http-server-close", D.Option, {"name": "http-server-close", "negated": True}),
    ("backend b", "option httpchk GET /health", D.Option, {"name": "httpchk", "params": ("GET", "/health")}),
    # Subcommand
    ("listen l", "stats uri /stats", R.Subcommand, {"sub": "uri", "params": ("/stats",)}),
    ("listen l", "stats admin if TRUE", R.Subcommand, {"sub": "admin", "condition": R.Condition("if", ("TRUE",))}),
    ("backend b", "http-check expect status 200", R.Subcommand, {"sub": "expect", "params": ("status", "200")}),
    ("frontend f", "capture request header Host len 64", R.Subcommand, {"sub": "request"}),
    # Bind
    ("frontend f", "bind :80", D.Bind, {"addresses": (":80",), "params": ()}),
    ("frontend f", "bind 127.0.0.1:80,::1:80 ssl crt /x.pem", D.Bind,
     {"addresses": ("127.0.0.1:80", "::1:80"), "params": ("ssl", "crt", "/x.pem")}),
    ("log-forward lf", "dgram-bind 127.0.0.1:514", D.Bind, {"addresses": ("127.0.0.1:514",)}),
    # Server
    ("backend b", "server s1 10.0.0.1:80 weight 100 check inter 2s", D.Server,
     {"name": "s1", "address": "10.0.0.1:80", "params": ("weight", "100", "check", "inter", "2s")}),
    ("backend b", "server s2 [::1]:80", D.Server, {"name": "s2", "address": "[::1]:80", "params": ()}),
    ("peers p", "peer lb1 10.0.0.1:1024", D.Server, {"name": "lb1", "address": "10.0.0.1:1024"}),
    ("peers p", "server lb1", D.OptionalAddressServer, {"name": "lb1", "address": ""}),
    ("resolvers dns", "nameserver dns1 10.0.0.53:53", D.Server, {"name": "dns1", "address": "10.0.0.53:53"}),
    ("backend b", "server-template web 1-3 app.example:80 check", D.ServerTemplate,
     {"prefix": "web", "count": "1-3", "address": "app.example:80", "params": ("check",)}),
    # Acl
    ("frontend f", "acl api path_beg /api /v2", D.Acl, {"name": "api", "criterion": "path_beg", "values": ("/api", "/v2")}),
    ("frontend f", "acl h hdr(host) -i -m str 'a b'", D.Acl, {"criterion": "hdr(host)", "values": ("-i", "-m", "str", "a b")}),
    # Rule
    ("frontend f", "http-request deny", R.Rule, {"action": "deny", "params": (), "condition": None}),
    ("frontend f", 'http-request set-header X-A "1 2" if { path_beg /a } !{ ssl_fc }', R.Rule,
     {"action": "set-header", "params": ("X-A", "1 2"),
      "condition": R.Condition("if", ("{", "path_beg", "/a", "}", "!{", "ssl_fc", "}"))}),
    ("backend b", "http-response del-header Server unless is_internal", R.Rule,
     {"action": "del-header", "condition": R.Condition("unless", ("is_internal",))}),
    ("frontend f", "http-after-response set-header A b if", R.Rule, {"condition": R.Condition("if", ())}),
    # TcpRule
    ("frontend f", "tcp-request inspect-delay 5s", R.TcpRule, {"ruleset": "inspect-delay", "params": ("5s",)}),
    ("frontend f", "tcp-request content accept if { req_ssl_hello_type 1 }", R.TcpRule,
     {"ruleset": "content", "action": "accept", "condition": R.Condition("if", ("{", "req_ssl_hello_type", "1", "}"))}),
    ("frontend f", "tcp-request connection track-sc0 src", R.TcpRule,
     {"ruleset": "connection", "action": "track-sc0", "params": ("src",)}),
    # Switch
    ("frontend f", "use_backend api if is_api", R.Switch, {"target": "api", "condition": R.Condition("if", ("is_api",))}),
    ("frontend f", "use_backend %[req.hdr(host),lower]", R.Switch, {"target": "%[req.hdr(host),lower]", "condition": None}),
    ("frontend f", "redirect scheme https code 301 if !{ ssl_fc }", R.Switch,
     {"target": "scheme", "params": ("https", "code", "301")}),
    ("frontend f", "block if bad", R.Switch, {"target": "", "condition": R.Condition("if", ("bad",))}),
    ("listen l", "reqadd X-Scheme:\\ http if !{ ssl_fc }", R.Switch, {"target": "X-Scheme: http"}),
    # Balance
    ("backend b", "balance leastconn", D.Balance, {"algorithm": "leastconn"}),
    ("backend b", "balance url_param userid check_post", D.Balance, {"algorithm": "url_param", "params": ("userid", "check_post")}),
    ("backend b", "balance", D.Balance, {"algorithm": "roundrobin"}),  # cfgparse-listen.c default
    # Log
    ("global", "log 127.0.0.1:514 local0 notice", D.Log, {"target": "127.0.0.1:514", "params": ("local0", "notice")}),
    ("defaults", "log global", D.Log, {"target": "global"}),
    ("frontend f", "no log", D.Log, {"negated": True, "target": ""}),
    # Errorfile
    ("defaults", "errorfile 503 /etc/haproxy/errors/503.http", D.Errorfile, {"code": "503", "path": "/etc/haproxy/errors/503.http"}),
    ("http-errors site", "errorfile 404 /e/404.http", D.Errorfile, {"code": "404"}),
    # Named
    ("userlist admins", "user boss password $6$k6y3o.eP$JlKBx9", D.Named, {"name": "boss", "params": ("password", "$6$k6y3o.eP$JlKBx9")}),
    ("userlist admins", "group ops users boss", D.Named, {"name": "ops"}),
    ("backend b", "cookie SRV insert indirect nocache", D.Named, {"name": "SRV"}),
    # Generic and Unknown
    ("global", "lua-load /etc/haproxy/x.lua", D.Generic, {"args": ("/etc/haproxy/x.lua",)}),
    ("global", "tune.ssl.default-dh-param 2048", D.Generic, {"keyword": "tune.ssl.default-dh-param"}),
    ("backend b", "stick-table type ip size 1m expire 10m", D.Generic, {"args": ("type", "ip", "size", "1m", "expire", "10m")}),
    ("backend b", "some-future-keyword a b", D.Unknown, {"args": ("a", "b")}),
    ("frontend f", "server s 1.2.3.4:80", D.Unknown, {}),  # servers belong to backends
    ("crt-store web", "load crt a.pem key a.key", D.Unknown, {"keyword": "load"}),
]

# (section, line, column, reason words)
FAIL: list[tuple[str, str, int, str]] = [
    ("global", "daemon yes", 12, "takes no argument"),
    ("global", "maxconn", 12, "missing value"),
    ("global", "maxconn 1 2", 15, "takes one argument"),
    ("defaults", "timeout", 12, "missing timeout name"),
    ("defaults", "timeout connect", 20, "missing time"),
    ("defaults", "timeout connect fast", 21, "not a time"),
    ("defaults", "timeout connect 5s 6s", 24, "takes one time"),
    ("defaults", "option", 11, "missing option name"),
    ("listen l", "stats", 10, "missing 'stats' subcommand"),
    ("frontend f", "bind", 9, "missing address"),
    ("backend b", "server", 11, "missing name"),
    ("backend b", "server s1", 14, "missing address"),
    ("peers p", "peer lb1", 13, "missing address"),
    ("peers p", "server", 11, "missing name"),
    ("backend b", "server-template web 3", 26, "missing prefix, count and address"),
    ("frontend f", "acl", 8, "missing ACL name"),
    ("frontend f", "acl is_api", 15, "missing criterion"),
    ("frontend f", "http-request", 17, "missing action"),
    ("frontend f", "http-request deny if { path_beg /a", 26, "'{' without '}'"),
    ("frontend f", "http-request deny if path_beg /a }", 38, "'}' without '{'"),
    ("frontend f", "http-request deny if { { src 1.2.3.4 } }", 28, "nested '{'"),
    ("frontend f", "http-request deny if { }", 28, "empty anonymous ACL"),
    ("frontend f", "tcp-request", 16, "missing rule set"),
    ("frontend f", "tcp-request content", 24, "missing action"),
    ("frontend f", "tcp-request inspect-delay", 30, "missing time"),
    ("frontend f", "tcp-request content reject if !{ src 10.0.0.0/8", 35, "'{' without '}'"),
    ("frontend f", "use_backend", 16, "missing argument"),
    ("frontend f", "use_backend api if }", 24, "'}' without '{'"),
    ("global", "log 127.0.0.1:514", 22, "missing facility"),
    ("global", "log", 8, "missing log target"),
    ("defaults", "errorfile 503", 18, "missing file"),
    ("defaults", "errorfile x503 /e.http", 15, "not an HTTP status code"),
    ("userlist u", "user", 9, "missing name"),
    ("backend b", "cookie", 11, "missing name"),
]


def _doc(section: str, line: str) -> str:
    return f"{section}\n    {line}\n"


@pytest.mark.parametrize(("section", "line", "family", "fields"), OK, ids=[f"{c[0]}: {c[1]}" for c in OK])
def test_ok(section: str, line: str, family: type[D.Directive], fields: dict[str, Any]) -> None:
    doc = loads(_doc(section, line))
    directives = doc.sections[0].directives()
    assert len(directives) == 1
    directive = directives[0]
    assert type(directive) is family
    for name, value in fields.items():
        assert getattr(directive, name) == value, name


@pytest.mark.parametrize(("section", "line", "column", "reason"), FAIL, ids=[f"{c[0]}: {c[1]}" for c in FAIL])
def test_fail(section: str, line: str, column: int, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        loads(_doc(section, line))
    err = info.value
    assert (err.line, err.column) == (2, column), err
    assert reason in err.reason
    assert str(err) == f"line 2, column {column}: {err.reason}"


def test_every_family_has_ok_and_fail_cases() -> None:
    assert {family for _, _, family, _ in OK} == set(FAMILIES)
    failing = {family_for(s.split()[0], ln.split()[-1 if ln.startswith("no ") else 0])
               for s, ln, _, _ in FAIL}
    # Generic and Unknown take anything; a bare ``balance`` means roundrobin.
    assert failing == set(FAMILIES) - {D.Generic, D.Unknown, D.Balance}


def test_tables_name_known_families_only() -> None:
    for kind, table in TABLES.items():
        assert kind in SECTION_KEYWORDS
        for keyword, family in table.items():
            assert family in FAMILIES, (kind, keyword)


def test_condition_is_split_at_the_first_if_or_unless() -> None:
    head, cond = R.Condition.split(("set-var(txn.x)", "str(if)", "unless", "a", "||", "b"), 1)
    assert head == ("set-var(txn.x)", "str(if)") and cond == R.Condition("unless", ("a", "||", "b"))
    assert str(cond) == "unless a || b"


def test_server_param_and_flags() -> None:
    server = loads("backend b\n server s 1.2.3.4:80 weight 5 check backup\n").sections[0].directives()[0]
    assert isinstance(server, D.Server)
    assert server.param("weight") == "5" and server.param("maxconn") is None
    assert server.has("check") and server.has("backup") and not server.has("disabled")
