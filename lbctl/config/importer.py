"""Document → spec: read back a ``haproxy.cfg`` in the shapes lbctl renders.

:func:`import_spec` maps the directives lbctl's templates write (``templates/*.j2``, both the
old and the new version-gated forms) to spec fields: ``global`` (``maxconn``,
``hard-stop-after``, the ``peers`` port, the Prometheus exporter frontend), ``defaults``
(timeouts, ``retries``), frontends (binds, ``maxconn``, ``monitor-uri``,
``default_backend``, ``use_backend`` with the ``lbctl_route_<i>`` ``path``/``path_beg`` ACLs →
routes, the per-client rate-limit rules → clients) and backends (``balance``, the HTTP health
check, servers with their options). Lines lbctl writes that carry no spec field (``stats
socket``, ``lua-load`` of the pacing action, the stick-table backends ...) are recognised and
skipped; comments and blank lines are skipped.

The spec has no per-section ``extra`` lines yet, so any other directive is not dropped
silently: :class:`lbctl.errors.SpecError` names every line that has no place (``line 12:
...``). What rendering itself does not keep cannot come back: the order of clients (rendered
longest prefix first), the weight of a drained server (rendered as ``weight 0``), the burst
of a ``mode: reject`` client, ``check: false`` of a server in a backend without a health
check, and ``peers_port`` / health-check timings nothing rendered uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lbctl.config.directives import Directive
from lbctl.config.document import Document, Line, Section
from lbctl.errors import FieldError, SpecError
from lbctl.render import LOCAL_PEER, PEERS_SECTION, PROMETHEUS_FRONTEND, stick_table_name
from lbctl.spec import Spec, validate_spec

__all__ = ["import_spec"]

_ROUTE_ACL = re.compile(r"^lbctl_route_(\d+)$")
_CLIENT_ACL = "lbctl_client_"
_TIMEOUTS = {"connect": "connect", "client": "client", "server": "server", "queue": "queue",
             "http-request": "http_request"}
#: Server options lbctl renders, with how many words follow each (templates/backend.j2).
_SERVER_OPTIONS = {"weight": 1, "maxconn": 1, "backup": 0, "check": 0, "inter": 1, "rise": 1,
                   "fall": 1, "disabled": 0}
#: The 429 answer: ``http-request return`` (2.2+) or ``deny deny_status`` + ``errorfile 429``.
_ANSWER_429 = (("return", "status", "429"), ("deny", "deny_status", "429"))
_SMOOTH_FIXED = {("sc-inc-gpc1(0)", "{ var(txn.lbctl_delayed) -m found }"),
                 ("sc-inc-gpc0(0)", "{ var(txn.lbctl_over) -m found }")}


class _Skip(Exception):
    """The line has no place in the spec (the message says why)."""


def _split_address(text: str) -> tuple[str, int]:
    """``10.0.0.1:80`` / ``[::1]:80`` / ``::1:80`` / ``*:80`` → (address, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise _Skip(f"{text!r} is not address:port")
    return (host[1:-1] if host.startswith("[") and host.endswith("]") else host), int(port)


def _int(text: str) -> int:
    if not text.isdigit():
        raise _Skip(f"{text!r} is not a number")
    return int(text)


class _Frontend:
    """What one frontend section says, collected line by line, then turned into spec data."""

    def __init__(self, name: str) -> None:
        self.data: dict[str, Any] = {"name": name, "bind": []}
        self.acls: dict[str, list[tuple[str, str]]] = {}
        self.routes: dict[int, str] = {}
        self.tracked: list[str] = []
        self.paced: dict[str, tuple[int, int]] = {}
        self.rejecting: dict[str, int] = {}

    def prefix(self, acl: str) -> str:
        shape = self.acls.get(acl, [])
        if len(shape) == 1 and shape[0][0] == "path_beg" and shape[0][1].endswith("/"):
            return shape[0][1]
        if len(shape) == 2 and shape[0][0] == "path" and shape[1] == ("path_beg", shape[0][1] + "/"):
            return shape[0][1]
        raise _Skip(f"ACL {acl!r} is not a URL prefix as lbctl writes one")

    def finish(self) -> dict[str, Any]:
        self.data["routes"] = [{"path_prefix": self.prefix(f"lbctl_route_{i}"), "backend": b}
                               for i, b in sorted(self.routes.items())]
        clients = []
        for name in self.tracked:
            client: dict[str, Any] = {"name": name, "path_prefix": self.prefix(_CLIENT_ACL + name)}
            if name in self.paced:
                client.update(rate=self.paced[name][0], burst=self.paced[name][1], mode="smooth")
            elif name in self.rejecting:
                client.update(rate=self.rejecting[name], mode="reject")
            else:
                raise _Skip(f"client {name!r} is tracked but has no limit rule")
            clients.append(client)
        self.data["clients"] = clients
        return self.data


def _smooth_common(a: tuple[str, ...], cond: str) -> bool:
    """The rules written once for all ``mode: smooth`` clients: counters and the 429 answer."""
    return (a[0], cond) in _SMOOTH_FIXED or (
        a[:3] in _ANSWER_429 and cond.endswith("{ var(txn.lbctl_over) -m found }"))


def _frontend_line(fe: _Frontend, d: Directive) -> None:
    kw, a = d.keyword, d.args
    cond = " ".join(a[a.index("if") + 1:]) if "if" in a else ""
    if kw == "bind" and len(a) == 1:
        host, port = _split_address(a[0])
        fe.data["bind"].append({"address": host or "*", "port": port})
    elif kw in ("maxconn", "monitor-uri", "default_backend") and len(a) == 1:
        fe.data[kw.replace("-", "_")] = _int(a[0]) if kw == "maxconn" else a[0]
    elif kw == "acl" and len(a) == 3 and a[0].startswith(("lbctl_route_", _CLIENT_ACL)):
        fe.acls.setdefault(a[0], []).append((a[1], a[2]))
    elif kw == "use_backend" and len(a) == 3 and a[1] == "if" and _ROUTE_ACL.match(a[2]):
        fe.routes[int(a[2][len("lbctl_route_"):])] = a[0]
    elif kw == "http-request" and a[:1] == ("track-sc0",) and a[2:4] == (
            "table", stick_table_name(str(fe.data["name"]))) and a[1].startswith("str("):
        fe.tracked.append(a[1][4:-1])
    elif kw == "http-request" and a[:1] == ("lua.lbctl_pace",) and len(a) >= 4:
        fe.paced[a[1]] = (_int(a[2]), _int(a[3]))
    elif kw == "http-request" and _smooth_common(a, cond):
        pass
    elif kw == "http-request" and cond.startswith(_CLIENT_ACL) and " { sc_http_req_rate(0) gt " in cond:
        if a[0] == "sc-inc-gpc0(0)":
            fe.rejecting[cond.split()[0][len(_CLIENT_ACL):]] = _int(cond.split()[-2])
        elif a[:3] not in _ANSWER_429:
            raise _Skip("not a rate-limit rule lbctl writes")
    elif kw == "errorfile" and a[:1] == ("429",):
        pass
    else:
        raise _Skip("no spec field for it")


def _backend_line(be: dict[str, Any], hc: dict[str, Any], d: Directive) -> None:
    kw, a = d.keyword, d.args
    if kw == "balance" and len(a) == 1:
        be["balance"] = a[0]
    elif kw == "option" and a[:1] == ("httpchk",) and len(a) in (1, 3):
        hc.update({"method": a[1], "path": a[2]} if len(a) == 3 else {})
    elif kw == "http-check" and a[:2] == ("send", "meth") and len(a) == 5 and a[3] == "uri":
        hc.update(method=a[2], path=a[4])
    elif kw == "http-check" and a[:2] == ("expect", "status") and len(a) == 3:
        hc["expect_status"] = _int(a[2])
    elif kw == "server" and len(a) >= 2:
        host, port = _split_address(a[1])
        server: dict[str, Any] = {"name": a[0], "address": host, "port": port}
        opts: dict[str, str] = {}
        i = 2
        while i < len(a):
            arity = _SERVER_OPTIONS.get(a[i])
            if arity is None or (arity and i + 1 >= len(a)):
                raise _Skip(f"server option {a[i]!r} has no spec field")
            opts[a[i]] = a[i + 1] if arity else ""
            i += 1 + arity
        weight = _int(opts.get("weight", "1"))
        state = "maint" if "disabled" in opts else "drain" if weight == 0 else "ready"
        # A drained server is rendered ``weight 0``: its own weight is not in the file.
        server.update(weight=1 if state == "drain" else weight, state=state, backup="backup" in opts)
        if "maxconn" in opts:
            server["maxconn"] = _int(opts["maxconn"])
        server["check"] = "check" in opts
        if "check" in opts:
            hc.setdefault("inter", opts.get("inter", "2s"))
            hc.setdefault("rise", _int(opts.get("rise", "2")))
            hc.setdefault("fall", _int(opts.get("fall", "3")))
        be["servers"].append(server)
    else:
        raise _Skip("no spec field for it")


_GlobalHandler = Callable[[dict[str, Any], tuple[str, ...]], None]


def _stats(g: dict[str, Any], a: tuple[str, ...]) -> None:
    socket = a[:1] == ("socket",) and a[2:6] == ("mode", "600", "level", "admin") and a[6:] in (
        (), ("expose-fd", "listeners"))
    if not socket and a != ("timeout", "30s"):
        raise _Skip("not the stats socket lbctl writes")


def _fixed(*expected: str) -> _GlobalHandler:
    def check(_g: dict[str, Any], a: tuple[str, ...]) -> None:
        if a != expected:
            raise _Skip("not the form lbctl writes")
    return check


def _lua(_g: dict[str, Any], a: tuple[str, ...]) -> None:
    if len(a) != 1 or not a[0].endswith("lbctl_pace.lua"):
        raise _Skip("lua-load of a script lbctl does not ship")


def _setter(field: str, convert: Callable[[str], Any]) -> _GlobalHandler:
    def assign(target: dict[str, Any], a: tuple[str, ...]) -> None:
        if len(a) != 1:
            raise _Skip("one value expected")
        target[field] = convert(a[0])
    return assign


_GLOBAL: dict[str, _GlobalHandler] = {
    "maxconn": _setter("maxconn", _int), "hard-stop-after": _setter("hard_stop_after", str),
    "stats": _stats, "localpeer": _fixed(LOCAL_PEER), "lua-load": _lua,
}
_DEFAULTS: dict[str, _GlobalHandler] = {
    "mode": _fixed("http"), "option": _fixed("idle-close-on-response"),
    "retries": _setter("retries", _int),
}


def import_spec(doc: Document) -> Spec:
    """The spec whose rendering ``doc`` is. Raises :class:`SpecError` naming every line that
    has no spec field (``loc`` = ``line N``), or the spec's own field errors."""
    errors: list[FieldError] = []
    data: dict[str, Any] = {"global": {}, "defaults": {"timeouts": {}}, "frontends": [], "backends": []}

    def each(section: Section, handle: Callable[[Directive], None]) -> None:
        for line in section.lines[1:]:
            if line.directive is None:
                if line.kind in ("blank", "comment"):
                    continue
                errors.append(_unplaced(line, "no spec field for it"))
                continue
            try:
                handle(line.directive)
            except _Skip as why:
                errors.append(_unplaced(line, str(why)))

    for line in doc.preamble:
        if line.kind not in ("blank", "comment"):
            errors.append(_unplaced(line, "outside any section"))
    for section in doc.sections:
        try:
            _import_section(section, data, each)
        except _Skip as why:
            errors.append(_unplaced(section.header, str(why)))
    if errors:
        raise SpecError(errors)
    return validate_spec(data)


def _import_section(section: Section, data: dict[str, Any],
                    each: Callable[[Section, Callable[[Directive], None]], None]) -> None:
    kind, name = section.kind, section.name or ""

    def table(target: dict[str, Any], handlers: dict[str, _GlobalHandler]) -> Callable[[Directive], None]:
        def handle(d: Directive) -> None:
            if d.keyword == "timeout" and target is data["defaults"] and len(d.args) == 2 \
                    and d.args[0] in _TIMEOUTS:
                target["timeouts"][_TIMEOUTS[d.args[0]]] = d.args[1]
                return
            handler = handlers.get(d.keyword)
            if handler is None:
                raise _Skip("no spec field for it")
            handler(target, d.args)
        return handle

    if kind == "global" and section.name is None:
        each(section, table(data["global"], _GLOBAL))
    elif kind == "defaults" and section.name is None:
        each(section, table(data["defaults"], _DEFAULTS))
    elif kind == "peers" and name == PEERS_SECTION:
        def peer(d: Directive) -> None:
            if d.keyword != "peer" or len(d.args) != 2 or d.args[0] != LOCAL_PEER:
                raise _Skip("not the local peer lbctl writes")
            data["global"]["peers_port"] = _split_address(d.args[1])[1]
        each(section, peer)
    elif kind == "frontend" and name == PROMETHEUS_FRONTEND:
        exporter: dict[str, Any] = {}

        def promex(d: Directive) -> None:
            a = d.args
            if d.keyword == "bind" and len(a) == 1:
                host, port = _split_address(a[0])
                exporter["bind"] = f"[{host}]:{port}" if ":" in host else f"{host or '*'}:{port}"
            elif d.keyword == "http-request" and a[:4] == ("use-service", "prometheus-exporter", "if", "{") \
                    and len(a) == 7 and a[4] == "path" and a[6] == "}":
                exporter["path"] = a[5]
            else:
                raise _Skip("not the exporter frontend lbctl writes")
        each(section, promex)
        data["global"]["prometheus_exporter"] = exporter
    elif kind == "frontend" and section.name is not None and section.parent is None:
        fe = _Frontend(name)
        each(section, lambda d: _frontend_line(fe, d))
        data["frontends"].append(fe.finish())
    elif kind == "backend" and name.startswith(stick_table_name("")):
        def table_only(d: Directive) -> None:
            if d.keyword != "stick-table":
                raise _Skip("only the stick table lbctl writes belongs here")
        each(section, table_only)
    elif kind == "backend" and section.name is not None and section.parent is None:
        be: dict[str, Any] = {"name": name, "servers": []}
        hc: dict[str, Any] = {}
        each(section, lambda d: _backend_line(be, hc, d))
        if hc or any(s["check"] for s in be["servers"]):
            hc.setdefault("method", "HEAD")
            be["health_check"] = hc
        else:
            for server in be["servers"]:  # no health check: the rendered line has no ``check``
                server["check"] = True
        data["backends"].append(be)
    else:
        raise _Skip(f"no spec section for '{kind}'")


def _unplaced(line: Line, why: str) -> FieldError:
    return FieldError(f"line {line.lineno}", f"{why}: {line.text.strip()}")
