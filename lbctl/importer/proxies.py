"""Frontend sections → spec data, keeping only what lbctl writes back the same; the mapping
machinery backends share (:mod:`lbctl.importer.backends`).

A directive becomes a field only when rendering that field gives the very same normalised
directive back (:mod:`lbctl.config.normal`); every other line stays an ``extra`` line of its
section, verbatim and in order (:mod:`lbctl.importer` collects them). Single-line
fields are exact by construction: a ``bind`` with one ``address:port`` and nothing else, the
first ``maxconn``, ``monitor-uri`` and ``default_backend`` whose values pass the spec's
allowlists, and the first line setting ``mode``, a ``timeout`` event or an option without
arguments (:mod:`lbctl.importer.proxy_settings`). The groups whose lines depend on each
other are checked by rendering them (:func:`lbctl.render.render_proxy`) and comparing the
directives with the lines they came from; a group that does not come back the same stays extra, whole:

a frontend's routes and rate-limited clients (the ``lbctl_route_<i>`` / ``lbctl_client_<c>``
ACLs, ``use_backend``, the ``http-request`` rules and the ``errorfile 429`` lbctl writes), and
the routes a config writes itself with a ``path_beg`` ACL or inline (:mod:`lbctl.importer.routes`),
alone or among lbctl's.
A line with a comment beside it stays extra (the comment stays beside it).

Size: over 300 lines because the round-trip check (:func:`renders_back`,
:func:`renders_same`) that every proxy kind shares sits beside the frontend walk, and lbctl's
own rules (``_Rules``) are read with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from lbctl.config.document import Line
from lbctl.config.normal import normalised, text_directives
from lbctl.errors import LbctlError
from lbctl.features import Capabilities
from lbctl.importer.proxy_settings import frontend_field, frontend_setting
from lbctl.importer.routes import merge_routes, user_routes
from lbctl.importer.words import number, plain
from lbctl.render import RenderContext, render_proxy, stick_table_name
from lbctl.render.listen import render_listen
from lbctl.spec import Backend, BindSpec, Frontend
from lbctl.spec.address import Address
from lbctl.spec.models import FRONTEND_TIMEOUTS, Listen
from lbctl.spec.types import Name, PathPrefix

__all__ = ["ORDERED", "Mapped", "first_of_keyword", "frontend_field", "frontend_setting",
           "read_frontend", "renders_back", "renders_same", "split_address"]

_NAME: TypeAdapter[str] = TypeAdapter(Name)
_PREFIX: TypeAdapter[str] = TypeAdapter(PathPrefix)
_BIND: TypeAdapter[Any] = TypeAdapter(BindSpec)
_ROUTE_ACL = "lbctl_route_"
_CLIENT_ACL = "lbctl_client_"
#: The last term of a ``mode: reject`` client's 429 rule: counts the 429 in gpc0 (clients.j2).
_COUNTED = ("{", "sc0_inc_gpc0", "ge", "0", "}")


class _Mismatch(Exception):
    """The lines do not have the shape lbctl writes."""


@dataclass
class Mapped:
    """What a section gave to fields: its spec ``data``, and per line placed in a field
    (``id(line)`` →) the line and that field's path below the section (``"bind[0]"``,
    ``"servers[1].comment"``)."""

    data: dict[str, Any]
    placed: dict[int, tuple[Line, str]] = field(default_factory=dict)
    #: The model ``data`` validated as, once :func:`renders_back` validated it.
    model: Frontend | Backend | Listen | None = None

    def place(self, line: Line, path: str) -> None:
        """Record that ``line`` went to the field ``path``."""
        self.placed[id(line)] = (line, path)

    def with_group(self, data: dict[str, Any], lines: Iterable[tuple[Line, str]]) -> Mapped:
        """A copy with ``data`` merged in and ``lines`` placed too."""
        placed = dict(self.placed)
        for line, path in lines:
            placed[id(line)] = (line, path)
        return Mapped({**self.data, **data}, placed)


def split_address(text: str) -> tuple[str, int]:
    """``10.0.0.1:80`` / ``[::1]:80`` / ``::1:80`` → (address, port). Raises ``ValueError``."""
    where = Address.parse(text)
    return where.host, where.port


def _valid(adapter: TypeAdapter[Any], value: str) -> bool:
    try:
        adapter.validator.validate_python(value)
    except ValidationError:
        return False
    return True


#: Keywords whose lines are rules: HAProxy evaluates them in the order written, so a mapping
#: must keep that order (configuration.txt §4 "Proxies": rules of one kind apply in order).
ORDERED = frozenset(("http-request", "http-response", "http-after-response", "http-check",
                     "tcp-request", "tcp-response", "tcp-check", "use_backend", "use-server",
                     "redirect", "http-error"))


def renders_back(model: type[Frontend] | type[Backend] | type[Listen], mapped: Mapped,
                 caps: Capabilities, ctx: RenderContext, lines: list[Line], *,
                 deferred: bool = False) -> bool:
    """True when ``mapped.data`` validates as ``model`` (kept as ``mapped.model``) and
    rendering it gives back its placed lines (:func:`renders_same`). With ``deferred`` only
    the validation is done: the caller checks the rendering later, with the other backends
    of the document in one render (:class:`lbctl.importer.roundtrip.RoundTrips`)."""
    try:
        proxy = model.model_validate(mapped.data)
        if deferred:
            mapped.model = proxy
            return True
        out = text_directives(render_listen(proxy, caps, ctx) if isinstance(proxy, Listen)
                              else render_proxy(proxy, caps, ctx))
    except (ValidationError, LbctlError):
        return False
    if not renders_same(out, mapped, lines):
        return False
    mapped.model = proxy
    return True


def renders_same(out: list[tuple[str, ...]], mapped: Mapped, lines: list[Line]) -> bool:
    """True when ``out``, the normalised directives a proxy's fields render as
    (:func:`lbctl.config.normal.text_directives`), are exactly those of ``mapped``'s placed
    lines, and keep the order of every rule (:data:`ORDERED`) among ``lines`` (the section's
    own, in file order): the placed rules come out in their order, and none of them was written
    after an unplaced rule of its keyword (extra lines are rendered after the fields)."""
    placed = mapped.placed
    read = [w for w in [normalised(ln) for ln, _ in placed.values()] if w]
    if len(out) != len(read) or sorted(out) != sorted(read):  # the same multiset
        return False
    placed_rules: list[tuple[str, ...]] = []
    extra_seen: set[str] = set()
    for line in lines:  # one pass: the placed rules in order, none after an extra one
        keyword = line.keyword
        if keyword not in ORDERED:
            continue
        if id(line) not in placed:
            extra_seen.add(keyword)
        elif keyword in extra_seen:
            return False
        else:
            placed_rules.append(normalised(line))
    return [w for w in out if w[0] in ORDERED] == placed_rules


def read_frontend(name: str, parent: str | None, lines: list[Line], blocked: set[int],
                  caps: Capabilities, ctx: RenderContext, binds_seen: set[str],
                  proxies: frozenset[str] = frozenset()) -> Mapped:
    """Map a frontend's ``lines`` (``blocked``: ids of lines inside ``.if`` blocks, never
    mapped); ``binds_seen`` holds the binds of earlier frontends (a repeated one stays extra)
    and gets this frontend's; ``proxies``: the names of the file's backends and listen
    sections, which the routes a config writes may name (:mod:`lbctl.importer.routes`)."""
    base = Mapped({"name": name, "from": parent, "bind": [], "routes": [], "clients": []})
    rules: list[Line] = []
    for line, first, fresh in frontend_walk(lines, blocked):
        kw, a = line.keyword, line.args
        if fresh and frontend_field(base.data, kw, a):
            index = len(base.data.get("options", ())) - 1
            base.place(line, {"timeout": f"timeouts.{FRONTEND_TIMEOUTS.get(a[0], '')}",
                              "option": f"options[{index}]"}.get(kw, kw))
        elif kw == "bind" and len(a) == 1 and _valid(_BIND, a[0]):
            bind = _BIND.validate_python(a[0])
            if bind.haproxy() == a[0] and str(bind) not in binds_seen:
                base.place(line, f"bind[{len(base.data['bind'])}]")
                base.data["bind"].append(str(bind))
                binds_seen.add(str(bind))
        elif len(a) == 1 and first and (
                (kw == "maxconn" and number(a[0], 10_000_000) is not None)
                or (kw == "monitor-uri" and _valid(_PREFIX, a[0]))
                or (kw == "default_backend" and _valid(_NAME, a[0]))):
            key = kw.replace("-", "_")
            base.data[key] = int(a[0]) if kw == "maxconn" else a[0]
            base.place(line, key)
        elif _lbctl_rule(line, name):
            rules.append(line)
    rule_ids = {id(ln) for ln in rules}
    user, placed = user_routes([ln for ln in lines if id(ln) not in rule_ids], blocked, proxies)
    if rules:
        reader = _Rules(name)
        try:
            routes, clients = reader.read(rules)
        except _Mismatch:
            pass
        else:
            full = base.with_group({"routes": routes, "clients": clients},
                                   ((ln, "routes") for ln in rules))
            both = merge_routes(dict(zip(sorted(reader.routes), routes, strict=True)), user)
            if user and both is not None:
                mixed = full.with_group({"routes": both}, placed)
                if renders_back(Frontend, mixed, caps, ctx, lines):
                    return mixed
            if renders_back(Frontend, full, caps, ctx, lines):
                return full
    elif user:
        with_routes = base.with_group({"routes": user}, placed)
        if renders_back(Frontend, with_routes, caps, ctx, lines):
            return with_routes
    if renders_back(Frontend, base, caps, ctx, lines):
        return base
    return Mapped({"name": name, "from": parent})


def first_of_keyword(line: Line, seen: set[str]) -> bool:
    """True when ``line`` is the first to set its keyword (in any form: ``no``, a comment
    beside it, inside ``.if``); HAProxy takes the last one, and extra lines come after the
    fields, so only the first may become a field."""
    keyword = line.directive.keyword if line.directive is not None else None
    if keyword is None or keyword in seen:
        return False
    seen.add(keyword)
    return True


def frontend_walk(lines: list[Line], blocked: set[int]) -> Iterator[tuple[Line, bool, bool]]:
    """The lines of a frontend or the frontend side of a ``listen`` that may become fields,
    as ``(line, first, fresh)``: ``first`` when it is the first line of its keyword
    (:func:`first_of_keyword`), ``fresh`` when it is the first to set its frontend setting
    (:func:`lbctl.importer.proxy_settings.frontend_setting`). Lines inside ``.if`` blocks
    (ids in ``blocked``) and lines that are not plain are not given, but they still count
    as the first of their keyword or setting."""
    seen: set[str] = set()
    settings: set[tuple[str, str]] = set()
    for line in lines:
        d = line.directive
        if d is None:  # no keyword, no setting, not plain
            continue
        first = d.keyword not in seen  # first_of_keyword, inlined: it runs for every line
        seen.add(d.keyword)
        setting = frontend_setting(line)
        fresh = setting is not None and setting not in settings
        if setting is not None:
            settings.add(setting)
        if not (blocked and id(line) in blocked) and plain(line):
            yield line, first, fresh


def _lbctl_rule(line: Line, frontend: str) -> bool:
    kw, a = line.keyword, line.args
    if kw == "acl":
        return bool(a) and a[0].startswith((_ROUTE_ACL, _CLIENT_ACL))
    if kw == "use_backend":
        return len(a) == 3 and a[1] == "if" and a[2].startswith(_ROUTE_ACL)
    if kw == "http-request":
        return any(w.startswith(("lbctl_", "lua.lbctl_", "var(txn.lbctl_")) or
                   w == stick_table_name(frontend) for w in a)
    return kw == "errorfile" and a[:1] == ("429",)


class _Rules:
    """The routes and clients of a frontend, read back from the rules lbctl writes."""

    def __init__(self, frontend: str) -> None:
        self.frontend = frontend
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
        raise _Mismatch(acl)

    def read(self, rules: list[Line]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        for line in rules:
            self._line(line.keyword, line.args)
        routes = [{"path_prefix": self.prefix(f"{_ROUTE_ACL}{i}"), "backend": b}
                  for i, b in sorted(self.routes.items())]
        clients = []
        for name in self.tracked:
            client: dict[str, Any] = {"name": name, "path_prefix": self.prefix(_CLIENT_ACL + name)}
            if name in self.paced:
                client.update(rate=self.paced[name][0], burst=self.paced[name][1], mode="smooth")
            elif name in self.rejecting:
                client.update(rate=self.rejecting[name], mode="reject")
            else:
                raise _Mismatch(name)
            clients.append(client)
        return routes, clients

    def _line(self, kw: str, a: tuple[str, ...]) -> None:
        cond = a[a.index("if") + 1:] if "if" in a else ()
        if kw == "acl" and len(a) == 3:
            self.acls.setdefault(a[0], []).append((a[1], a[2]))
        elif kw == "use_backend":
            index = a[2][len(_ROUTE_ACL):]
            if not index.isdigit():
                raise _Mismatch(a[2])
            self.routes[int(index)] = a[0]
        elif kw == "http-request" and a[:1] == ("track-sc0",) and a[1].startswith("str(") \
                and a[1].endswith(")"):
            self.tracked.append(a[1][4:-1])
        elif kw == "http-request" and a[:1] == ("lua.lbctl_pace",) and len(a) >= 4:
            rate, burst = number(a[2], 100_000), a[3]
            if rate is None or not burst.isdigit():
                raise _Mismatch(a)
            self.paced[a[1]] = (rate, int(burst))
        elif kw == "http-request" and a[:1] in (("return",), ("deny",)) and len(cond) >= 11 \
                and cond[0].startswith(_CLIENT_ACL) and cond[-5:] == _COUNTED \
                and cond[-10:-7] == ("{", "sc_http_req_rate(0)", "gt"):
            rate = number(cond[-7], 100_000)
            if rate is None:
                raise _Mismatch(a)
            self.rejecting[cond[0][len(_CLIENT_ACL):]] = rate
        elif kw not in ("http-request", "errorfile"):
            raise _Mismatch(a)
