"""Rendering: deterministic, version-aware, and accepted by ``haproxy -c`` on 2.6 and 2.8."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from lbctl.errors import ConfigRejected, UnsupportedOnTarget
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.haproxy.binary import inspect_binary
from lbctl.haproxy.validate import check_text
from lbctl.render import FieldsOfLines, RenderContext, field_for_line, peer_args, render
from lbctl.spec import validate_spec

from .test_spec import BASE

SPECS: dict[str, dict[str, Any]] = {
    "minimal": {"frontends": [{"name": "f", "bind": ["127.0.0.1:8080"], "default_backend": "b"}],
                "backends": [{"name": "b", "servers": [{"name": "s", "address": "127.0.0.1", "port": 9}]}]},
    "story": {**BASE, "backends": [BASE["backends"][0], {"name": "api", "servers": [
        {"name": "s1", "address": "localhost", "port": 9001}]}]},
    "everything": {
        "global": {"maxconn": 2000, "hard_stop_after": "1m", "peers_port": 7001},
        "defaults": {"timeouts": {"connect": "2s", "client": "1m", "server": "45s", "queue": 1500,
                                  "http_request": "5s"}, "retries": 1},
        "frontends": [
            {"name": "web", "bind": ["127.0.0.1:8080", "[::1]:8080", "*:8081"], "maxconn": 500,
             "monitor_uri": "/monitor", "default_backend": "app",
             "routes": [{"path_prefix": "/api", "backend": "api"}, {"path_prefix": "/api/v2/", "backend": "app"},
                        {"path_prefix": "/", "backend": "app"}],
             "clients": [{"name": "c1", "path_prefix": "/c1", "rate": 10, "burst": 100},
                         {"name": "c1-bulk", "path_prefix": "/c1/bulk", "rate": 2, "burst": 0},
                         {"name": "c2", "path_prefix": "/c2/", "rate": 100, "mode": "reject"}]},
            {"name": "web2", "bind": ["127.0.0.1:8082"], "routes": [{"path_prefix": "/x", "backend": "api"}],
             "clients": [{"name": "c9", "path_prefix": "/x", "rate": 1, "mode": "reject"}]},
        ],
        "backends": [
            {"name": "app", "balance": "leastconn",
             "health_check": {"method": "GET", "path": "/health", "expect_status": 204, "inter": "500ms",
                              "rise": 1, "fall": 1},
             "servers": [{"name": "a1", "address": "127.0.0.1", "port": 9001, "weight": 100, "maxconn": 50},
                         {"name": "a2", "address": "::1", "port": 9002, "state": "drain"},
                         {"name": "a3", "address": "127.0.0.1", "port": 9003, "state": "maint", "check": False},
                         {"name": "a4", "address": "127.0.0.1", "port": 9004, "backup": True}]},
            {"name": "api", "balance": "source", "health_check": {},
             "servers": [{"name": "p1", "address": "localhost", "port": 9100}]},
            {"name": "empty"},
        ],
    },
}

SPECS["verbatim"] = {
    "comment": ["# site: example.org", "# owner: ops"],
    "global": {"maxconn": 500, "hard_stop_after": None, "comment": ["# process-wide settings"],
               "extra": ["tune.bufsize 32768", "# logs go to stdout", "log stdout format raw local0"]},
    "defaults": {"name": "base", "timeouts": {"queue": None, "http_request": None}, "retries": None,
                 "extra": ["option httplog", "log global", "timeout http-keep-alive 2s"]},
    "frontends": [{
        "name": "www", "from": "base", "comment": ["# the public entry point"],
        "bind": ["127.0.0.1:8090"], "default_backend": "app",
        "extra": ["acl is_static path_beg -i /static /images",
                  ".if defined(LBCTL_NEVER_SET)", "http-request deny", ".endif",
                  "http-request set-header X-Forwarded-Proto http  # beside it",
                  "http-request auth realm admins if { path_beg /admin } !{ http_auth(admins) }",
                  "use_backend static if is_static"]}],
    "backends": [
        {"name": "app", "from": "base", "balance": None, "health_check": {"path": "/health"},
         "servers": [{"name": "a1", "address": "127.0.0.1", "port": 9101, "comment": ["# primary"]},
                     {"name": "a2", "address": "127.0.0.1", "port": 9102, "backup": True}],
         "extra": ["option forwardfor", "http-reuse safe", "# sticky sessions",
                   "cookie SRV insert indirect nocache"]},
        {"name": "static", "from": "base", "balance": "leastconn",
         "servers": [{"name": "s1", "address": "127.0.0.1", "port": 9103}],
         "extra": ["compression algo gzip"]},
    ],
    "sections": [
        {"kind": "userlist", "name": "admins", "comment": ["# who may see /admin"],
         "lines": ["user alice insecure-password s3cret"]},
        {"kind": "listen", "name": "stats", "from": "base", "lines": ["bind 127.0.0.1:8091", "stats enable", "stats uri /stats"]},
        {"kind": "cache", "name": "small", "lines": ["total-max-size 4", "max-age 60"]},
        {"kind": "resolvers", "name": "dns", "lines": ["nameserver ns1 127.0.0.1:53", "hold valid 10s"]},
    ],
}

CTX = RenderContext(Path("/run/lbctl"))


def caps(version: str, lua: bool = True) -> Capabilities:
    return Capabilities.for_target(HAProxyVersion.parse(version), lua=lua)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_rendered_config_passes_haproxy_check(name: str, haproxy_bin: str, short_dir: Path) -> None:
    binary = inspect_binary(haproxy_bin)
    c = Capabilities.for_target(HAProxyVersion.parse(str(binary.version)), lua=binary.has("LUA"))
    text = render(validate_spec(SPECS[name]), c, RenderContext(short_dir))
    warnings = check_text(binary, text, directory=short_dir, extra_args=peer_args(c))
    assert [w for w in warnings if w.severity == "alert"] == []
    assert [w for w in warnings if w.severity == "warning"] == [], warnings


@pytest.mark.parametrize("target", ["2.0.0", "2.2.0", "1.8.0"])
def test_older_forms_are_still_valid_on_current_binaries(target: str, haproxy_bin: str, short_dir: Path) -> None:
    """Forms chosen for older targets (deny_status + errorfile, option httpchk METH URI, -L) are
    checked by the newest binaries we have; real 1.x binaries are not available here."""
    binary = inspect_binary(haproxy_bin)
    c = caps(target)
    text = render(validate_spec(SPECS["everything"]), c, RenderContext(short_dir))
    check_text(binary, text, directory=short_dir, extra_args=peer_args(c))


def test_rendering_is_deterministic() -> None:
    spec = validate_spec(SPECS["everything"])
    assert render(spec, caps("2.8.25"), CTX) == render(validate_spec(copy.deepcopy(SPECS["everything"])),
                                                      caps("2.8.25"), CTX)


def test_version_gated_forms() -> None:
    spec = validate_spec(SPECS["everything"])
    new, old = render(spec, caps("2.8.25"), CTX), render(spec, caps("2.0.0"), CTX)
    assert "option idle-close-on-response" in new and "option idle-close-on-response" not in old
    assert "http-request return status 429" in new and "errorfile 429" not in new
    assert "http-request deny deny_status 429" in old and "errorfile 429 " in old
    assert "http-check send meth GET uri /health" in new and "option httpchk GET /health" in old
    assert "localpeer lbctl" in new and "localpeer" not in old
    assert peer_args(caps("2.0.0")) == ["-L", "lbctl"] and peer_args(caps("2.8.25")) == []
    assert "idle-close-on-response" not in render(spec, caps("2.5.0"), CTX)


def test_smooth_without_lua_is_the_chained_throttle() -> None:
    spec = validate_spec(BASE)
    for target in (caps("1.5.0"), caps("2.6.0", lua=False)):
        text = render(spec, target, CTX)
        assert "lua" not in text
        assert "backend lbctl_pace_web_client1" in text
        assert "frontend lbctl_paced_web_client1" in text
        assert "    rate-limit sessions 10\n    tcp-request inspect-delay 200ms\n" in text
        assert "server throttle " in text and "pace-0-0" in text
        assert "{ be_conn(lbctl_pace_web_client1) ge 101 }" in text
    old = render(spec, caps("1.5.0"), CTX)
    assert "tcp-request content track-sc0 path,map(" in old and "    http-request " not in old
    assert "errorfile 503 " in old and "store http_req_rate(1s),gpc0 peers" in old
    assert "use_backend lbctl_429_web if lbctl_client_client2 { sc_http_req_rate(0) gt 5 } " \
        "{ sc0_inc_gpc0 ge 0 }" in old  # mode reject on 1.5
    new = render(spec, caps("2.6.0", lua=False), CTX)
    assert "http-request return status 429" in new and "lbctl_429_" not in new
    paced = new[new.index("frontend lbctl_paced_web_client1"):]
    paced = paced[:paced.index("\n\n")]
    assert "use_backend api if lbctl_route_0" in paced and "default_backend app" in paced
    minimal = validate_spec(SPECS["minimal"])
    assert "frontend f" in render(minimal, caps("1.5.0"), CTX)


def test_longest_prefix_wins_and_clients_are_exclusive() -> None:
    text = render(validate_spec(SPECS["everything"]), caps("2.8.25"), CTX)
    lines = text.splitlines()
    web = lines[: next(i for i, ln in enumerate(lines) if ln.startswith("frontend web2"))]
    uses = [ln.strip() for ln in web if ln.strip().startswith("use_backend")]
    assert uses[0].startswith("use_backend app if lbctl_route_1")  # /api/v2/ before /api
    assert uses[-1].startswith("use_backend app if lbctl_route_2")  # / last
    assert "acl lbctl_client_c1 path /c1" in text and "acl lbctl_client_c1 path_beg /c1/" in text
    track = [ln.strip() for ln in lines if "track-sc0 str(c1)" in ln]
    assert track == ["http-request track-sc0 str(c1) table lbctl_clients_web if lbctl_client_c1 !lbctl_client_c1-bulk"]
    assert "http-request lua.lbctl_pace c1 10 100 if lbctl_client_c1 !lbctl_client_c1-bulk" in text


def test_server_states_and_addresses() -> None:
    text = render(validate_spec(SPECS["everything"]), caps("2.8.25"), CTX)
    assert "server a1 127.0.0.1:9001 weight 100 maxconn 50 check inter 500ms rise 1 fall 1" in text
    assert "server a2 [::1]:9002 weight 0 check" in text  # drain = weight 0
    assert "server a3 127.0.0.1:9003 weight 1 disabled" in text
    assert "server a4 127.0.0.1:9004 weight 1 backup check" in text
    assert "bind ::1:8080" in text and "bind *:8081" in text


def test_diagnostic_lines_map_to_spec_fields() -> None:
    spec = validate_spec(SPECS["everything"])
    text = render(spec, caps("2.8.25"), CTX)
    lines = text.splitlines()

    def line_of(prefix: str) -> int:
        return next(i for i, ln in enumerate(lines, 1) if ln.strip().startswith(prefix))

    assert field_for_line(spec, text, line_of("server a2")) == "backends[0].servers[1]"
    assert field_for_line(spec, text, line_of("bind *:8081")) == "frontends[0].bind"
    assert field_for_line(spec, text, line_of("timeout client")) == "defaults.timeouts.client"
    assert field_for_line(spec, text, line_of("http-check send")) == "backends[0].health_check"
    fields = FieldsOfLines(spec, text)  # one split for every line asked: the same answers
    for n in range(len(lines) + 2):
        assert fields(n) == field_for_line(spec, text, n)
    assert fields(line_of("server a2")) == "backends[0].servers[1]"


def test_prometheus_exporter_frontend_is_gated_by_promex(haproxy_bin: str, short_dir: Path) -> None:
    data = copy.deepcopy(SPECS["minimal"])
    data["global"] = {"prometheus_exporter": {"bind": "127.0.0.1:8405"}}
    spec = validate_spec(data)
    text = render(spec, caps("2.8.25"), CTX)
    assert "frontend lbctl_prometheus\n    bind 127.0.0.1:8405\n" in text
    assert "http-request use-service prometheus-exporter if { path /metrics }" in text
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "use-service" in ln)
    assert field_for_line(spec, text, line) == "global.prometheus_exporter"
    no_promex = Capabilities.for_target(HAProxyVersion.parse("2.8.25"), promex=False)
    for target in (no_promex, caps("1.9.0")):
        with pytest.raises(UnsupportedOnTarget, match=r"prometheus_exporter.*\+PROMEX") as err:
            render(spec, target, CTX)
        assert err.value.http_status == 422 and err.value.version == str(target.version)
    assert "lbctl_prometheus" not in render(validate_spec(SPECS["minimal"]), no_promex, CTX)
    binary = inspect_binary(haproxy_bin)
    c = binary.capabilities()
    text = render(spec, c, RenderContext(short_dir))
    assert check_text(binary, text, directory=short_dir, extra_args=peer_args(c)) == []


def test_a_backend_named_as_a_frontend_is_refused_on_3_3(short_dir: Path) -> None:
    """3.3 refuses ``backend web`` beside ``frontend web`` (older versions accept it): the
    spec is refused for a 3.3 target naming the backend's name, and the real 3.2 and 3.3
    builds agree with that verdict on the rendering (3.2 only warns that 3.3 will refuse it)."""
    from tests import haproxy_builds

    data = copy.deepcopy(SPECS["minimal"])
    data["backends"][0]["name"] = data["frontends"][0]["name"]
    data["frontends"][0]["default_backend"] = data["frontends"][0]["name"]
    spec = validate_spec(data)
    text = render(spec, caps("3.2.0"), CTX)
    with pytest.raises(UnsupportedOnTarget, match="rename the frontend or the backend") as err:
        render(spec, caps("3.3.0"), CTX)
    assert [e.loc for e in err.value.errors] == ["backends[0].name"]
    built, failed = haproxy_builds.ensure_builds(["3.2.0", "3.3.0"])
    assert set(built) == {"3.2.0", "3.3.0"}, failed
    ctx = RenderContext(short_dir)
    older, newer = (inspect_binary(str(built[name])) for name in ("3.2.0", "3.3.0"))
    warnings = check_text(older, render(spec, caps("3.2.0"), ctx), directory=short_dir,
                          extra_args=peer_args(older.capabilities()))
    assert warnings and all(w.severity == "warning" and "same name as frontend" in w.message
                            for w in warnings), warnings
    with pytest.raises(ConfigRejected, match="no longer supported as of 3.3"):
        check_text(newer, render(spec, caps("3.2.0"), ctx), directory=short_dir,
                   extra_args=peer_args(newer.capabilities()))
    assert text
