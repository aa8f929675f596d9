"""A server's spec ``state`` and ``weight`` applied through the runtime API, and read back.

The templates render a server's state as (``templates/backend.j2``)::

    spec state   config line                runtime commands sent here (in this order)
    ready        weight W                   set server B/S weight W;  set server B/S state ready
    drain        weight 0                   set server B/S weight 0;  set server B/S state ready
    maint        weight W ... disabled      set server B/S weight W;  set server B/S state maint

HAProxy's own drain admin state (``set server B/S state drain``, management.txt §9.3) has no
config keyword, so a reload would turn it into something else; and ``show stat`` reports a
drained server that fails its checks as ``DOWN``, not ``DRAIN``. lbctl therefore drains with
weight 0 at runtime, exactly as the config says it: a drained server reads back the same
before and after a reload (``status`` from its checks, ``weight`` 0), and the spec keeps the
weight that ``ready`` restores. ``set server ... weight`` on a backend with a static balance
algorithm (``static-rr``, map-based hashing) only accepts 0 and the configured weight:
HAProxy refuses other weights (:class:`RuntimeAPIError`) and such a change needs an apply.

Read back (management.txt §9.3): ``show servers state`` is the confirmation (the admin state
bits and the user weight, exact even in maintenance, where 2.6's ``show stat`` keeps showing
the old effective weight); ``show stat`` adds the status and the check for the answer. 1.5 has
``set server`` but not ``show servers state``: there ``show stat`` alone is the read-back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lbctl.errors import FieldError, NotFound, RuntimeAPIError, SpecError
from lbctl.haproxy.runtime import RuntimeClient, ServerHealth
from lbctl.spec import Server, Spec, validation_errors

__all__ = [
    "AdminState",
    "ServerReadBack",
    "apply_server",
    "confirm_server",
    "edit_server",
    "expected_runtime",
    "matches",
    "read_server",
]

_CONFIRM_TIMEOUT_S = 1.0
_POLL_S = 0.02


def edit_server(
    spec: Spec, backend: str, server: str, *, state: str | None, weight: int | None
) -> tuple[Spec, Server, Server]:
    """``spec`` with ``backend``/``server``'s ``state`` and/or ``weight`` replaced; returns
    ``(new spec, the server before, the server after)``.

    Only that server is validated again: the new spec shares every other part with ``spec``
    (the models are frozen), so it differs from ``spec`` exactly when the server does — at
    10,000 backends a ``to_data`` → :func:`lbctl.spec.validate_spec` round trip and a
    comparison of the whole specs took seconds per server change. No cross-field rule reads a
    server's state or weight. Raises :class:`SpecError` when both are ``None`` or a value is
    invalid (the field named: ``backends[0].servers[1].weight``), :class:`NotFound` for a
    backend or server the spec does not have.
    """
    if state is None and weight is None:
        raise SpecError([FieldError("", "give a state (ready, drain, maint), a weight, or both")])
    bi = next((i for i, b in enumerate(spec.backends) if b.name == backend), None)
    if bi is None:
        raise NotFound(f"no backend {backend!r} in the spec")
    si = next((i for i, s in enumerate(spec.backends[bi].servers) if s.name == server), None)
    if si is None:
        raise NotFound(f"no server {server!r} in backend {backend!r}")
    owner = spec.backends[bi]
    before = owner.servers[si]
    entry = before.model_dump(mode="json", by_alias=True)
    if state is not None:
        entry["state"] = state
    if weight is not None:
        entry["weight"] = weight
    try:
        after = Server.model_validate(entry)
    except ValidationError as exc:
        raise SpecError(validation_errors(exc, ("backends", bi, "servers", si))) from None
    servers = list(owner.servers)
    servers[si] = after
    backends = list(spec.backends)
    backends[bi] = owner.model_copy(update={"servers": servers})
    return spec.model_copy(update={"backends": backends}), before, after


#: ``srv_admin_state`` bits (HAProxy's ``enum srv_admin``, include/haproxy/server-t.h):
#: forced / inherited / DNS-resolution maintenance, forced / inherited drain.
ADMIN_MAINT = 0x01 | 0x02 | 0x20
ADMIN_DRAIN = 0x08 | 0x10


@dataclass(frozen=True)
class AdminState:
    """A server's row of ``show servers state``: ``admin`` (``srv_admin_state`` bits) and
    ``weight`` (``srv_uweight``: the weight HAProxy holds for it, 0–256)."""

    admin: int
    weight: int

    @property
    def maint(self) -> bool:
        """In maintenance (forced, inherited or DNS)."""
        return bool(self.admin & ADMIN_MAINT)

    @property
    def drain(self) -> bool:
        """In HAProxy's drain admin state (lbctl itself drains by weight 0, never sets it)."""
        return bool(self.admin & ADMIN_DRAIN)


def expected_runtime(state: str, weight: int) -> tuple[bool, int]:
    """``(in maintenance, weight HAProxy must hold)`` for a spec ``state`` / ``weight``
    (0–256): maint keeps ``weight``, drain is weight 0."""
    return state == "maint", 0 if state == "drain" else weight


def matches(admin: AdminState, state: str, weight: int) -> bool:
    """True when ``admin`` shows spec ``state`` / ``weight``: maintenance exactly for
    ``maint``, never HAProxy's own drain state, and the weight (0 for ``drain``). Health
    (``UP`` / ``DOWN``) is not the operator's to set and is not compared."""
    maint, expected = expected_runtime(state, weight)
    return admin.maint == maint and not admin.drain and admin.weight == expected


def read_server(client: RuntimeClient, backend: str, server: str) -> tuple[AdminState, ServerHealth]:
    """``backend``/``server`` as HAProxy holds it: ``show servers state`` (admin bits and user
    weight: exact even in maintenance) and ``show stat`` (status, check, effective weight).

    Raises :class:`NotFound` when HAProxy has no such backend or server, and
    :class:`RuntimeAPIError` / ``HAProxyUnavailable`` from the socket.
    """
    if not client.servers_state:
        return _read_server_from_stat(client, backend, server)
    row = next((r for r in client.show_servers_state(backend) if r.get("srv_name") == server), None)
    if row is None:
        raise NotFound(f"HAProxy has no server {backend}/{server}")
    try:
        admin = AdminState(int(row["srv_admin_state"]), int(row["srv_uweight"]))
        ids = int(row["be_id"]), int(row["srv_id"])
    except (KeyError, ValueError) as exc:
        raise RuntimeAPIError(f"show servers state {backend}: unreadable row {row!r}") from exc
    for stat in client.show_stat(ids[0], 4, ids[1]):  # that server's row alone
        if stat.get("pxname") == backend and stat.get("svname") == server:
            return admin, ServerHealth.from_row(stat)
    raise NotFound(f"HAProxy has no server {backend}/{server} in show stat")


def _read_server_from_stat(client: RuntimeClient, backend: str,
                           server: str) -> tuple[AdminState, ServerHealth]:
    """:func:`read_server` on 1.5 (no ``show servers state``): ``show stat`` alone. Its
    ``status`` is ``MAINT`` in maintenance and ``DRAIN`` both in the drain admin state and at
    weight 0 (so only ``DRAIN`` at a weight above 0 is the admin state), and its ``weight``
    follows ``set server ... weight`` in maintenance too (checked on 1.5.0)."""
    for stat in client.show_stat():
        if stat.get("pxname") == backend and stat.get("svname") == server:
            try:
                weight = int(stat.get("weight") or 0)
            except ValueError as exc:
                raise RuntimeAPIError(f"show stat {backend}/{server}: weight {stat!r}") from exc
            status = stat.get("status", "")
            admin = 0x01 if status.startswith("MAINT") else 0
            admin |= 0x08 if status.startswith("DRAIN") and weight else 0
            return AdminState(admin, weight), ServerHealth.from_row(stat)
    raise NotFound(f"HAProxy has no server {backend}/{server}")


def apply_server(client: RuntimeClient, backend: str, server: str, state: str, weight: int) -> None:
    """Send the runtime commands for spec ``state`` / ``weight`` (table in the module docstring).

    The weight always goes first: HAProxy 2.6 does not apply a weight set during maintenance
    to ``show stat`` until the server leaves it. Raises :class:`NotFound`,
    :class:`RuntimeAPIError` (HAProxy refused, e.g. a static algorithm's weight),
    ``CommandRefused``, ``HAProxyUnavailable``.
    """
    maint, expected = expected_runtime(state, weight)
    client.set_server_weight(backend, server, expected)
    client.set_server_state(backend, server, "maint" if maint else "ready")


def confirm_server(
    client: RuntimeClient, backend: str, server: str, state: str, weight: int,
    timeout: float = _CONFIRM_TIMEOUT_S,
) -> tuple[AdminState, ServerHealth]:
    """Read ``backend``/``server`` back until it :func:`matches` ``state`` / ``weight``
    (``timeout`` seconds; HAProxy applies admin changes at once, the poll absorbs a busy
    worker). Returns what was read; raises :class:`RuntimeAPIError` naming it otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        admin, stat = read_server(client, backend, server)
        if matches(admin, state, weight):
            return admin, stat
        if time.monotonic() >= deadline:
            maint, expected = expected_runtime(state, weight)
            raise RuntimeAPIError(
                f"read-back of {backend}/{server} disagrees: expected "
                f"{'maintenance' if maint else 'no maintenance nor drain'} with weight "
                f"{expected}; show servers state says admin state {admin.admin:#x} with weight "
                f"{admin.weight} (show stat: {stat.status_raw!r})"
            )
        time.sleep(_POLL_S)


@dataclass(frozen=True)
class ServerReadBack:
    """A server after a runtime change: the spec's ``state`` and ``weight`` (0–256, what
    ``ready`` restores) with what HAProxy holds: ``admin`` (``show servers state``; its
    weight is 0 while drained) and ``stat`` (``show stat``: status and checks)."""

    state: str
    weight: int
    admin: AdminState
    stat: ServerHealth

    def as_dict(self) -> dict[str, Any]:
        """``{"backend", "server", "state", "weight", "runtime_weight", "status",
        "status_raw", "check_status", "usable"}`` (JSON-ready)."""
        return {
            "backend": self.stat.backend,
            "server": self.stat.server,
            "state": self.state,
            "weight": self.weight,
            "runtime_weight": self.admin.weight,
            "status": self.stat.status,
            "status_raw": self.stat.status_raw,
            "check_status": self.stat.check_status,
            "usable": self.stat.usable,
        }
