"""The desired state of one HAProxy, as pydantic v2 models, and its validation.

A spec is YAML or JSON (see ``haproxy/specs/default.yaml``)::

    global:    {maxconn: 4096, hard_stop_after: 30s, peers_port: 9901,
                prometheus_exporter: {bind: "127.0.0.1:8405", path: /metrics}, extra: [...]}
    defaults:  {name, mode: http, timeouts: {connect: 5s, client: 30s, server: 30s,
                queue: 30s, http_request: 10s}, retries: 3, extra: [...]}
               (or a list of such sections: several, named or not; see Spec.defaults)
    frontends: [{name, from, mode, timeouts, options, bind: ["127.0.0.1:11223"], maxconn,
                 monitor_uri, default_backend,
                 routes: [{path_prefix, backend}],
                 clients: [{name, path_prefix, rate, burst, mode: smooth|reject}], extra}]
    backends:  [{name, from, balance, health_check: {method, path, expect_status, inter, rise,
                 fall}, servers: [{name, address, port, weight, maxconn, backup, state, check,
                 comment}], extra}]
    listens:   [{name, from, bind, maxconn, mode, balance, timeouts, options, health_check,
                 default_server, servers, extra}]
    sections:  [{kind: listen|userlist|peers|cache|..., name, from, lines: [...],
                 before: [".if defined(X)"], after: [".endif"]}]
    order:     ["backend app", "frontend www", "listen stats"]   (optional: the section order)
    comment:   ["# lines at the top of the file"]

Every section (and every server) also takes ``comment``: full-line comments written right
above it. A field set to ``null`` where the type allows it (``global.maxconn``,
``defaults.mode``, a timeout, ``retries``, ``balance``) writes no line at all: HAProxy's own
default applies (what ``lbctl import`` gives for a directive a config does not have).

Every string of a typed field that reaches ``haproxy.cfg`` is checked against an allowlist
(DESIGN.md, "Safety rules"); nothing is ever escaped. ``extra`` lines, ``comment`` lines and
``sections`` are the verbatim exception, with their own checks (:mod:`lbctl.spec.lines`,
which reads them with :mod:`lbctl.config`'s line grammar) and admin-only in the agent.
Durations accept HAProxy time strings (``500ms``, ``5s``, ``1m``; configuration.txt §2.5)
or plain integers in milliseconds, and are normalised to integer milliseconds. Every error
names the field path, e.g. ``frontends[0].clients[1].path_prefix``; :func:`load_spec` raises
:class:`SpecError`.

Size: over 300 lines because the pydantic models of the spec are one document: each model
refers to the others, and the JSON Schema is generated from them together (TLS models and
checks live in :mod:`lbctl.spec.tls`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    WithJsonSchema,
)

from lbctl.spec.address import Address
from lbctl.spec.lines import GENERIC_KINDS
from lbctl.spec.servers import HealthCheck, Server
from lbctl.spec.tls import BindTLS, Hsts
from lbctl.spec.types import (
    DurationMs,
    Line,
    Name,
    PathPrefix,
    Port,
    Word,
    no_forbidden,
    no_items,
    valid_host,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _from_field() -> Any:
    return Field(default=None, alias="from",
                 description="the named defaults section this proxy takes its defaults from")


class Bind(_Model):
    """A listening address: ``address`` (IP literal, host name, or ``*`` for all IPv4; empty,
    the same written as HAProxy's ``:80``) and ``port``. Written in specs as the string
    ``"127.0.0.1:80"``, ``"[::1]:80"``, ``"*:80"`` or ``":80"`` (configuration.txt §4.2 "bind").
    A bind that terminates TLS is the mapping ``{address: "*:443", tls: {...}}``
    (:class:`lbctl.spec.tls.BindTLS`)."""

    address: str
    port: Port
    tls: BindTLS | None = None

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Turn ``"host:port"`` into ``{"address": ..., "port": ...}``, and
        ``{"address": "host:port", "tls": ...}`` into ``{"address", "port", "tls"}``; pass
        other dicts through."""
        if isinstance(value, dict) and "port" not in value and isinstance(value.get("address"), str):
            return {**cls.parse(value["address"]), **{k: v for k, v in value.items()
                                                        if k != "address"}}
        if not isinstance(value, str):
            return value
        no_forbidden(value)
        where = Address.parse(value)
        return {"address": where.host, "port": where.port}

    def model_post_init(self, context: Any, /) -> None:
        if self.address not in ("*", ""):
            valid_host(self.address)

    def __str__(self) -> str:
        return str(Address(self.address, self.port))

    def haproxy(self) -> str:
        """The ``bind`` argument: IPv6 addresses unbracketed, as HAProxy expects (``::1:80``)."""
        return Address(self.address, self.port).haproxy()


#: The JSON Schema of a bind: the ``"host:port"`` string specs and the API's answers carry
#: (one shape in, out and in the published schema).
BIND_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^(\*|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+|[0-9A-Fa-f:]+)?:[0-9]{1,5}$",
    "examples": ["127.0.0.1:11223", "[::1]:8080", "*:80", ":80"],
    "description": "host:port (an IP literal, a host name, or * or nothing for all IPv4 "
                   "addresses)",
}


def _bind_out(bind: Bind) -> str | dict[str, Any]:
    """A bind as specs carry it: ``"host:port"``, or ``{"address": "host:port", "tls"}``."""
    if bind.tls is None:
        return str(bind)
    return {"address": str(bind), "tls": bind.tls.model_dump(mode="json", exclude_defaults=True)}


#: A TLS bind: ``{"address": "host:port", "tls": {...}}``.
TLS_BIND_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["address", "tls"], "additionalProperties": False,
    "properties": {"address": BIND_SCHEMA, "tls": BindTLS.model_json_schema()},
}
BindSpec = Annotated[Bind, BeforeValidator(Bind.parse),
                     PlainSerializer(_bind_out, return_type=str | dict[str, Any]),
                     WithJsonSchema({"anyOf": [BIND_SCHEMA, TLS_BIND_SCHEMA]})]
#: A bind without TLS (a ``listen`` section's): the ``"host:port"`` string only.
PlainBindSpec = Annotated[Bind, BeforeValidator(Bind.parse),
                          PlainSerializer(_bind_out, return_type=str | dict[str, Any]),
                          WithJsonSchema(BIND_SCHEMA)]


class Timeouts(_Model):
    """``timeout`` directives of ``defaults``, in milliseconds (configuration.txt §4.2);
    ``null`` writes none (HAProxy's default: no timeout)."""

    connect: DurationMs | None = 5_000
    client: DurationMs | None = 30_000
    server: DurationMs | None = 30_000
    queue: DurationMs | None = 30_000
    http_request: DurationMs | None = 10_000

    def events(self) -> list[tuple[str, int | None]]:
        """``[(event, milliseconds or None)]`` in :data:`TIMEOUT_EVENTS` order: what
        ``templates/defaults.j2`` writes as ``timeout <event> <time>``."""
        return [(event, getattr(self, field)) for event, field in TIMEOUT_EVENTS.items()]


#: ``timeout <event>`` of ``defaults`` → its :class:`Timeouts` field, in the order lbctl writes
#: them (configuration.txt §4.2 "timeout connect" ... "timeout http-request").
TIMEOUT_EVENTS: dict[str, str] = {"connect": "connect", "client": "client", "server": "server",
                                  "queue": "queue", "http-request": "http_request"}


class Defaults(_Model):
    """The ``defaults`` section: its ``name`` (for ``from``), ``mode``, timeouts, ``retries``,
    and ``extra`` lines written after them. ``mode: null`` writes no ``mode`` line (HAProxy's
    default is ``tcp``); ``option idle-close-on-response`` is written with ``mode: http`` only."""

    name: Name | None = None
    comment: list[Line] = no_items()
    mode: Literal["http", "tcp"] | None = "http"
    timeouts: Timeouts = Timeouts()
    retries: int | None = Field(default=3, ge=0, le=100)
    extra: list[Line] = no_items()


class PrometheusExporter(_Model):
    """HAProxy's own Prometheus exporter, served by a dedicated frontend ``lbctl_prometheus``
    on ``bind`` at ``path`` (``http-request use-service prometheus-exporter``; HAProxy 2.0+
    built with ``+PROMEX``, addons/promex/README). It answers ``haproxy_*`` metrics without
    authentication: bind it to a loopback or otherwise private address."""

    bind: BindSpec
    path: PathPrefix = "/metrics"


class GlobalSettings(_Model):
    """The ``global`` section.

    ``maxconn`` is the process-wide connection limit; ``hard_stop_after`` (ms) bounds how long
    old workers may finish their connections after a reload; ``peers_port`` is the TCP port on
    127.0.0.1 of the local peer that carries stick tables across reloads (configuration.txt §3.5);
    ``prometheus_exporter`` (optional) turns on HAProxy's own exporter.

    ``hard_stop_after`` defaults to 30 s. Old workers usually leave within milliseconds of a
    reload (``option idle-close-on-response`` closes each kept-alive connection after its next
    response); a request still running when the timer fires is cut: HAProxy answers ``502`` to a
    client still waiting for its response (``tests/test_reload.py``). Keep it above the longest
    request or download that must survive a reload.
    """

    comment: list[Line] = no_items()
    maxconn: int | None = Field(default=4096, ge=1, le=10_000_000)
    hard_stop_after: DurationMs | None = 30_000
    peers_port: Port = 9901
    prometheus_exporter: PrometheusExporter | None = None
    extra: list[Line] = no_items()


class Route(_Model):
    """``use_backend <backend>`` for requests whose path starts with ``path_prefix``.

    How its lines are written (configuration.txt §7.1 "ACL basics", §4.2 "use_backend"):
    ``acl: null`` and ``inline: false`` (lbctl's own) use the ACL ``lbctl_route_<i>``;
    ``acl: <name>`` names the ACL as a config names it (``acl <name> path_beg /p/`` +
    ``use_backend <backend> if <name>``; for a prefix without a final ``/``, the two lines
    ``acl <name> path /p`` and ``acl <name> path_beg /p/``); ``inline: true`` writes the
    condition on the rule (``use_backend <backend> if { path_beg /p/ }``), for a prefix ending
    in ``/`` only (the same test as lbctl's ``path_beg`` ACL). Either way a frontend's routes
    are written longest prefix first."""

    path_prefix: PathPrefix
    backend: Name
    acl: Name | None = None
    inline: bool = False

    def model_post_init(self, context: Any, /) -> None:
        if self.inline and self.acl is not None:
            raise ValueError("a route is written with an ACL (acl) or inline, not both")
        if self.inline and not self.path_prefix.endswith("/"):
            raise ValueError("an inline route needs a path_prefix ending in '/' (path_beg)")


class Client(_Model):
    """A client app identified by its URL prefix, limited to ``rate`` requests/s.

    ``mode: smooth`` holds up to ``burst`` excess requests and releases them at ``rate``
    requests/s, answering 429 with ``Retry-After`` past that; ``mode: reject`` answers 429 at
    once when the client's rate over the last second exceeds ``rate``.
    """

    name: Name
    path_prefix: PathPrefix
    rate: int = Field(gt=0, le=100_000, description="requests per second")
    burst: int = Field(default=0, ge=0, le=100_000, description="excess requests that may wait")
    mode: Literal["smooth", "reject"] = "smooth"


#: The options without arguments a frontend may set with ``option <name>`` (configuration.txt
#: §4.2 "option ..."), each accepted by every target lbctl supports (HAProxy 1.5 to 3.3; 3.3
#: warns that ``accept-invalid-http-request`` is deprecated).
FrontendOption = Literal["accept-invalid-http-request", "clitcpka", "contstats", "dontlog-normal",
                         "dontlognull", "forwardfor", "http-keep-alive", "http-server-close",
                         "http-use-proxy-header", "httpclose", "httplog", "log-separate-errors",
                         "logasap", "nolinger", "socket-stats", "splice-auto", "splice-request",
                         "splice-response", "tcp-smart-accept", "tcplog"]


class FrontendTimeouts(_Model):
    """A frontend's own ``timeout`` lines, in milliseconds (configuration.txt §4.2 "timeout
    client" ... "timeout tarpit"); ``null`` writes none: the defaults section's applies."""

    client: DurationMs | None = None
    client_fin: DurationMs | None = None
    http_request: DurationMs | None = None
    http_keep_alive: DurationMs | None = None
    tarpit: DurationMs | None = None


#: ``timeout <event>`` of a frontend → its :class:`FrontendTimeouts` field, in the order
#: ``templates/frontend.j2`` writes them.
FRONTEND_TIMEOUTS: dict[str, str] = {"client": "client", "client-fin": "client_fin",
                                     "http-request": "http_request",
                                     "http-keep-alive": "http_keep_alive", "tarpit": "tarpit"}


class Frontend(_Model):
    """A ``frontend`` section: where clients connect and how requests are routed; ``extra``
    lines are written after lbctl's own (at least one ``bind``, in ``bind`` or ``extra``).

    ``mode`` (``null``: no ``mode`` line, the defaults' mode applies), ``timeouts``: its own
    ``timeout`` lines (:class:`FrontendTimeouts`) and ``options``: ``option <name>`` lines of
    options without arguments (:data:`FrontendOption`) are written right after the header, in
    that order (configuration.txt §4.2 "mode", "timeout", "option")."""

    name: Name
    from_: Name | None = _from_field()
    comment: list[Line] = no_items()
    mode: Literal["http", "tcp"] | None = None
    timeouts: FrontendTimeouts = FrontendTimeouts()
    options: list[FrontendOption] = no_items()
    bind: list[BindSpec] = no_items()
    maxconn: int | None = Field(default=None, ge=1, le=10_000_000)
    monitor_uri: PathPrefix | None = None
    default_backend: Name | None = None
    routes: list[Route] = no_items()
    clients: list[Client] = no_items()
    #: ``http-request redirect scheme https code <redirect_code> unless { ssl_fc }``
    #: (configuration.txt §4.2 "http-request redirect"): plain HTTP requests go to https.
    redirect_http_to_https: bool = False
    redirect_code: Literal[301, 302, 303, 307, 308] = 301
    hsts: Hsts | None = None
    extra: list[Line] = no_items()


#: The options without arguments a backend may set with ``option <name>`` (configuration.txt
#: §4.2 "option ..."), each valid on every target lbctl supports (HAProxy 1.5 and later).
BackendOption = Literal["abortonclose", "allbackups", "forwardfor", "http-keep-alive",
                        "http-server-close", "httpclose", "log-health-checks", "nolinger",
                        "persist", "prefer-last-server", "redispatch", "srvtcpka",
                        "tcp-smart-connect", "tcpka"]


class BackendTimeouts(_Model):
    """A backend's own ``timeout`` lines, in milliseconds (configuration.txt §4.2 "timeout
    connect" ... "timeout tunnel"); ``null`` writes none: the defaults section's applies."""

    connect: DurationMs | None = None
    server: DurationMs | None = None
    queue: DurationMs | None = None
    check: DurationMs | None = None
    tunnel: DurationMs | None = None


class Backend(_Model):
    """A ``backend`` section: its ``mode`` (``null``: no ``mode`` line, the defaults' mode
    applies), a balance algorithm (``null``: no ``balance`` line), an optional health check,
    ``timeouts``: its own ``timeout`` lines (:class:`BackendTimeouts`), ``options``: ``option
    <name>`` lines of options without arguments (:data:`BackendOption`), ``http_reuse``:
    ``http-reuse <mode>``, ``cookie``: the words of its ``cookie`` line (``SERVERID insert
    indirect nocache``; empty: no line),
    ``default_server``: the option words of a ``default-server`` line written before the
    servers (configuration.txt §4.2 "default-server"; empty: no line), servers
    (:class:`~lbctl.spec.servers.Server`), and ``extra`` lines written after them
    (configuration.txt §4.2 for each keyword)."""

    name: Name
    from_: Name | None = _from_field()
    comment: list[Line] = no_items()
    mode: Literal["http", "tcp"] | None = None
    balance: Literal["roundrobin", "static-rr", "leastconn", "first", "source", "uri"] | None = (
        "roundrobin"
    )
    timeouts: BackendTimeouts = BackendTimeouts()
    options: list[BackendOption] = no_items()
    http_reuse: Literal["never", "safe", "aggressive", "always"] | None = None
    cookie: list[Word] = no_items()
    health_check: HealthCheck | None = None
    default_server: list[Word] = no_items()
    servers: list[Server] = no_items()
    extra: list[Line] = no_items()


#: The options without arguments a ``listen`` section may set: a frontend's and a backend's.
ListenOption = Literal[FrontendOption, BackendOption]


class ListenTimeouts(_Model):
    """A ``listen`` section's own ``timeout`` lines, in milliseconds: a frontend's and a
    backend's (:class:`FrontendTimeouts`, :class:`BackendTimeouts`); ``null`` writes none."""

    connect: DurationMs | None = None
    client: DurationMs | None = None
    server: DurationMs | None = None
    queue: DurationMs | None = None
    check: DurationMs | None = None
    tunnel: DurationMs | None = None
    client_fin: DurationMs | None = None
    http_request: DurationMs | None = None
    http_keep_alive: DurationMs | None = None
    tarpit: DurationMs | None = None


#: ``timeout <event>`` of a ``listen`` section → its :class:`ListenTimeouts` field, in the
#: order ``templates/listen.j2`` writes them.
LISTEN_TIMEOUTS: dict[str, str] = {"connect": "connect", "client": "client", "server": "server",
                                   "queue": "queue", "check": "check", "tunnel": "tunnel",
                                   "client-fin": "client_fin", "http-request": "http_request",
                                   "http-keep-alive": "http_keep_alive", "tarpit": "tarpit"}


class Listen(_Model):
    """A ``listen`` section: a frontend and its backend in one proxy (configuration.txt §4).

    Its ``bind`` lines (plain ``host:port`` ones; no TLS here) and ``maxconn``, then the
    backend's fields (:class:`Backend`: ``mode``, ``balance``, ``timeouts`` — a frontend's and
    a backend's events, :class:`ListenTimeouts` —, ``options`` — :data:`ListenOption` —,
    ``http_reuse``, ``cookie``, the health check, ``default_server``, ``servers``), and
    ``extra`` lines written after them (``templates/listen.j2``). Every field is optional as
    in HAProxy: ``balance: null`` writes no ``balance`` line (HAProxy's roundrobin applies).
    Its servers are not the runtime operations' (those act on ``backends``)."""

    name: Name
    from_: Name | None = _from_field()
    comment: list[Line] = no_items()
    bind: list[PlainBindSpec] = no_items()
    maxconn: int | None = Field(default=None, ge=1, le=10_000_000)
    mode: Literal["http", "tcp"] | None = None
    balance: Literal["roundrobin", "static-rr", "leastconn", "first", "source", "uri"] | None = None
    timeouts: ListenTimeouts = ListenTimeouts()
    options: list[ListenOption] = no_items()
    http_reuse: Literal["never", "safe", "aggressive", "always"] | None = None
    cookie: list[Word] = no_items()
    health_check: HealthCheck | None = None
    default_server: list[Word] = no_items()
    servers: list[Server] = no_items()
    extra: list[Line] = no_items()


class ExtraSection(_Model):
    """A section of a kind the spec has no model for (``listen``, ``userlist``, ``peers``,
    ``resolvers``, ``cache``, ``http-errors``, ``ring`` ...), kept verbatim: the header
    ``<kind> [<name>] [from <defaults>]`` and its ``lines`` (checked as extra lines are).
    Admin-only, as every extra line. Written after ``defaults``, in list order.

    ``before`` and ``after``: the lines of a conditional block around whole sections
    (``.if <cond>``, ``.elif``, ``.else``, ``.endif``; configuration.txt §2.4), written at the
    start of a line right above the section's comment and header, and right after its last
    line; ``lbctl import`` keeps a block's lines with the sections it wraps (the ``.if`` with
    the first, the ``.endif`` with the last) and keeps their order in :attr:`Spec.order`."""

    kind: Literal[GENERIC_KINDS]  # type: ignore[valid-type]
    name: str | None = None
    from_: Name | None = _from_field()
    before: list[Line] = no_items()
    comment: list[Line] = no_items()
    lines: list[Line] = no_items()
    after: list[Line] = no_items()


#: A section of :attr:`Spec.order`: ``<kind> [<name>]``.
SectionRef = Annotated[str, Field(pattern=r"^[a-z][a-z-]{1,20}( [^\s#'\"\\]{1,128})?$")]


def _defaults_form(value: Any) -> str:
    return "[list]" if isinstance(value, list | tuple) else "[mapping]"


#: ``defaults``: one section (a mapping), or several (a list; HAProxy takes any number, each
#: applying to the proxies after it that name no ``from``, configuration.txt §4). The tags
#: hold ``[`` so an error's location drops them (:func:`lbctl.spec.checks.format_loc`).
DefaultsSections = Annotated[
    Annotated[Defaults, Tag("[mapping]")]
    | Annotated[list[Defaults], Tag("[list]"), Field(min_length=1, max_length=100)],
    Discriminator(_defaults_form),
]


class Spec(_Model):
    """The whole desired state of one HAProxy.

    ``defaults`` is one ``defaults`` section, or a list of them (named ones for ``from``,
    HAProxy 2.4+: :data:`lbctl.features.GATES`; anonymous ones on every version); they are
    written in list order, each where :attr:`order` names it (``defaults`` or
    ``defaults <name>``), else before every other section after ``global``."""

    comment: list[Line] = no_items()
    global_: GlobalSettings = Field(default=GlobalSettings(), alias="global")
    defaults: DefaultsSections = Defaults()
    frontends: list[Frontend] = no_items()
    backends: list[Backend] = no_items()
    #: ``listen`` sections (:class:`Listen`); one the spec cannot hold is a ``sections`` entry.
    listens: list[Listen] = no_items()
    sections: list[ExtraSection] = no_items()
    #: The order of the sections after ``global``, by ``<kind> <name>`` (``frontend www``,
    #: ``backend app``, ``listen stats``, ``defaults common``; a section without a name: its
    #: kind, once per such section). ``lbctl import`` keeps a file's order (proxies without an
    #: ``id`` are numbered in it); ``null``: lbctl's order (defaults, ``sections``,
    #: ``listens``, frontends, backends); defaults sections it does not name come first, other
    #: sections it does not name follow in lbctl's order, entries that name no section are
    #: ignored (:mod:`lbctl.render.order`).
    order: list[SectionRef] | None = None

    def to_data(self) -> dict[str, Any]:
        """JSON-ready dict with aliases (``global``, ``from``) and durations in milliseconds.

        The verbatim members left at their defaults (an empty ``comment``, ``extra`` or
        ``sections``, ``from`` and ``defaults.name`` unset) are left out, so a spec without
        them reads as it did before they existed."""
        data: dict[str, Any] = _compact(self.model_dump(mode="json", by_alias=True))
        return data

    def defaults_sections(self) -> list[Defaults]:
        """The ``defaults`` sections, in list order (one for the mapping form)."""
        return list(self.defaults) if isinstance(self.defaults, list) else [self.defaults]

    def defaults_loc(self, index: int) -> str:
        """The field path of the ``index``-th defaults section: ``defaults`` for the mapping
        form, else ``defaults[<index>]``."""
        return f"defaults[{index}]" if isinstance(self.defaults, list) else "defaults"

    def backend(self, name: str) -> Backend | None:
        """The backend called ``name``, or ``None``."""
        return next((b for b in self.backends if b.name == name), None)


_OMITTED_WHEN_EMPTY: dict[str, Any] = {"comment": [], "extra": [], "sections": [], "listens": [],
                                       "from": None, "name": None,
                                       "order": None,
                                       "tls": None, "hsts": None, "redirect_http_to_https": False,
                                       "redirect_code": 301}


#: Per model, more members left out at their defaults: a server's and a backend's options that
#: came later (a spec without them reads as before), a health check's ``type: http``.
_OMITTED_IN: dict[str, dict[str, Any]] = {
    "servers": {k: None for k in ("inter", "rise", "fall", "check_port", "check_addr", "cookie",
                                  "send_proxy", "resolvers", "init_addr", "on_marked_down",
                                  "slowstart", "order")},
    "sections": {"before": [], "after": []},
    "routes": {"acl": None, "inline": False},
    "listens": {"bind": [], "maxconn": None, "mode": None, "default_server": [], "options": [],
                "http_reuse": None, "cookie": [], "health_check": None, "servers": [],
                "timeouts": dict.fromkeys(LISTEN_TIMEOUTS.values())},
    "frontends": {"mode": None, "options": [],
                  "timeouts": dict.fromkeys(FRONTEND_TIMEOUTS.values())},
    "backends": {"mode": None, "default_server": [], "options": [], "http_reuse": None,
                 "cookie": [], "timeouts": dict.fromkeys(("connect", "server", "queue", "check",
                                                          "tunnel"))},
    "health_check": {"type": "http"},
}


#: What is left out of a dict found under each key: :data:`_OMITTED_WHEN_EMPTY` and the key's
#: own (:data:`_OMITTED_IN`), merged once (``to_data`` visits every dict of a large spec).
_DROPPED_UNDER: dict[str, dict[str, Any]] = {
    key: {**_OMITTED_WHEN_EMPTY, **own} for key, own in _OMITTED_IN.items()}


def _compact(data: dict[str, Any], drop: dict[str, Any] = _OMITTED_WHEN_EMPTY) -> dict[str, Any]:
    """``data`` (a ``model_dump(mode="json")``: plain dicts, lists and scalars) without the
    members ``drop`` gives (name → the value it is left out at), recursively: a dict or a list
    of dicts under key ``k`` drops :data:`_DROPPED_UNDER` ``[k]``, else
    :data:`_OMITTED_WHEN_EMPTY`. At 10,000 backends 0.14 s where one generic recursion merging
    the two per dict took 0.19–0.30 s (collector paused)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if k in drop and v == drop[k]:
            continue
        kind = type(v)
        if kind is dict:
            v = _compact(v, _DROPPED_UNDER.get(k, _OMITTED_WHEN_EMPTY))
        elif kind is list:
            v = _compact_list(v, _DROPPED_UNDER.get(k, _OMITTED_WHEN_EMPTY))
        out[k] = v
    return out


def _compact_list(items: list[Any], drop: dict[str, Any]) -> list[Any]:
    """:func:`_compact` of each dict (and list) of ``items``; scalars as they are."""
    return [_compact(v, drop) if type(v) is dict else _compact_list(v, drop) if type(v) is list
            else v for v in items]
