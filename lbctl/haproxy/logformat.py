"""One HAProxy log datagram → a typed :class:`LogRecord`.

HAProxy sends each log line as one syslog datagram (RFC 3164 header: ``<PRI>Mmm dd hh:mm:ss
[host ]haproxy[pid]: message``; configuration.txt 1.5 §3.1 "log", §8.1). With ``option
httplog`` (§8.2.3, the same layout from 1.5 to 3.x) the message is::

    127.0.0.1:40128 [02/Dec/2026:01:20:00.123] front_http_plain bck_http_plain/server1
    0/0/1/2/3 200 130 - - ---- 1/1/0/0/0 0/0 "GET /client1/x HTTP/1.1"

client ``ip:port``, accept date, frontend (``~`` after it: over TLS), ``backend/server``, the
timers in milliseconds ``TR/Tw/Tc/Tr/Ta`` (1.9+; before 1.9 the same places are
``Tq/Tw/Tc/Tr/Tt``: ``Tq`` maps to ``tr_ms``, ``Tt`` to ``ta_ms``; §8.4), the status, the bytes
read (``+`` before them with ``option logasap``), the captured request and response cookies,
the four-character termination state (§8.5), ``actconn/feconn/beconn/srv_conn/retries``,
``srv_queue/backend_queue``, optional captured headers (``{...}``), then the request line in
quotes. A timer is ``-1`` when its phase did not happen (no server connection, an aborted
request); the status is ``-1`` when no response was sent.

Anything else (start-up and health-check messages, TCP logs, a custom ``log-format``, garbage)
becomes a record with ``http`` ``None`` and the line kept raw: nothing is dropped.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["MAX_KEPT", "HttpLog", "LogRecord", "parse_datagram"]

#: Characters of a line kept (HAProxy's default line length is 1024, configuration.txt §3.1
#: "log ... len"); a longer datagram is cut here, so each record's size is bounded.
MAX_KEPT = 4096

#: RFC 3164 header as HAProxy writes it; the host name is there only with
#: ``log-send-hostname`` (configuration.txt §3.1).
_SYSLOG = re.compile(
    r"^<(?P<pri>\d{1,3})>(?:1 )?(?P<stamp>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\S+) "
    r"(?:(?P<host>\S+) )?(?P<tag>[^\s\[]+)\[(?P<pid>\d+)\]: ?(?P<message>.*)$", re.S)

_HTTP = re.compile(
    r"^(?P<client_ip>\S+):(?P<client_port>\d+) \[(?P<accept_date>[^\]]+)\] "
    r"(?P<frontend>[^\s~]+)(?P<tls>~)? (?P<backend>[^/\s]+)/(?P<server>\S+) "
    r"(?P<tr>-?\d+)/(?P<tw>-?\d+)/(?P<tc>-?\d+)/(?P<tresp>-?\d+)/\+?(?P<ta>-?\d+) "
    r"(?P<status>-?\d+) \+?(?P<bytes>\d+) \S+ \S+ (?P<termination>\S{4}) "
    r"(?P<actconn>\d+)/(?P<feconn>\d+)/(?P<beconn>\d+)/(?P<srv_conn>\d+)/\+?(?P<retries>\d+) "
    r"(?P<srv_queue>\d+)/(?P<backend_queue>\d+)"
    r"(?: \{[^}]*\}){0,2}(?: \"(?P<request>[^\"]*)\"?)?\s*$")

_FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
               "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1",
               "local2", "local3", "local4", "local5", "local6", "local7")
_SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")


@dataclass(frozen=True)
class HttpLog:
    """The fields of one ``option httplog`` line (configuration.txt §8.2.3). Timers are
    milliseconds, ``-1`` when the phase did not happen: ``tr_ms`` receiving the request
    headers (``TR``; ``Tq`` before 1.9), ``tw_ms`` waiting in queues, ``tc_ms`` connecting to
    the server, ``tresp_ms`` the server's response headers (``Tr``), ``ta_ms`` the whole
    request (``Ta``; ``Tt`` before 1.9). ``bytes_read``: bytes sent to the client.
    ``termination``: the four-character state (§8.5, ``----`` for a normal end)."""

    client_ip: str
    client_port: int
    accept_date: str
    frontend: str
    tls: bool
    backend: str
    server: str
    tr_ms: int
    tw_ms: int
    tc_ms: int
    tresp_ms: int
    ta_ms: int
    status: int
    bytes_read: int
    termination: str
    actconn: int
    feconn: int
    beconn: int
    srv_conn: int
    retries: int
    srv_queue: int
    backend_queue: int
    request: str | None


@dataclass(frozen=True)
class LogRecord:
    """One datagram as received: ``seq`` (1, 2, ... per collector), ``received`` (epoch
    seconds), the syslog ``facility``/``severity``/``pid`` (``None`` without a syslog
    header), ``message`` (after the header; the whole line without one), ``http`` (parsed
    :class:`HttpLog`, or ``None``) and ``raw`` (the datagram, decoded as UTF-8 with
    replacement characters, trailing newline dropped, at most :data:`MAX_KEPT` characters)."""

    seq: int
    received: float
    facility: str | None
    severity: str | None
    pid: int | None
    message: str
    http: HttpLog | None
    raw: str

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready values (``http`` a dict or ``None``)."""
        return asdict(self)


def _http(message: str) -> HttpLog | None:
    m = _HTTP.match(message)
    if m is None:
        return None
    g = m.groupdict()
    ints = {k: int(g[k]) for k in ("client_port", "tr", "tw", "tc", "tresp", "ta", "status",
                                   "bytes", "actconn", "feconn", "beconn", "srv_conn",
                                   "retries", "srv_queue", "backend_queue")}
    return HttpLog(
        client_ip=g["client_ip"], client_port=ints["client_port"],
        accept_date=g["accept_date"], frontend=g["frontend"], tls=g["tls"] is not None,
        backend=g["backend"], server=g["server"], tr_ms=ints["tr"], tw_ms=ints["tw"],
        tc_ms=ints["tc"], tresp_ms=ints["tresp"], ta_ms=ints["ta"], status=ints["status"],
        bytes_read=ints["bytes"], termination=g["termination"], actconn=ints["actconn"],
        feconn=ints["feconn"], beconn=ints["beconn"], srv_conn=ints["srv_conn"],
        retries=ints["retries"], srv_queue=ints["srv_queue"],
        backend_queue=ints["backend_queue"], request=g["request"])


def parse_datagram(data: bytes, *, seq: int, received: float) -> LogRecord:
    """Parse one datagram (any bytes: never raises). A line without a syslog header keeps
    ``facility``, ``severity`` and ``pid`` ``None``; one whose message is not an HTTP log
    line has ``http`` ``None``."""
    raw = data[:MAX_KEPT * 4].decode("utf-8", "replace")[:MAX_KEPT].rstrip("\r\n\x00")
    m = _SYSLOG.match(raw)
    if m is None:
        return LogRecord(seq, received, None, None, None, raw, _http(raw), raw)
    pri = int(m.group("pri"))
    facility = _FACILITIES[pri >> 3] if pri >> 3 < len(_FACILITIES) else None
    message = m.group("message")
    return LogRecord(seq, received, facility, _SEVERITIES[pri & 7], int(m.group("pid")),
                     message, _http(message), raw)
