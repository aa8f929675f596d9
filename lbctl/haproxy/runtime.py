"""Runtime API client: HAProxy's stats socket (management.txt §9.3 "Unix Socket commands").

The stats socket is declared in the ``global`` section
(``stats socket <run dir>/haproxy.sock mode 600 level admin expose-fd listeners``,
configuration.txt §3.1). ``show stat`` columns are described in management.txt §9.1 "CSV
format"; ``set server`` / ``show table`` in §9.3.

Size: over 300 lines because the stats socket's commands (``show stat``, ``show table``,
server state, ``set ssl cert``) share one client, one lock, one deadline and their parsers,
and the health rows come both as dicts and as the API's JSON text (:func:`health_json`; at
50,000 servers :func:`stat_health_json`, straight from the answer's lines while they
arrive); the ``show stat`` CSV parsers are in :mod:`lbctl.haproxy.stat_csv`.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from lbctl.errors import CommandRefused, LbctlError, NotFound, RuntimeAPIError
from lbctl.haproxy.sockets import SocketClient, check_argument
from lbctl.haproxy.stat_csv import HEALTH_COLUMNS, parse_stat_csv, stat_fields
from lbctl.reserved import INTERNAL_PREFIX

__all__ = [
    "HEALTH_COLUMNS",
    "INTERNAL_PREFIX",
    "SERVER_HEALTH_KEYS",
    "BackendHealth",
    "HealthJSON",
    "RuntimeClient",
    "ServerHealth",
    "health_dicts",
    "health_json",
    "normalise_status",
    "parse_stat_csv",
    "parse_table_entries",
    "stat_fields",
    "stat_health_json",
]


SERVER_STATES = ("ready", "drain", "maint")
_STATUS_WORDS = ("UP", "DOWN", "MAINT", "DRAIN", "NOLB")
_TABLE_ENTRY_RE = re.compile(r"^0x[0-9a-fA-F]+:\s*(?P<rest>.*)$")


@functools.lru_cache(maxsize=1024)  # a few distinct texts, tens of thousands of rows
def normalise_status(raw: str) -> str:
    """Map a ``show stat`` status to ``UP|DOWN|MAINT|DRAIN|NOLB|no check``.

    ``"UP 1/3"`` (going down) → ``"UP"``, ``"DOWN 1/2"`` (going up) → ``"DOWN"``,
    ``"MAINT (via b/s)"`` → ``"MAINT"``; anything else is returned stripped (``OPEN``, ...).
    """
    text = raw.strip()
    if text.lower().startswith("no check"):
        return "no check"
    first = text.split(" ", 1)[0].upper()
    return first if first in _STATUS_WORDS else text


def _name(value: str) -> str:
    """A proxy, server or table name for a command: ``;``/newline and whitespace refused."""
    check_argument(value)
    if not value or any(ch.isspace() for ch in value):
        raise CommandRefused(f"runtime API name refused: empty or contains whitespace: {value!r}")
    return value


@functools.lru_cache(maxsize=4096)  # counters repeat across rows ("", "0", lastchg, ...)
def _int(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value)  # int() ignores surrounding whitespace; blank → ValueError → None
    except ValueError:
        return None


@dataclass(frozen=True)
class ServerHealth:
    """One server row of ``show stat``.

    ``status`` is normalised (see :func:`normalise_status`), ``status_raw`` is HAProxy's text;
    ``check_duration_ms`` in milliseconds, ``last_change_s`` in seconds since the last state
    change; ``request_rate`` in requests per second over the last second (``req_rate``, or the
    session ``rate`` for servers, where HAProxy has no ``req_rate``); ``http_5xx`` is the
    cumulative count of 5xx responses. ``usable`` is True when the server can take new
    traffic: ``UP`` or ``no check``, with a weight above 0 (backup servers count).
    """

    backend: str
    server: str
    status: str
    status_raw: str
    check_status: str | None
    check_duration_ms: int | None
    last_change_s: int | None
    weight: int | None
    current_sessions: int
    queue: int
    request_rate: int | None
    http_5xx: int | None
    usable: bool

    @classmethod
    def from_row(cls, row: dict[str, str]) -> ServerHealth:
        """Build from one ``show stat`` CSV row (a dict keyed by column name)."""
        return cls.from_fields(tuple(row.get(name) or "" for name in HEALTH_COLUMNS))

    @classmethod
    def from_fields(cls, values: tuple[str, ...]) -> ServerHealth:
        """Build from the values of :data:`HEALTH_COLUMNS`, in that order
        (:func:`stat_fields`); ``""`` for a column HAProxy left empty."""
        # Positional, in field order (50,000 rows for one health report: keywords cost).
        return cls(values[0], values[1], *_server_values(values[2:]))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: every field, in field order (all are scalars, so a copy of the
        instance dict is :func:`dataclasses.asdict` without its deep copy)."""
        return dict(self.__dict__)


@functools.lru_cache(maxsize=4096)  # most servers of a big config share their counters
def _server_values(values: tuple[str, ...]) -> tuple[Any, ...]:
    """:class:`ServerHealth`'s fields after ``backend`` and ``server``, from the values of
    :data:`HEALTH_COLUMNS` after ``pxname`` and ``svname``."""
    raw, check_status, check_duration, lastchg, weight_text, scur, qcur, req_rate, rate, \
        hrsp_5xx = values
    status = normalise_status(raw)
    weight = _int(weight_text)
    usable = status in ("UP", "no check") and (weight is None or weight > 0)
    request_rate = _int(req_rate)
    return (status, raw, check_status or None, _int(check_duration), _int(lastchg), weight,
            _int(scur) or 0, _int(qcur) or 0,
            request_rate if request_rate is not None else _int(rate), _int(hrsp_5xx), usable)


#: :class:`ServerHealth`'s field names, in order (the keys of its :meth:`~ServerHealth.as_dict`).
SERVER_HEALTH_KEYS = tuple(f.name for f in fields(ServerHealth))


@functools.lru_cache(maxsize=4096)
def _server_tail(values: tuple[str, ...]) -> dict[str, Any]:
    """:meth:`ServerHealth.as_dict` after ``backend`` and ``server`` (shared: copy it)."""
    return dict(zip(SERVER_HEALTH_KEYS[2:], _server_values(values), strict=True))


@functools.lru_cache(maxsize=4096)
def _json_tail(values: tuple[str, ...]) -> tuple[str, str, bool]:
    """``(status, the JSON members of _server_tail without braces, usable)``: the text
    ``to_json`` writes for that dict, written here without the dict (a third of the time of a
    row whose counters no other row shares; ``tests/test_stat_parse.py`` checks the text)."""
    status, raw, check_status, duration, lastchg, weight, scur, qcur, rate, http_5xx, usable = \
        _server_values(values)
    return status, (
        f'"status":{_json_str(status)},"status_raw":{_json_str(raw)},'
        f'"check_status":{"null" if check_status is None else _json_str(check_status)},'
        f'"check_duration_ms":{_json_int(duration)},"last_change_s":{_json_int(lastchg)},'
        f'"weight":{_json_int(weight)},"current_sessions":{scur},"queue":{qcur},'
        f'"request_rate":{_json_int(rate)},"http_5xx":{_json_int(http_5xx)},'
        f'"usable":{"true" if usable else "false"}'), usable


def _json_int(value: int | None) -> str:
    return "null" if value is None else str(value)


@functools.lru_cache(maxsize=4096)
def _json_str(value: str) -> str:
    return to_json(value).decode()


def health_dicts(rows: Iterable[tuple[str, ...]], *, include_internal: bool = False,
                 ) -> list[dict[str, Any]]:
    """Per backend, in ``show stat`` order, ``{"name", "status", "usable", "servers":
    [ServerHealth.as_dict(), ...]}`` from the rows of :data:`HEALTH_COLUMNS`
    (:func:`lbctl.haproxy.stat_csv.stat_fields`); frontends skipped, ``lbctl_*`` backends
    too unless ``include_internal``; a backend without its ``BACKEND`` row is left out."""
    servers: dict[str, list[dict[str, Any]]] = {}
    status: dict[str, str] = {}
    tail = _server_tail
    for values in rows:
        name, kind = values[0], values[1]
        if kind == "FRONTEND" or (not include_internal and name.startswith(INTERNAL_PREFIX)):
            continue
        found = servers.get(name)
        if found is None:
            found = servers[name] = []
        if kind == "BACKEND":
            status[name] = normalise_status(values[2])
        else:
            found.append({"backend": name, "server": kind, **tail(values[2:])})
    return [{"name": name, "status": status[name],
             "usable": any(s["usable"] for s in found), "servers": found}
            for name, found in servers.items() if name in status]


@dataclass(frozen=True)
class HealthJSON:
    """:func:`health_json`'s answer: ``text``, the JSON array ``to_json(health_dicts(rows))``
    writes, byte for byte, and ``unusable``: per backend without a usable server, its name and
    its servers' ``(name, status)``, in order."""

    text: str
    unusable: list[tuple[str, list[tuple[str, str]]]]


def health_json(rows: Iterable[tuple[str, ...]], *, include_internal: bool = False) -> HealthJSON:
    """:func:`health_dicts` of ``rows`` (the values of :data:`HEALTH_COLUMNS`) as JSON text,
    without a dict per server: each server's members after its names are the same for the
    many servers that share their counters, so their text is made once
    (``tests/test_stat_parse.py`` checks it equals ``to_json`` of :func:`health_dicts` on a
    real answer). A backend's text is written when its ``BACKEND`` row arrives (HAProxy writes
    it after the backend's servers), while the rest of the answer is still coming: what is
    left once the last row is read is one join. A server row that comes after its backend's
    ``BACKEND`` row (never from HAProxy) has that text written again at the end."""
    return _health_json(rows, _TAIL_OF_ROW, 2, include_internal)


def stat_health_json(lines: Iterable[str], *, include_internal: bool = False) -> HealthJSON:
    """:func:`health_json` of a ``show stat`` answer given as its lines while they arrive
    (:meth:`lbctl.haproxy.sockets.SocketClient.command_lines`), the same text as
    ``health_json(stat_fields(lines, HEALTH_COLUMNS))``: each line split on commas once, as
    far as the last column read, with no tuple per row (the health report's path, 60,000 rows
    at 50,000 servers; :mod:`lbctl.haproxy.stat_csv` says why a line without ``"`` is split
    and one with ``"`` goes through :mod:`csv`). An answer whose header lacks one of
    :data:`HEALTH_COLUMNS` (an older HAProxy) goes through :func:`stat_fields`. Raises
    ``RuntimeAPIError`` when the answer is not the CSV."""
    rows = iter(lines)
    first = next((ln for ln in rows if ln.strip()), "")
    if not first.startswith(_HEADER_MARK):
        raise RuntimeAPIError(f"show stat: unexpected answer: {first.strip()[:200]!r}")
    where = {name: i for i, name in enumerate(next(csv.reader([first[len(_HEADER_MARK):]])))}
    index = [where.get(name, -1) for name in HEALTH_COLUMNS]
    if -1 in index or index[:2] != [0, 1]:
        return health_json(stat_fields(itertools.chain([first], rows), HEALTH_COLUMNS),
                           include_internal=include_internal)
    return _health_json(_split_rows(rows, max(index) + 1), operator.itemgetter(*index[2:]),
                        index[2], include_internal)


_HEADER_MARK = "# "
#: At most this many of :func:`_json_tail`'s answers kept per report (as its LRU: when every
#: server has its own counters, 50,000 would be kept for nothing).
_TAILS_KEPT = 4096
#: The values of :data:`HEALTH_COLUMNS` after ``pxname`` and ``svname``, from one of its rows.
_TAIL_OF_ROW = operator.itemgetter(*range(2, len(HEALTH_COLUMNS)))


def _split_rows(lines: Iterator[str], cut: int) -> Iterator[Sequence[str]]:
    """Per non-blank line, its fields, at least ``cut`` of them (``""`` for those a short row
    lacks), as :func:`lbctl.haproxy.stat_csv.stat_fields` reads them."""
    for line in lines:
        if '"' in line:
            fields = next(csv.reader([line]))
        else:
            fields = line.split(",", cut)
            if len(fields) > cut:
                yield fields
                continue
            if not line.strip():
                continue
        if len(fields) < cut:
            fields += [""] * (cut - len(fields))
        yield fields


def _health_json(rows: Iterable[Sequence[str]], tail_of: Callable[[Sequence[str]], Any],
                 status_at: int, include_internal: bool) -> HealthJSON:
    """:func:`health_json` of rows whose ``pxname`` and ``svname`` come first: ``tail_of(row)``
    is the tuple of the other :data:`HEALTH_COLUMNS`, ``row[status_at]`` the status."""
    backends: dict[str, _Building] = {}
    tails: dict[tuple[str, ...], tuple[str, str, bool]] = {}  # _json_tail's, without its LRU
    kinds: dict[str, str] = {}  # server names as JSON strings
    last: str | None = None
    skip = usable_seen = False
    building = _Building("")
    append = building.servers.append
    prefix = ""
    for values in rows:
        name, kind = values[0], values[1]
        if kind == "FRONTEND":
            continue
        if name != last:  # a proxy's rows come together: one look-up per backend, not per row
            last = name
            skip = not include_internal and name.startswith(INTERNAL_PREFIX)
            if skip:
                continue
            found = backends.get(name)
            if found is None:
                found = backends[name] = _Building(_json_str(name))
            building = found
            append = building.servers.append
            usable_seen = building.usable
            prefix = f'{{"backend":{building.name},"server":'
        elif skip:
            continue
        if kind == "BACKEND":
            building.status = normalise_status(values[status_at])
            building.text = building.write()
            continue
        key = tail_of(values)
        tail = tails.get(key)
        if tail is None:
            tail = _json_tail(key)
            if len(tails) < _TAILS_KEPT:
                tails[key] = tail
        server = kinds.get(kind)
        if server is None:
            server = kinds[kind] = _json_str(kind)
        append(f"{prefix}{server},{tail[1]}}}")
        if not usable_seen:
            if tail[2]:
                usable_seen = building.usable = True
            else:
                building.states.append((kind, tail[0]))
        if building.text:
            building.text = ""
    done = [(name, b) for name, b in backends.items() if b.status is not None]
    return HealthJSON(f"[{','.join([b.text or b.write() for _n, b in done])}]",
                      [(name, b.states) for name, b in done if not b.usable])


class _Building:
    """One backend of :func:`health_json` while its rows arrive: ``name`` as JSON, its
    ``BACKEND`` row's status (``None`` until it came), its servers' JSON objects, ``usable``
    (one of them is), the ``(server, status)`` of its servers while none is usable, and its
    JSON text once written (``""`` before)."""

    __slots__ = ("name", "servers", "states", "status", "text", "usable")

    def __init__(self, name: str) -> None:
        self.name = name
        self.status: str | None = None
        self.servers: list[str] = []
        self.usable = False
        self.states: list[tuple[str, str]] = []
        self.text = ""

    def write(self) -> str:
        """The backend's JSON object: ``{"name", "status", "usable", "servers": [...]}``."""
        return (f'{{"name":{self.name},"status":{_json_str(self.status or "")},'
                f'"usable":{"true" if self.usable else "false"},'
                f'"servers":[{",".join(self.servers)}]}}')


@dataclass(frozen=True)
class BackendHealth:
    """A backend: its ``BACKEND`` row status (``UP``/``DOWN``), its servers, and ``usable``
    (at least one usable server)."""

    name: str
    status: str
    servers: list[ServerHealth]
    usable: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, servers included."""
        return {
            "name": self.name,
            "status": self.status,
            "usable": self.usable,
            "servers": [s.as_dict() for s in self.servers],
        }


def parse_table_entries(text: str) -> list[dict[str, str]]:
    """Parse ``show table NAME`` output into one dict per entry.

    ``0x55d0c8: key=client1 use=0 exp=9980 http_req_rate(1000)=3 gpc0=1`` →
    ``{"key": "client1", "use": "0", "exp": "9980", "http_req_rate(1000)": "3", "gpc0": "1"}``.
    ``exp`` is in milliseconds; a rate's period (in parentheses) too. Header lines (``#``) are
    skipped; a token without ``=`` is joined to the previous value (a key holding spaces).
    """
    entries: list[dict[str, str]] = []
    for line in text.splitlines():
        match = _TABLE_ENTRY_RE.match(line.strip())
        if match is None:
            continue
        entry: dict[str, str] = {}
        last: str | None = None
        for token in match["rest"].split():
            name, sep, value = token.partition("=")
            if sep:
                entry[name] = value
                last = name
            elif last is not None:
                entry[last] = f"{entry[last]} {token}"
        entries.append(entry)
    return entries


class RuntimeClient:
    """Client of the stats socket at ``socket_path``; ``timeout`` in seconds per round trip.
    ``servers_state``: the HAProxy has ``show servers state`` (1.6+,
    :attr:`lbctl.features.Capabilities.show_servers_state`); without it a server's admin state
    is read from ``show stat`` (:mod:`lbctl.control.servers`)."""

    def __init__(self, socket_path: str | Path, timeout: float = 2.0, *,
                 servers_state: bool = True) -> None:
        self.socket_path = Path(socket_path)
        self.servers_state = servers_state
        self._client = SocketClient(self.socket_path, timeout)

    def command(self, cmd: str) -> str:
        """Send one runtime API command and return the raw answer.

        Raises ``CommandRefused`` for ``;``/newline, ``HAProxyUnavailable`` when the socket does
        not answer, ``RuntimeAPIError`` on timeout or socket error.
        """
        return self._client.command(cmd)

    def show_stat(self, proxy_id: int = -1, types: int = -1, server_id: int = -1,
                  ) -> list[dict[str, str]]:
        """``show stat`` as CSV rows keyed by column (``pxname``, ``svname``, ``status``, ...).

        ``proxy_id`` (a proxy's ``iid``), ``types`` (a mask: 1 frontends, 2 backends, 4
        servers) and ``server_id`` (a server's ``sid``) narrow the dump, in the numeric form
        every version reads (management.txt §9.3 "show stat <iid> <type> <sid>"; -1: all): one
        server's row of 50,000 is one line to read instead of a 9 MB dump. Raises
        ``RuntimeAPIError`` when the answer is not the CSV (e.g. permission denied).
        """
        narrowed = (proxy_id, types, server_id) != (-1, -1, -1)
        command = f"show stat {proxy_id} {types} {server_id}" if narrowed else "show stat"
        return list(parse_stat_csv(self.command(command)))

    def show_info(self) -> dict[str, str]:
        """``show info`` as ``{"Version": "2.8.25-...", "Uptime_sec": "12", ...}``."""
        info: dict[str, str] = {}
        for line in self.command("show info").splitlines():
            name, sep, value = line.partition(":")
            if sep:
                info[name.strip()] = value.strip()
        if not info:
            raise RuntimeAPIError("show info: empty answer")
        return info

    def show_servers_state(self, backend: str) -> list[dict[str, str]]:
        """``show servers state BACKEND`` as rows keyed by its header (``srv_name``,
        ``srv_admin_state``, ``srv_uweight``, ``srv_iweight``, ...; management.txt §9.3).

        Unlike ``show stat``'s effective weight, ``srv_uweight`` is the weight set by the
        config or ``set server ... weight`` even while the server is in maintenance (2.6 shows
        the old effective weight in ``show stat`` until the server leaves maintenance).
        Raises ``NotFound`` for an unknown backend, ``RuntimeAPIError`` for another answer.
        """
        text = self.command(f"show servers state {_name(backend)}")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if lines and lines[0].startswith("Can't find backend"):
            raise NotFound(f"show servers state: no backend {backend!r}")
        header = next((ln for ln in lines if ln.startswith("# ")), None)
        if header is None:
            raise RuntimeAPIError(f"show servers state: unexpected answer: {text.strip()[:200]!r}")
        names = header[2:].split()
        return [dict(zip(names, ln.split(), strict=False)) for ln in lines
                if not ln.startswith("#") and len(ln.split()) >= len(names) // 2]

    def show_table(self, table: str | None = None) -> str:
        """Raw ``show table`` (the list of tables) or ``show table NAME`` (its entries).

        Raises ``NotFound`` when HAProxy has no such table.
        """
        cmd = "show table" if table is None else f"show table {_name(table)}"
        text = self.command(cmd)
        if text.strip().startswith("No such table"):
            raise NotFound(f"no stick table {table!r}")
        return text

    def show_table_entries(self, table: str) -> list[dict[str, str]]:
        """Entries of stick table ``table`` (see :func:`parse_table_entries`)."""
        return parse_table_entries(self.show_table(table))

    def clear_table_key(self, table: str, key: str) -> None:
        """``clear table TABLE key KEY``: remove one stick-table entry (its counters start
        again from zero; management.txt §9.3). Removing an absent key is not an error.

        Raises ``NotFound`` when HAProxy has no such table, ``RuntimeAPIError`` for any other
        answer, e.g. ``Entry currently in use, cannot remove`` while a request tracks it.
        """
        answer = self.command(f"clear table {_name(table)} key {_name(key)}").strip()
        if answer.startswith("No such table"):
            raise NotFound(f"no stick table {table!r}")
        if answer:
            raise RuntimeAPIError(f"clear table {table} key {key}: {answer}")

    def backends_health(self, *, include_internal: bool = False) -> list[BackendHealth]:
        """Health of every backend, in ``show stat`` order.

        Frontends are skipped; backends named ``lbctl_*`` too unless ``include_internal``.
        """
        return [BackendHealth(be["name"], be["status"], [ServerHealth(**s) for s in be["servers"]],
                              be["usable"])
                for be in self.backends_health_dicts(include_internal=include_internal)]

    def backends_health_dicts(self, *, include_internal: bool = False) -> list[dict[str, Any]]:
        """:meth:`backends_health` as :meth:`BackendHealth.as_dict` writes each backend
        (``{"name", "status", "usable", "servers": [ServerHealth.as_dict(), ...]}``), built
        without the objects (:func:`health_dicts`). Parses ``show stat`` while HAProxy still
        writes the rest (its type filter, ``show stat -1 6 -1``, would only drop the few
        frontend rows). Raises :class:`RuntimeAPIError`, :class:`HAProxyUnavailable`."""
        rows = stat_fields(self._client.command_lines("show stat"), HEALTH_COLUMNS)
        return health_dicts(rows, include_internal=include_internal)

    def backends_health_json(self, *, include_internal: bool = False) -> HealthJSON:
        """:meth:`backends_health_dicts` as the JSON text pydantic-core's ``to_json`` writes
        for that list, built row by row while the answer arrives (:func:`stat_health_json`):
        the health report's API path, 60,000 rows at 50,000 servers. Raises what
        :meth:`backends_health_dicts` raises."""
        lines = self._client.command_lines("show stat")
        return stat_health_json(lines, include_internal=include_internal)

    def _set(self, cmd: str) -> None:
        answer = self.command(cmd).strip()
        if not answer:
            return
        if answer.startswith("No such"):
            raise NotFound(f"{cmd}: {answer}")
        raise RuntimeAPIError(f"{cmd}: {answer}")

    def set_server_state(self, backend: str, server: str, state: str) -> None:
        """``set server BACKEND/SERVER state ready|drain|maint`` (management.txt §9.3).

        ``drain`` stops new traffic but keeps persistent sessions; ``maint`` stops all traffic
        and health checks. Raises ``CommandRefused`` for another state or a bad argument,
        ``NotFound`` for an unknown backend/server, ``RuntimeAPIError`` on any other answer.
        """
        if state not in SERVER_STATES:
            raise CommandRefused(f"server state must be one of {', '.join(SERVER_STATES)}")
        target = f"{_name(backend)}/{_name(server)}"
        self._set(f"set server {target} state {state}")

    def replace_ssl_cert(self, path: str | Path, pem: str) -> str:
        """Replace the certificate HAProxy loaded from ``path`` with ``pem`` in memory, no
        reload: ``set ssl cert <path> <<`` + the bundle, then ``commit ssl cert <path>``
        (management.txt 2.1+ §9.3; new handshakes use it at once, the file is not read).
        On a refusal the transaction is aborted (``abort ssl cert``) and
        ``RuntimeAPIError`` raised with HAProxy's answer; ``CommandRefused`` for a path with
        whitespace. Returns the commit's answer."""
        name = _name(str(path))
        answer = self._client.command_with_payload(f"set ssl cert {name}", pem)
        if "Transaction" not in answer:
            self._abort(name)
            raise RuntimeAPIError(f"set ssl cert {name}: {answer.strip()[:300]}")
        answer = self.command(f"commit ssl cert {name}")
        if "Success" not in answer:
            self._abort(name)
            raise RuntimeAPIError(f"commit ssl cert {name}: {answer.strip()[:300]}")
        return answer

    def _abort(self, name: str) -> None:
        with contextlib.suppress(LbctlError):
            self.command(f"abort ssl cert {name}")

    def set_server_weight(self, backend: str, server: str, weight: int) -> None:
        """``set server BACKEND/SERVER weight N`` (0-256, absolute; management.txt §9.3).

        Raises ``NotFound`` for an unknown backend/server and ``RuntimeAPIError`` when HAProxy
        refuses the weight (out of range, or a static balance algorithm).
        """
        target = f"{_name(backend)}/{_name(server)}"
        self._set(f"set server {target} weight {int(weight)}")
