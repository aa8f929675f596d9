"""README claims that had no test (issue 16), each checked for real: real HAProxy on 127.0.0.1,
a real backend, the real agent (uvicorn + Controller) and the real supervisor.

* Pacing is per frontend: two frontends with a client of the same name have independent
  budgets (their own stick-table entry and their own Lua pacing slots, keyed
  ``<frontend>/<client>``).
* Prefix boundaries at runtime, through HAProxy: ``/p`` matches ``/p`` and ``/p/...``, never
  ``/pq``, for routes and for clients.
* ``POST /api/v1/haproxy/reload``: 503 ``HAProxyUnavailable`` when HAProxy is not running, 409
  ``ReloadFailed`` when HAProxy refuses the live file (edited by hand to bind a port another
  process holds); the old workers keep serving.
* ``DELETE /api/v1/clients/{name}/counters``: 502 ``RuntimeAPIError`` while a request of the
  client is in flight (HAProxy: ``Entry currently in use``), 200 once it is done.
* An apply while HAProxy is down starts it; when it cannot start (or, HAProxy running, the
  reload is refused), the previous live file is back byte for byte (not merely the
  last-known-good) and the version does not advance. A manual reload is in the history.
* A write that waited for the lock is checked against the new version (412 naming both); a
  write without ``If-Match`` is 428 saying what to send.
* First start on an empty state dir records the embedded default spec as version 1.
* Every typed string field refuses a tab and a carriage return, naming the field; verbatim
  lines (``extra``, ``comment``, ``sections[].lines``) refuse a carriage return (a tab there is
  HAProxy's own blank, and cannot leave the line).
* The supervisor's back-off doubles from 0.5 s and stops at 30 s, with the real supervisor
  over a real controller whose restarts really fail (the frontend port is taken), on a
  shortened clock (``Supervisor.check(now=...)``).
"""

from __future__ import annotations

import copy
import itertools
import logging
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from lbctl import paths
from lbctl.control.controller import Controller
from lbctl.control.supervisor import Supervisor
from lbctl.demo.backend import RecordingBackend
from lbctl.errors import SpecError
from lbctl.spec import Spec, load_spec, validate_spec
from lbctl.state.store import StateDir

from .agent_helpers import Agent, free_port, make_spec, running_agent, wait_for
from .conftest import BINARIES
from .test_faults import dead, masters, verified

BUNDLED = BINARIES["2.8"]


@pytest.fixture
def other() -> Iterator[RecordingBackend]:
    """A second recording backend (named ``other``)."""
    be = RecordingBackend("other").start()
    yield be
    be.stop()


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=15)


# -- pacing per frontend ----------------------------------------------------------------------

def test_pacing_is_per_frontend(haproxy_bin: str, short_dir: Path, backend: RecordingBackend) -> None:
    """Frontends ``a`` and ``b`` each limit a client ``c`` (smooth, 1/s, 1 may wait): three
    simultaneous requests to ``a`` use up ``a``'s budget (one passes, one waits its slot, one
    gets 429); the same three to ``b`` at that moment get the same, not three 429s."""
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    web = data["frontends"][0]
    web["clients"] = [{"name": "c", "path_prefix": "/c", "rate": 1, "burst": 1, "mode": "smooth"}]
    data["frontends"] = [{**copy.deepcopy(web), "name": name, "bind": [f"127.0.0.1:{free_port()}"]}
                         for name in ("a", "b")]
    with running_agent(short_dir, data, haproxy_bin) as agent:
        urls = {fe["name"]: f"http://{fe['bind'][0]}/c/x" for fe in data["frontends"]}
        with ThreadPoolExecutor(6) as pool:
            started = time.monotonic()
            futures = {name: [pool.submit(_timed, url, started) for _ in range(3)]
                       for name, url in urls.items()}
            results = {name: sorted(f.result() for f in fs) for name, fs in futures.items()}
        for name, got in results.items():
            statuses = sorted(status for _, status in got)
            assert statuses == [200, 200, 429], (name, got)
            first = min(t for t, status in got if status == 200)
            # Each frontend's first request passes at once; with one shared budget at 1/s, one
            # of the two frontends' first requests would wait a slot, 1 s or more.
            assert first < 1.0, (name, got)
        clients = {c["frontend"]: c for c in agent.api.get("/api/v1/clients").json()["clients"]}
        assert {fe: (c["client"], c["table"], c["rejected_total"], c["delayed_total"])
                for fe, c in clients.items()} == {
            "a": ("c", "lbctl_clients_a", 1, 1), "b": ("c", "lbctl_clients_b", 1, 1)}


def _timed(url: str, started: float) -> tuple[float, int]:
    """``(seconds from started to the answer, status)``."""
    status = _get(url).status_code
    return time.monotonic() - started, status


# -- prefix boundaries ------------------------------------------------------------------------

def test_prefix_boundaries_through_haproxy(
    haproxy_bin: str, short_dir: Path, backend: RecordingBackend, other: RecordingBackend
) -> None:
    """Route ``/p`` → ``other``, everything else → ``app``; client ``lim`` on ``/p`` (reject, 1/s)."""
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    data["backends"].append({"name": "pb", "servers": [
        {"name": "o1", "address": "127.0.0.1", "port": other.port, "check": False}]})
    web = data["frontends"][0]
    web["routes"] = [{"path_prefix": "/p", "backend": "pb"}]
    web["clients"] = [{"name": "lim", "path_prefix": "/p", "rate": 1, "mode": "reject"}]
    with running_agent(short_dir, data, haproxy_bin) as agent:
        served = {}
        for path in ("/p", "/p/", "/p/x", "/pq", "/pq/x", "/p.q", "/x/p"):
            resp = _get(agent.front + path)
            served[path] = (resp.status_code, resp.headers.get("x-backend-name"))
        # /p is limited to 1/s: its first request passes, the next two of this second get 429
        # (HAProxy's own answer: no backend named); /pq, /p.q and /x/p are neither routed nor
        # limited.
        assert served == {"/p": (200, "other"), "/p/": (429, None), "/p/x": (429, None),
                          "/pq": (200, "backend"), "/pq/x": (200, "backend"),
                          "/p.q": (200, "backend"), "/x/p": (200, "backend")}
        # http_req_rate(1s) counts the previous period in part (HAProxy's swinging window):
        # two periods later the limit lets one through again.
        time.sleep(2.1)
        assert _get(agent.front + "/p/x").headers.get("x-backend-name") == "other"
        lim = agent.api.get("/api/v1/clients").json()["clients"][0]
        assert (lim["client"], lim["rejected_total"]) == ("lim", 2)


# -- POST /haproxy/reload: 503 and 409 --------------------------------------------------------

def test_reload_answers_503_when_haproxy_is_down_and_409_when_it_refuses(
    haproxy_bin: str, short_dir: Path, backend: RecordingBackend
) -> None:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, haproxy_bin) as agent:
        config = agent.state.config_path
        live = config.read_bytes()
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            taken = squatter.getsockname()[1]
            # The live file edited by hand to bind a port another process holds: HAProxy's
            # master re-reads it at the reload and refuses; the old workers keep serving.
            config.write_bytes(live + f"\nfrontend by_hand\n    bind 127.0.0.1:{taken}\n".encode())
            workers = _workers(agent)
            resp = agent.api.post("/api/v1/haproxy/reload",
                                  headers={"X-Lbctl-Author": "ann", "X-Lbctl-Message": "by hand"})
            assert resp.status_code == 409, resp.text
            problem = resp.json()
            assert (problem["status"], problem["error"]) == (409, "ReloadFailed")
            assert problem["detail"] == "HAProxy refused to reload"
            # HAProxy's words: 2.8 says why on the master CLI, 2.6 only counts the failure.
            said = "cannot bind socket" if haproxy_bin == BUNDLED else "[failed: 1]"
            assert said in problem["output"], problem["output"]
            assert _workers(agent) == workers and agent.through_haproxy().status_code == 200
            # The refused reload is in the history: who, why, the file HAProxy was given.
            history = agent.controller.core.history
            refused = history.entry(history.entries(limit=1)[0].id)  # type: ignore[arg-type]
            assert (refused.kind, refused.result, refused.who, refused.author, refused.message,
                    refused.base_version, refused.version) == (
                "reload", "failed", "admin", "ann", "by hand", 1, None), refused
            assert refused.config == config.read_text() and "frontend by_hand" in refused.config
            assert refused.reload is not None and refused.reload["ok"] is False
        config.write_bytes(live)
        assert agent.api.post("/api/v1/haproxy/reload").status_code == 200
        history = agent.controller.core.history
        done = history.entry(history.entries(limit=1)[0].id)  # type: ignore[arg-type]
        assert (done.kind, done.result, done.who, done.base_version, done.config) == (
            "reload", "ok", "admin", 1, live.decode()), done
        assert done.reload is not None and done.reload["ok"] is True
        # A hand edit with bytes that are not UTF-8 (HAProxy takes them in a comment): the
        # reload works, and the history keeps the text with U+FFFD for the bad byte.
        config.write_bytes(live + b"# caf\xe9\n")
        assert agent.api.post("/api/v1/haproxy/reload").status_code == 200
        latin = history.entry(history.entries(limit=1)[0].id)  # type: ignore[arg-type]
        assert latin.config == live.decode() + "# caf\ufffd\n"
        config.write_bytes(live)

        master = masters(config)[0]
        verified(master, config).kill()  # no supervisor here: HAProxy stays down
        wait_for(lambda: dead(master), 5)
        resp = agent.api.post("/api/v1/haproxy/reload")
        assert resp.status_code == 503, resp.text
        assert (resp.json()["error"], resp.json()["detail"]) == ("HAProxyUnavailable", "HAProxy is not running")


def _workers(agent: Agent) -> list[int]:
    return sorted(agent.api.get("/api/v1/haproxy").json()["haproxy"]["worker_pids"])


# -- DELETE .../counters while a request is in flight -----------------------------------------

def test_clearing_counters_answers_502_while_a_request_is_in_flight(
    short_dir: Path, backend: RecordingBackend
) -> None:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    data["frontends"][0]["clients"] = [
        {"name": "c1", "path_prefix": "/c1", "rate": 1, "burst": 3, "mode": "smooth"}]
    with running_agent(short_dir, data, BUNDLED) as agent, ThreadPoolExecutor(3) as pool:
        # Three at once at 1/s: the last two wait in the pacing action (1 s and 2 s), their
        # stream holding the client's stick-table entry.
        pending = [pool.submit(_get, agent.front + "/c1/x") for _ in range(3)]
        wait_for(lambda: _client(agent)["waiting"] >= 1, 5)
        resp = agent.api.delete("/api/v1/clients/c1/counters")
        assert resp.status_code == 502, resp.text
        problem = resp.json()
        assert (problem["status"], problem["error"]) == (502, "RuntimeAPIError")
        assert "in use" in problem["detail"], problem["detail"]
        assert [f.result().status_code for f in pending] == [200, 200, 200]
        assert _client(agent)["delayed_total"] == 2  # nothing was cleared
        resp = agent.api.delete("/api/v1/clients/c1/counters")
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"cleared": [{"frontend": "web", "client": "c1", "table": "lbctl_clients_web"}]}
        assert _client(agent)["delayed_total"] == 0


def _client(agent: Agent) -> dict[str, Any]:
    return agent.api.get("/api/v1/clients").json()["clients"][0]


# -- an apply while HAProxy is down -----------------------------------------------------------

def test_an_apply_while_haproxy_is_down_starts_it(
    haproxy_bin: str, short_dir: Path, backend: RecordingBackend
) -> None:
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, haproxy_bin) as agent:
        config = agent.state.config_path
        master = masters(config)[0]
        verified(master, config).kill()
        wait_for(lambda: dead(master) and agent.controller.health()["haproxy"]["running"] is False, 5)
        data["backends"][0]["servers"][0]["weight"] = 7
        resp = agent.api.put("/api/v1/config", json=data, headers={"If-Match": '"1"'})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert (body["version"], body["changed"], body["reload"]) == (2, True, None)  # a start
        new = masters(config)
        assert len(new) == 1 and new != [master]
        assert agent.through_haproxy().status_code == 200
        assert " weight 7 " in config.read_text()


def test_an_apply_while_haproxy_is_down_restores_the_file_when_it_cannot_start(
    haproxy_bin: str, short_dir: Path, backend: RecordingBackend
) -> None:
    """The live file before the apply is put back byte for byte: here the render of a runtime
    drain (version 2), which is not the last-known-good file (version 1's)."""
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, haproxy_bin) as agent:
        config = agent.state.config_path
        _drain(agent)
        live = config.read_bytes()
        assert live != agent.state.lkg_path.read_bytes()
        master = masters(config)[0]
        verified(master, config).kill()
        wait_for(lambda: dead(master), 5)
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            changed = copy.deepcopy(data)
            # haproxy -c binds nothing, so it passes; the start cannot bind the taken port.
            changed["frontends"][0]["bind"].append(f"127.0.0.1:{squatter.getsockname()[1]}")
            resp = agent.api.put("/api/v1/config", json=changed, headers={"If-Match": '"2"'})
            assert resp.status_code == 502, resp.text
            problem = resp.json()
            assert (problem["error"], problem["detail"]) == ("ProcessError", "haproxy exited with status 1 at start")
            assert "cannot bind socket" in problem["output"], problem["output"]
        assert config.read_bytes() == live
        assert agent.api.get("/api/v1/config").headers["etag"] == '"2"'
        stored = agent.state.read_current()
        assert agent.controller.current()[0] == 2 and stored is not None and stored.version == 2
        assert masters(config) == []


def test_a_reload_refused_at_apply_restores_the_previous_file(
    haproxy_bin: str, short_dir: Path, backend: RecordingBackend
) -> None:
    """HAProxy running, a new bind on a port another process holds: the reload is refused (409)
    and the live file before the apply (a runtime drain's render, not the last-known-good) is
    back byte for byte; the old workers keep serving."""
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, haproxy_bin) as agent:
        config = agent.state.config_path
        _drain(agent)
        live = config.read_bytes()
        assert live != agent.state.lkg_path.read_bytes()
        workers = _workers(agent)
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            changed = copy.deepcopy(data)
            changed["frontends"][0]["bind"].append(f"127.0.0.1:{squatter.getsockname()[1]}")
            resp = agent.api.put("/api/v1/config", json=changed, headers={"If-Match": '"2"'})
            assert resp.status_code == 409 and resp.json()["error"] == "ReloadFailed", resp.text
        assert config.read_bytes() == live
        assert agent.controller.current()[0] == 2 and _workers(agent) == workers


def _drain(agent: Agent) -> None:
    """Drain ``app/s1`` through the runtime API: version 2, no reload, a new live file."""
    resp = agent.api.put("/api/v1/backends/app/servers/s1/state", json={"state": "drain"},
                         headers={"If-Match": '"1"'})
    assert resp.status_code == 200 and resp.json()["version"] == 2, resp.text


# -- first start ------------------------------------------------------------------------------

def test_first_start_records_the_embedded_default_spec(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An empty state dir: the story spec (``haproxy/specs/default.yaml``) becomes version 1,
    in ``spec.json`` and the history, and HAProxy runs it (on the story's fixed ports, when
    they are free here)."""
    caplog.set_level(logging.INFO, logger="lbctl.controller")
    state = StateDir(short_dir / "empty")
    assert not state.root.exists()
    default = load_spec(paths.default_spec_path())
    story_ports_free = all(_free(p) for p in (11223, 11224))
    controller = Controller(state, haproxy_bin=BUNDLED)
    controller.start()
    try:
        stored = state.read_current()
        assert stored is not None and (stored.version, stored.spec) == (1, default)
        assert controller.current() == (1, default)
        entry = controller.core.history.version(1)
        assert entry.spec is not None and validate_spec(entry.spec) == default
        assert "first start: embedded default spec recorded as version 1" in caplog.messages
        if story_ports_free:
            assert controller.health()["haproxy"]["running"] is True
            assert state.config_path.read_text() == controller.core.render(default)
    finally:
        controller.shutdown()


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# -- tab and CR in every string field ---------------------------------------------------------

#: A spec with every string field of the schema set (checked by the coverage test below).
FULL: dict[str, Any] = {
    "comment": ["# spec comment"],
    "global": {"comment": ["# global comment"], "extra": ["tune.bufsize 16384"],
               "prometheus_exporter": {"bind": {"address": "127.0.0.1:9101", "tls": {
                   "certificates": ["prom.pem"], "alpn": ["h2"], "min_version": "TLSv1.2",
                   "ciphers": ["ECDHE-RSA-AES128-GCM-SHA256"], "ciphersuites": ["TLS_AES_128_GCM_SHA256"],
                   "client_ca": "ca.pem", "verify": "optional"}}, "path": "/metrics"}},
    "defaults": {"name": "dflt", "comment": ["# defaults comment"], "mode": "http",
                 "extra": ["option forwardfor"]},
    "frontends": [{
        "name": "web", "from": "dflt", "comment": ["# front comment"],
        "bind": ["127.0.0.1:8080", {"address": "127.0.0.1:8443", "tls": {
            "certificates": ["web.pem"], "alpn": ["h2", "http/1.1"], "min_version": "TLSv1.2",
            "ciphers": ["ECDHE-RSA-AES128-GCM-SHA256"], "ciphersuites": ["TLS_AES_128_GCM_SHA256"],
            "client_ca": "ca.pem", "verify": "optional"}}],
        "monitor_uri": "/monitor", "default_backend": "app",
        "routes": [{"path_prefix": "/api", "backend": "app"}],
        "clients": [{"name": "c1", "path_prefix": "/c1", "rate": 5, "mode": "reject"}],
        "extra": ["option httplog"],
    }],
    "backends": [{
        "name": "app", "from": "dflt", "comment": ["# back comment"], "balance": "roundrobin",
        "health_check": {"method": "HEAD", "path": "/health"},
        "servers": [{"name": "s1", "address": "127.0.0.1", "port": 8081, "state": "ready",
                     "comment": ["# server comment"],
                     "tls": {"verify": "required", "ca": "ca.pem", "sni": "app.example", "alpn": ["h2"]}}],
        "extra": ["option redispatch"],
    }],
    "sections": [{"kind": "userlist", "name": "users", "comment": ["# users comment"],
                  "lines": ["user admin insecure-password secret"]},
                 {"kind": "listen", "name": "extra_l", "from": "dflt", "lines": ["bind 127.0.0.1:8082"]}],
}

#: Verbatim lines: HAProxy text, where a tab is a blank like a space (README "The spec").
VERBATIM = re.compile(r"(^|\.)(comment|extra|lines)\[\d+\]$")
#: The ``.if``/``.endif`` lines around a verbatim section: a trailing tab is a blank, dropped as
#: on every verbatim line; one after the dot makes it no conditional-block line: refused.
BLOCK = re.compile(r"^sections\[\d+\]\.(before|after)\[\d+\]$")
#: A server's ``extra`` holds words of its line, not lines: a tab in one is refused.
WORDS = re.compile(r"servers\[\d+\]\.extra\[\d+\]$")


def _string_leaves(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _string_leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _string_leaves(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def _set(doc: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    """A copy of ``doc`` with the string at ``path`` (``a.b[0].c``) set to ``value``."""
    out = copy.deepcopy(doc)
    tokens = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node: Any = out
    for token in tokens[:-1]:
        node = node[int(token[1:-1])] if token.startswith("[") else node[token]
    last = tokens[-1]
    node[int(last[1:-1]) if last.startswith("[") else last] = value
    return out


def _schema_string_fields() -> set[str]:
    """Every string field of the spec's JSON Schema, as ``a.b[].c`` (``[]``: any index)."""
    schema = Spec.model_json_schema()
    defs = schema.get("$defs", {})

    def walk(node: dict[str, Any], path: str) -> Iterator[str]:
        if "$ref" in node:
            yield from walk(defs[node["$ref"].rsplit("/", 1)[-1]], path)
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                yield from walk(sub, path)
        if node.get("type") == "string":
            yield path
        for key, sub in node.get("properties", {}).items():
            yield from walk(sub, f"{path}.{key}" if path else key)
        if node.get("type") == "array" and "items" in node:
            yield from walk(node["items"], f"{path}[]")

    return set(walk(schema, ""))


#: The same with the exporter's bind in its short form (a string instead of an object).
SHORT_BIND = _set(FULL, "global.prometheus_exporter.bind", "127.0.0.1:9101")

#: The fields an import fills in and a hand-written spec rarely sets: several (named) defaults
#: sections, the section order, `.if` lines around a verbatim section, a backend's own settings
#: and a server's optional words (docs/importer.md).
IMPORTED = copy.deepcopy(FULL)
IMPORTED["defaults"] = [
    {**copy.deepcopy(FULL["defaults"]), "name": "dflt"},
    {"name": "other", "mode": "tcp", "comment": ["# second defaults"], "extra": ["option tcplog"]},
]
IMPORTED["order"] = ["defaults dflt", "defaults other", "frontend web", "backend app"]
IMPORTED["sections"][0].update(before=[".if defined(WITH_USERS)"], after=[".endif"])
IMPORTED["backends"][0].update(
    mode="http", options=["redispatch"], http_reuse="safe", cookie=["SERVERID", "insert"],
    default_server=["maxconn", "100"])
IMPORTED["backends"][0]["health_check"]["type"] = "http"
IMPORTED["backends"][0]["servers"][0].update(
    inter="2s", check_addr="127.0.0.2", cookie="s1", send_proxy="v2", resolvers="dns",
    init_addr="last,libc,none", on_marked_down="shutdown-sessions", slowstart="10s",
    extra=["agent-inter", "5s"], order=["check", "inter", "addr", "cookie", "send-proxy", "resolvers",
                                        "init-addr", "on-marked-down", "slowstart", "ssl", "extra"])
IMPORTED["backends"][0]["servers"][0].pop("state", None)
IMPORTED["frontends"][0].update(mode="http", options=["dontlognull"])
IMPORTED["frontends"][0]["routes"].append({"path_prefix": "/b", "backend": "app", "acl": "is_b"})
IMPORTED["listens"] = [{
    "name": "lst", "from": "dflt", "comment": ["# listen comment"], "bind": ["127.0.0.1:8083"],
    "mode": "http", "balance": "leastconn", "options": ["httplog"], "http_reuse": "safe",
    "cookie": ["SERVERID", "insert"], "health_check": {"method": "HEAD", "path": "/health", "type": "http"},
    "default_server": ["maxconn", "100"],
    "servers": [copy.deepcopy(IMPORTED["backends"][0]["servers"][0])],
    "extra": ["stats enable"]}]
IMPORTED["listens"][0]["servers"][0].update(name="l1", state="ready")
IMPORTED["order"] = [*IMPORTED["order"], "listen lst"]

#: ``(document, path)`` of every string field set in :data:`FULL`, :data:`SHORT_BIND` and
#: :data:`IMPORTED` (the fields only it sets).
STRING_FIELDS = [(FULL, p) for p, _ in _string_leaves(FULL)] + [(SHORT_BIND, "global.prometheus_exporter.bind")]
_FULL_PATHS = {re.sub(r"\[\d+\]", "[]", p) for _, p in STRING_FIELDS}
STRING_FIELDS += [(IMPORTED, p) for p, _ in _string_leaves(IMPORTED)
                  if re.sub(r"\[\d+\]", "[]", p) not in _FULL_PATHS]


def test_the_full_spec_is_valid_and_sets_every_string_field() -> None:
    validate_spec(FULL)
    validate_spec(SHORT_BIND)
    validate_spec(IMPORTED)
    covered = {re.sub(r"\[\d+\]", "[]", path) for _, path in STRING_FIELDS}
    assert covered == _schema_string_fields()


@pytest.mark.parametrize("char", ["\t", "\r"], ids=["tab", "cr"])
@pytest.mark.parametrize("base, path", STRING_FIELDS, ids=[p for _, p in STRING_FIELDS])
def test_every_string_field_refuses_tab_and_cr(base: dict[str, Any], path: str, char: str) -> None:
    value = dict(_string_leaves(base))[path]
    # A bind's address is refused at the bind itself (``frontends[0].bind[1]``).
    where = path.removesuffix(".address") if ".bind" in path else path
    for bad in (value[:1] + char + value[1:], value + char):
        doc = _set(base, path, bad)
        if char == "\t" and ((VERBATIM.search(path) and not WORDS.search(path))
                              or (BLOCK.search(path) and bad == value + char)):
            validate_spec(doc)  # a tab inside a verbatim line is HAProxy's blank
            continue
        with pytest.raises(SpecError) as info:
            validate_spec(doc)
        assert where in [e.loc for e in info.value.errors], (bad, info.value.errors)


@pytest.mark.parametrize("char", ["\t", "\r"], ids=["tab", "cr"])
def test_a_duration_string_refuses_tab_and_cr_inside(char: str) -> None:
    doc = _set(FULL, "defaults.mode", "http")
    doc["defaults"]["timeouts"] = {"connect": f"5{char}s"}
    with pytest.raises(SpecError) as info:
        validate_spec(doc)
    assert [e.loc for e in info.value.errors] == ["defaults.timeouts.connect"]


# -- the supervisor's back-off cap ------------------------------------------------------------

def test_supervisor_back_off_is_capped_at_30_s(
    short_dir: Path, backend: RecordingBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """HAProxy killed, its frontend port taken: every restart really fails. On a clock moved
    0.25 s per check (the supervisor's interval), attempts come 0.5, 1, 2 ... 16 s apart, then
    every 30 s; once the port is free the next attempt restarts HAProxy and the back-off
    starts over."""
    caplog.set_level(logging.WARNING, logger="lbctl.supervisor")
    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    host, port = data["frontends"][0]["bind"][0].split(":")
    with running_agent(short_dir, data, BUNDLED) as agent:
        controller, config = agent.controller, agent.state.config_path
        supervisor = Supervisor(controller)  # defaults: 0.5 s doubling up to 30 s; not started
        assert (supervisor.first_backoff_s, supervisor.max_backoff_s) == (0.5, 30.0)
        master = masters(config)[0]
        workers = [c.pid for c in psutil.Process(master).children()]
        verified(master, config).kill()
        # The workers hold the frontend port until they see their master gone.
        wait_for(lambda: dead(master) and all(dead(w) for w in workers), 10)
        attempts: list[float] = []
        now = 1000.0
        with socket.socket() as squatter:
            squatter.bind((host, int(port)))
            squatter.listen()
            while now < 1000.0 + 125.0:  # attempts at 0, 0.5, 1.5, 3.5 ... 61.5, 91.5, 121.5
                before = controller.supervision()["failed_restarts"]
                assert supervisor.check(now=now) is None
                if controller.supervision()["failed_restarts"] > before:
                    attempts.append(now - 1000.0)
                now += supervisor.interval_s
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert gaps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0], attempts
        failed = [r.getMessage() for r in caplog.records if '"ok": false' in r.getMessage()]
        assert [float(re.search(r'"retry_in_s": ([\d.]+)', m).group(1)) for m in failed] == [  # type: ignore[union-attr]
            0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
        assert masters(config) == []
        next_try = 1000.0 + attempts[-1] + 30.0
        assert supervisor.check(now=next_try - supervisor.interval_s) is None  # still backing off
        event = supervisor.check(now=next_try)
        assert event is not None and event["ok"] is True, event
        assert len(masters(config)) == 1 and agent.through_haproxy().status_code == 200
        assert controller.supervision()["restarts"] == 1


# -- If-Match under the write lock ------------------------------------------------------------

def test_a_write_that_waited_for_the_lock_is_checked_against_the_new_version(
    short_dir: Path, backend: RecordingBackend
) -> None:
    """README "Bursts of writes": a write based on version 1 that arrives while another write
    holds the lock passes the early check, waits, and is then refused against version 2 (412,
    naming both versions); a write without ``If-Match`` is 428, saying what to send."""
    from lbctl.errors import PreconditionRequired, VersionConflict

    data = make_spec(free_port(), free_port(), [("s1", backend.port)])
    with running_agent(short_dir, data, BUNDLED) as agent:
        controller = agent.controller
        first, second = copy.deepcopy(data), copy.deepcopy(data)
        first["backends"][0]["servers"][0]["weight"] = 5
        second["backends"][0]["servers"][0]["weight"] = 6
        errors: list[BaseException] = []
        with ThreadPoolExecutor(1) as pool:
            with controller.core.lock:  # this thread holds the write lock
                waiting = pool.submit(lambda: controller.apply(validate_spec(second), if_match=1))
                time.sleep(0.3)  # the other write is past its early check, blocked on the lock
                assert not waiting.done()
                assert controller.apply(validate_spec(first), if_match=1).version == 2  # re-entrant
            try:
                waiting.result(timeout=30)
            except VersionConflict as exc:
                errors.append(exc)
        assert len(errors) == 1 and isinstance(errors[0], VersionConflict), errors
        conflict = errors[0]
        assert (conflict.expected, conflict.current) == (1, 2)
        assert str(conflict) == "version 1 is stale: the current version is 2"
        assert controller.current()[0] == 2 and " weight 5 " in agent.state.config_path.read_text()

        with pytest.raises(PreconditionRequired) as info:
            controller.apply(validate_spec(second), if_match=None)
        assert str(info.value) == ('every write must name the version it edits: send If-Match: '
                                   '"<version>" (the current version is 2; GET /api/v1/config gives it in ETag)')
