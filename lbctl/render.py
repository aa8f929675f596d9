"""Spec + target HAProxy → ``haproxy.cfg`` text, through the Jinja templates in ``templates/``.

Rendering is deterministic (the same spec, capabilities and context give the same bytes) and
strict (``StrictUndefined``: a missing variable is a :class:`RenderError`, never an empty
string). Values are never escaped: the spec's allowlists guarantee every string is a single
safe token. Version-dependent forms are chosen by the flags of
:class:`lbctl.features.Capabilities` only.

Rule ordering computed here (templates stay simple):

* routes and clients are matched longest URL prefix first, and a client's condition excludes
  every longer client prefix, so one request belongs to at most one client;
* a prefix ``/p`` matches the path ``/p`` and everything under ``/p/`` (not ``/pq``); a prefix
  ending in ``/`` matches everything under it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from lbctl import __version__, paths
from lbctl.errors import RenderError
from lbctl.features import Capabilities
from lbctl.spec import Backend, Client, Frontend, HealthCheck, Server, Spec
from lbctl.spec_types import format_duration

#: Name of the local peer (``peer <name>`` / ``localpeer`` / ``haproxy -L``); the process and
#: the validator pass ``-L LOCAL_PEER`` so the peers section finds itself (configuration.txt §3.5).
LOCAL_PEER = "lbctl"
#: Name of the ``peers`` section that carries stick tables across reloads.
PEERS_SECTION = "lbctl"
#: Name of the frontend that serves HAProxy's own Prometheus exporter
#: (``global.prometheus_exporter``).
PROMETHEUS_FRONTEND = "lbctl_prometheus"


def peer_args(caps: Capabilities) -> list[str]:
    """Command-line arguments naming the local peer: ``["-L", LOCAL_PEER]`` before 2.2, where
    the config cannot say it (``localpeer``); empty otherwise (giving both makes 2.2+ warn)."""
    return [] if caps.localpeer else ["-L", LOCAL_PEER]


@dataclass(frozen=True)
class RenderContext:
    """Filesystem places the rendered config refers to.

    ``run_dir`` holds the stats socket (``haproxy.sock``); ``assets_dir`` holds the Lua pacing
    action and the 429 error file (the installed ``haproxy/`` assets by default).
    """

    run_dir: Path
    assets_dir: Path = field(default_factory=paths.assets_dir)

    @property
    def stats_socket(self) -> Path:
        """The runtime API socket (``stats socket``, ``level admin``)."""
        return self.run_dir / "haproxy.sock"

    @property
    def lua_script(self) -> Path:
        """The Lua file that registers ``lua.lbctl_pace``."""
        return self.assets_dir / "lua" / "lbctl_pace.lua"

    @property
    def errorfile_429(self) -> Path:
        """Raw HTTP 429 response with ``Retry-After: 1`` for targets without ``http-request return``."""
        return self.assets_dir / "errors" / "429.http"


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


def stick_table_name(frontend: str) -> str:
    """The stick table (a table-only backend) holding a frontend's per-client counters."""
    return f"lbctl_clients_{frontend}"


def _client_rules(fe: Frontend, acls: list[Acl]) -> list[ClientRule]:
    ordered = sorted(fe.clients, key=lambda c: (-len(c.path_prefix), c.path_prefix))
    names = {c.name: f"lbctl_client_{c.name}" for c in ordered}
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
            name = f"lbctl_route_{i}"
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


def _server_address(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def server_words(server: Server, hc: HealthCheck | None) -> list[str]:
    """The words of a server's line (``templates/backend.j2``): ``server <name>
    <address>:<port> weight <w> [maxconn <n>] [backup] [check inter <t> rise <r> fall <f>]
    [disabled]``. A drained server is written ``weight 0``; ``check`` only with a health
    check. :mod:`lbctl.config.importer` reads a line back only when these words come back."""
    weight = 0 if server.state == "drain" else server.weight
    words = ["server", server.name, f"{_server_address(server.address)}:{server.port}",
             "weight", str(weight)]
    if server.maxconn:
        words += ["maxconn", str(server.maxconn)]
    if server.backup:
        words.append("backup")
    if hc is not None and server.check:
        words += ["check", "inter", format_duration(hc.inter), "rise", str(hc.rise),
                  "fall", str(hc.fall)]
    if server.state == "maint":
        words.append("disabled")
    return words


def _server_line(server: Server, hc: HealthCheck | None) -> str:
    return " ".join(server_words(server, hc))


def environment() -> jinja2.Environment:
    """The Jinja environment over ``templates/``: StrictUndefined, no autoescape, no cache of
    undefined values, ``duration`` (ms → ``30s``), ``server_address`` and ``server_line``
    filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(paths.templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["duration"] = format_duration
    env.filters["server_address"] = _server_address
    env.filters["server_line"] = _server_line
    return env


_ENV: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = environment()
    return _ENV


def render_proxy(proxy: Frontend | Backend, caps: Capabilities, ctx: RenderContext) -> str:
    """The text of one ``frontend`` or ``backend`` section alone, exactly as :func:`render`
    writes it in a whole config (:mod:`lbctl.config.importer` compares it with what it read).
    Raises :class:`RenderError` as :func:`render` does."""
    env = _environment()
    try:
        if isinstance(proxy, Backend):
            return env.get_template("backend.j2").render(be=proxy, caps=caps)
        view = build_view(Spec.model_construct(frontends=[proxy]), caps)
        return env.get_template("frontend.j2").render(fe=view.frontends[0], caps=caps, ctx=ctx)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc


def render(spec: Spec, caps: Capabilities, ctx: RenderContext) -> str:
    """Render ``haproxy.cfg`` for ``spec`` on the target described by ``caps``.

    Returns the config text (ends with a newline). Raises :class:`RenderError` if a template
    fails or the spec needs a form the target lacks.
    """
    view = build_view(spec, caps)
    try:
        text = _environment().get_template("haproxy.cfg.j2").render(
            spec=spec,
            caps=caps,
            ctx=ctx,
            view=view,
            local_peer=LOCAL_PEER,
            peers_section=PEERS_SECTION,
            prometheus_frontend=PROMETHEUS_FRONTEND,
            lbctl_version=__version__,
        )
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"


def field_for_line(spec: Spec, text: str, line: int) -> str | None:
    """The spec field a line of rendered ``text`` came from (1-based ``line``), or ``None``.

    Used to point ``haproxy -c`` diagnostics at spec fields: ``server s1 ...`` in backend
    ``b`` → ``backends[i].servers[j]``; ``bind`` → ``frontends[i].bind``; ``timeout client``
    → ``defaults.timeouts.client``; an extra line → ``backends[i].extra[j]``, a line of a
    ``sections`` entry → ``sections[k].lines[j]``. A section header is the nearest line above
    that starts in column 0 and is not a comment (lbctl indents every other line).
    """
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    here = lines[line - 1].strip()
    for n in range(line - 1, -1, -1):
        head = lines[n]
        if head and head[0] not in " \t#":
            kind, *rest = head.split()
            return _field_in(spec, kind, rest[0] if rest else "", here)
    return None


def _field_in(spec: Spec, kind: str, name: str, here: str) -> str | None:
    """The field of the line ``here`` in the section ``kind name`` (see :func:`field_for_line`)."""
    words = here.split()

    def extra(where: str, lines: list[str], field: str = "extra") -> str:
        return f"{where}.{field}[{lines.index(here)}]" if here in lines else where

    if kind == "global":
        return extra("global", spec.global_.extra)
    if kind == "defaults":
        if words[:1] == ["timeout"] and len(words) > 1 and words[1] in (
                "connect", "client", "server", "queue", "http-request"):
            return f"defaults.timeouts.{words[1].replace('-', '_')}"
        return extra("defaults", spec.defaults.extra)
    if kind == "peers" and name == PEERS_SECTION:
        return "global.peers_port"
    if kind == "frontend" and name == PROMETHEUS_FRONTEND:
        return "global.prometheus_exporter"
    for i, fe in enumerate(spec.frontends if kind == "frontend" else []):
        if fe.name == name:
            if here in fe.extra:
                return extra(f"frontends[{i}]", fe.extra)
            key = {"bind": "bind", "maxconn": "maxconn", "monitor-uri": "monitor_uri",
                   "default_backend": "default_backend", "use_backend": "routes"}
            sub = key.get(words[0]) if words else None
            return f"frontends[{i}].{sub}" if sub else f"frontends[{i}]"
    for i, be in enumerate(spec.backends if kind == "backend" else []):
        if be.name == name:
            if here in be.extra:
                return extra(f"backends[{i}]", be.extra)
            if words[:1] == ["server"] and len(words) > 1:
                for j, s in enumerate(be.servers):
                    if s.name == words[1]:
                        return f"backends[{i}].servers[{j}]"
            if words and words[0] in ("option", "http-check"):
                return f"backends[{i}].health_check"
            return f"backends[{i}]"
    for i, section in enumerate(spec.sections):
        if section.kind == kind and (section.name or "") == name:
            return extra(f"sections[{i}]", section.lines, "lines")
    return None
