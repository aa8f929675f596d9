"""Servers as real configs write them become structured servers (issue 12, item 6).

Minimal configs, one defect each: a server line without ``weight``, check timings in the
file's order and spelling, the common server keywords as fields, the rest as the server's
``extra`` words, ``default-server``, checks without ``option httpchk``. For each: the import's
fields, ``render(import(x))`` keeping the backend's normalised directives (word order
included), a second import rendering the same bytes, and ``haproxy -c`` (bundled 2.8)
accepting the rendering. A hand-written spec renders as before (``tests/golden``).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lbctl.config import loads
from lbctl.config.normal import section_directives
from lbctl.errors import SpecError
from lbctl.haproxy.binary import inspect_binary
from lbctl.haproxy.validate import check_text
from lbctl.importer import import_spec
from lbctl.render import RenderContext, peer_args, render, server_words
from lbctl.spec import Server, Spec, validate_spec
from lbctl.spec.servers import SERVER_KEYWORDS

from .test_api import _bundled
from .test_render import CTX, caps

HEAD = "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n\n"


def _backend(body: str) -> str:
    return HEAD + "backend app\n" + body


def _round_trip(text: str) -> Spec:
    """Import ``text``; assert the rendering keeps every directive of the backend and renders
    the same once more; return the spec."""
    spec = import_spec(loads(text), caps=caps("2.8.25"), ctx=CTX)
    rendered = render(spec, caps("2.8.25"), CTX)
    key = ("backend", "app")
    assert section_directives(loads(rendered))[key] == section_directives(loads(text))[key]
    again = import_spec(loads(rendered), caps=caps("2.8.25"), ctx=CTX)
    assert render(again, caps("2.8.25"), CTX) == rendered
    return spec


def test_a_server_without_weight_imports_with_weight_unset() -> None:
    spec = _round_trip(_backend("    server s1 10.0.0.1:80\n    server s2 10.0.0.2:80 weight 5\n"))
    s1, s2 = spec.backends[0].servers
    assert (s1.weight, s1.effective_weight, s2.weight) == (None, 1, 5)
    assert server_words(s1, None) == ["server", "s1", "10.0.0.1:80"]
    assert spec.to_data()["backends"][0]["servers"][0]["weight"] is None


def test_check_timings_keep_their_order_and_spelling() -> None:
    spec = _round_trip(_backend(
        "    server s1 10.0.0.1:80 weight 1 check inter 2000 fall 3 rise 2\n"
        "    server s2 10.0.0.2:80 check\n"))
    be = spec.backends[0]
    assert be.health_check is not None and be.health_check.type == "tcp"  # no option httpchk
    s1, s2 = be.servers
    assert (s1.check, s1.inter, s1.fall, s1.rise) == (True, "2000", 3, 2)
    assert s1.order == ["weight", "check", "inter", "fall", "rise"]
    assert (s2.check, s2.inter, s2.order) == (True, None, None)


def test_common_keywords_are_fields_and_the_rest_extra_words() -> None:
    line = ("server s1 app.internal:443 cookie s1 check port 8443 addr 10.0.0.9 inter 2s "
            "ssl verify none send-proxy-v2 resolvers dns init-addr last,libc,none "
            "on-marked-down shutdown-sessions slowstart 30s maxconn 100 backup "
            "source 10.0.0.1 usesrc clientip")
    spec = _round_trip(_backend(f"    {line}\n"))
    s = spec.backends[0].servers[0]
    assert (s.cookie, s.check, s.check_port, s.check_addr, s.inter) == ("s1", True, 8443, "10.0.0.9", "2s")
    assert s.tls is not None and s.tls.verify == "none"
    assert (s.send_proxy, s.resolvers, s.init_addr) == ("v2", "dns", "last,libc,none")
    assert (s.on_marked_down, s.slowstart, s.maxconn, s.backup) == ("shutdown-sessions", "30s", 100, True)
    assert s.extra == ["source", "10.0.0.1", "usesrc", "clientip"]
    assert " ".join(server_words(s, spec.backends[0].health_check)) == line


def test_extra_words_in_two_runs_fold_unless_they_hold_an_option_lbctl_acts_on() -> None:
    spec = _round_trip(_backend("    server s1 10.0.0.1:80 alpn h2 cookie c1 proto h2\n"))
    s = spec.backends[0].servers[0]
    assert (s.cookie, s.extra) == (None, ["alpn", "h2", "cookie", "c1", "proto", "h2"])
    spec = _round_trip(_backend("    server s1 10.0.0.1:80 alpn h2 check proto h2\n"))
    assert spec.backends[0].servers == []  # `check` among extra words: the line stays extra
    assert spec.backends[0].extra == ["server s1 10.0.0.1:80 alpn h2 check proto h2"]


def test_default_server_is_a_field_before_the_servers() -> None:
    spec = _round_trip(_backend("    default-server inter 3s fall 3 rise 2\n"
                                "    server s1 10.0.0.1:80 check\n"))
    be = spec.backends[0]
    assert be.default_server == ["inter", "3s", "fall", "3", "rise", "2"]
    assert [s.name for s in be.servers] == ["s1"] and be.extra == []
    # one that sets the weight leaves the servers' weight to it: kept as lines, with them
    spec = _round_trip(_backend("    default-server weight 10\n    server s1 10.0.0.1:80\n"))
    assert spec.backends[0].servers == [] and spec.backends[0].default_server == []
    # one written after a server applies to the later ones only: kept as lines
    spec = _round_trip(_backend("    server s1 10.0.0.1:80\n    default-server inter 3s\n"
                                "    server s2 10.0.0.2:80\n"))
    assert spec.backends[0].servers == [] and len(spec.backends[0].extra) == 3


def test_check_lines_kept_extra_make_a_custom_check() -> None:
    spec = _round_trip(_backend("    mode tcp\n    option tcp-check\n    tcp-check connect\n"
                                "    server s1 10.0.0.1:80 check inter 1s\n"))
    be = spec.backends[0]
    assert be.mode == "tcp" and be.health_check is not None and be.health_check.type == "custom"
    assert be.servers[0].inter == "1s" and be.extra == ["option tcp-check", "tcp-check connect"]


def test_http_check_and_server_timings_lbctl_writes_read_back_whole() -> None:
    spec = _round_trip(_backend(
        "    option httpchk\n    http-check send meth GET uri /up\n"
        "    server s1 10.0.0.1:80 weight 1 check inter 3s rise 2 fall 3\n"
        "    server s2 10.0.0.2:80 weight 1 check inter 3s rise 2 fall 3\n"))
    hc = spec.backends[0].health_check
    assert hc is not None and (hc.type, hc.path, hc.inter, hc.rise, hc.fall) == ("http", "/up", 3000, 2, 3)
    assert [(s.inter, s.rise, s.fall, s.order) for s in spec.backends[0].servers] == [(None,) * 4] * 2


def test_a_hand_written_server_renders_as_before() -> None:
    hc = validate_spec({"backends": [{"name": "b", "health_check": {}}]}).backends[0].health_check
    server = Server(name="s", address="10.0.0.1", port=80, maxconn=5, backup=True, state="maint")
    assert " ".join(server_words(server, hc)) == (
        "server s 10.0.0.1:80 weight 1 maxconn 5 backup check inter 2s rise 2 fall 3 disabled")
    assert " ".join(server_words(server.model_copy(update={"state": "drain"}), None)) == (
        "server s 10.0.0.1:80 weight 0 maxconn 5 backup")


@pytest.mark.parametrize("field,value", [("extra", ["a b"]), ("extra", ["#x"]),
                                          ("inter", "2 s"), ("init_addr", "last libc"),
                                          ("order", ["nope"])])
def test_bad_server_values_are_refused(field: str, value: object) -> None:
    data = {"backends": [{"name": "b", "servers": [
        {"name": "s", "address": "10.0.0.1", "port": 80, field: value}]}]}
    with pytest.raises(SpecError) as info:
        validate_spec(data)
    assert [e.loc.split(".")[2].split("[")[0] for e in info.value.errors] == [field]


def test_haproxy_accepts_every_new_server_field(short_dir: Path) -> None:
    binary = inspect_binary(_bundled())
    text = (HEAD + "resolvers dns\n    nameserver ns1 127.0.0.1:53\n\n"
            "backend app\n    mode http\n    default-server inter 3s\n"
            "    server s1 127.0.0.1:8080 cookie s1 check port 8081 addr 127.0.0.2 fall 2 "
            "send-proxy resolvers dns init-addr last,none on-marked-down shutdown-sessions "
            "slowstart 10s maxqueue 10\n"
            "    server s2 127.0.0.1:8082 weight 0 ssl verify none disabled\n")
    ctx = RenderContext(short_dir)
    spec = import_spec(loads(text), caps=binary.capabilities(), ctx=ctx)
    servers = spec.backends[0].servers
    assert [s.name for s in servers] == ["s1", "s2"] and servers[1].state == "maint"
    assert servers[0].extra == ["maxqueue", "10"]
    rendered = render(spec, binary.capabilities(), ctx)
    check_text(binary, rendered, directory=short_dir, extra_args=peer_args(binary.capabilities()))
    before = section_directives(loads(text))[("backend", "app")]
    assert section_directives(loads(rendered))[("backend", "app")] == before
    assert Counter(ln.split()[0] for ln in rendered.splitlines()
                   if ln.startswith("    default-server ")) == Counter({"default-server": 1})


def test_backend_settings_before_the_servers_are_fields() -> None:
    spec = _round_trip(_backend(
        "    mode http\n    acl api path_beg /api\n    option forwardfor\n    timeout server 50000\n"
        "    option redispatch\n    http-reuse safe\n    cookie SRV insert indirect nocache\n"
        "    server s1 10.0.0.1:80 cookie a\n    option log-health-checks\n"))
    be = spec.backends[0]
    assert (be.mode, be.options, be.timeouts.server) == ("http", ["forwardfor", "redispatch"], 50_000)
    assert (be.http_reuse, be.cookie) == ("safe", ["SRV", "insert", "indirect", "nocache"])
    # after the servers: where lbctl writes extra lines, so it stays one
    assert be.extra == ["acl api path_beg /api", "option log-health-checks"]


def test_a_rendered_spec_with_such_extra_lines_reads_back_to_the_same_bytes() -> None:
    data = {"backends": [
        {"name": "a", "servers": [{"name": "s", "address": "10.0.0.1", "port": 80}],
         "extra": ["option redispatch", "timeout server 5s"]},
        {"name": "b", "extra": ["http-request set-header X-A b", "option forwardfor"]},
        {"name": "c", "options": ["tcpka"], "timeouts": {"check": "2s"}, "mode": "tcp",
         "default_server": ["inter", "1s"], "extra": ["http-reuse never"]}]}
    spec = validate_spec(data)
    text = render(spec, caps("2.8.25"), CTX)
    again = import_spec(loads(text), caps=caps("2.8.25"), ctx=CTX)
    assert render(again, caps("2.8.25"), CTX) == text
    a, b, c = again.backends
    assert a.extra == ["option redispatch", "timeout server 5s"] and a.options == []
    assert b.extra == ["http-request set-header X-A b", "option forwardfor"]
    assert (c.options, c.timeouts.check, c.mode, c.default_server) == (["tcpka"], 2000, "tcp", ["inter", "1s"])
    # lbctl writes http-reuse before default-server: after it, it stays an extra line
    assert c.http_reuse is None and c.extra == ["http-reuse never"]


def _random_server(rng: random.Random, i: int) -> dict[str, Any]:
    server: dict[str, Any] = {"name": f"s{i}", "address": f"10.0.0.{i + 1}", "port": 80 + i,
                              "weight": rng.choice([None, 1, 7]), "check": rng.random() < 0.7}
    options: dict[str, Any] = {
        "maxconn": rng.randint(1, 500), "backup": True, "inter": rng.choice(["500ms", "2000", "3s"]),
        "rise": rng.randint(1, 5), "fall": rng.randint(1, 5), "check_port": 8000 + i,
        "check_addr": "10.1.0.1", "cookie": f"c{i}", "send_proxy": rng.choice(["v1", "v2"]),
        "resolvers": "dns", "init_addr": "last,libc,none", "on_marked_down": "shutdown-sessions",
        "slowstart": "10s", "tls": {"verify": "none"},
        "extra": rng.choice([["maxqueue", "10"], ["source", "10.0.0.9", "usesrc", "clientip"]]),
        "state": rng.choice(["drain", "maint"])}
    for key in rng.sample(sorted(options), rng.randint(0, len(options))):
        server[key] = options[key]
    keys = list(SERVER_KEYWORDS)
    rng.shuffle(keys)
    server["order"] = keys if rng.random() < 0.7 else None
    return server


@pytest.mark.parametrize("seed", range(30))
def test_random_servers_read_back_as_written(seed: int) -> None:
    """``render`` then ``import`` gives the servers back, up to what rendering forgets (a
    drained server's weight, the ``order`` of options it does not use), and renders the same
    bytes."""
    rng = random.Random(seed)
    servers = [_random_server(rng, i) for i in range(rng.randint(1, 4))]
    hc = rng.choice([None, {"type": "tcp", "inter": None, "rise": None, "fall": None},
                     {"path": "/h"}])
    spec = validate_spec({"backends": [{"name": "b", "health_check": hc, "servers": servers}]})
    text = render(spec, caps("2.8.25"), CTX)
    again = import_spec(loads(text), caps=caps("2.8.25"), ctx=CTX)
    assert render(again, caps("2.8.25"), CTX) == text
    back = again.backends[0]
    assert len(back.servers) == len(servers), back.extra
    for before, after in zip(spec.backends[0].servers, back.servers, strict=True):
        words = server_words(before, spec.backends[0].health_check)
        assert server_words(after, back.health_check) == words
        assert (after.name, after.state, after.maxconn, after.cookie, after.extra) == (
            before.name, before.state, before.maxconn, before.cookie, before.extra)
        if before.state != "drain":
            assert after.weight == before.weight
