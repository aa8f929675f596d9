"""A backend's servers and health check, as spec models (configuration.txt §4.2 "server",
§5.2 "Server and default-server options", §4.2 "option httpchk").

A server line is ``server <name> <address>:<port>`` and options. HAProxy makes every option
optional, and so does the spec: a field left ``null`` (or ``false``) writes no word, and
HAProxy's own default applies (weight 1, no ``maxconn`` ...). ``weight`` stays 1 by default, so
a hand-written server is written ``weight 1`` as before; ``weight: null`` writes no weight word
(what ``lbctl import`` gives for a line without one; HAProxy's weight is then 1, or the one a
``default-server`` line gives). Options the spec has no field for are the server's ``extra``
words, written after its fields, verbatim (admin-only, as every verbatim line).

``order`` keeps the order a file wrote the options in (:data:`SERVER_KEYWORDS`, ``extra`` for
the extra words): ``lbctl import`` sets it so that rendering gives the same words back; without
it (a hand-written spec) lbctl writes its own order, the one of :data:`SERVER_KEYWORDS`; a set
option that ``order`` does not name follows in that order.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lbctl.spec.tls import ServerTLS
from lbctl.spec.types import (
    DurationMs,
    Host,
    Line,
    Name,
    PathPrefix,
    Port,
    TimeText,
    Word,
    no_items,
)

__all__ = ["SERVER_KEYWORDS", "HealthCheck", "Server", "ServerKeyword"]

#: The option keywords of a server line that are spec fields, in the order lbctl writes them,
#: and ``extra`` (the extra words): the values of :attr:`Server.order`. ``ssl`` is the TLS words
#: (:class:`~lbctl.spec.tls.ServerTLS`), ``send-proxy`` stands for ``send-proxy-v2`` too.
SERVER_KEYWORDS = ("weight", "maxconn", "backup", "ssl", "check", "inter", "rise", "fall",
                   "disabled", "port", "addr", "cookie", "send-proxy", "resolvers", "init-addr",
                   "on-marked-down", "slowstart", "extra")
ServerKeyword = Literal["weight", "maxconn", "backup", "ssl", "check", "inter", "rise", "fall",
                        "disabled", "port", "addr", "cookie", "send-proxy", "resolvers",
                        "init-addr", "on-marked-down", "slowstart", "extra"]

#: ``init-addr`` methods (configuration.txt §5.2 "init-addr"): ``last``, ``libc``, ``none`` or
#: an IP address, comma-separated.
_INIT_ADDR = r"^[A-Za-z0-9.:,]{1,128}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class HealthCheck(_Model):
    """A backend's health check (configuration.txt §4.2 "option httpchk", §5.2 "check").

    ``type: http`` (the default) writes ``option httpchk`` and ``http-check send`` / ``expect
    status``; ``type: tcp`` writes no check directive: a checked server is checked the way
    HAProxy checks by default, a TCP connect; ``type: custom`` writes none either: the
    backend's extra lines set the check (``option httpchk`` in a form lbctl does not write,
    ``tcp-check`` rules ...), what ``lbctl import`` gives for checked servers in such a
    backend. ``method``, ``path`` and ``expect_status`` apply to ``http`` only. ``inter``
    (ms), ``rise`` and ``fall`` (consecutive checks) are written on every checked server that
    sets none of its own;
    ``null`` writes none (HAProxy's defaults: 2 s, 2, 3). With ``expect_status`` unset any 2xx
    or 3xx passes.
    """

    type: Literal["http", "tcp", "custom"] = "http"
    method: Literal["HEAD", "GET", "OPTIONS"] = "HEAD"
    path: PathPrefix = "/"
    expect_status: int | None = Field(default=None, ge=100, le=599)
    inter: DurationMs | None = 2_000
    rise: int | None = Field(default=2, ge=1, le=100)
    fall: int | None = Field(default=3, ge=1, le=100)


class Server(_Model):
    """A ``server`` line (configuration.txt §5.2). ``weight`` 0–256 (``null``: no weight word,
    HAProxy's weight 1 applies); ``state`` ready | drain (written ``weight 0``) | maint (written
    ``disabled``); ``check``: checked when the backend has a health check; ``inter`` / ``rise``
    / ``fall``: this server's check timings (``null``: the health check's); ``check_port`` /
    ``check_addr``: where checks go (``port``, ``addr``); ``cookie``: its persistence cookie
    value; ``send_proxy``: the PROXY protocol version sent (``send-proxy``, ``send-proxy-v2``);
    ``resolvers``, ``init_addr``: DNS resolution; ``on_marked_down: shutdown-sessions``;
    ``slowstart``; ``extra``: the other option words, verbatim; ``order``: see the module
    docstring; ``comment``: comment lines written right above it. ``inter`` and ``slowstart``
    are HAProxy times kept as written (``2000``, ``2s``: :data:`~lbctl.spec.types.TimeText`),
    so an imported line comes back with its spelling."""

    name: Name
    address: Host
    port: Port
    weight: int | None = Field(default=1, ge=0, le=256)
    maxconn: int | None = Field(default=None, ge=1, le=10_000_000)
    backup: bool = False
    state: Literal["ready", "drain", "maint"] = "ready"
    check: bool = True
    tls: ServerTLS | None = None
    inter: TimeText | None = None
    rise: int | None = Field(default=None, ge=1, le=100)
    fall: int | None = Field(default=None, ge=1, le=100)
    check_port: Port | None = None
    check_addr: Host | None = None
    cookie: Name | None = None
    send_proxy: Literal["v1", "v2"] | None = None
    resolvers: Name | None = None
    init_addr: str | None = Field(default=None, pattern=_INIT_ADDR)
    on_marked_down: Literal["shutdown-sessions"] | None = None
    slowstart: TimeText | None = None
    extra: list[Word] = no_items()
    order: list[ServerKeyword] | None = None
    comment: list[Line] = no_items()

    @property
    def effective_weight(self) -> int:
        """The weight HAProxy gives the server when ready: ``weight``, or HAProxy's default 1
        when unset (configuration.txt §5.2 "weight")."""
        return 1 if self.weight is None else self.weight
