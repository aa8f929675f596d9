"""The documents of the ping operations (:mod:`lbctl.control.ping`): request bodies and the
answer, as pydantic models shared by the agent (its OpenAPI contract) and the clients.

``address`` and ``path`` go through the spec's own validators (:data:`lbctl.spec.types.Host`,
:data:`lbctl.spec.types.PathPrefix`), so a value a spec would refuse is refused here with the
same message (422, ``body.address`` / ``body.path``); their patterns are published in the
schema. Times: ``*_s`` seconds, ``*_ms`` milliseconds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from lbctl.spec.types import HOSTNAME_RE, PATH_PREFIX_RE, Host, PathPrefix, Port

__all__ = ["AddressPing", "PingFailure", "PingOutcome", "ServerPing"]

_METHOD = "HEAD (the default, as health checks), GET (at most 64 KiB of the body is read) or OPTIONS"
_TIMEOUT = "Deadline of the whole ping (DNS, connect, TLS, answer), in seconds"
_PATH_SCHEMA: JsonDict = {"pattern": PATH_PREFIX_RE.pattern, "maxLength": 256}
_HOST_SCHEMA: JsonDict = {"pattern": "^[A-Za-z0-9.:-]{1,253}$",
                "description": "An IP address (private ranges too) or an RFC 1123 host name "
                               f"(as a server's address in the spec: {HOSTNAME_RE.pattern})"}


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerPing(_Doc):
    """The body of ``POST /api/v1/backends/{backend}/servers/{server}/ping`` (optional: every
    member has a default). ``path`` defaults to the backend's health-check path, else ``/``.
    ``tls`` is ``inherit``: the server's own TLS settings; servers have none in the spec
    yet, so today that is plain HTTP."""

    method: Literal["HEAD", "GET", "OPTIONS"] = Field(default="HEAD", description=_METHOD)
    path: PathPrefix | None = Field(default=None, json_schema_extra=_PATH_SCHEMA,
                                    description="Default: the backend's health-check path, "
                                                "else /")
    timeout_s: float = Field(default=2.0, gt=0, le=10, description=_TIMEOUT)
    tls: Literal["inherit"] = Field(default="inherit", description="The server's TLS settings "
                                    "(none in the spec yet: plain HTTP)")


class AddressPing(_Doc):
    """The body of ``POST /api/v1/ping``: a server not (yet) in the spec. ``tls`` true
    verifies the certificate against the agent host's system CA bundle, SNI the address."""

    address: Host = Field(json_schema_extra=_HOST_SCHEMA)
    port: Port
    method: Literal["HEAD", "GET", "OPTIONS"] = Field(default="HEAD", description=_METHOD)
    path: PathPrefix = Field(default="/", json_schema_extra=_PATH_SCHEMA)
    timeout_s: float = Field(default=2.0, gt=0, le=10, description=_TIMEOUT)
    tls: bool = False


class PingFailure(_Doc):
    """Where a ping failed and why."""

    phase: Literal["dns", "connect", "tls", "request", "response", "body"]
    kind: Literal["dns", "refused", "timeout", "tls", "unreachable", "reset", "protocol",
                  "error"]
    message: str


class PingOutcome(_Doc):
    """One ping from the agent's host. ``ok``: an answer with a 2xx or 3xx status.
    ``resolved``: the IP address connected to. ``resolve_ms`` (DNS), ``connect_ms`` (TCP),
    ``tls_ms`` (handshake), ``ttfb_ms`` (request sent → status line and headers read) are
    ``null`` for a phase not reached; ``total_ms`` is the whole ping. ``error`` (``null``
    when an answer came, whatever its status) says in which phase it failed and how."""

    ok: bool
    backend: str | None
    server: str | None
    method: str
    url: str
    address: str
    port: int
    resolved: str | None
    tls: bool
    timeout_s: float
    status: int | None
    http_version: str | None
    resolve_ms: float | None
    connect_ms: float | None
    tls_ms: float | None
    ttfb_ms: float | None
    total_ms: float
    body_bytes: int
    error: PingFailure | None
