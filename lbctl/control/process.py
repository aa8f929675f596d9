"""The HAProxy process of one state dir: start or adopt, shut down, supervise, report.

:func:`start` loads the current spec (the embedded default on first run), finds the binary and
adopts the HAProxy already running for this state dir — or starts one; it never starts a
second one (DESIGN.md "Safety rules"). :func:`shutdown` soft-stops it. The supervision hooks
(:func:`haproxy_fault`, :func:`restart_haproxy`, :func:`supervision`) are what
:class:`lbctl.control.supervisor.Supervisor` drives, with :mod:`lbctl.control.recovery` for the
bookkeeping; :func:`health` and :func:`status` report the process (never raising).
"""

from __future__ import annotations

import contextlib
from typing import Any

from lbctl import paths
from lbctl.control.configuration import reload_or_restore
from lbctl.control.core import Core, log
from lbctl.control.health import health_body as health_body_of
from lbctl.control.health import health_report, health_report_parts
from lbctl.control.recovery import start_known_good
from lbctl.errors import BinaryNotFound, ConfigRejected, LbctlError
from lbctl.haproxy.binary import detect
from lbctl.haproxy.process import HAProxyProcess
from lbctl.haproxy.runtime import RuntimeClient
from lbctl.spec import load_spec
from lbctl.spec.tls_checks import certificate_refs
from lbctl.state.certs import CertStore
from lbctl.state.pem import CertInfo

__all__ = [
    "haproxy_fault",
    "haproxy_running",
    "health",
    "health_body",
    "restart_haproxy",
    "shutdown",
    "start",
    "status",
    "supervision",
    "used_certificates",
]


# -- life cycle ---------------------------------------------------------------------------
def start(core: Core) -> None:
    """Load the current spec (or the embedded default on first run, recorded as version 1),
    then adopt the running HAProxy of this state dir or start one. Never starts a second
    HAProxy. The current version gets its history entry either way.

    Raises :class:`StoreError` when the state dir is unusable; HAProxy-side failures (no
    binary, a config HAProxy refuses) are kept in ``core.unavailable`` and reported by
    :func:`health` instead of raised.
    """
    with core.lock:
        core.state.ensure()
        stored = core.state.read_current()
        first = stored is None
        if stored is None:
            spec = load_spec(paths.default_spec_path())
            stored = core.state.write_current(1, spec)
            log.info("first start: embedded default spec recorded as version 1")
        core.set_current(stored.version, stored.spec, stored.document)
        try:
            _start_haproxy(core)
        finally:
            _record_start(core, first=first)


def _start_haproxy(core: Core) -> None:
    """Find the binary, then adopt or start HAProxy; failures are kept for :func:`health`."""
    try:
        core.binary = detect(core.haproxy_bin)
    except BinaryNotFound as exc:
        core.unavailable = str(exc)
        log.error("%s", exc)
        return
    core.caps = core.binary.capabilities()
    core.process = HAProxyProcess(
        core.binary,
        config_path=core.state.config_path,
        run_dir=core.state.run_dir,
        extra_args=core.extra_args(),
    )
    try:
        _bring_up(core, core.process)
        core.unavailable = None
    except LbctlError as exc:
        core.unavailable = f"HAProxy could not be started: {exc}"
        log.error("%s", core.unavailable)


def _record_start(core: Core, *, first: bool) -> None:
    """The current version's history entry (:meth:`Journal.ensure_recorded`)."""
    config = None
    with contextlib.suppress(LbctlError):
        config = core.render(core.spec)
    core.journal.ensure_recorded(core.version, core.spec, config, first=first)


def _bring_up(core: Core, process: HAProxyProcess) -> None:
    """Make the live file match the current spec, then adopt or start HAProxy."""
    adopted = process.adopt()
    text = core.render(core.spec)
    live = core.state.read_config()
    changed = live != text.encode()
    if changed:
        try:
            core.files.install(core.spec, text)
        except ConfigRejected as exc:
            if live is None:
                raise
            log.error("the current spec no longer validates (%s); keeping the live file", exc)
            changed = False
    if adopted:
        log.info("adopted running HAProxy (master pid %s)", process.status().master_pid)
        if changed:
            reload_or_restore(core, live)
    else:
        process.start()
    core.files.save_lkg()


def shutdown(core: Core, *, keep_haproxy: bool = False) -> None:
    """Stop HAProxy (soft-stop) unless ``keep_haproxy``; a later :func:`start` adopts it
    then. Raises :class:`ProcessError` when it does not stop."""
    with core.lock:
        if core.process is not None and not keep_haproxy:
            core.process.stop()


# -- supervision (driven by lbctl.control.supervisor.Supervisor) -----------------------------
def haproxy_running(core: Core) -> bool:
    """True when this state dir's HAProxy runs (verified pids; see
    :meth:`lbctl.haproxy.process.HAProxyProcess.is_running`). Never raises."""
    return core.process is not None and core.process.is_running()


def haproxy_pids(core: Core) -> list[int]:
    """The verified pids of this controller's HAProxy: the master (or, without master-worker,
    the processes of the pidfile) and its workers; ``[]`` when nothing runs. What the
    supervisor waits on (:class:`lbctl.control.supervisor.Supervisor`). Never raises."""
    if core.process is None:
        return []
    status = core.process.status()
    master = [status.master_pid] if status.master_pid is not None else []
    return sorted({*master, *status.worker_pids})


def haproxy_fault(core: Core) -> tuple[str, str] | None:
    """What is wrong with the HAProxy processes — ``("master-gone" | "no-worker", message)``
    — or ``None`` when a verified master runs with at least one worker
    (:meth:`lbctl.control.recovery.Recovery.fault`). Takes no lock (a write under way is not
    waited for); never raises."""
    return core.recovery.fault(core.process)


def restart_haproxy(core: Core, reason: str) -> dict[str, Any] | None:
    """Bring HAProxy back after :func:`haproxy_fault` reported ``reason``, under the write
    lock; returns the event (also kept for :func:`supervision`), or ``None`` when the
    re-check under the lock finds HAProxy fine (a write started it meanwhile).

    A master without worker is soft-stopped first (1 s; verified pids only). Then HAProxy
    is started — never a second one: :meth:`HAProxyProcess.start` adopts a running master
    — by :func:`lbctl.control.recovery.start_known_good`. The event: ``{"at": epoch s,
    "reason", "config": "last-known-good" | "current", "old_master_pid", "new_master_pid",
    "duration_s": seconds, "ok", "error"}``. Raises :class:`ProcessError` (HAProxy did not
    start from any config; the live file is put back as it was), :class:`StoreError`,
    :class:`BinaryNotFound`: then counted as a failed restart, and :func:`health` gives the
    error as the reason HAProxy is down.
    """
    with core.lock:
        if haproxy_fault(core) is None:
            return None
        process = core.require_process()
        event, started = core.recovery.begin(reason)
        try:
            if process.is_running():  # a master without worker
                process.stop(timeout=1.0)
            wanted = None
            with contextlib.suppress(LbctlError):
                wanted = core.render(core.spec).encode()
            config = start_known_good(core.state, process, wanted)
        except LbctlError as exc:
            core.recovery.failed(event, started, exc)
            core.unavailable = f"HAProxy could not be restarted: {exc}"
            raise
        core.unavailable = None
        core.files.save_lkg()
        return core.recovery.succeeded(event, started, config, process.status().master_pid)


def supervision(core: Core) -> dict[str, Any]:
    """Restart bookkeeping since the agent started
    (:meth:`lbctl.control.recovery.Recovery.report`): ``{"enabled", "restarts",
    "failed_restarts", "last_restart"}``. Never raises."""
    return core.recovery.report()


# -- reports --------------------------------------------------------------------------------
def health(core: Core) -> dict[str, Any]:
    """Health report (:func:`lbctl.control.health.health_report`): ``{"ok", "haproxy":
    {"running", "unavailable"}, "backends": [...], "reasons", "checked_at": epoch s,
    "supervision"}``; ``ok`` is true when HAProxy runs, the spec has a listener and every
    backend has a usable server (and no certificate the spec uses expires within 3 days:
    :func:`used_certificates`). Never raises."""
    report = health_report(*_health_args(core), listeners=_listeners(core),
                           certificates=used_certificates(core))
    return _fleet_warnings(core, report)


def health_body(core: Core) -> tuple[bool, bytes]:
    """``(ok, the JSON of``:func:`health```)``, the same bytes as pydantic-core's ``to_json``
    of that report, built without a dict per server
    (:func:`lbctl.control.health.health_report_parts`; the API's path at 50,000 servers).
    Never raises."""
    report, backends = health_report_parts(*_health_args(core), listeners=_listeners(core),
                                           certificates=used_certificates(core))
    report = _fleet_warnings(core, report)
    return bool(report["ok"]), health_body_of(report, backends)


def _health_args(core: Core) -> tuple[bool, str | None, RuntimeClient, dict[str, Any]]:
    return haproxy_running(core), core.unavailable, core.runtime(), supervision(core)


def _listeners(core: Core) -> int:
    spec = core.spec
    return len(spec.frontends) + sum(1 for s in spec.sections if s.kind == "listen")


def _fleet_warnings(core: Core, report: dict[str, Any]) -> dict[str, Any]:
    if core.coordinator is not None:  # a fleet member: "fleet-degraded: ..." while etcd is away
        report["warnings"] = [*report.get("warnings", []), *core.coordinator.health_warnings()]
    return report


def used_certificates(core: Core) -> list[CertInfo]:
    """The store objects the current spec names (each once; one the store cannot read is
    left out: the spec's next apply names it). Never raises."""
    spec, cached = core.spec, core.cert_names
    if cached is None or cached[0] is not spec:
        cached = core.cert_names = (
            spec, tuple(sorted({name for _loc, name, _kind in certificate_refs(spec)})))
    store = CertStore(core.state.root)
    out = []
    for name in cached[1]:
        try:
            out.append(store.info(name))
        except LbctlError as exc:
            log.warning("health: certificate %s: %s", name, exc)
    return out


def status(core: Core) -> dict[str, Any]:
    """``{"haproxy": process status (or ``{"running": false, "error"}``), "binary": {"path",
    "version", "version_line", "lua"} | None, "state_dir", "spec_version", "supervision"}``.
    Never raises."""
    binary = (
        {"path": core.binary.path, "version": str(core.binary.version),
         "version_line": core.binary.version_line, "lua": core.binary.has("LUA")}
        if core.binary else None
    )
    if core.process is not None:
        proc: dict[str, Any] = core.process.status().as_dict()
    else:
        proc = {"running": False, "error": core.unavailable}
    return {
        "haproxy": proc,
        "binary": binary,
        "state_dir": str(core.state.root),
        "spec_version": core.version,
        "supervision": supervision(core),
    }
