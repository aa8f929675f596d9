"""The desired state of one HAProxy, as pydantic v2 models, and its validation.

A spec is YAML or JSON (see ``haproxy/specs/default.yaml``)::

    global:    {maxconn: 4096, hard_stop_after: 30s, peers_port: 9901,
                prometheus_exporter: {bind: "127.0.0.1:8405", path: /metrics}}
    defaults:  {timeouts: {connect: 5s, client: 30s, server: 30s, queue: 30s,
                           http_request: 10s}, retries: 3}
    frontends: [{name, bind: ["127.0.0.1:11223"], maxconn, monitor_uri, default_backend,
                 routes: [{path_prefix, backend}],
                 clients: [{name, path_prefix, rate, burst, mode: smooth|reject}]}]
    backends:  [{name, balance, health_check: {method, path, expect_status, inter, rise, fall},
                 servers: [{name, address, port, weight, maxconn, backup, state, check}]}]

Every string that reaches ``haproxy.cfg`` is checked against an allowlist (DESIGN.md, "Safety
rules"); nothing is ever escaped. Durations accept HAProxy time strings (``500ms``, ``5s``,
``1m``; configuration.txt §2.5) or plain integers in milliseconds, and are normalised to
integer milliseconds. Every error names the field path, e.g.
``frontends[0].clients[1].path_prefix``; :func:`load_spec` raises :class:`SpecError`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
)

from lbctl.errors import FieldError, SpecError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")
PATH_PREFIX_RE = re.compile(r"^/[A-Za-z0-9._~/-]{0,255}$")
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
#: Names starting with this prefix are reserved for the sections lbctl adds itself.
RESERVED_PREFIX = "lbctl"
#: Substrings that must never reach a rendered config, with the reason given in errors.
_FORBIDDEN = (
    ("\n", "a newline"),
    ("\r", "a carriage return"),
    ("#", "'#'"),
    ('"', "a double quote"),
    ("'", "a single quote"),
    ("\\", "a backslash"),
    ("%[", "'%['"),
    ("${", "'${'"),
    (" ", "a space"),
    ("\t", "a tab"),
)
_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_RE = re.compile(r"^(\d+)(us|ms|s|m|h|d)?$")


def _no_forbidden(value: str) -> str:
    """Reject characters that could break out of a config token (never escape them)."""
    for needle, what in _FORBIDDEN:
        if needle in value:
            raise ValueError(f"must not contain {what}")
    if value.startswith("-"):
        raise ValueError("must not start with '-'")
    return value


def _name(value: str) -> str:
    _no_forbidden(value)
    if not NAME_RE.match(value):
        raise ValueError(
            "must be 1-63 characters of letters, digits, '_', '.', ':' or '-', "
            "starting with a letter or digit"
        )
    if value.lower().startswith(RESERVED_PREFIX):
        raise ValueError(f"names starting with {RESERVED_PREFIX!r} are reserved for lbctl")
    return value


def _path_prefix(value: str) -> str:
    _no_forbidden(value)
    if not PATH_PREFIX_RE.match(value):
        raise ValueError(
            "must start with '/' and contain only letters, digits and '.', '_', '~', '/', '-'"
        )
    if "//" in value:
        raise ValueError("must not contain '//'")
    return value


def _host(value: str) -> str:
    _no_forbidden(value)
    if "@" in value or "$" in value:
        raise ValueError("must be an IP address or a host name")
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not HOSTNAME_RE.match(value) or value.replace(".", "").isdigit():
        raise ValueError("must be an IP address or an RFC 1123 host name")
    return value


def parse_duration_ms(value: Any) -> int:
    """Normalise a HAProxy time value to integer milliseconds.

    Accepts an int (milliseconds) or a string ``<digits>[us|ms|s|m|h|d]`` (no unit means
    milliseconds, as in configuration.txt §2.5). Raises ``ValueError`` otherwise.
    """
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 500ms, 5s or 1m")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return value
    if isinstance(value, str):
        m = _DURATION_RE.match(value.strip())
        if m:
            return round(int(m.group(1)) * _UNITS_MS[m.group(2) or "ms"])
    raise ValueError("must be a duration such as 500ms, 5s or 1m (or milliseconds as an int)")


def format_duration(ms: int) -> str:
    """Render milliseconds as the shortest exact HAProxy time string (``30000`` → ``30s``)."""
    for unit, factor in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % factor == 0:
            return f"{ms // factor}{unit}"
    return f"{ms}ms"


Name = Annotated[str, AfterValidator(_name)]
PathPrefix = Annotated[str, AfterValidator(_path_prefix)]
Host = Annotated[str, AfterValidator(_host)]
Port = Annotated[int, Field(ge=1, le=65535)]
DurationMs = Annotated[int, BeforeValidator(parse_duration_ms)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Bind(_Model):
    """A listening address: ``address`` (IP literal, host name, or ``*`` for all IPv4) and
    ``port``. Written in specs as the string ``"127.0.0.1:80"``, ``"[::1]:80"`` or ``"*:80"``
    (configuration.txt §4.2 "bind")."""

    address: str
    port: Port

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Turn ``"host:port"`` into ``{"address": ..., "port": ...}``; pass dicts through."""
        if not isinstance(value, str):
            return value
        _no_forbidden(value)
        if value.startswith("["):
            host, sep, port = value[1:].partition("]:")
            if not sep:
                raise ValueError("must be '[IPv6]:port'")
        else:
            host, sep, port = value.rpartition(":")
            if not sep:
                raise ValueError("must be 'address:port', e.g. 127.0.0.1:8080")
        if not port.isdigit():
            raise ValueError(f"port {port!r} is not a number")
        return {"address": host or "*", "port": int(port)}

    def model_post_init(self, context: Any, /) -> None:
        if self.address != "*":
            _host(self.address)

    def __str__(self) -> str:
        if self.address == "*":
            return f"*:{self.port}"
        if ":" in self.address:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"

    def haproxy(self) -> str:
        """The ``bind`` argument: IPv6 addresses unbracketed, as HAProxy expects (``::1:80``)."""
        return f"{self.address}:{self.port}"


BindSpec = Annotated[Bind, BeforeValidator(Bind.parse), PlainSerializer(str, return_type=str)]


class Timeouts(_Model):
    """``timeout`` directives of ``defaults``, in milliseconds (configuration.txt §4.2)."""

    connect: DurationMs = 5_000
    client: DurationMs = 30_000
    server: DurationMs = 30_000
    queue: DurationMs = 30_000
    http_request: DurationMs = 10_000


class Defaults(_Model):
    """The ``defaults`` section: timeouts and ``retries``."""

    timeouts: Timeouts = Timeouts()
    retries: int = Field(default=3, ge=0, le=100)


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

    maxconn: int = Field(default=4096, ge=1, le=10_000_000)
    hard_stop_after: DurationMs = 30_000
    peers_port: Port = 9901
    prometheus_exporter: PrometheusExporter | None = None


class Route(_Model):
    """``use_backend <backend>`` for requests whose path starts with ``path_prefix``."""

    path_prefix: PathPrefix
    backend: Name


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


class Frontend(_Model):
    """A ``frontend`` section: where clients connect and how requests are routed."""

    name: Name
    bind: list[BindSpec] = Field(min_length=1)
    maxconn: int | None = Field(default=None, ge=1, le=10_000_000)
    monitor_uri: PathPrefix | None = None
    default_backend: Name | None = None
    routes: list[Route] = []
    clients: list[Client] = []


class HealthCheck(_Model):
    """An HTTP health check (``option httpchk`` / ``http-check``; configuration.txt §4.2).

    ``inter`` is in milliseconds; ``rise``/``fall`` count consecutive checks; with
    ``expect_status`` unset any 2xx or 3xx passes.
    """

    method: Literal["HEAD", "GET", "OPTIONS"] = "HEAD"
    path: PathPrefix = "/"
    expect_status: int | None = Field(default=None, ge=100, le=599)
    inter: DurationMs = 2_000
    rise: int = Field(default=2, ge=1, le=100)
    fall: int = Field(default=3, ge=1, le=100)


class Server(_Model):
    """A ``server`` line. ``weight`` 0–256; ``state`` ready | drain | maint."""

    name: Name
    address: Host
    port: Port
    weight: int = Field(default=1, ge=0, le=256)
    maxconn: int | None = Field(default=None, ge=1, le=10_000_000)
    backup: bool = False
    state: Literal["ready", "drain", "maint"] = "ready"
    check: bool = True


class Backend(_Model):
    """A ``backend`` section: a balance algorithm, an optional health check, servers."""

    name: Name
    balance: Literal["roundrobin", "static-rr", "leastconn", "first", "source", "uri"] = (
        "roundrobin"
    )
    health_check: HealthCheck | None = None
    servers: list[Server] = []


class Spec(_Model):
    """The whole desired state of one HAProxy."""

    global_: GlobalSettings = Field(default=GlobalSettings(), alias="global")
    defaults: Defaults = Defaults()
    frontends: list[Frontend] = []
    backends: list[Backend] = []

    def to_data(self) -> dict[str, Any]:
        """JSON-ready dict with aliases (``global``) and durations in milliseconds."""
        return self.model_dump(mode="json", by_alias=True)

    def backend(self, name: str) -> Backend | None:
        """The backend called ``name``, or ``None``."""
        return next((b for b in self.backends if b.name == name), None)


def format_loc(loc: tuple[int | str, ...]) -> str:
    """``("frontends", 0, "clients", 1, "path_prefix")`` → ``frontends[0].clients[1].path_prefix``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + ("global" if part == "global_" else str(part))
    return out


def _pydantic_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors():
        # Drop the function-validator and union tags pydantic appends to a location.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        errors.append(FieldError(format_loc(loc), msg))
    return errors


def _cross_field_errors(spec: Spec) -> list[FieldError]:
    errors: list[FieldError] = []

    def unique(items: list[Any], attr: str, where: str, what: str) -> None:
        seen: dict[Any, int] = {}
        for i, item in enumerate(items):
            key = getattr(item, attr)
            if key in seen:
                errors.append(
                    FieldError(
                        f"{where}[{i}].{attr}",
                        f"duplicate {what} {key!r} (also at {where}[{seen[key]}])",
                    )
                )
            else:
                seen[key] = i

    seen_section: dict[str, str] = {}
    named = [("frontends", [f.name for f in spec.frontends]),
             ("backends", [b.name for b in spec.backends])]
    for kind, names in named:
        for i, name in enumerate(names):
            if name in seen_section:
                errors.append(FieldError(
                    f"{kind}[{i}].name", f"duplicate name {name!r} (also {seen_section[name]})"))
            else:
                seen_section[name] = f"{kind}[{i}]"
    backends = {b.name for b in spec.backends}
    binds: dict[str, str] = {}
    for fi, fe in enumerate(spec.frontends):
        where = f"frontends[{fi}]"
        if fe.default_backend is not None and fe.default_backend not in backends:
            errors.append(
                FieldError(f"{where}.default_backend", f"no backend named {fe.default_backend!r}")
            )
        for ri, route in enumerate(fe.routes):
            if route.backend not in backends:
                errors.append(
                    FieldError(f"{where}.routes[{ri}].backend", f"no backend named {route.backend!r}")
                )
        unique(fe.routes, "path_prefix", f"{where}.routes", "path prefix")
        unique(fe.clients, "name", f"{where}.clients", "client name")
        unique(fe.clients, "path_prefix", f"{where}.clients", "path prefix")
        for bi, bind in enumerate(fe.bind):
            key = str(bind)
            if key in binds:
                errors.append(FieldError(f"{where}.bind[{bi}]", f"{key} is already bound by {binds[key]}"))
            binds[key] = f"{where}.bind[{bi}]"
        if fe.default_backend is None and not fe.routes and not fe.monitor_uri:
            errors.append(
                FieldError(f"{where}.default_backend", "a frontend needs a default_backend or routes")
            )
        for ci, client in enumerate(fe.clients):
            if client.mode == "smooth":
                wait_ms = client.burst * 1000 // client.rate
                limit = spec.defaults.timeouts.client
                if wait_ms >= limit:
                    errors.append(
                        FieldError(
                            f"{where}.clients[{ci}].burst",
                            f"burst/rate makes requests wait up to {wait_ms} ms, which must stay "
                            f"below defaults.timeouts.client ({limit} ms)",
                        )
                    )
    exporter = spec.global_.prometheus_exporter
    if exporter is not None:
        key = str(exporter.bind)
        where = "global.prometheus_exporter.bind"
        if key in binds:
            errors.append(FieldError(where, f"{key} is already bound by {binds[key]}"))
        elif exporter.bind.port == spec.global_.peers_port:
            errors.append(FieldError(where, f"port {exporter.bind.port} is global.peers_port"))
    for bi, be in enumerate(spec.backends):
        unique(be.servers, "name", f"backends[{bi}].servers", "server name")
    return errors


def validate_spec(data: Any) -> Spec:
    """Validate a parsed spec document (a dict) and return the :class:`Spec`.

    Raises :class:`SpecError` listing every bad field: allowlists, types, ranges, then the
    cross-field rules (referenced backends exist, names unique, prefixes unique per frontend,
    binds unique, smooth waits within the client timeouts).
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError([FieldError("", "the spec must be a mapping (YAML or JSON object)")])
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_pydantic_errors(exc)) from None
    errors = _cross_field_errors(spec)
    if errors:
        raise SpecError(errors)
    return spec


def parse_spec_text(text: str, *, source: str = "<spec>") -> Spec:
    """Parse YAML or JSON text (JSON is YAML) into a validated :class:`Spec`.

    Raises :class:`SpecError` for unreadable text (with line and column) or invalid fields.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([FieldError("", f"{source}: not valid YAML/JSON{where}: {problem}")]) from None
    return validate_spec(data)


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file (YAML or JSON). Raises :class:`SpecError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([FieldError("", f"cannot read {p}: {exc.strerror}")]) from None
    return parse_spec_text(text, source=str(p))


def dump_spec(spec: Spec, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """Serialise a spec as YAML (block style, field order kept) or indented JSON."""
    data = spec.to_data()
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec document, from the pydantic models."""
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "lbctl spec"
    return schema
