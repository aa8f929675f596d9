"""Supervision: a thread of the agent that brings HAProxy back when its processes die.

``lbctl serve`` starts one :class:`Supervisor` after the controller has started, and stops it
before the controller shuts down (so a deliberate stop is never undone). It waits on the
HAProxy processes themselves: a pidfd (``pidfd_open(2)``, Linux 5.3+) of the master and of
each worker (:meth:`lbctl.control.controller.Controller.haproxy_pids`) becomes readable the
moment that process exits, so a death wakes it at once and an idle HAProxy costs nothing but
one look every ``heartbeat_s`` (5 s; that look also catches faults no exit signals). While a
fault is pending (a master without worker, a restart backing off) it looks every
``interval_s`` (0.25 s); where pidfds are not available it looks every ``interval_s``, as it
used to. Each look asks :meth:`lbctl.control.controller.Controller.haproxy_fault` what is wrong,
and acts through :meth:`lbctl.control.controller.Controller.restart_haproxy`:

- **master gone** — killed (``kill -9``), crashed, or never started: restart at once, from the
  last-known-good config (the live file when it is the exact render of the current spec).
  A worker's death ends up here too: measured on HAProxy 2.6.12 and 2.8.25 in master-worker
  mode, when the current worker is killed the master logs ``exit-on-failure: killing every
  processes with SIGTERM`` / ``All workers exited. Exiting... (137)`` and exits within 0.1 s —
  with ``master-worker no-exit-on-failure`` as well, since it was the last worker. And when the
  master is killed, its worker notices the closed master pipe and exits at once.
- **no worker** — the master runs but lists no worker (not seen on 2.6 / 2.8, kept for
  masters that outlive their workers): after ``no_worker_grace_s`` (1 s) of that, the master is
  stopped (verified pids only) and HAProxy is started again.

A restart that fails (the frontend port taken by another process, a missing file ...) is
retried after 0.5 s, then 1, 2, 4 ... up to ``max_backoff_s`` (30 s); health says why in the
meantime. The supervisor never signals a process itself: every signal goes through
:class:`lbctl.haproxy.process.HAProxyProcess`, which sends it only to pids whose
``/proc/PID/exe`` is an haproxy binary and whose command line names this state dir's config.

Every restart, done or failed, is one JSON line on the logger ``lbctl.control.supervisor`` (WARNING
when done, ERROR when failed)::

    {"event": "haproxy_restart", "ok": true, "reason": "the HAProxy master (pid 4242) is not
     running", "config": "last-known-good", "old_master_pid": 4242, "new_master_pid": 4300,
     "duration_s": 0.21, "at": 1714557600.1, "error": null, "retry_in_s": null}

and is counted in the controller's status and health (``"supervision"``: ``restarts``,
``failed_restarts``, ``last_restart``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import threading
import time
from typing import Any, Protocol

from lbctl.errors import LbctlError

__all__ = ["Supervised", "Supervisor"]

log = logging.getLogger("lbctl.supervisor")


class Supervised(Protocol):
    """What the supervisor needs of a controller (:class:`lbctl.control.controller.Controller`)."""

    supervised: bool

    def haproxy_fault(self) -> tuple[str, str] | None: ...

    def restart_haproxy(self, reason: str) -> dict[str, Any] | None: ...

    def haproxy_pids(self) -> list[int]:
        """The pids to wait on; a controller without it is polled every ``interval_s``."""
        ...


class Supervisor:
    """Watches one controller's HAProxy from a daemon thread; see the module docstring.

    ``interval_s``: seconds between two checks while a fault is pending, or always without
    pidfds; ``heartbeat_s``: seconds between two checks while HAProxy runs and no process
    exits; ``no_worker_grace_s``: seconds a master may list no worker before it is replaced;
    ``first_backoff_s`` / ``max_backoff_s``: seconds before retrying a failed restart
    (doubling from the first up to the max).
    """

    def __init__(
        self,
        controller: Supervised,
        *,
        interval_s: float = 0.25,
        heartbeat_s: float = 5.0,
        no_worker_grace_s: float = 1.0,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.controller = controller
        self.interval_s = interval_s
        self.heartbeat_s = heartbeat_s
        self.no_worker_grace_s = no_worker_grace_s
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._no_worker_since: float | None = None
        self._failures = 0
        self._retry_at = 0.0
        #: True while a fault is pending (the next look comes after ``interval_s``).
        self._pending = False
        #: Open pidfds by pid: the processes waited on.
        self._pidfds: dict[int, int] = {}
        #: Pids seen exiting that HAProxy may still list for a moment (not waited on again).
        self._gone: set[int] = set()
        #: A pipe that wakes the wait early (:meth:`stop`); open while the thread runs.
        self._wake_r, self._wake_w = -1, -1

    @property
    def running(self) -> bool:
        """True while the supervising thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Supervisor:
        """Start the thread (``lbctl-supervisor``, a daemon); a second call does nothing."""
        if self.running:
            return self
        self._stop.clear()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="lbctl-supervisor", daemon=True)
        self.controller.supervised = True
        self._thread.start()
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the thread and wait for it (``timeout`` seconds: a restart under way finishes
        first, and HAProxy's start is bounded by 15 s). Idempotent."""
        self._stop.set()
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        if thread is None or not thread.is_alive():  # nobody polls the pipe any more
            for fd in (self._wake_r, self._wake_w):
                if fd >= 0:
                    os.close(fd)
            self._wake_r, self._wake_w = -1, -1
        self.controller.supervised = False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.check()
                except Exception:  # the supervisor must outlive any bug of a single check
                    log.exception("supervisor check failed")
                self._wait()
        finally:
            self._close_pidfds()

    def _wait(self) -> None:
        """Sleep until a watched process exits, :meth:`stop` is called, or the next look is
        due: ``interval_s`` while a fault is pending or without pidfds, else ``heartbeat_s``."""
        if self._pending or not self._watch():
            self._stop.wait(self.interval_s)
            return
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        for fd in self._pidfds.values():
            poller.register(fd, select.POLLIN)
        events = poller.poll(self.heartbeat_s * 1000)
        ready = {fd for fd, _ in events}
        if self._wake_r in ready:
            with contextlib.suppress(OSError):
                os.read(self._wake_r, 64)
        for pid, fd in list(self._pidfds.items()):
            if fd in ready:  # exited: never waited on again, even while still listed
                self._gone.add(pid)
                os.close(self._pidfds.pop(pid))

    def _watch(self) -> bool:
        """Hold a pidfd for every HAProxy process now running (and only those); ``False``
        when pidfds cannot be had here (then the supervisor polls)."""
        pids_of = getattr(self.controller, "haproxy_pids", None)
        if not hasattr(os, "pidfd_open") or pids_of is None:
            return False
        try:
            pids = set(pids_of())
        except Exception:
            log.exception("supervisor: listing the HAProxy pids failed")
            return False
        self._gone &= pids
        pids -= self._gone
        for pid in set(self._pidfds) - pids:
            os.close(self._pidfds.pop(pid))
        for pid in pids - set(self._pidfds):
            try:
                self._pidfds[pid] = os.pidfd_open(pid)
            except ProcessLookupError:  # gone already: the next look sees it
                self._pending = True
            except OSError:
                return False
        return bool(self._pidfds) and not self._pending

    def _close_pidfds(self) -> None:
        for fd in self._pidfds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._pidfds.clear()

    def check(self, now: float | None = None) -> dict[str, Any] | None:
        """One round: look at HAProxy and restart it when needed (and not backing off).

        ``now`` is a ``time.monotonic()`` value (tests pass their own clock). Returns the
        restart event when a restart was done, else ``None``; a failed restart is logged and
        scheduled for a retry, never raised.
        """
        now = time.monotonic() if now is None else now
        fault = self.controller.haproxy_fault()
        self._pending = fault is not None
        if fault is None:
            self._no_worker_since = None
            self._failures, self._retry_at = 0, 0.0
            return None
        kind, reason = fault
        if kind != "no-worker":
            self._no_worker_since = None
        else:
            self._no_worker_since = self._no_worker_since or now
            if now - self._no_worker_since < self.no_worker_grace_s:
                return None
        if now < self._retry_at:
            return None
        try:
            event = self.controller.restart_haproxy(reason)
        except LbctlError as exc:
            self._failures += 1
            delay = min(self.max_backoff_s, self.first_backoff_s * 2 ** (self._failures - 1))
            self._retry_at = now + delay
            self._emit(logging.ERROR, {"ok": False, "reason": reason, "at": time.time(),
                                       "error": f"{type(exc).__name__}: {exc}",
                                       "retry_in_s": delay})
            return None
        self._no_worker_since = None
        self._failures, self._retry_at = 0, 0.0
        self._pending = False
        if event is not None:
            self._emit(logging.WARNING, {**event, "retry_in_s": None})
        return event

    @staticmethod
    def _emit(level: int, event: dict[str, Any]) -> None:
        line = {"event": "haproxy_restart", **event}
        log.log(level, "%s", json.dumps(line, separators=(", ", ": ")), extra={"supervision": line})
