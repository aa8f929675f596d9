"""The health report of one HAProxy, for ``/api/v1/health``, ``lbctl health`` and monitors.

:func:`health_report` turns what the controller knows (is the master running, why not) and
what the runtime API says (``show stat``: every backend and server, :mod:`lbctl.haproxy.runtime`)
into one JSON-ready dict whose ``ok`` is false exactly when a monitor should page: HAProxy is
down, its health cannot be read, a backend has no usable server, or a certificate the spec
uses expires within :data:`CERT_CRITICAL_DAYS` days. ``reasons`` says which, in words.
A certificate expiring within :data:`CERT_WARNING_DAYS` days is a **warning**: it is in
``warnings`` and its ``certificates`` entry says ``warning``, but ``ok`` stays true (nothing
to page for yet; ``lbctl_certificate_expiry_seconds`` in :mod:`lbctl.api.metrics` is there
for alerting rules).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic_core import to_json

from lbctl.errors import HAProxyError
from lbctl.haproxy.runtime import RuntimeClient
from lbctl.state.pem import CertInfo

__all__ = ["CERT_CRITICAL_DAYS", "CERT_WARNING_DAYS", "certificate_health", "health_body",
           "health_report", "health_report_parts"]

_B = TypeVar("_B")

#: A certificate the spec uses that expires within this many days makes health not ok.
CERT_CRITICAL_DAYS = 3
#: Within this many days: a warning (reported; ``ok`` stays true).
CERT_WARNING_DAYS = 14
DAY_S = 86400.0


def certificate_health(certificates: Sequence[CertInfo], now: float | None = None,
                       ) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """``(entries, warnings, critical)`` of ``certificates`` (those the spec uses): one
    ``{"name", "kind", "not_after", "expires_in_s", "status": ok|warning|critical}`` each,
    sorted by name, and a sentence naming each certificate within :data:`CERT_WARNING_DAYS`
    (``warnings``) or :data:`CERT_CRITICAL_DAYS` days, or expired (``critical``)."""
    entries: list[dict[str, Any]] = []
    warnings: list[str] = []
    critical: list[str] = []
    at = time.time() if now is None else now
    for info in sorted(certificates, key=lambda i: i.name):
        left = info.not_after.timestamp() - at
        when = info.not_after.isoformat()
        if left <= 0:
            status = "critical"
            critical.append(f"certificate {info.name} expired on {when}")
        elif left <= CERT_CRITICAL_DAYS * DAY_S:
            status = "critical"
            critical.append(f"certificate {info.name} expires in {left / DAY_S:.1f} days "
                            f"({when}; critical within {CERT_CRITICAL_DAYS} days)")
        elif left <= CERT_WARNING_DAYS * DAY_S:
            status = "warning"
            warnings.append(f"certificate {info.name} expires in {left / DAY_S:.1f} days "
                            f"({when}; warning within {CERT_WARNING_DAYS} days)")
        else:
            status = "ok"
        entries.append({"name": info.name, "kind": info.kind, "not_after": when,
                        "expires_in_s": round(left, 3), "status": status})
    return entries, warnings, critical


def health_report(
    running: bool, unavailable: str | None, runtime: RuntimeClient, supervision: dict[str, Any],
    *, listeners: int = 1, certificates: Sequence[CertInfo] = (),
) -> dict[str, Any]:
    """``{"ok", "haproxy": {"running", "unavailable"}, "backends": [...], "reasons",
    "warnings", "certificates": [...], "checked_at": epoch seconds, "supervision"}``.

    ``running`` is whether a verified master runs; ``unavailable`` why HAProxy is not there
    (``None`` for "not running"); ``runtime`` reads ``show stat`` (each call bounded by its
    timeout); ``supervision`` is passed through (:meth:`lbctl.control.recovery.Recovery.report`).
    ``backends`` holds :meth:`lbctl.haproxy.runtime.BackendHealth.as_dict` per backend
    (:meth:`~lbctl.haproxy.runtime.RuntimeClient.backends_health_dicts`: no objects per row).
    ``listeners`` counts the spec's frontends and ``listen`` sections: with none, HAProxy
    answers on no port, and that is a reason too (a spec emptied with ``allow_empty``).
    ``certificates`` are the store objects the spec uses (:func:`certificate_health`): one
    expiring within :data:`CERT_CRITICAL_DAYS` days (or expired) is a reason, naming it, and
    ``ok`` is false; within :data:`CERT_WARNING_DAYS` days it is only in ``warnings`` and ``ok``
    stays true.
    Never raises: an unreadable runtime API is a reason (``health unknown: ...``).
    """
    def read() -> tuple[list[dict[str, Any]], list[tuple[str, list[tuple[str, str]]]]]:
        rows = runtime.backends_health_dicts()
        return rows, [(be["name"], [(sv["server"], sv["status"]) for sv in be["servers"]])
                      for be in rows if not be["usable"]]

    report, backends = _report(running, unavailable, read, supervision, listeners, certificates)
    report["backends"] = backends or []
    return report


def health_report_parts(
    running: bool, unavailable: str | None, runtime: RuntimeClient, supervision: dict[str, Any],
    *, listeners: int = 1, certificates: Sequence[CertInfo] = (),
) -> tuple[dict[str, Any], str]:
    """:func:`health_report` for the API, in two parts: the report with ``backends`` empty,
    and the JSON text of its ``backends`` (:meth:`~lbctl.haproxy.runtime.RuntimeClient.
    backends_health_json`: no dict per server at 50,000 servers). :func:`health_body` joins
    them into the report's JSON. Never raises."""
    def read() -> tuple[str, list[tuple[str, list[tuple[str, str]]]]]:
        answer = runtime.backends_health_json()
        return answer.text, answer.unusable

    report, backends = _report(running, unavailable, read, supervision, listeners, certificates)
    return report, backends or "[]"


def health_body(report: dict[str, Any], backends: str) -> bytes:
    """The JSON pydantic-core's ``to_json`` writes for ``report`` with ``backends`` (a JSON
    array's text) as its ``backends`` member, byte for byte: ``report`` (its ``backends``
    empty) is serialised and the array written in place of its ``"backends":[]``. That text
    cannot occur before it otherwise: only ``ok`` and ``haproxy`` come first, and a string
    there writes its quotes escaped."""
    head = to_json(report)
    empty = b'"backends":[]'
    at = head.index(empty)
    return b"".join((head[:at], b'"backends":', backends.encode(), head[at + len(empty):]))


def _report(running: bool, unavailable: str | None,
            read: Callable[[], tuple[_B, list[tuple[str, list[tuple[str, str]]]]]],
            supervision: dict[str, Any], listeners: int, certificates: Sequence[CertInfo],
            ) -> tuple[dict[str, Any], _B | None]:
    """The report with ``backends`` empty, and what ``read`` gave for them (``None`` when
    HAProxy is down or its runtime API could not be read); ``read`` also names the backends
    without a usable server and their servers' states."""
    reasons: list[str] = []
    backends: _B | None = None
    if not running:
        reasons.append(unavailable or "HAProxy is not running")
    else:
        try:
            backends, unusable = read()
            for name, servers in unusable:
                states = ", ".join(f"{server} {status}" for server, status in servers)
                reasons.append(f"backend {name} has no usable server ({states or 'no servers'})")
        except HAProxyError as exc:
            backends = None
            reasons.append(f"health unknown: runtime API: {exc}")
        if listeners == 0:
            reasons.append("the spec has no frontend and no listen section: HAProxy listens "
                           "on no port")
    cert_entries, warnings, critical = certificate_health(certificates)
    reasons.extend(critical)
    return {
        "ok": not reasons,
        "haproxy": {"running": running, "unavailable": None if running else reasons[0]},
        "backends": [],
        "reasons": reasons,
        "warnings": warnings,
        "certificates": cert_entries,
        "checked_at": time.time(),
        "supervision": supervision,
    }, backends
