"""Start, reload, stop and adopt one HAProxy; master-worker mode, or ``-sf`` on old releases.

How each step works depends on the HAProxy version; every gate is a flag of
:class:`lbctl.features.Capabilities` (the one table of version gates).
The master CLI (``-S <socket>``) is described in management.txt §9.4, master-worker mode in
management.txt §4.4 ("Master-worker mode") and configuration.txt §3.1 (``master-worker``),
soft-stop (SIGUSR1) and ``-sf`` in management.txt §4 ("Stopping and restarting HAProxy").

Only verified pids are ever signalled: ``/proc/PID/exe`` must be an haproxy binary and the
command line must name this instance's config file (:mod:`lbctl.haproxy.pids`). HAProxy is
started with a minimal environment (:func:`lbctl.haproxy.environment.minimal_env`): the
agent's own (``LBCTL_TOKEN``) never reaches a config's ``${...}`` or ``env()``.

Size: over 300 lines because start, reload, stop and adopt differ per HAProxy version (master
CLI ``reload`` status on 2.7+, ``show proc`` polling on 2.5–2.6, ``-sf`` before 1.8) and share
the pid verification and the launch; split, each part would need the others' internals.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from lbctl.errors import HAProxyUnavailable, ProcessError, RuntimeAPIError
from lbctl.haproxy.binary import HAProxyBinary
from lbctl.haproxy.environment import minimal_env
from lbctl.haproxy.master_cli import ShowProc, show_proc
from lbctl.haproxy.pids import alive as _alive
from lbctl.haproxy.pids import verified, verified_master
from lbctl.haproxy.sockets import SocketClient

__all__ = ["HAProxyProcess", "ProcessStatus", "ReloadResult"]


_START_TIMEOUT_S = 15.0
_POLL_S = 0.05
#: ``show proc`` during a reload: the new worker is waited for, and half a poll on average is
#: apply latency (issue 19: 50 ms cost 25 ms per reload on 2.6); a round trip is ~1 ms.
_RELOAD_POLL_S = 0.005
_NO_NEW_WORKER_S = 1.0


@dataclass(frozen=True)
class ReloadResult:
    """Outcome of one reload. ``method`` is ``"master-cli"``, ``"signal"`` (1.8) or ``"sf"``;
    ``duration_s`` in seconds; ``output`` is what HAProxy said (its startup messages on 2.7+,
    a summary otherwise); ``at`` is the ``time.time()`` it finished."""

    ok: bool
    method: str
    duration_s: float
    output: str
    at: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class ProcessStatus:
    """A snapshot of the HAProxy processes. ``uptime_s`` in seconds since the master started;
    ``rss_bytes`` sums master and workers; ``cpu_percent`` sums them since the previous
    :meth:`HAProxyProcess.status` call (0.0 on the first); ``reload_count`` counts successful
    reloads done through this instance; ``mode`` is ``"master-worker"`` or ``"legacy"``."""

    running: bool
    master_pid: int | None
    worker_pids: list[int]
    uptime_s: float | None
    rss_bytes: int | None
    cpu_percent: float | None
    version: str
    reload_count: int
    last_reload: ReloadResult | None
    mode: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``last_reload`` as a dict or ``None``)."""
        data = asdict(self)
        data["last_reload"] = self.last_reload.as_dict() if self.last_reload else None
        return data


class HAProxyProcess:
    """One HAProxy instance owned by lbctl: config file ``config_path``, state in ``run_dir``.

    The master CLI socket is ``run_dir/master.sock``, the pidfile ``run_dir/haproxy.pid``;
    ``extra_args`` are appended to every start (e.g. ``("-L", "lbctl")``, the local peer name).
    Thread-safe: one lock serialises start / reload / stop.
    """

    def __init__(
        self,
        binary: HAProxyBinary,
        *,
        config_path: Path,
        run_dir: Path,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.binary = binary
        self.config_path = Path(config_path).absolute()
        self.run_dir = Path(run_dir).absolute()
        self.extra_args = tuple(extra_args)
        self.master_socket = self.run_dir / "master.sock"
        self.pidfile = self.run_dir / "haproxy.pid"
        self.caps = binary.capabilities()
        self.mode = "master-worker" if self.caps.master_worker else "legacy"
        self.reload_count = 0
        self.last_reload: ReloadResult | None = None
        self._master: psutil.Process | None = None
        self._legacy: list[psutil.Process] = []
        self._cpu: dict[int, psutil.Process] = {}
        self._lock = threading.RLock()

    # -- verification ---------------------------------------------------------------------

    def _verify(self, pid: int) -> psutil.Process | None:
        """The process ``pid`` if it is a live haproxy running this config, else ``None``."""
        return verified(pid, self.binary.path, self.config_path)

    def _verify_master(self, pid: int) -> psutil.Process | None:
        """Like :meth:`_verify`, and its parent is not itself one of our haproxy processes."""
        return verified_master(pid, self.binary.path, self.config_path)

    def _read_pidfile(self) -> list[int]:
        try:
            text = self.pidfile.read_text()
        except OSError:
            return []
        return [int(tok) for tok in text.split() if tok.isdigit()]

    def _master_cli(self, timeout: float = 2.0) -> SocketClient:
        return SocketClient(self.master_socket, timeout)

    def _show_proc(self, timeout: float = 2.0) -> ShowProc:
        """``show proc`` on the master CLI; raises HAProxyUnavailable / RuntimeAPIError."""
        return show_proc(self._master_cli(timeout))

    def _live_master(self) -> psutil.Process | None:
        with self._lock:
            if self._master is not None and _alive(self._master):
                return self._master
            self._master = None
            return None

    # -- adopt / start --------------------------------------------------------------------

    def adopt(self) -> bool:
        """Take over an HAProxy already running for this run_dir; True if one was adopted.

        First the master CLI socket (``show proc`` names the master pid), then the pidfile.
        Either way the pid must pass verification (``/proc/PID/exe`` is haproxy and its
        command line names ``config_path``); an unverified pid is never used nor signalled.
        """
        with self._lock:
            if self._live_master() is not None or self._legacy_alive():
                return True
            if self.caps.master_cli:
                with contextlib.suppress(HAProxyUnavailable, RuntimeAPIError):
                    master = self._verify_master(self._show_proc(1.0).master_pid)
                    if master is not None:
                        self._master = master
                        return True
            pids = self._read_pidfile()
            if self.mode == "master-worker":
                master = self._verify_master(pids[0]) if pids else None
                if master is not None:
                    self._master = master
                    return True
                return False
            procs = [p for p in (self._verify(pid) for pid in pids) if p is not None]
            if procs and len(procs) == len(pids):
                self._legacy = procs
                return True
            return False

    def _legacy_alive(self) -> bool:
        self._legacy = [p for p in self._legacy if _alive(p)]
        return bool(self._legacy)

    def _launch(self, argv: list[str], timeout: float) -> tuple[int, str]:
        """Run a daemonising haproxy launcher; (exit code, its stdout+stderr)."""
        with tempfile.TemporaryFile() as out:
            try:
                launcher = subprocess.Popen(
                    argv,
                    cwd=self.config_path.parent,
                    env=minimal_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ProcessError(f"cannot run {argv[0]}: {exc}") from exc
            try:
                code = launcher.wait(timeout)
            except subprocess.TimeoutExpired as exc:
                launcher.kill()
                launcher.wait()
                out.seek(0)
                text = out.read().decode("utf-8", "replace")
                raise ProcessError(f"haproxy did not daemonise within {timeout:g} s", text) from exc
            out.seek(0)
            return code, out.read().decode("utf-8", "replace")

    def start(self) -> None:
        """Start HAProxy unless one already runs for this run_dir (then adopt it).

        Master-worker: ``haproxy -W -D -S run_dir/master.sock,mode,600 -f CONFIG -p PIDFILE
        [extra_args]`` in a new session, working directory = the config's folder. Waits (15 s)
        for the launcher to exit and for the master CLI to list at least one worker.
        Raises ``ProcessError`` with HAProxy's output when it exits non-zero or does not come
        up, and when a master answers on master.sock but cannot be verified.
        """
        with self._lock:
            if self.adopt():
                return
            if self.caps.master_cli:
                with contextlib.suppress(HAProxyUnavailable, RuntimeAPIError):
                    pid = self._show_proc(1.0).master_pid
                    raise ProcessError(
                        f"a master (pid {pid}) answers on {self.master_socket} but does not run "
                        f"{self.config_path} with {self.binary.path}; refusing to start another"
                    )
            self.run_dir.mkdir(parents=True, exist_ok=True)
            deadline = time.monotonic() + _START_TIMEOUT_S
            argv = [self.binary.path]
            if self.caps.master_worker:
                argv.append("-W")
            argv.append("-D")
            if self.caps.master_cli:
                argv += ["-S", f"{self.master_socket},mode,600"]
            argv += ["-f", str(self.config_path), "-p", str(self.pidfile), *self.extra_args]
            code, output = self._launch(argv, _START_TIMEOUT_S)
            if code != 0:
                raise ProcessError(f"haproxy exited with status {code} at start", output)
            while time.monotonic() < deadline:
                if self._started():
                    return
                time.sleep(_POLL_S)
            raise ProcessError(
                f"haproxy did not come up within {_START_TIMEOUT_S:g} s (no worker listed)", output
            )

    def _started(self) -> bool:
        if not self.caps.master_worker:
            return self.adopt()
        if self.caps.master_cli:
            try:
                proc = self._show_proc(1.0)
            except (HAProxyUnavailable, RuntimeAPIError):
                return False
            return bool(proc.workers) and self.adopt()
        return self.adopt() and bool(self.worker_pids())

    # -- reload ---------------------------------------------------------------------------

    def reload(self, timeout: float = 10.0) -> ReloadResult:
        """Reload the config file without dropping connections; ``timeout`` in seconds.

        2.7+: master CLI ``reload`` answers ``Success=1|0``, then ``--`` and the startup logs.
        2.5-2.6: ``reload`` closes the connection; ``show proc`` is polled until the master's
        reload counter rises, then ``[failed: N]`` > 0 means the new config was refused (the
        old workers keep serving) and a new worker generation means success. 1.9-2.4: success
        is a new worker pid. 1.8: SIGUSR2 to the master, same test. Before 1.8: a new process
        with ``-sf <old pids>``. Returns ``ReloadResult(ok=False, ...)`` when HAProxy refuses
        the config, and also when the master CLI round trip fails or times out (the outcome is
        then unknown: ``output`` says so); raises ``HAProxyUnavailable`` when no HAProxy runs.
        """
        with self._lock:
            if not self.adopt():
                raise HAProxyUnavailable(f"no HAProxy runs for {self.run_dir}; cannot reload")
            started = time.monotonic()
            method = "master-cli" if self.caps.master_cli else "signal"
            method = "sf" if self.mode == "legacy" else method
            try:
                if self.mode == "legacy":
                    ok, output = self._reload_sf(timeout)
                elif self.caps.reload_status:
                    ok, output = self._reload_status(timeout)
                else:
                    ok, output = self._reload_poll(timeout, use_cli=self.caps.master_cli)
            except RuntimeAPIError as exc:
                ok, output = False, f"{exc} (the reload may still complete; check `show proc`)"
            result = ReloadResult(ok, method, time.monotonic() - started, output, time.time())
            self.last_reload = result
            if ok:
                self.reload_count += 1
            return result

    def _reload_status(self, timeout: float) -> tuple[bool, str]:
        answer = self._master_cli(timeout).command("reload")
        head, _, logs = answer.partition("\n--\n")
        first = head.strip().splitlines()[0] if head.strip() else ""
        if first not in ("Success=1", "Success=0"):
            return False, answer.strip() or "empty answer to reload"
        if first == "Success=0":
            return False, logs.strip() or answer.strip()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # the master answered; wait for it to list workers
            with contextlib.suppress(HAProxyUnavailable, RuntimeAPIError):
                if self._show_proc().current_workers():
                    break
            time.sleep(_RELOAD_POLL_S)
        return True, logs.strip()

    def _reload_poll(self, timeout: float, *, use_cli: bool) -> tuple[bool, str]:
        deadline = time.monotonic() + timeout
        master = self._live_master()
        assert master is not None
        before_pids = set(self.worker_pids())
        before = self._show_proc() if use_cli else None
        if use_cli:
            # The master re-executes on `reload` and closes this connection (2.6: empty answer).
            with contextlib.suppress(HAProxyUnavailable, RuntimeAPIError):
                self._master_cli(timeout).command("reload")
        else:
            self._signal(master, signal.SIGUSR2)
        stale_since: float | None = None
        while time.monotonic() < deadline:
            time.sleep(_RELOAD_POLL_S)
            if not _alive(master):
                self._master = None
                return False, f"the master (pid {master.pid}) exited during the reload"
            if before is None:
                if set(self.worker_pids()) - before_pids:
                    return True, "new worker started"
                continue
            try:
                now = self._show_proc()
            except (HAProxyUnavailable, RuntimeAPIError):
                continue  # the master is re-executing
            if now.reloads <= before.reloads:
                continue
            if self.caps.failed_reloads and now.failed:
                return False, (
                    f"HAProxy refused the new configuration ({now.failed} failed reload(s) in "
                    f"`show proc`); the old workers keep serving. HAProxy "
                    f"{self.binary.version} does not report the reason on the master CLI; "
                    f"start logs go to its log targets.\n{now.text.strip()}"
                )
            new = {w.pid for w in now.current_workers()} - before_pids
            if new:
                return True, f"new worker(s) {sorted(new)}\n{now.text.strip()}"
            # Before 2.5 `show proc` has no failed counter: the master re-executed but every
            # worker is of an older generation. Allow the new one 1 s to appear, then give up.
            stale_since = stale_since or time.monotonic()
            if time.monotonic() - stale_since > _NO_NEW_WORKER_S:
                return False, (
                    "HAProxy refused the new configuration (the master re-executed but started "
                    f"no new worker); the old workers keep serving.\n{now.text.strip()}"
                )
        return False, f"no new worker within {timeout:g} s; the old workers keep serving"

    def _reload_sf(self, timeout: float) -> tuple[bool, str]:
        old = [p.pid for p in self._legacy]
        argv = [self.binary.path, "-D", "-f", str(self.config_path), "-p", str(self.pidfile)]
        argv += [*self.extra_args, "-sf", *map(str, old)]
        code, output = self._launch(argv, timeout)
        if code != 0:
            return False, output.strip() or f"haproxy exited with status {code}"
        pids = [pid for pid in self._read_pidfile() if pid not in old]
        procs = [p for p in (self._verify(pid) for pid in pids) if p is not None]
        if not procs:
            return False, output.strip() or "the new process is not running"
        self._legacy = procs
        return True, output.strip()

    # -- stop -----------------------------------------------------------------------------

    def _signal(self, proc: psutil.Process, sig: signal.Signals) -> None:
        """Send ``sig`` to ``proc`` after re-verifying it (pid reuse)."""
        if self._verify(proc.pid) is None:
            return
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> None:
        """Soft-stop: SIGUSR1 (workers finish their connections), wait up to ``timeout``
        seconds, then SIGTERM, then SIGKILL (2 s apart). Only verified pids are signalled.
        Removes the pidfile. No-op when nothing runs. Raises ``ProcessError`` if a process
        survives SIGKILL."""
        with self._lock:
            if not self.adopt():
                return
            targets: list[psutil.Process] = []
            master = self._live_master()
            if master is not None:
                targets.append(master)
                targets += [p for p in (self._verify(pid) for pid in self.worker_pids()) if p]
            else:
                targets += self._legacy
            first = [master] if master is not None else targets
            for sig, wait in (
                (signal.SIGUSR1, timeout),
                (signal.SIGTERM, 2.0),
                (signal.SIGKILL, 2.0),
            ):
                for proc in first if sig == signal.SIGUSR1 else targets:
                    self._signal(proc, sig)
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and any(_alive(p) for p in targets):
                    time.sleep(_POLL_S)
                if not any(_alive(p) for p in targets):
                    break
            survivors = [p.pid for p in targets if _alive(p)]
            if survivors:
                raise ProcessError(f"haproxy pids {survivors} survived SIGKILL")
            self._master = None
            self._legacy = []
            with contextlib.suppress(FileNotFoundError):
                self.pidfile.unlink()

    # -- status ---------------------------------------------------------------------------

    def is_running(self) -> bool:
        """True when a verified HAProxy runs for this run_dir (adopting it if needed)."""
        return self.adopt()

    def worker_pids(self) -> list[int]:
        """Worker pids, sorted: from ``show proc`` (1.9+) or the master's live children;
        in legacy mode the pids of the pidfile. Empty when nothing runs."""
        master = self._live_master()
        if master is None:
            return sorted(p.pid for p in self._legacy if _alive(p))
        if self.caps.master_cli:
            with contextlib.suppress(HAProxyUnavailable, RuntimeAPIError):
                return sorted(w.pid for w in self._show_proc().workers)
        try:
            return sorted(c.pid for c in master.children() if _alive(c))
        except psutil.Error:
            return []

    def status(self) -> ProcessStatus:
        """Process facts from psutil; never raises (``running=False`` when stopped)."""
        running = self.is_running()
        master = self._live_master()
        workers = self.worker_pids() if running else []
        procs: list[psutil.Process] = []
        if master is not None:
            procs.append(master)
        for pid in workers:
            with contextlib.suppress(psutil.Error):
                procs.append(self._cpu.get(pid) or psutil.Process(pid))
        uptime = rss = cpu = None
        if procs:
            rss, cpu = 0, 0.0
            for proc in procs:
                cached = self._cpu.setdefault(proc.pid, proc)
                with contextlib.suppress(psutil.Error):
                    rss += cached.memory_info().rss
                    cpu += cached.cpu_percent(None)
            with contextlib.suppress(psutil.Error):
                uptime = max(0.0, time.time() - procs[0].create_time())
        self._cpu = {pid: p for pid, p in self._cpu.items() if pid in {p.pid for p in procs}}
        return ProcessStatus(
            running=running,
            master_pid=master.pid if master is not None else None,
            worker_pids=workers,
            uptime_s=uptime,
            rss_bytes=rss,
            cpu_percent=cpu,
            version=str(self.binary.version),
            reload_count=self.reload_count,
            last_reload=self.last_reload,
            mode=self.mode,
        )
