"""Import (document → spec): ``import(render(S)) == S`` for what lbctl renders, on every
version-gated form; ``render(import(render(S)))`` is byte-identical; a hand-written config
keeps every directive and comment (``tests/test_import_corpus.py`` checks the real-world corpus
with HAProxy); and no line is ever dropped silently.

Rendering forgets a few things, so the property holds up to them (:func:`canonical`): the
order of clients (rendered longest prefix first), the weight of a ``drain`` server (rendered
``weight 0``; a ``ready`` one of weight 0 reads back as drained), the burst of a
``mode: reject`` client, ``check`` of servers in a backend without a health check, and the
check timings of a backend none of whose servers is checked.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lbctl.cli.main import app
from lbctl.config import loads
from lbctl.config.normal import section_directives
from lbctl.errors import SpecError, UnsupportedOnTarget
from lbctl.features import GATES
from lbctl.importer import import_config, import_spec
from lbctl.render import render
from lbctl.spec import Spec, validate_spec

from .test_render import CTX, SPECS, caps

VERSIONS = ("2.8.25", "2.6.12", "2.2.0", "2.0.0")


def canonical(spec: Spec) -> Spec:
    """``spec`` without what rendering does not keep."""
    data = spec.to_data()
    for fe in data["frontends"]:
        fe["clients"].sort(key=lambda c: (-len(c["path_prefix"]), c["path_prefix"]))
        for client in fe["clients"]:
            if client["mode"] == "reject":
                client["burst"] = 0
    for fe in data["frontends"]:
        _route_order(fe.get("routes", []))
    for be in [*data["backends"], *data.get("listens", [])]:
        be.setdefault("health_check", None)
        for server in be.get("servers", []):
            if server["state"] == "drain" or (server["state"] == "ready" and server["weight"] == 0):
                server.update(state="drain", weight=1)
            if be["health_check"] is None:
                server["check"] = True
        if be["health_check"] is not None and not any(s["check"] for s in be.get("servers", [])):
            be["health_check"].update(inter=2000, rise=2, fall=3)
    _listens(data)
    return validate_spec(data)


def _route_order(routes: list[dict[str, Any]]) -> None:
    """Routes written with an ACL of their own or inline read back in the order they are
    written (longest prefix first), each taking the next of their places in the list."""
    places = [i for i, r in enumerate(routes) if r.get("acl") or r.get("inline")]
    written = sorted(places, key=lambda i: (-len(routes[i]["path_prefix"]), i))
    moved = [routes[i] for i in written]
    for i, route in zip(places, moved, strict=True):
        routes[i] = route


def _listens(data: dict[str, Any]) -> None:
    """A ``listen`` entry of ``sections`` reads back as a ``listens`` entry: its plain
    ``bind host:port`` lines become binds, the other lines stay extra lines, in order; and the
    sections keep the place they were rendered in (``order``, lbctl's own order written out)."""
    sections = data.get("sections", [])
    if not any(s["kind"] == "listen" for s in sections) or data.get("order") is not None:
        return
    data["order"] = [f"{s['kind']} {s['name']}" for s in sections] + [
        f"frontend {fe['name']}" for fe in data["frontends"]] + [
        f"backend {be['name']}" for be in data["backends"]]
    data["sections"] = [s for s in sections if s["kind"] != "listen"]
    data["listens"] = []
    for s in sections:
        if s["kind"] == "listen":
            binds = [ln.split()[1] for ln in s["lines"] if ln.split()[0] == "bind" and len(ln.split()) == 2]
            data["listens"].append({"name": s["name"], "from": s.get("from"), "comment": s.get("comment", []),
                                    "bind": binds, "extra": [ln for ln in s["lines"]
                                                             if ln.split()[1:] not in ([b] for b in binds)]})


def round_trip(spec: Spec, version: str) -> Spec:
    return import_spec(loads(render(spec, caps(version), CTX)))


def _refused_on(name: str, version: str) -> bool:
    """True when spec ``name`` names a defaults section (``from``) and ``version`` is older than
    2.4; then rendering it is a 422 naming the field, never a text for HAProxy to refuse."""
    proxies = [*SPECS[name].get("frontends", []), *SPECS[name].get("backends", []),
               *SPECS[name].get("sections", [])]
    if not any(p.get("from") for p in proxies) or GATES["from"].allowed(caps(version)):
        return False
    with pytest.raises(UnsupportedOnTarget, match=r"\.from: needs HAProxy 2\.4"):
        render(validate_spec(SPECS[name]), caps(version), CTX)
    return True


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_import_of_render_is_the_spec(name: str, version: str) -> None:
    if _refused_on(name, version):
        return
    spec = validate_spec(SPECS[name])
    assert round_trip(spec, version) == canonical(spec)


@pytest.mark.parametrize("name", ["minimal", "story"])
def test_exact_for_specs_rendering_keeps_whole(name: str) -> None:
    spec = validate_spec(SPECS[name])
    assert canonical(spec) == spec and round_trip(spec, "2.8.25") == spec


def _random_spec(rng: random.Random) -> dict[str, Any]:
    backends = []
    for b in range(rng.randint(1, 4)):
        servers = [{"name": f"s{i}", "address": rng.choice(["127.0.0.1", "::1", "app.internal"]),
                    "port": rng.randint(1, 65535), "weight": rng.randint(0, 256),
                    "maxconn": rng.choice([None, rng.randint(1, 1000)]), "backup": rng.random() < 0.3,
                    "state": rng.choice(["ready", "drain", "maint"]), "check": rng.random() < 0.8}
                   for i in range(rng.randint(0, 4))]
        hc = rng.choice([None, {}, {"method": rng.choice(["GET", "HEAD", "OPTIONS"]), "path": "/h",
                                    "expect_status": rng.choice([None, 200, 204]),
                                    "inter": rng.choice(["100ms", "2s", "1m"]),
                                    "rise": rng.randint(1, 5), "fall": rng.randint(1, 5)}])
        backends.append({"name": f"b{b}", "balance": rng.choice(["roundrobin", "leastconn", "source"]),
                         "health_check": hc, "servers": servers})
    names = [b["name"] for b in backends]
    frontends = []
    for f in range(rng.randint(1, 3)):
        prefixes = rng.sample(["/a", "/a/b", "/c/", "/", "/d.e", "/x~y"], rng.randint(0, 4))
        clients = [{"name": f"c{f}{i}", "path_prefix": p, "rate": rng.randint(1, 100),
                    "burst": rng.randint(0, 20), "mode": rng.choice(["smooth", "reject"])}
                   for i, p in enumerate(rng.sample(prefixes, rng.randint(0, len(prefixes))))]
        frontends.append({"name": f"f{f}", "bind": [f"127.0.0.1:{10000 + 10 * f + i}" for i in range(rng.randint(1, 2))],
                          "maxconn": rng.choice([None, 100]), "monitor_uri": rng.choice([None, "/up"]),
                          "default_backend": rng.choice(names),
                          "routes": [{"path_prefix": p, "backend": rng.choice(names)} for p in prefixes],
                          "clients": clients})
    spec = {"global": {"maxconn": rng.randint(1, 10_000), "peers_port": 9901,
                       "prometheus_exporter": rng.choice([None, {"bind": "127.0.0.1:8405", "path": "/m"}])},
            "defaults": {"timeouts": {"connect": rng.choice(["1s", "500ms"]), "queue": "1m"},
                         "retries": rng.randint(0, 5)},
            "frontends": frontends, "backends": backends}
    _new_fields(rng, spec)  # drawn last: the seeds above give the specs they gave before
    return spec


def _new_fields(rng: random.Random, spec: dict[str, Any]) -> None:
    """A frontend's mode, timeouts and options, routes written with a named ACL or inline (all
    of a frontend's routes, or none), and listen sections."""
    for fe in spec["frontends"]:
        fe.update(mode=rng.choice([None, "http"]),
                  options=rng.sample(["httplog", "dontlognull", "forwardfor"], rng.randint(0, 2)),
                  timeouts={"client": rng.choice([None, "10s"]),
                            "http_request": rng.choice([None, "5s"])})
        if rng.random() < 0.5:
            for i, route in enumerate(fe["routes"]):
                if route["path_prefix"].endswith("/") and rng.random() < 0.5:
                    route["inline"] = True
                else:
                    route["acl"] = f"is_{fe['name']}_{i}"
    spec["listens"] = [
        {"name": f"l{i}", "bind": [f"127.0.0.1:{11000 + i}"], "maxconn": rng.choice([None, 50]),
         "mode": rng.choice([None, "tcp", "http"]), "balance": rng.choice([None, "leastconn"]),
         "options": rng.sample(["tcplog", "redispatch"], rng.randint(0, 2)),
         "timeouts": {"client": rng.choice([None, "1m"]), "server": rng.choice([None, "2s"])},
         "servers": [{"name": f"ls{j}", "address": "127.0.0.1", "port": 12000 + j,
                      "weight": rng.choice([None, 5]), "check": rng.random() < 0.5}
                     for j in range(rng.randint(0, 3))],
         "extra": rng.choice([[], ["stats enable"]])}
        for i in range(rng.randint(0, 2))]


@pytest.mark.parametrize("seed", range(40))
def test_import_of_render_on_random_specs(seed: int) -> None:
    spec = validate_spec(_random_spec(random.Random(seed)))
    for version in ("2.8.25", "2.0.0"):
        assert round_trip(spec, version) == canonical(spec)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_render_of_import_of_render_is_byte_identical(name: str, version: str) -> None:
    """What the source view relies on: a live config read back renders to the same bytes."""
    if _refused_on(name, version):
        return
    text = render(validate_spec(SPECS[name]), caps(version), CTX)
    assert render(import_spec(loads(text), caps=caps(version), ctx=CTX), caps(version), CTX) == text
    assert render(import_spec(loads(text)), caps(version), CTX) == text  # target from the header


@pytest.mark.parametrize("seed", range(40))
def test_render_of_import_is_byte_identical_on_random_specs(seed: int) -> None:
    spec = validate_spec(_random_spec(random.Random(seed)))
    for version in ("2.8.25", "2.0.0"):
        text = render(spec, caps(version), CTX)
        assert render(import_spec(loads(text)), caps(version), CTX) == text


def test_lines_without_a_field_become_extra_lines_in_order() -> None:
    text = render(validate_spec(SPECS["minimal"]), caps("2.8.25"), CTX)
    text = text.replace("\nbackend b\n", "\nbackend b\n    option forwardfor header X-Client\n"
                        "    http-request set-header X-A b\n")
    text += "\nuserlist admins\n    user a insecure-password b\n"
    lines = text.splitlines()
    imported = import_config(loads(text))
    backend = imported.spec.backends[0]
    assert backend.extra == ["option forwardfor header X-Client", "http-request set-header X-A b"]
    assert backend.servers[0].name == "s"
    assert [(s.kind, s.name, s.lines) for s in imported.spec.sections] == [
        ("userlist", "admins", ["user a insecure-password b"])]
    assert imported.origin["backends[0].extra[1]"] == lines.index("    http-request set-header X-A b") + 1
    assert imported.line_of("sections[0].lines[0]") == lines.index("    user a insecure-password b") + 1
    assert imported.line_of("backends[0].servers[0].port") == next(
        i for i, ln in enumerate(lines, 1) if ln.startswith("    server s "))


HAND_WRITTEN = """\
# imported from the old load balancer
#   (kept at the top)

# tuning
global
    maxconn 2000
    daemon
    stats timeout 1m

defaults
    mode tcp
    timeout connect 5000
    timeout client 1m  # clients are slow
    timeout client 2m

# public side
frontend www  # port 80
    bind 10.0.0.1:80
    bind :443 ssl crt /etc/site.pem
    # route by host
    use_backend app if { hdr(host) -i app.example }
    default_backend app

backend app
    balance leastconn
    option httpchk
    http-check send meth GET uri /up
    # the first one
    server a1 10.0.0.11:8080 weight 10 check inter 3s rise 2 fall 3  # rack 1
    server a2 10.0.0.12:8080 weight 10 check inter 3s rise 2 fall 3

backend legacy
    option httpchk GET /up
    server l1 10.0.0.21:8080 check
    server l2 10.0.0.22:8080

listen admin
    bind 127.0.0.1:9000
    stats enable
"""


def test_a_hand_written_config_maps_what_renders_back_and_keeps_the_rest() -> None:
    spec = import_spec(loads(HAND_WRITTEN), caps=caps("2.8.25"))
    assert spec.comment == ["# imported from the old load balancer", "#   (kept at the top)"]
    g = spec.global_
    assert (g.comment, g.maxconn, g.hard_stop_after) == (["# tuning"], 2000, None)
    assert g.extra == ["daemon", "stats timeout 1m"]  # not lbctl's 30s: kept, written after it
    d = spec.defaults
    assert (d.mode, d.retries, d.timeouts.connect, d.timeouts.client, d.timeouts.queue) == (
        "tcp", None, 5000, None, None)
    assert d.extra == ["timeout client 1m  # clients are slow", "timeout client 2m"]
    fe = spec.frontends[0]
    assert fe.comment == ["# public side", "# port 80"]
    assert [str(b) for b in fe.bind] == ["10.0.0.1:80"] and fe.default_backend == "app"
    assert fe.extra == ["bind :443 ssl crt /etc/site.pem", "# route by host",
                        "use_backend app if { hdr(host) -i app.example }"]
    app_, legacy = spec.backends
    assert app_.balance == "leastconn" and app_.health_check is not None
    assert (app_.health_check.method, app_.health_check.path, app_.health_check.inter) == ("GET", "/up", 3000)
    assert [(s.name, s.weight, s.comment) for s in app_.servers] == [
        ("a1", 10, ["# the first one", "# rack 1"]), ("a2", 10, [])]
    assert app_.extra == []
    # 2.8 writes `option httpchk` + `http-check send`: the old form stays as written, a
    # `custom` check (it writes no line), and the servers are structured
    assert legacy.health_check is not None and legacy.health_check.type == "custom"
    assert legacy.balance is None and legacy.extra == ["option httpchk GET /up"]
    assert [(s.name, s.weight, s.check, s.inter) for s in legacy.servers] == [
        ("l1", None, True, None), ("l2", None, False, None)]
    assert spec.sections == []
    assert [(li.name, [str(b) for b in li.bind], li.extra) for li in spec.listens] == [
        ("admin", ["127.0.0.1:9000"], ["stats enable"])]
    # Rendering keeps every directive of every section, lbctl's own lines aside.
    before, after = section_directives(loads(HAND_WRITTEN)), section_directives(loads(render(spec, caps("2.8.25"), CTX)))
    own = {("stats", "socket", "/run/lbctl/haproxy.sock", "mode", "600", "level", "admin", "expose-fd", "listeners"),
           ("stats", "timeout", "30s"), ("log", "/run/lbctl/log.sock", "local0")}
    assert after[("global", None)] - Counter(own) == before[("global", None)]
    assert after[("defaults", None)] - Counter({("log", "global"): 1}) == before[("defaults", None)]
    for key in before:
        if key not in (("global", None), ("defaults", None)):
            assert after[key] == before[key], key
    # ...and every comment.
    comments = Counter(ln.comment.strip() for ln in loads(HAND_WRITTEN).lines() if ln.comment)
    rendered = Counter(ln.comment.strip() for ln in loads(render(spec, caps("2.8.25"), CTX)).lines() if ln.comment)
    assert comments - rendered == Counter()


def test_version_gated_forms_follow_the_target() -> None:
    legacy = HAND_WRITTEN[HAND_WRITTEN.index("backend legacy"):HAND_WRITTEN.index("listen admin")]
    old = import_spec(loads(legacy), caps=caps("2.0.0")).backends[0]
    assert old.health_check is not None and old.health_check.path == "/up"
    assert old.health_check.inter is None and old.extra == []  # `check` without timings
    assert [(s.name, s.check) for s in old.servers] == [("l1", True), ("l2", False)]


@pytest.mark.parametrize("text,line,why", [
    ("maxconn 10\nglobal\n", 1, "outside any section"),
    ("backend b\n.if defined(X)\n    server s 1.2.3.4:80\nbackend c\n.endif\n", 2, "spanning sections"),
    ("backend b\n.if defined(X)\nbackend c\n    server s 1.2.3.4:80\n.endif\n    server t 1.2.3.4:81\n",
     5, "spanning sections"),
    ("crt-store web\n    [x]\n", 2, "'[scope]'"),
    ("backend lbctl_mine\n    server s 1.2.3.4:80\n", 1, "are lbctl's"),
    ("peers lbctl\n    peer lbctl 127.0.0.1:9901\n", 1, "only with rate-limited clients"),
    ("global\n    tune.foo 1\r2\n", 2, "carriage return"),
])
def test_lines_with_no_place_are_errors_naming_them(text: str, line: int, why: str) -> None:
    with pytest.raises(SpecError) as info:
        import_spec(loads(text))
    errors = [e for e in info.value.errors if e.line == line]
    assert errors and why in errors[0].message, info.value.errors


def test_cli_import(tmp_path: Path) -> None:
    spec = validate_spec(SPECS["story"])
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render(spec, caps("2.8.25"), CTX))
    result = CliRunner().invoke(app, ["import", str(cfg)])
    assert result.exit_code == 0, result.stderr
    assert validate_spec(yaml.safe_load(result.stdout)) == canonical(spec)
    cfg.write_text("global\n    nbthread 4\n")
    result = CliRunner().invoke(app, ["import", str(cfg), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert validate_spec(yaml.safe_load(result.stdout)).global_.extra == ["nbthread 4"]
    cfg.write_text("# top\nnbthread 4\nglobal\n")
    result = CliRunner().invoke(app, ["import", str(cfg)])
    assert result.exit_code == 1 and "line 2: outside any section: nbthread 4" in result.stderr
    legacy = HAND_WRITTEN[HAND_WRITTEN.index("backend legacy"):HAND_WRITTEN.index("listen admin")]
    cfg.write_text(legacy)
    result = CliRunner().invoke(app, ["import", str(cfg), "--haproxy-version", "2.0"])
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(result.stdout)["backends"][0]["health_check"]["path"] == "/up"
