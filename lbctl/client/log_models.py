"""The documents of ``GET /api/v1/logs`` and ``GET /api/v1/logs/stream``: HAProxy's log lines
as the agent collected them (:mod:`lbctl.haproxy.logs`), shared by the agent (its OpenAPI
contract) and the clients.

Times: ``received`` epoch seconds; ``*_ms`` milliseconds (``-1``: the phase did not happen).
Field meanings follow HAProxy's HTTP log format (configuration.txt §8.2.3, §8.4, §8.5).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HttpLogLine", "LogLine", "LogLines"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpLogLine(_Doc):
    """One ``option httplog`` line, parsed. ``tr_ms`` is ``TR`` (``Tq`` before HAProxy 1.9),
    ``ta_ms`` is ``Ta`` (``Tt`` before 1.9); ``bytes_read``: bytes sent to the client;
    ``termination``: the four-character termination state (``----``: a normal end)."""

    client_ip: str
    client_port: int
    accept_date: str = Field(description="HAProxy's accept date, dd/Mmm/yyyy:hh:mm:ss.mmm")
    frontend: str
    tls: bool = Field(description="The frontend connection was TLS (`~` after its name)")
    backend: str
    server: str = Field(description="`<NOSRV>` when no server was chosen (a 429, a deny)")
    tr_ms: int = Field(description="TR: time to receive the request headers")
    tw_ms: int = Field(description="Tw: time waiting in queues")
    tc_ms: int = Field(description="Tc: time to connect to the server")
    tresp_ms: int = Field(description="Tr: time for the server's response headers")
    ta_ms: int = Field(description="Ta: the whole request, accept to last byte")
    status: int = Field(description="HTTP status sent to the client (-1: none)")
    bytes_read: int
    termination: str
    actconn: int
    feconn: int
    beconn: int
    srv_conn: int
    retries: int
    srv_queue: int
    backend_queue: int
    request: str | None = Field(description="The request line, as HAProxy logged it")


class LogLine(_Doc):
    """One datagram HAProxy sent: ``seq`` increases by one per line the agent received (since
    its start), ``facility``/``severity``/``pid`` from the syslog header (``null`` without
    one), ``message`` after that header, ``http`` the parsed HTTP log line or ``null`` (any
    other line: start-up, health checks, TCP logs, unparsable input), ``raw`` the line."""

    seq: int
    received: float = Field(description="When the agent received it, epoch seconds")
    facility: str | None
    severity: str | None
    pid: int | None
    message: str
    http: HttpLogLine | None
    raw: str


class LogLines(_Doc):
    """The answer of ``GET /api/v1/logs``: the matching lines, oldest first; ``last_seq``
    the newest line's ``seq`` the agent holds (a follower asks ``after_seq`` of it next);
    ``capacity`` how many lines the agent keeps; ``collecting`` false (with
    ``unavailable`` saying why) when its log socket is not open."""

    lines: list[LogLine]
    last_seq: int
    capacity: int
    collecting: bool
    unavailable: str | None
