"""The configuration pipeline: a spec becomes the running ``haproxy.cfg``, or nothing changes.

:func:`apply` runs, under the write lock: check ``If-Match`` → render → write the exact bytes
to a temp file in the state dir → ``haproxy -c`` on that file → rename it over the live one →
reload (master CLI; a start when HAProxy is down) → record the new version → keep the live file
as last-known-good. On any failure before the rename nothing changed; after it, the previous
bytes are put back, so the live file, the running HAProxy and the version stay as they were.

:func:`rollback` is an apply of a version's spec from the history; :func:`validate` the dry
run (render and ``haproxy -c``, nothing kept); :func:`reload_now` a reload of the live file.
Writes run one at a time: one arriving while another reloads waits for the lock, then checks
its ``If-Match`` (README "Bursts of writes"). Every write is tracked by
:class:`lbctl.state.journal.Journal`: a new version is recorded in the history before
``spec.json`` — a version that cannot be recorded is undone — failed attempts and reloads are
recorded after, and every write emits one audit line.

Speed at 10,000 backends (issue 19): the pipeline runs with the cyclic garbage collector
paused (:mod:`lbctl.config.pause`); the spec is serialised once, while ``haproxy -c`` runs
(:meth:`lbctl.state.journal.Write.prepare_document`, the check's ``while_running``), and that
one document and its texts feed both the history entry and ``spec.json``; the bytes are
compared with the live file before the specs are; backends unchanged since the last render are
not rendered again (:mod:`lbctl.render.memo`). While the check runs, the new spec's proxies are
also indexed by their JSON text (:class:`lbctl.spec.known.KnownProxies`), so that the next body
that repeats them is read without validating them again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from lbctl.config.pause import gc_paused
from lbctl.control import guard
from lbctl.control.core import Core, log
from lbctl.control.results import ApplyResult, ValidateResult
from lbctl.errors import (
    ConfigRejected,
    HAProxyUnavailable,
    PolicyRefused,
    ProcessError,
    ReloadFailed,
    StoreError,
    VersionConflict,
)
from lbctl.haproxy.process import HAProxyProcess, ReloadResult
from lbctl.spec import Spec, validate_spec
from lbctl.spec.known import KnownProxies
from lbctl.state.journal import LOCAL, Write, outcome_of

__all__ = [
    "apply",
    "apply_write",
    "reload_now",
    "reload_or_restore",
    "rerender",
    "rollback",
    "run",
    "start_or_restore",
    "validate",
]


def apply_write(
    *, if_match: int | None, who: str = LOCAL, author: str = "", message: str = "",
    allow_empty: bool = False,
) -> Write:
    """The journal's record of an apply over version ``if_match`` (see :func:`apply`); after
    :func:`run`, its ``config`` is the text that was rendered (and checked)."""
    return Write("apply", who=who, author=author, message=message, base_version=if_match,
                 allow_empty=allow_empty)


def apply(
    core: Core, spec: Spec, *, if_match: int | None, who: str = LOCAL, author: str = "",
    message: str = "", allow_empty: bool = False,
) -> ApplyResult:
    """Make ``spec`` the running config, as version ``if_match + 1``.

    ``who`` is the caller's identity (the API passes the token's name, ``admin``);
    ``author`` (who says they are behind it) and ``message`` (why) are kept with the change
    in the history and the audit line. Raises :class:`PreconditionRequired` (``if_match``
    is ``None``), :class:`VersionConflict` (stale ``if_match``), :class:`ConfigRejected`
    (``haproxy -c`` said no; diagnostics carry spec fields), :class:`ReloadFailed` /
    :class:`ProcessError` (HAProxy refused it at reload/start; the last-known-good file is
    back), :class:`BinaryNotFound`, :class:`StoreError` (state dir or history),
    :class:`RenderError`, :class:`ConfirmationRequired` (``spec`` would leave no listener or
    empty a backend in use and ``allow_empty`` is false: :mod:`lbctl.control.guard`; with
    it, what was confirmed is recorded). On every error the live file, the running HAProxy
    and the version are unchanged. Every call is told to the listeners (``on_apply``).
    """
    write = apply_write(if_match=if_match, who=who, author=author, message=message,
                        allow_empty=allow_empty)
    return run(core, write, lambda: spec)


def rollback(
    core: Core, version: int, *, if_match: int | None, who: str = LOCAL, author: str = "",
    message: str = "", allow_empty: bool = False,
) -> ApplyResult:
    """Apply the spec of history ``version`` again, as a new version (``if_match + 1``),
    through the same path as :func:`apply`: the config is rendered anew (byte-identical to
    that version's with the same binary), checked, reloaded. When that spec is already
    current nothing changes (``changed`` false). Raises what :func:`apply` raises, and
    :class:`NotFound` when the history has no such version, :class:`StoreError` when its
    entry has no spec."""
    write = Write("rollback", who=who, author=author, base_version=if_match,
                  message=message or f"rollback to version {version}",
                  target=f"version {version}", rollback_of=version, allow_empty=allow_empty)
    return run(core, write, lambda: _spec_of(core, version))


def _spec_of(core: Core, version: int) -> Spec:
    spec = core.history.version(version).spec
    if spec is None:
        raise StoreError(f"the history has no spec for version {version}")
    return validate_spec(spec)


def run(core: Core, write: Write, spec_of: Callable[[], Spec], *,
        version: int | None = None) -> ApplyResult:
    """The apply pipeline for ``write`` (an ``apply`` or ``rollback`` :class:`Write`) with the
    spec ``spec_of()`` gives under the lock, inside the journal, told to the listeners
    (``on_apply``; ``on_validation_error``: ``"haproxy"`` when ``haproxy -c`` refuses,
    ``"policy"`` when the host policy does). Raises what
    :func:`apply` raises; ``write`` keeps what was done (``config``: the rendered text).

    ``version``: the number the new version takes (a fleet version decided by
    ``core.coordinator``); ``None``: ``If-Match + 1``, and on a fleet member the write goes to
    the coordinator, which proposes, commits and then calls back here with the version."""
    if version is None and core.coordinator is not None:
        return core.coordinator.write(write, spec_of)
    outcome = "failed"
    try:
        with gc_paused(), core.journal.track(write, lambda: core.version):
            result = _apply(core, write, spec_of, version)
        outcome = write.result
        return result
    except BaseException as exc:
        outcome = outcome_of(exc)
        if isinstance(exc, ConfigRejected):
            core.notify("on_validation_error", "haproxy")
        elif isinstance(exc, PolicyRefused):
            core.notify("on_validation_error", "policy")
        raise
    finally:
        core.notify("on_apply", outcome, write.duration_ms / 1000)


def _apply(core: Core, write: Write, spec_of: Callable[[], Spec], version: int | None) -> ApplyResult:
    base = core.require_if_match(write)
    if base < core.version:  # stale already: no need to wait for the lock
        raise VersionConflict(base, core.version)
    with core.lock:
        core.lock_for(write)
        spec = write.spec = spec_of()
        write.confirmed = guard.check(core.spec, spec, allow_empty=write.allow_empty)
        process = core.require_process()
        text = write.config = core.render(spec)
        live = core.state.read_config()
        same = version is None or version == core.version
        if same and live == text.encode() and spec == core.spec and process.is_running():
            write.result = "unchanged"
            return ApplyResult(core.version, False, None, [], write.duration_ms / 1000,
                               write.queued_ms / 1000)
        write.attempted = True
        known: list[KnownProxies] = []

        def while_checking() -> None:  # the spec serialised while haproxy -c runs (another core)
            write.prepare_document()
            with contextlib.suppress(Exception):  # a failed to_data: write_current raises it
                texts = write.texts()
                if texts is not None:
                    known.append(KnownProxies(spec, texts.document))

        diagnostics = core.files.install(spec, text, while_checking=while_checking)
        write.diagnostics = [d.as_dict() for d in diagnostics]
        reload = reload_or_restore(core, live, write) if process.is_running() else None
        if reload is None:
            start_or_restore(core, live)
        new = core.version + 1 if version is None else version
        try:
            core.journal.commit_version(write, new)
            core.state.write_current(new, spec, write.texts())
        except StoreError as exc:
            core.journal.undo(write, f"StoreError: {exc}")
            core.files.restore(live)
            if process.is_running():
                core.reload(process)
            raise
        core.files.save_lkg()
        core.set_current(new, spec, known[0] if known else None)
        write.current, write.result = new, "changed"
        log.info("applied version %d (%s) who=%r author=%r message=%r", new, write.what,
                 write.who, write.author, write.message)
        return ApplyResult(new, True, reload, diagnostics, write.duration_ms / 1000,
                           write.queued_ms / 1000)


def validate(core: Core, spec: Spec, *,
             while_checking: Callable[[str], None] | None = None) -> ValidateResult:
    """Dry run: render ``spec`` and run ``haproxy -c`` on the exact bytes; change nothing.
    ``ok`` false (and the listeners told ``on_validation_error``) when HAProxy rejects it.
    ``while_checking(text)`` runs, with the rendered text, while ``haproxy -c`` does (the
    caller's own work, on this core while the check has the other:
    :func:`lbctl.haproxy.validate.check_file`).

    Raises :class:`BinaryNotFound` (no binary), :class:`RenderError`, :class:`StoreError`,
    :class:`PolicyRefused` (the host policy refused a line before ``haproxy -c``; the
    listeners are told ``on_validation_error("policy")``).
    """
    core.require_binary()
    text = core.render(spec)
    during = None if while_checking is None else lambda: while_checking(text)
    try:
        ok, diagnostics = core.files.dry_run(spec, text, while_checking=during)
    except PolicyRefused:
        core.notify("on_validation_error", "policy")
        raise
    if not ok:
        core.notify("on_validation_error", "haproxy")
    return ValidateResult(ok, diagnostics, text)


def reload_now(core: Core, *, who: str = LOCAL, author: str = "", message: str = "") -> ReloadResult:
    """Reload HAProxy with the live file; recorded in the history (no new version) and
    audited like every write. Raises :class:`ReloadFailed`, :class:`HAProxyUnavailable`,
    :class:`BinaryNotFound`."""
    write = Write("reload", who=who, author=author, message=message)
    with core.journal.track(write, lambda: core.version), core.lock:
        write.lock_taken(core.version)
        write.base_version = core.version
        process = core.require_process()
        if not process.is_running():
            raise HAProxyUnavailable("HAProxy is not running")
        write.attempted = True
        live = core.state.read_config()
        write.config = live.decode("utf-8", "replace") if live is not None else None
        result = core.reload(process, write)
        if not result.ok:
            raise ReloadFailed("HAProxy refused to reload", result.output)
        return result


def rerender(core: Core, *, who: str = LOCAL, message: str = "") -> ReloadResult | None:
    """Render the current spec again after its render context changed (a fleet's membership:
    ``core.share``) and, when the bytes differ from the live file, check, swap and reload
    them: no new version (recorded and audited as a reload). ``None`` when nothing changed
    or HAProxy is not running (its next start or apply renders anew). Raises
    :class:`ConfigRejected`, :class:`ReloadFailed` (the previous bytes are back),
    :class:`BinaryNotFound`, :class:`StoreError`."""
    write = Write("reload", who=who, message=message)
    with core.journal.track(write, lambda: core.version), core.lock:
        write.lock_taken(core.version)
        write.base_version = core.version
        process = core.require_process()
        text = core.render(core.spec)
        live = core.state.read_config()
        if live == text.encode() or not process.is_running():
            write.result = "unchanged"
            return None
        write.attempted, write.spec, write.config = True, core.spec, text
        diagnostics = core.files.install(core.spec, text)
        write.diagnostics = [d.as_dict() for d in diagnostics]
        result = reload_or_restore(core, live, write)
        core.files.save_lkg()
        return result


def reload_or_restore(core: Core, previous: bytes | None, write: Write | None = None) -> ReloadResult:
    """Reload HAProxy (its process must exist); when it refuses, put ``previous`` live bytes
    back (the last-known-good when ``None``) and raise :class:`ReloadFailed`."""
    process = _process(core)
    result = core.reload(process, write)
    if not result.ok:
        core.files.restore(previous)
        raise ReloadFailed(
            "HAProxy refused the new config at reload; the old workers keep serving and "
            "the last-known-good config was restored",
            result.output,
        )
    return result


def start_or_restore(core: Core, previous: bytes | None) -> None:
    """Start HAProxy (its process must exist) from the live file; when it does not start, put
    ``previous`` back and raise its :class:`ProcessError`."""
    process = _process(core)
    try:
        process.start()
        core.unavailable = None
    except ProcessError:
        core.files.restore(previous)
        raise


def _process(core: Core) -> HAProxyProcess:
    assert core.process is not None
    return core.process
