"""What the controller answers and tells: the results of its writes and its listener protocol.

:class:`lbctl.control.controller.Controller` returns :class:`ApplyResult` (``apply``),
:class:`ValidateResult` (``validate``) and :class:`ServerResult` (``set_server``), and tells
every :class:`ControllerListener` in its ``listeners`` about applies, reloads and validation
errors (the agent's metrics, :mod:`lbctl.api.metrics`). All are re-exported by
:mod:`lbctl.control.controller`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from lbctl.control import servers
from lbctl.errors import Diagnostic
from lbctl.haproxy.process import ReloadResult

__all__ = ["ApplyResult", "ControllerListener", "ServerResult", "ValidateResult"]


@dataclass(frozen=True)
class ApplyResult:
    """Outcome of a successful apply: the new ``version`` (unchanged when ``changed`` is false),
    the reload result (``None`` when no reload was needed), ``haproxy -c`` warnings, the wall
    time of the whole apply in seconds, and of it ``queued_s``: the seconds it waited for the
    writes ahead of it (one write at a time; see README "Bursts of writes")."""

    version: int
    changed: bool
    reload: ReloadResult | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    duration_s: float = 0.0
    queued_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "version": self.version,
            "changed": self.changed,
            "reload": self.reload.as_dict() if self.reload else None,
            "diagnostics": [d.as_dict() for d in self.diagnostics],
            "duration_s": round(self.duration_s, 4),
            "queued_s": round(self.queued_s, 4),
        }


@dataclass(frozen=True)
class ValidateResult:
    """Outcome of a dry run: ``ok``, ``haproxy -c`` diagnostics and the rendered ``config``."""

    ok: bool
    diagnostics: list[Diagnostic]
    config: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "diagnostics": [d.as_dict() for d in self.diagnostics],
            "config": self.config,
        }


@dataclass(frozen=True)
class ServerResult:
    """Outcome of a runtime server change: the ``version`` it was recorded as (unchanged when
    ``changed`` is false: the spec already said so, the runtime was set again anyway) and the
    server as read back (:class:`lbctl.control.servers.ServerReadBack`)."""

    version: int
    changed: bool
    server: servers.ServerReadBack

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"version", "changed", "server": {...}}``."""
        return {"version": self.version, "changed": self.changed, "server": self.server.as_dict()}


class ControllerListener(Protocol):
    """Receives the controller's events (the agent's Prometheus metrics implement it).

    ``on_apply(result, duration_s)``: every :meth:`Controller.apply`, ``result`` one of
    ``changed``, ``unchanged``, ``invalid`` (``haproxy -c`` said no), ``conflict`` (If-Match
    missing or stale), ``failed`` (any other error), ``duration_s`` in seconds.
    ``on_reload(ok)``: every reload the controller asks HAProxy for.
    ``on_validation_error(stage)``: ``haproxy`` when ``haproxy -c`` rejects a config (apply or
    dry run); the API reports ``spec`` (field errors) itself. A listener that raises is logged
    and ignored: it never breaks a write.
    """

    def on_apply(self, result: str, duration_s: float) -> None: ...

    def on_reload(self, ok: bool) -> None: ...

    def on_validation_error(self, stage: str) -> None: ...
