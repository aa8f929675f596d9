"""The render view: the facts the templates need beyond the spec, computed once.

Rule ordering lives here so the templates stay simple:

* routes and clients are matched longest URL prefix first, and a client's condition excludes
  every longer client prefix, so one request belongs to at most one client;
* a prefix ``/p`` matches the path ``/p`` and everything under ``/p/`` (not ``/pq``); a prefix
  ending in ``/`` matches everything under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lbctl.errors import RenderError
from lbctl.features import Capabilities
from lbctl.render.names import client_acl, route_acl, stick_table_name
from lbctl.spec import Client, Frontend, Spec

__all__ = ["Acl", "ClientRule", "FrontendView", "RouteRule", "View", "build_view", "prefix_acls"]


@dataclass(frozen=True)
class Acl:
    """``acl <name> <fetch> <value>``."""

    name: str
    fetch: str
    value: str


@dataclass(frozen=True)
class ClientRule:
    """A client of a frontend with its ACL condition (a space-separated ACL expression)."""

    name: str
    rate: int
    burst: int
    mode: str
    condition: str


@dataclass(frozen=True)
class RouteRule:
    """``use_backend <backend> if <condition>``."""

    backend: str
    condition: str


@dataclass(frozen=True)
class FrontendView:
    """What the frontend template needs beyond the spec: ACLs, ordered rules, its table."""

    spec: Frontend
    acls: list[Acl]
    clients: list[ClientRule]
    routes: list[RouteRule]
    table: str

    @property
    def has_smooth(self) -> bool:
        """True when a client of this frontend uses ``mode: smooth``."""
        return any(c.mode == "smooth" for c in self.clients)


@dataclass(frozen=True)
class View:
    """Precomputed, ordered facts for the templates."""

    frontends: list[FrontendView]
    stick_tables: list[str]
    uses_lua: bool


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


def build_view(spec: Spec, caps: Capabilities) -> View:
    """Order the rules and decide which optional sections the config needs.

    Raises :class:`RenderError` when a client's mode cannot be rendered for ``caps``
    (``mode: smooth`` needs HAProxy 1.6+ built with Lua; client limits need 1.6+), or when
    ``global.prometheus_exporter`` is set for a target without the exporter (``caps.promex``).
    """
    if spec.global_.prometheus_exporter is not None and not caps.promex:
        raise RenderError(
            f"global.prometheus_exporter needs HAProxy 2.0 or newer built with the Prometheus "
            f"exporter (+PROMEX in haproxy -vv); target {caps.version} has none"
        )
    frontends = []
    tables = []
    uses_lua = False
    for fe in spec.frontends:
        acls: list[Acl] = []
        clients = _client_rules(fe, acls)
        routes = []
        ordered_routes = sorted(
            enumerate(fe.routes), key=lambda ir: (-len(ir[1].path_prefix), ir[0])
        )
        for i, route in ordered_routes:
            name = route_acl(i)
            acls.extend(prefix_acls(name, route.path_prefix))
            routes.append(RouteRule(route.backend, name))
        if clients:
            if not caps.http_rules_16:
                raise RenderError(
                    f"frontends {fe.name!r}: client limits need HAProxy 1.6 or newer "
                    f"(target is {caps.version})"
                )
            if any(c.mode == "smooth" for c in clients):
                if not caps.lua:
                    raise RenderError(
                        f"frontends {fe.name!r}: mode smooth needs HAProxy built with Lua "
                        f"(target {caps.version} has none); use mode reject"
                    )
                uses_lua = True
            tables.append(stick_table_name(fe.name))
        frontends.append(
            FrontendView(fe, acls, clients, routes, stick_table_name(fe.name))
        )
    return View(frontends, tables, uses_lua)
