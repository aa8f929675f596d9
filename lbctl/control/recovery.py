"""Bringing a dead HAProxy back: what is wrong, which config to start from, and the record.

:class:`lbctl.control.supervisor.Supervisor` watches;
:meth:`lbctl.control.controller.Controller.restart_haproxy`
takes the write lock and acts; this module holds what both need and nothing of the lock:

* :meth:`Recovery.fault` names what is wrong with the processes (``master-gone`` or
  ``no-worker``), remembering the master pid it last saw running;
* :func:`start_known_good` starts HAProxy from the first config that works — the live file
  when it is the exact render of the current spec, else the last-known-good copy put back as
  the live file — and puts the live file back as it was when none does;
* :class:`Recovery` counts restarts and failed restarts since the agent started and keeps the
  last attempt's event for ``/api/v1/health`` and ``/api/v1/haproxy`` (``supervision``).
"""

from __future__ import annotations

import time
from typing import Any

from lbctl.errors import LbctlError, ProcessError
from lbctl.haproxy.process import HAProxyProcess
from lbctl.state.store import StateDir

__all__ = ["Recovery", "start_known_good"]


def start_known_good(state: StateDir, process: HAProxyProcess, wanted: bytes | None) -> str:
    """Start ``process`` from the first config of ``state`` that works and return its label,
    ``"current"`` or ``"last-known-good"``.

    Candidates, in order: the live file when it equals ``wanted`` (the render of the current
    spec; ``None`` when it cannot be rendered), labelled ``last-known-good`` when it is also
    the last-known-good copy; then the last-known-good copy, written over the live file.
    Raises :class:`ProcessError` naming every attempt and HAProxy's first ALERT line of each
    (the live file is put back as it was), :class:`StoreError` when the state dir cannot be
    written.
    """
    live, lkg = state.read_config(), state.read_lkg()
    candidates: list[tuple[str, bytes]] = []
    if live is not None and live == wanted:
        candidates.append(("last-known-good" if live == lkg else "current", live))
    if lkg is not None and all(lkg != data for _, data in candidates):
        candidates.append(("last-known-good", lkg))
    errors: list[str] = []
    output = ""
    for label, data in candidates:
        try:
            if state.read_config() != data:
                state.atomic_write(state.config_path, data)
            process.start()
            return label
        except ProcessError as exc:  # HAProxy's first alert says why (a port in use ...)
            alert = next((ln.strip() for ln in exc.output.splitlines() if "ALERT" in ln), "")
            errors.append(f"{label} config: {exc}" + (f": {alert}" if alert else ""))
            output = exc.output
    if live is not None and state.read_config() != live:
        state.atomic_write(state.config_path, live)
    raise ProcessError("; ".join(errors) or "no config to start from (neither a live "
                       "file matching the current spec nor a last-known-good copy)", output)


class Recovery:
    """Restart bookkeeping of one controller's HAProxy since the agent started.

    ``supervised`` is true while a :class:`lbctl.control.supervisor.Supervisor` watches; ``restarts``
    and ``failed_restarts`` count attempts; ``last_restart`` is the last attempt's event
    (see :meth:`begin`). Not thread-safe by itself: the controller calls :meth:`begin`,
    :meth:`succeeded` and :meth:`failed` under its write lock.
    """

    def __init__(self) -> None:
        self.supervised = False
        self.restarts = 0
        self.failed_restarts = 0
        self.last_restart: dict[str, Any] | None = None
        self._seen_master: int | None = None

    def fault(self, process: HAProxyProcess | None) -> tuple[str, str] | None:
        """What is wrong with ``process``, or ``None`` when a verified master runs with at
        least one worker, or when there is no process to supervise (no binary).

        ``("master-gone", message)``: no verified master runs (killed, exited after its worker
        died, or never started); ``("no-worker", message)``: the master lists no worker. Pids
        are verified by :class:`HAProxyProcess` (``/proc/PID/exe`` and command line); a zombie
        counts as dead. Never raises.
        """
        if process is None:
            return None
        was = f" (pid {self._seen_master})" if self._seen_master else ""
        if not process.is_running():
            return "master-gone", f"the HAProxy master{was} is not running"
        if not process.worker_pids():
            return "no-worker", f"the HAProxy master{was} lists no worker"
        if self._seen_master is None:
            self._seen_master = process.status().master_pid
        return None

    def begin(self, reason: str) -> tuple[dict[str, Any], float]:
        """Open a restart event: ``({"at": epoch s, "reason", "old_master_pid"}, started)``
        with ``started`` in ``time.monotonic()`` seconds. Forgets the old master pid."""
        event: dict[str, Any] = {"at": time.time(), "reason": reason,
                                 "old_master_pid": self._seen_master}
        self._seen_master = None
        return event, time.monotonic()

    def succeeded(self, event: dict[str, Any], started: float, config: str,
                  new_master: int | None) -> dict[str, Any]:
        """Close ``event`` as a restart from ``config`` whose master is ``new_master``; counted.
        Returns a copy of the completed event: ``{..., "config", "new_master_pid",
        "duration_s": seconds, "ok": True, "error": None}``."""
        self._seen_master = new_master
        self.restarts += 1
        self.last_restart = {**event, "config": config, "new_master_pid": new_master,
                             "duration_s": round(time.monotonic() - started, 4),
                             "ok": True, "error": None}
        return dict(self.last_restart)

    def failed(self, event: dict[str, Any], started: float, exc: LbctlError) -> None:
        """Close ``event`` as a failed restart (``exc`` is why); counted."""
        self.failed_restarts += 1
        self.last_restart = {**event, "config": None, "new_master_pid": None,
                             "duration_s": round(time.monotonic() - started, 4),
                             "ok": False, "error": f"{type(exc).__name__}: {exc}"}

    def report(self) -> dict[str, Any]:
        """``{"enabled", "restarts", "failed_restarts", "last_restart"}``: whether a
        supervisor watches HAProxy, the restarts done and failed since the agent started,
        and the last attempt's event or ``None``. Never raises."""
        last = self.last_restart
        return {"enabled": self.supervised, "restarts": self.restarts,
                "failed_restarts": self.failed_restarts,
                "last_restart": dict(last) if last is not None else None}
