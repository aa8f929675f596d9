"""Per-client rate-limit counters, read from the running HAProxy.

Where the numbers come from (``templates/clients.j2``, ``haproxy/lua/lbctl_pace.lua``):

* each frontend with clients tracks them in its stick table ``lbctl_clients_<frontend>``
  (:func:`lbctl.render.stick_table_name`), keyed by client name, storing
  ``http_req_rate(1s)``, ``gpc0`` and ``gpc1`` (configuration.txt §7.3 "sc_http_req_rate",
  "sc-inc-gpc0"); read with ``show table`` (management.txt §9.3);
* ``request_rate``: ``http_req_rate(1s)``, the client's requests that arrived during the
  last second (requests/s), counted when they arrive — delayed and refused ones included;
* ``rejected_total``: ``gpc0``, 429s sent (both modes); ``delayed_total``: ``gpc1``, requests
  that had to wait in ``mode: smooth``, counted when released (the ``sc-inc-gpc1`` rule runs
  after the pacing action), so ``waiting + delayed_total`` is every delayed request so far;
* ``waiting`` (``mode: smooth`` only): requests held by the Lua pacing action right now, from
  its runtime API command ``lbctl waiting`` (the departure slots reserved after the current
  time; a request whose client left keeps its slot until that time). The Lua state is per
  process: after a reload, requests still held by the old worker are not counted. Unknown
  (``None``) on HAProxy 3.0, whose Lua runtime API commands never answer
  (:attr:`lbctl.features.Capabilities.lua_cli`), and where the throttle paces instead.

The stick tables are shared with the ``peers`` section, so the counters survive a reload: the
old worker teaches its entries to the new one through the local peer (configuration.txt §3.5)
— but only once its own start-up resync is finished: learnt from an older local process or
given up waiting (5 s, ``PEER_RESYNC_TIMEOUT`` in HAProxy's peers.c), and the same for remote
peers (5 s more, even with none). Measured on 2.6.12 and 2.8.25: the first worker after
HAProxy starts can teach after 5 s; a worker that was taught can teach at once; a reload
inside the window loses the counters, and that reload's worker needs 10 s.
:func:`reload_keeps_counters` reads the state from ``show peers`` (flags 0x3 of the section,
``PEERS_RESYNC_FINISHED``). The Lua state never survives a reload. A client without an entry
(no request for ``expire``, 10 minutes) has all counters at 0. A missing table means the
running config is not the spec's: :class:`RuntimeAPIError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lbctl.errors import NotFound, RuntimeAPIError
from lbctl.haproxy.runtime import RuntimeClient
from lbctl.render import PEERS_SECTION, stick_table_name
from lbctl.spec import Spec

__all__ = [
    "WAITING_COMMAND",
    "ClientStats",
    "clear_client",
    "client_stats",
    "parse_waiting",
    "reload_keeps_counters",
]

#: The runtime API command registered by ``lbctl_pace.lua`` (``core.register_cli``).
WAITING_COMMAND = "lbctl waiting"


@dataclass(frozen=True)
class ClientStats:
    """One client of one frontend: its limit (``rate`` requests/s, ``burst`` requests,
    ``mode``) and its counters (see the module docstring). ``waiting`` is ``None`` for
    ``mode: reject``, when the pacing action is not loaded and when its command cannot answer
    (HAProxy 3.0, :attr:`lbctl.features.Capabilities.lua_cli`); ``expires_in_ms`` is the
    stick-table entry's remaining life in milliseconds (``None``: no entry)."""

    frontend: str
    client: str
    path_prefix: str
    mode: str
    rate: int
    burst: int
    table: str
    request_rate: int
    waiting: int | None
    delayed_total: int
    rejected_total: int
    expires_in_ms: int | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: every field, in field order (all scalars: a copy of the instance
        dict is :func:`dataclasses.asdict` without its deep copy)."""
        return dict(self.__dict__)


def parse_waiting(text: str) -> dict[tuple[str, str], int] | None:
    """``lbctl waiting`` output → ``{(frontend, client): n}``; ``None`` when HAProxy does not
    know the command (the pacing action is not loaded)."""
    if "Unknown command" in text:
        return None
    out: dict[tuple[str, str], int] = {}
    for line in text.splitlines():
        key, _, count = line.strip().rpartition(" ")
        frontend, sep, client = key.partition("/")
        if sep and count.isdigit():
            out[(frontend, client)] = int(count)
    return out


#: ``PEERS_RESYNC_FINISHED`` (HAProxy's include/haproxy/peers-t.h, 2.0–2.8):
#: ``PEERS_F_RESYNC_LOCAL | PEERS_F_RESYNC_REMOTE``, "learn from local / remote finished or
#: no more needed".
PEERS_RESYNC_FINISHED = 0x3
_PEERS_LINE_RE = re.compile(r"^0x[0-9a-f]+: \[[^]]*\] id=(?P<id>\S+) .*\bflags=0x(?P<flags>[0-9a-f]+)")


def reload_keeps_counters(show_peers: str, section: str = PEERS_SECTION) -> bool | None:
    """Whether a reload now would hand the stick tables to the new worker: the ``show peers``
    text (``0x55..: [date] id=lbctl disabled=0 flags=0x13 ...``) says the section's resync
    is finished (:data:`PEERS_RESYNC_FINISHED`; see the module docstring). ``None`` when the
    section is not listed (no stick tables, or an HAProxy without ``show peers``, before 2.0)."""
    for line in show_peers.splitlines():
        match = _PEERS_LINE_RE.match(line)
        if match and match["id"] == section:
            flags = int(match["flags"], 16)
            return flags & PEERS_RESYNC_FINISHED == PEERS_RESYNC_FINISHED
    return None


def _int(entry: dict[str, str], name: str) -> int:
    try:
        return int(entry.get(name, "0"))
    except ValueError:
        return 0


def _entries(runtime: RuntimeClient, table: str) -> dict[str, dict[str, str]]:
    try:
        return {e.get("key", ""): e for e in runtime.show_table_entries(table)}
    except NotFound:
        raise RuntimeAPIError(
            f"HAProxy has no stick table {table}: the running config is not the current spec's"
        ) from None


def client_stats(runtime: RuntimeClient, spec: Spec, *, ask_waiting: bool = True) -> list[ClientStats]:
    """The counters of every client of ``spec``, frontend by frontend, in spec order.
    ``ask_waiting``: whether to send :data:`WAITING_COMMAND` when a client is ``mode: smooth``
    (false where the command cannot answer, :attr:`lbctl.features.Capabilities.lua_cli`:
    ``waiting`` is then ``None``, unknown).

    Raises ``HAProxyUnavailable`` (HAProxy down) and :class:`RuntimeAPIError` (a round trip
    failed, or a stick table is missing).
    """
    if not any(fe.clients for fe in spec.frontends):
        return []
    paced = ask_waiting and any(c.mode == "smooth" for fe in spec.frontends for c in fe.clients)
    waiting = parse_waiting(runtime.command(WAITING_COMMAND)) if paced else None
    out = []
    for fe in spec.frontends:
        if not fe.clients:
            continue
        table = stick_table_name(fe.name)
        entries = _entries(runtime, table)
        for c in fe.clients:
            entry = entries.get(c.name)
            held = None
            if c.mode == "smooth" and waiting is not None:
                held = waiting.get((fe.name, c.name), 0)
            out.append(ClientStats(
                frontend=fe.name, client=c.name, path_prefix=c.path_prefix, mode=c.mode,
                rate=c.rate, burst=c.burst, table=table,
                request_rate=_int(entry, "http_req_rate(1000)") if entry else 0,
                waiting=held,
                delayed_total=_int(entry, "gpc1") if entry else 0,
                rejected_total=_int(entry, "gpc0") if entry else 0,
                expires_in_ms=_int(entry, "exp") if entry else None,
            ))
    return out


def clear_client(
    runtime: RuntimeClient, spec: Spec, name: str, frontend: str | None = None
) -> list[dict[str, str]]:
    """Remove client ``name``'s stick-table entry in every frontend that has it (or only in
    ``frontend``): its rate, 429 and delayed counters start again from 0. The pacing slots
    are not touched (requests already waiting keep their turn).

    Returns ``[{"frontend", "client", "table"}]``. Raises :class:`NotFound` when no such
    client (in that frontend) is in the spec, :class:`RuntimeAPIError` when HAProxy refuses
    (``Entry currently in use``: a request of that client is in flight; try again).
    """
    cleared = []
    for fe in spec.frontends:
        if frontend is not None and fe.name != frontend:
            continue
        if any(c.name == name for c in fe.clients):
            table = stick_table_name(fe.name)
            try:
                runtime.clear_table_key(table, name)
            except NotFound:
                raise RuntimeAPIError(
                    f"HAProxy has no stick table {table}: the running config is not the "
                    "current spec's"
                ) from None
            cleared.append({"frontend": fe.name, "client": name, "table": table})
    if not cleared:
        where = f" in frontend {frontend!r}" if frontend is not None else ""
        raise NotFound(f"no client {name!r}{where} in the spec")
    return cleared
