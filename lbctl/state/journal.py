"""What every write leaves behind: a history entry (:mod:`lbctl.state.history`) and an audit line.

The controller describes each write (an apply, a rollback, a server state change, a reload)
as a :class:`Write` and runs it inside :meth:`Journal.track`. When it ends, well or not:

- **history**: a write that made a new version was recorded by the controller itself, inside
  its apply (:meth:`Journal.commit_version`: a write that cannot be recorded is undone). A
  write that got past its ``If-Match`` check and then failed (``haproxy -c`` said no, HAProxy
  refused the reload, the disk is full) is recorded here with ``version`` NULL, as is a
  reload. Refused preconditions (428, 412) and no-op applies are not history: nothing was
  attempted.
- **audit**: exactly one JSON line on the logger ``lbctl.audit`` (level INFO), for every
  write, whatever happened::

      {"ts": "2024-05-01T10:00:00.123Z", "who": "admin", "author": "ana@host", "what": "apply",
       "target": null, "message": "raise client1", "base_version": 3, "version": 4,
       "result": "changed", "error": null, "entry": 17, "queued_ms": 0.1, "duration_ms": 31.2}

  ``what`` is ``apply`` | ``rollback`` | ``server`` | ``reload`` (or ``denied``: a write
  refused for its token's role, by :mod:`lbctl.api.auth`; ``validate`` | ``plan``: a dry run
  the host policy refused, by :func:`lbctl.api.routes.audit_policy`, ``target`` naming each
  refused directive and its field or line; ``login`` | ``logout``: the admin UI's session,
  by :mod:`lbctl.api.session`, ``target`` ``session``; ``token-create`` | ``token-revoke``:
  ``/api/v1/tokens``, by :mod:`lbctl.api.tokens`, ``target`` ``"<name> (<role>)"``); every
  line is also handed to :data:`AUDIT_SINKS` (stored by :mod:`lbctl.state.audit`);
  ``result`` is ``changed`` | ``unchanged`` | ``ok`` (a reload, a login) | ``invalid`` (422) |
  ``conflict`` (428 / 412; 409: a token name taken) |
  ``unauthorized`` (401: a wrong token at login) | ``forbidden`` (403; also a cookie write
  refused by the CSRF guard, :mod:`lbctl.api.cookie`) | ``failed`` (anything else);
  ``version`` is the version current after the write (unchanged when it failed); ``error``
  is ``"ClassName: message"``; ``entry`` the history entry id or null; times in milliseconds.
  The same dict is on the record as ``record.audit``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lbctl.errors import (
    ConfigRejected,
    LbctlError,
    PreconditionRequired,
    SpecError,
    StoreError,
    VersionConflict,
)
from lbctl.haproxy.process import ReloadResult
from lbctl.spec import Spec
from lbctl.state.history import Entry, History
from lbctl.state.jsontext import SpecTexts

__all__ = ["AGENT", "AUDIT_SINKS", "LOCAL", "Journal", "Write", "audit", "outcome_of"]

#: ``who`` of the agent's own writes (first start) and of in-process callers.
AGENT = "agent"
LOCAL = "local"

audit_log = logging.getLogger("lbctl.audit")
#: Callables given every audit line's dict after it is logged (:mod:`lbctl.state.audit`
#: registers one per agent); each must not raise.
AUDIT_SINKS: list[Callable[[dict[str, Any]], None]] = []
log = logging.getLogger("lbctl.journal")


def outcome_of(exc: BaseException) -> str:
    """The ``result`` of a write that raised ``exc``: ``invalid``, ``conflict`` or ``failed``."""
    if isinstance(exc, ConfigRejected | SpecError):
        return "invalid"
    if isinstance(exc, PreconditionRequired | VersionConflict):
        return "conflict"
    return "failed"


def audit(what: str, *, who: str, author: str = "", message: str = "", target: str | None = None,
          base_version: int | None = None, version: int | None = None, result: str,
          error: str | None = None, entry: int | None = None, queued_ms: float = 0.0,
          duration_ms: float = 0.0) -> dict[str, Any]:
    """Emit one audit line (module docstring) and return its dict."""
    line = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "who": who, "author": author, "what": what, "target": target, "message": message,
        "base_version": base_version, "version": version, "result": result, "error": error,
        "entry": entry, "queued_ms": round(queued_ms, 3), "duration_ms": round(duration_ms, 3),
    }
    audit_log.info("%s", json.dumps(line, separators=(", ", ": ")), extra={"audit": line})
    for sink in list(AUDIT_SINKS):  # the stored trail (lbctl.state.audit), whatever the log level
        sink(line)
    return line


@dataclass
class Write:
    """One write as it runs: who asked, what for, and what the controller got so far.

    ``base_version`` is the ``If-Match`` (the current version for a reload); the controller
    fills ``spec``, ``config``, ``diagnostics``, ``reload`` as it goes, sets ``attempted``
    once past the ``If-Match`` check with a change to make, ``result`` on success
    (``changed`` | ``unchanged`` | ``ok``), ``entry`` when it recorded one, and ``current``:
    the version current under the lock (then the new one). Monotonic times: ``started`` at
    creation, ``locked`` when the controller's lock was taken.
    """

    what: str
    who: str = LOCAL
    author: str = ""
    message: str = ""
    base_version: int | None = None
    target: str | None = None
    rollback_of: int | None = None
    #: ``allow_empty`` was sent (:mod:`lbctl.control.guard`); ``confirmed`` what it confirmed.
    allow_empty: bool = False
    confirmed: str | None = None
    spec: Spec | None = None
    config: str | None = None
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    reload: ReloadResult | None = None
    attempted: bool = False
    result: str = "ok"
    entry: int | None = None
    current: int | None = None
    started: float = field(default_factory=time.monotonic)
    locked: float | None = None
    _document: tuple[Spec, SpecTexts | Exception] | None = field(default=None, repr=False)

    def prepare_document(self) -> None:
        """Serialise the spec now: ``spec.to_data()`` and its two stored texts
        (:class:`~lbctl.state.jsontext.SpecTexts`), kept for :meth:`document` and
        :meth:`texts`. An apply calls this while ``haproxy -c`` runs (the check's
        ``while_running``): at 50,000 servers the serialisation is half a second of Python and
        Rust holding the GIL, which a thread beside the pipeline made the pipeline wait for;
        beside a check on another core it costs no time of its own. Never raises: an error is
        kept and raised by :meth:`document`."""
        if self.spec is None or (self._document is not None and self._document[0] is self.spec):
            return
        try:
            self._document = (self.spec, SpecTexts.of(self.spec.to_data()))
        except Exception as exc:  # raised by document(), where the caller handles it
            self._document = (self.spec, exc)

    def texts(self) -> SpecTexts | None:
        """The :class:`~lbctl.state.jsontext.SpecTexts` of the spec, made once per spec (the
        history entry and ``spec.json`` share them); raises what ``to_data`` raises."""
        if self.spec is None:
            return None
        self.prepare_document()
        assert self._document is not None
        made = self._document[1]
        if isinstance(made, Exception):
            raise made
        return made

    def document(self) -> dict[str, Any] | None:
        """``spec.to_data()``, computed once per spec (:meth:`texts`); raises what
        ``to_data`` raises."""
        texts = self.texts()
        return None if texts is None else texts.document

    def lock_taken(self, version: int) -> None:
        """The controller's lock was acquired (ends ``queued_ms``) with ``version`` current."""
        self.locked = time.monotonic()
        self.current = version

    @property
    def queued_ms(self) -> float:
        """Milliseconds spent waiting for the controller's lock."""
        return ((self.locked or self.started) - self.started) * 1000

    @property
    def duration_ms(self) -> float:
        """Milliseconds since the write started."""
        return (time.monotonic() - self.started) * 1000

    def entry_for(self, *, result: str, version: int | None, error: str | None = None) -> Entry:
        """The history entry of this write as it stands."""
        return Entry(
            kind=self.what, result=result, base_version=self.base_version, version=version,
            who=self.who, author=self.author, message=self.message,
            spec=self.document(), config=self.config,
            diagnostics=list(self.diagnostics),
            reload=self.reload.as_dict() if self.reload is not None else None, error=error,
            queued_ms=self.queued_ms, duration_ms=self.duration_ms, rollback_of=self.rollback_of,
            confirmed=self.confirmed,
        )


class Journal:
    """History and audit of one controller's writes."""

    def __init__(self, history: History) -> None:
        self.history = history

    def commit_version(self, write: Write, version: int) -> int:
        """Record ``write`` as the entry that makes ``version``; its id. Raises
        :class:`StoreError` (the caller undoes the write: an unrecorded version never runs)."""
        write.entry = self.history.record(write.entry_for(result="ok", version=version),
                                          texts=write.texts())
        return write.entry

    def ensure_recorded(self, version: int, spec: Spec, config: str | None, *, first: bool) -> None:
        """At agent start: give the current ``version`` an entry (``initial``, by ``agent``)
        when it has none — the first start records version 1 — and demote entries above it
        (a crash between the history and ``spec.json``: they never became current). A history
        that cannot be written is logged, not raised: HAProxy must come up all the same (and
        writes fail with :class:`StoreError` until the history can be written)."""
        try:
            gone = self.history.demote_after(
                version, "never became current: spec.json kept an older version")
            if gone:
                log.warning("history: %d entries above version %d demoted", gone, version)
            if self.history.has_version(version):
                return
            message = ("first start: the embedded default spec" if first else
                       f"version {version} had no history entry: recorded at agent start")
            write = Write("initial", who=AGENT, message=message, spec=spec, config=config)
            self.commit_version(write, version)
        except StoreError as exc:
            log.error("the history is unavailable: %s", exc)

    def undo(self, write: Write, error: str) -> None:
        """The version ``write`` recorded was undone after all: demote its entry (best effort)."""
        if write.entry is not None:
            try:
                self.history.demote(write.entry, error)
            except LbctlError as exc:
                log.error("history: cannot demote entry %s: %s", write.entry, exc)

    def note(self, write: Write, *, result: str, error: str | None = None) -> None:
        """Record a versionless entry for ``write`` (a failed attempt, a reload); best effort:
        a history that cannot be written is logged, never raised over the write's own error."""
        try:
            write.entry = self.history.record(write.entry_for(result=result, version=None,
                                                              error=error))
        except LbctlError as exc:
            log.error("history: cannot record the %s (%s): %s", write.what, result, exc)

    @contextlib.contextmanager
    def track(self, write: Write, current_version: Callable[[], int]) -> Iterator[Write]:
        """Run a write: on exit, record a failed attempt (or a reload) in the history when no
        entry was recorded yet, and emit its audit line. Exceptions pass through unchanged."""
        try:
            yield write
        except BaseException as exc:
            result = outcome_of(exc)
            error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, ConfigRejected):
                write.diagnostics = [d.as_dict() for d in exc.diagnostics]
            if write.attempted and write.entry is None:
                self.note(write, result=result, error=error)
            self._audit(write, result, error, current_version())
            raise
        if write.attempted and write.entry is None:
            self.note(write, result=write.result)
        self._audit(write, write.result, None, current_version())

    @staticmethod
    def _audit(write: Write, result: str, error: str | None, version: int) -> None:
        audit(write.what, who=write.who, author=write.author, message=write.message,
              target=write.target, base_version=write.base_version,
              version=write.current if write.current is not None else version,
              result=result, error=error, entry=write.entry, queued_ms=write.queued_ms,
              duration_ms=write.duration_ms)
