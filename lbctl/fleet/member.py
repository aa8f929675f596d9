"""One node of a fleet: decides writes fleet-wide, applies committed versions, holds its lease.

:class:`FleetMember` is the :class:`lbctl.control.core.WriteCoordinator` of a node started
with ``lbctl serve --fleet URL --node NAME``. Every apply-pipeline write the API takes (apply,
rollback) comes to :meth:`FleetMember.write`:

1. ``If-Match`` is compared with the fleet's committed version (428 / 412);
2. the version ``committed + 1`` is *proposed* (``proposals/<id>``); every live node (its
   ``nodes/<name>`` key is held by a lease) renders it for its own binary, runs
   ``haproxy -c`` on those bytes and writes its verdict (:mod:`lbctl.fleet.verdict`);
3. once every live node said yes — within ``deadline_s`` — it is *committed* by an etcd
   transaction comparing the ``spec`` key's revision (the loser of two writers with the same
   base gets :class:`VersionConflict`, 412); any no, or a missing verdict, is
   :class:`FleetRefused` (422) naming each node, and nobody applies it;
4. this node applies it at once (the ordinary apply pipeline,
   :func:`lbctl.control.configuration.run` with the fleet version); every other node's
   background loop sees the new committed version and applies it too.

The background loop (every ``poll_s``) applies a committed version this node does not run,
judges open proposals, keeps the lease alive (TTL ``ttl_s``, refreshed every ``ttl_s / 3``,
from another thread too while an apply or a judgement runs: :mod:`lbctl.fleet.lease`)
and publishes the node's report (:meth:`report`). A node registers its lease only after it
caught up with the committed version: it never counts as live with an older one. While
etcd cannot be reached every node keeps serving what it last applied, writes raise
:class:`FleetUnavailable` (503) and health warns ``fleet-degraded``; the loop resumes by
itself when etcd answers again.

Size: just over 300 lines because the coordinator, the loop and the applier share one
state (the lease, the versions being committed here, the last result, the etcd status);
the pure parts are :mod:`lbctl.fleet.report`, :mod:`lbctl.fleet.verdict` and
:mod:`lbctl.fleet.store`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from lbctl.control import configuration, guard
from lbctl.control.controller import ApplyResult, Controller
from lbctl.errors import FleetUnavailable, LbctlError, VersionConflict
from lbctl.fleet.lease import kept_alive
from lbctl.fleet.options import FleetOptions
from lbctl.fleet.report import membership, node_report
from lbctl.fleet.store import FleetStore
from lbctl.fleet.verdict import judge, refusal
from lbctl.spec import Spec, validate_spec
from lbctl.state.journal import Write, outcome_of

__all__ = ["FleetMember", "FleetOptions"]  # FleetOptions: re-exported

log = logging.getLogger("lbctl.fleet")


class FleetMember:
    """``controller``'s membership in the fleet ``options`` names (module docstring).

    Creating it makes it ``controller``'s write coordinator; :meth:`start` after the
    controller started, :meth:`stop` before it shuts down. ``store`` defaults to a
    :class:`FleetStore` on ``options.url``.
    """

    def __init__(self, controller: Controller, options: FleetOptions,
                 store: FleetStore | None = None) -> None:
        self.controller = controller
        self.options = options
        self.store = store or FleetStore(options.url, options.fleet)
        self.core = controller.core
        self.core.coordinator = self
        self.core.local_peer = options.node  # the peers section names nodes by their names
        self._write_lock = threading.Lock()  # one fleet write at a time from this node
        self._apply_lock = threading.Lock()  # one apply of a committed version at a time
        self._pending: set[int] = set()  # versions this node commits and applies itself
        self._judged: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lease: int | None = None
        self._kept = 0.0
        self._reported = 0.0
        #: The committed version last read from etcd (``None``: none yet / not read).
        self.committed_version: int | None = None
        #: ``{"version", "ok", "result", "error", "reload_ok", "at", "duration_s"}`` of the
        #: last apply of a committed version on this node (``None`` before the first).
        self.last_result: dict[str, Any] | None = None
        self._failed: int | None = None
        #: Why etcd cannot be reached, and since when (epoch s); ``None`` while it answers.
        self.etcd_error: str | None = None
        self.etcd_down_since: float | None = None
        self.view: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] = ({}, {})

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Catch up and register (best effort: with etcd away the loop keeps trying), then
        run the background loop in a daemon thread."""
        self.tick()
        self._thread = threading.Thread(target=self._loop, name=f"fleet-{self.options.node}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop and revoke the lease (the node stops counting as live at once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.lease is not None:
            with contextlib.suppress(FleetUnavailable):
                self.store.revoke(self.lease)
            self.lease = None

    def _loop(self) -> None:
        while not self._stop.wait(self.options.poll_s):
            self.tick()

    def tick(self) -> None:
        """One round of the loop: apply the committed version, hold the lease, judge open
        proposals, publish the report. Never raises (etcd away: noted, retried next tick)."""
        try:
            self.view = self.store.nodes()  # first: a joining node catches up at its share
            self._membership(self.view[0])
            self._sync()
            now = time.monotonic()
            if self.lease is None:
                self.lease = self.store.grant(self.options.ttl_s)
                self._kept, self._reported = now, 0.0
                log.info("fleet %s: node %s is live (lease %x)", self.options.fleet,
                         self.options.node, self.lease)
            elif now - self._kept >= self.options.ttl_s / 3:
                if self.store.keep_alive(self.lease):
                    self._kept = now
                else:
                    log.warning("fleet: lease %x expired; registering again", self.lease)
                    self.lease = None
                    return
            self._judge_proposals()
            if now - self._reported >= min(2.0, self.options.ttl_s / 3):
                self.publish()
            if self.etcd_error is not None:
                log.info("fleet: etcd at %s answers again", self.store.endpoint)
            self.etcd_error = self.etcd_down_since = None
        except FleetUnavailable as exc:
            if self.etcd_error is None:
                log.warning("fleet-degraded: %s", exc)
                self.etcd_down_since = time.time()
            self.etcd_error = str(exc)
        except Exception:
            log.exception("fleet: the background loop failed a round")

    # -- applying committed versions --------------------------------------------------------
    def _sync(self) -> None:
        committed = self.store.committed()
        self.committed_version = committed.version if committed else None
        if committed is None or committed.version == self.core.version:
            return
        if committed.version in self._pending or committed.version == self._failed:
            return
        record = committed.record
        write = Write("apply", who="fleet", author=str(record.get("author") or ""),
                      message=f"fleet version {committed.version} from node "
                              f"{record.get('by')}: {record.get('message') or ''}".rstrip(": "),
                      allow_empty=True)
        with contextlib.suppress(LbctlError), self._lease_kept():  # recorded in last_result
            self._apply(committed.version, validate_spec(committed.spec), write)

    def _apply(self, version: int, spec: Spec, write: Write) -> ApplyResult:
        """Apply committed ``version`` here through the ordinary pipeline; recorded in
        :attr:`last_result` and published. Raises what the apply raises."""
        with self._apply_lock:
            write.base_version = self.core.version
            started = time.monotonic()
            try:
                result = configuration.run(self.core, write, lambda: spec, version=version)
            except LbctlError as exc:
                self._failed = version
                self._result(version, False, started, error=f"{type(exc).__name__}: {exc}")
                raise
            self._failed = None
            reload_ok = result.reload.ok if result.reload is not None else None
            self._result(version, True, started, reload_ok=reload_ok,
                         result="changed" if result.changed else "unchanged")
            return result

    def _result(self, version: int, ok: bool, started: float, *, error: str | None = None,
                reload_ok: bool | None = None, result: str = "failed") -> None:
        self.last_result = {"version": version, "ok": ok, "result": result, "error": error,
                            "reload_ok": reload_ok, "at": time.time(),
                            "duration_s": round(time.monotonic() - started, 4)}
        with contextlib.suppress(FleetUnavailable):
            self.publish()

    def _membership(self, live: dict[str, dict[str, Any]]) -> None:
        """Follow the live nodes (``live``: their reports by name): split smooth clients'
        rates over them (``core.share``) and list the others' peers (``core.peers``, so stick
        tables are shared); re-render and reload when either changed
        (:func:`lbctl.control.configuration.rerender`)."""
        share, peers = membership(live, self.options.node)
        if (share, peers) == (self.core.share, self.core.peers):
            return
        before = self.core.share
        self.core.share, self.core.peers = share, peers
        try:
            configuration.rerender(self.core, who="fleet",
                                   message=f"fleet membership: {before} → {share} live nodes")
            log.info("fleet: %d live nodes (peers %s), smooth clients paced at rate / %d",
                     share, [name for name, _ in peers], share)
        except LbctlError as exc:
            log.error("fleet: re-render for %d live nodes failed: %s", share, exc)

    # -- judging proposals ------------------------------------------------------------------
    def _lease_kept(self) -> contextlib.AbstractContextManager[None]:
        """The lease refreshed while the loop runs a long step (:mod:`lbctl.fleet.lease`)."""
        return kept_alive(self.store, lambda: self.lease, self.options.ttl_s / 3, self._kept_now)

    def _kept_now(self) -> None:
        self._kept = time.monotonic()

    def _judge_proposals(self) -> None:
        now = time.time()
        for pid, proposal in self.store.proposals().items():
            if "/" in pid:
                continue
            deadline = float(proposal.get("deadline", 0))
            if deadline < now - 30:  # its proposer is gone: clean up
                self.store.forget(pid)
                continue
            if pid in self._judged or deadline < now:
                continue
            with self._lease_kept():  # a render and haproxy -c
                verdict = judge(self.controller, proposal.get("spec") or {})
            self.store.put_verdict(pid, self.options.node, verdict)
            self._judged.add(pid)

    # -- the coordinator: a write decided fleet-wide ----------------------------------------
    def write(self, write: Write, spec_of: Callable[[], Spec]) -> ApplyResult:
        """Propose, commit and apply ``write`` (module docstring). Raises
        :class:`PreconditionRequired`, :class:`VersionConflict`, :class:`FleetRefused`,
        :class:`FleetUnavailable`, :class:`ConfirmationRequired` and what the local apply
        raises (the version is committed by then: the other nodes apply it)."""
        with self._write_lock:
            try:
                version, spec = self._decide(write, spec_of)
            except LbctlError as exc:
                self._refused(write, exc)
                raise
            try:
                return self._apply(version, spec, write)
            finally:
                self._pending.discard(version)

    def _decide(self, write: Write, spec_of: Callable[[], Spec]) -> tuple[int, Spec]:
        base = self.core.require_if_match(write)
        committed = self.store.committed()
        current = committed.version if committed else self.core.version
        if base != current:
            raise VersionConflict(base, current)
        spec = write.spec = spec_of()
        before = validate_spec(committed.spec) if committed else self.core.spec
        write.confirmed = guard.check(before, spec, allow_empty=write.allow_empty)
        version = current + 1
        verdicts, missing = self._propose(version, spec)
        refused = refusal(verdicts, missing, self.options.deadline_s)
        if refused is not None:
            raise refused
        self._pending.add(version)
        record = {"version": version, "spec": spec.to_data(), "by": self.options.node,
                  "who": write.who, "author": write.author, "message": write.message,
                  "at": time.time()}
        if not self.store.commit(committed, record):
            self._pending.discard(version)
            newer = self.store.committed()
            raise VersionConflict(base, newer.version if newer else current)
        self.committed_version = version
        return version, spec

    def _propose(self, version: int, spec: Spec) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Publish ``version`` and wait for every live node's verdict (this node's own is
        given here): ``(verdicts by node, live nodes without one at the deadline)``."""
        pid = uuid.uuid4().hex
        deadline = time.time() + self.options.deadline_s
        self.store.propose({"id": pid, "version": version, "spec": spec.to_data(),
                            "by": self.options.node, "deadline": deadline})
        self._judged.add(pid)
        try:
            self.store.put_verdict(pid, self.options.node, judge(self.controller, spec.to_data()))
            while True:
                verdicts = self.store.verdicts(pid)
                live = set(self.store.nodes()[0]) | {self.options.node}
                missing = sorted(live - set(verdicts))
                if not missing or any(not v.get("ok") for v in verdicts.values()):
                    return verdicts, []
                if time.time() >= deadline:
                    return verdicts, missing
                time.sleep(0.05)
        finally:
            with contextlib.suppress(FleetUnavailable):
                self.store.forget(pid)

    def _refused(self, write: Write, exc: LbctlError) -> None:
        """A write refused before any apply: its audit line (and history entry when it got
        as far as a proposal), and the listeners told."""
        write.attempted = write.spec is not None
        try:
            with self.core.journal.track(write, lambda: self.core.version):
                raise exc
        except LbctlError:
            pass
        self.core.notify("on_apply", outcome_of(exc), write.duration_ms / 1000)

    # -- reports ----------------------------------------------------------------------------
    def publish(self) -> None:
        """Put this node's report (:func:`lbctl.fleet.report.node_report`) under the lease
        (no-op before the node registered). Raises :class:`FleetUnavailable`."""
        if self.lease is None:
            return
        self.store.put_node(self.options.node,
                            node_report(self.controller, self.options, self.last_result),
                            self.lease)
        self._reported = time.monotonic()

    def health_warnings(self) -> list[str]:
        """``["fleet-degraded: ..."]`` while etcd cannot be reached, else ``[]``."""
        if self.etcd_error is None:
            return []
        since = time.time() - (self.etcd_down_since or time.time())
        return [f"fleet-degraded: {self.etcd_error} (for {since:.0f} s); serving version "
                f"{self.core.version}, writes are refused until etcd answers"]
