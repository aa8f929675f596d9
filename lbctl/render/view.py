"""The render view: the facts the templates need beyond the spec, computed once.

Rule ordering lives here so the templates stay simple:

* routes and clients are matched longest URL prefix first, and a client's condition excludes
  every longer client prefix, so one request belongs to at most one client;
* a prefix ``/p`` matches the path ``/p`` and everything under ``/p/`` (not ``/pq``); a prefix
  ending in ``/`` matches everything under it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lbctl.errors import UnsupportedOnTarget
from lbctl.features import GATES, Capabilities
from lbctl.render.names import (
    client_acl,
    refuse_backend,
    route_acl,
    stick_table_name,
    throttle_backend,
    throttle_frontend,
)
from lbctl.render.order import ordered_blocks
from lbctl.spec import Client, Frontend, Route, Spec

__all__ = ["Acl", "ClientRule", "FrontendView", "RouteRule", "View", "build_view", "prefix_acls"]


class Acl(NamedTuple):
    """``acl <name> <fetch> <value>``."""

    name: str
    fetch: str
    value: str


class ClientRule(NamedTuple):
    """A client of a frontend with its ACL condition (a space-separated ACL expression)."""

    name: str
    rate: int
    burst: int
    mode: str
    condition: str


class RouteRule(NamedTuple):
    """``use_backend <backend> if <condition>``."""

    backend: str
    condition: str


#: A smooth client of the chained throttle gets ceil(rate / 5) slots, each held rate / slots
#: seconds (about 200 ms): at most slots × ceil(rate / slots) <= 1.2 × rate + 1 arrivals in any
#: sliding second, and a backend answering in L seconds costs a factor hold / (hold + L).
_THROTTLE_SLOTS_PER_RATE = 5
#: Seconds a request may wait in the throttle's queue beyond its expected wait.
_QUEUE_MARGIN_S = 5


@dataclass(frozen=True)
class ThrottleView:
    """The chained throttle of one ``mode: smooth`` client on a target without the Lua pacing
    (no Lua, or older than 2.0)
    (``templates/throttle.j2``; DESIGN.md "Versions").

    The main frontend sends the client's requests to ``backend``, whose one server is the UNIX
    socket ``socket`` (a file of the run dir) with ``maxconn slots``: requests wait in that
    backend's queue, in order, for at most ``queue_timeout_s`` seconds. ``frontend`` binds the
    socket with ``rate-limit sessions <rate>`` and holds each request ``hold_ms``
    milliseconds (``tcp-request inspect-delay`` + ``WAIT_END``) before routing it as the main
    frontend would: each slot lets one request through per hold, so at most ``slots`` per
    ``hold_ms``. A request arriving while ``admitted`` (burst + slots) are already in the
    backend (``burst + 1``: as many as the Lua pacing serves of a simultaneous burst) is
    answered 429 with ``Retry-After: 1``.
    """

    client: ClientRule
    backend: str
    frontend: str
    socket: str
    slots: int
    hold_ms: int
    admitted: int
    queue_timeout_s: int


@dataclass(frozen=True)
class FrontendView:
    """What the frontend template needs beyond the spec: ACLs, ordered rules, its table, the
    chained throttles of its smooth clients (targets without Lua) and the serverless backend
    that answers 429 where ``deny_status`` does not exist."""

    spec: Frontend
    acls: list[Acl]
    clients: list[ClientRule]
    routes: list[RouteRule]
    table: str
    throttles: list[ThrottleView] = field(default_factory=list)
    refuse_backend: str = ""

    @property
    def has_smooth(self) -> bool:
        """True when a client of this frontend uses ``mode: smooth``."""
        return any(c.mode == "smooth" for c in self.clients)

    @property
    def route_acls(self) -> list[Acl]:
        """The ACLs of the routes only (what a chained throttle's internal frontend needs)."""
        names = {r.condition for r in self.routes}
        return [a for a in self.acls if a.name in names]

    @property
    def refusals(self) -> list[str]:
        """The conditions under which a client's request is answered 429, in rule order: a
        throttled client once ``admitted`` requests are in its throttle backend
        (``be_conn``, configuration.txt 1.5 §7.3.2), a ``mode: reject`` client over its rate
        (``sc_http_req_rate(0)``, §7.3.2)."""
        out = [f"{t.client.condition} {{ be_conn({t.backend}) ge {t.admitted} }}"
               for t in self.throttles]
        out += [f"{c.condition} {{ sc_http_req_rate(0) gt {c.rate} }}"
                for c in self.clients if c.mode == "reject"]
        return out

    @property
    def has_lua_pacing(self) -> bool:
        """True when a smooth client is paced by the Lua action (no chained throttle)."""
        return self.has_smooth and not self.throttles


@dataclass(frozen=True)
class View:
    """Precomputed, ordered facts for the templates."""

    frontends: list[FrontendView]
    stick_tables: list[str]
    uses_lua: bool
    #: The sections after ``defaults`` in the order they are written
    #: (:func:`lbctl.render.order.ordered_blocks`).
    blocks: list[tuple[str, Any]] = field(default_factory=list)


def prefix_acls(name: str, prefix: str) -> list[Acl]:
    """ACL lines matching ``prefix`` segment-wise: ``path <p>`` or ``path_beg <p>/``.

    A prefix ending in ``/`` (including ``/`` itself) is one ``path_beg`` line.
    """
    if prefix.endswith("/"):
        return [Acl(name, "path_beg", prefix)]
    return [Acl(name, "path", prefix), Acl(name, "path_beg", prefix + "/")]


def _covers(shorter: str, longer: str) -> bool:
    """True when every path matched by ``longer`` is also matched by ``shorter``."""
    if shorter == longer:
        return False
    base = shorter if shorter.endswith("/") else shorter + "/"
    return longer.startswith(base) or (shorter.endswith("/") and longer == shorter.rstrip("/"))


def _client_rules(fe: Frontend, acls: list[Acl]) -> list[ClientRule]:
    ordered = sorted(fe.clients, key=lambda c: (-len(c.path_prefix), c.path_prefix))
    names = {c.name: client_acl(c.name) for c in ordered}
    rules = []
    for c in ordered:
        acls.extend(prefix_acls(names[c.name], c.path_prefix))
    for c in ordered:
        longer: list[Client] = [o for o in ordered if _covers(c.path_prefix, o.path_prefix)]
        cond = " ".join([names[c.name], *(f"!{names[o.name]}" for o in longer)])
        rules.append(ClientRule(c.name, c.rate, c.burst, c.mode, cond))
    return rules


def check_gates(spec: Spec, caps: Capabilities) -> None:
    """Refuse every version-gated field of ``spec`` the target lacks (:data:`GATES`).

    Raises :class:`UnsupportedOnTarget` (a 422) naming the field, the version and what would
    work instead."""
    gate = GATES["prometheus_exporter"]
    if spec.global_.prometheus_exporter is not None and not gate.allowed(caps):
        raise UnsupportedOnTarget.field("global.prometheus_exporter", str(caps.version),
                                        gate.needs, gate.instead)
    gate = GATES["from"]
    if not gate.allowed(caps):
        parts = [(f"frontends[{i}]", fe.from_) for i, fe in enumerate(spec.frontends)]
        parts += [(f"backends[{i}]", be.from_) for i, be in enumerate(spec.backends)]
        parts += [(f"listens[{i}]", li.from_) for i, li in enumerate(spec.listens)]
        parts += [(f"sections[{i}]", s.from_) for i, s in enumerate(spec.sections)]
        for where, parent in parts:
            if parent is not None:
                raise UnsupportedOnTarget.field(f"{where}.from", str(caps.version), gate.needs,
                                                gate.instead)
    gate = GATES["same_name"]
    if not gate.allowed(caps):
        frontends = {fe.name for fe in spec.frontends}
        for i, be in enumerate(spec.backends):
            if be.name in frontends:
                raise UnsupportedOnTarget.field(f"backends[{i}].name", str(caps.version),
                                                gate.needs, gate.instead)


def build_view(spec: Spec, caps: Capabilities) -> View:
    """Order the rules and decide which optional sections the config needs.

    ``mode: smooth`` is the Lua pacing action where the target has it (2.0+ built with Lua,
    :attr:`Capabilities.lua_pacing`), else the chained throttle (:class:`ThrottleView`).
    Raises :class:`UnsupportedOnTarget` (:func:`check_gates`)."""
    global _LAST_ROUTES
    check_gates(spec, caps)
    frontends = []
    tables = []
    uses_lua = False
    before, rules = _LAST_ROUTES, {}
    for fe_index, fe in enumerate(spec.frontends):
        acls: list[Acl] = []
        clients = _client_rules(fe, acls)
        routes = []
        # longest prefix first; a stable sort keeps the spec's order among equal lengths
        ordered_routes = sorted(enumerate(fe.routes), key=lambda ir: -len(ir[1].path_prefix))
        for i, route in ordered_routes:
            made = before.get(id(route))
            if made is None or made[0] is not route or made[1] != i:
                made = (route, i, *_route_rules(route, i))
            rules[id(route)] = made
            acls += made[2]
            routes.append(made[3])
        throttles: list[ThrottleView] = []
        if clients:
            if any(c.mode == "smooth" for c in clients):
                uses_lua = uses_lua or caps.lua_pacing
                if not caps.lua_pacing:
                    throttles = [_throttle(fe.name, fe_index, i, c)
                                 for i, c in enumerate(clients) if c.mode == "smooth"]
            tables.append(stick_table_name(fe.name))
        frontends.append(
            FrontendView(fe, acls, clients, routes, stick_table_name(fe.name), throttles,
                         refuse_backend(fe.name))
        )
    _LAST_ROUTES = rules
    return View(frontends, tables, uses_lua, ordered_blocks(spec, frontends, peers=bool(tables)))


#: The route rules of the last view built: ``id(route)`` → ``(route, its index, its ACLs, its
#: rule)``, the route held so that its ``id`` names no other object. A route is a frozen model
#: whose rules depend on nothing but its fields and its index (its ACL's name), so the very
#: route at the same index has the same rules: an apply that changes one route of 1,000 takes
#: the others' (:mod:`lbctl.spec.known` keeps them as the very objects). One generation, as
#: :mod:`lbctl.render.memo` keeps; views built in several threads at once each read the last.
_LAST_ROUTES: dict[int, tuple[Route, int, tuple[Acl, ...], RouteRule]] = {}


def forget_route_rules() -> None:
    """Forget the last view's route rules (the next view makes every route's again)."""
    global _LAST_ROUTES
    _LAST_ROUTES = {}


def _route_rules(route: Route, index: int) -> tuple[tuple[Acl, ...], RouteRule]:
    """The ACL lines and the ``use_backend`` rule of the route at ``index`` of its frontend."""
    prefix = route.path_prefix
    if route.inline:  # a prefix ending in "/": the one path_beg test
        return (), RouteRule(route.backend, f"{{ path_beg {prefix} }}")
    name = route.acl or route_acl(index)
    return tuple(prefix_acls(name, prefix)), RouteRule(route.backend, name)


def _throttle(frontend: str, fe_index: int, index: int, client: ClientRule) -> ThrottleView:
    slots = max(1, math.ceil(client.rate / _THROTTLE_SLOTS_PER_RATE))
    hold_ms = max(1, round(1000 * slots / client.rate))
    wait_s = math.ceil((client.burst + slots) / client.rate + hold_ms / 1000) + _QUEUE_MARGIN_S
    return ThrottleView(client, throttle_backend(frontend, client.name),
                        throttle_frontend(frontend, client.name), f"pace-{fe_index}-{index}",
                        slots, hold_ms, client.burst + 1, wait_s)
