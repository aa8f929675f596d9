"""Runtime changes and counters: what goes through HAProxy's runtime API, without a reload.

:func:`set_server` is the runtime path for a server's state and weight, under the write lock:
check ``If-Match`` → the edited spec → render and ``haproxy -c`` into a temp file → the
runtime API commands → read back → rename the temp file in → record the new version. On any
failure the runtime change is undone (best effort) and nothing else changed. The commands and
the read-back are :mod:`lbctl.control.servers`'s.

:func:`clients` and :func:`clear_client_counters` read and reset the per-client stick-table
counters (:mod:`lbctl.control.clients`): not spec changes, so no version and no ``If-Match``;
the lock is taken only to read the current spec, never around a runtime API round trip.
"""

from __future__ import annotations

import contextlib
from typing import Any

from lbctl.config.pause import gc_paused
from lbctl.control import clients as client_counters
from lbctl.control import servers
from lbctl.control.core import Core, log
from lbctl.control.results import ServerResult
from lbctl.errors import HAProxyUnavailable, LbctlError
from lbctl.state.journal import LOCAL, Write

__all__ = ["clear_client_counters", "clients", "set_server"]


def set_server(
    core: Core, backend: str, server: str, *, state: str | None = None, weight: int | None = None,
    if_match: int | None, who: str = LOCAL, author: str = "", message: str = "",
) -> ServerResult:
    """Set a server's ``state`` (ready | drain | maint) and/or ``weight`` (0–256) through
    the runtime API, without a reload, and record it as version ``if_match + 1``.

    The live ``haproxy.cfg`` becomes the exact render of the new spec (checked with
    ``haproxy -c`` like an apply, renamed in, not reloaded), so a later reload keeps the
    change. Raises :class:`PreconditionRequired`, :class:`VersionConflict`,
    :class:`NotFound` (backend or server unknown to the spec or to HAProxy),
    :class:`SpecError` (bad value), :class:`HAProxyUnavailable`, :class:`RuntimeAPIError`
    (HAProxy refused, or the read-back disagrees), :class:`ConfigRejected`,
    :class:`StoreError`. On every error the version, the live file and (as far as HAProxy
    lets itself be reset) the runtime are unchanged. ``who``, ``author``, ``message``: as for
    :func:`lbctl.control.configuration.apply`.
    """
    asked = " ".join(f"{k}={v}" for k, v in (("state", state), ("weight", weight))
                     if v is not None)
    write = Write("server", who=who, author=author, message=message or asked,
                  base_version=if_match, target=f"{backend}/{server}")
    # The collector paused as for an apply (lbctl.config.pause): at 50,000 servers its full
    # collections over the agent's heap doubled this call.
    with gc_paused(), core.journal.track(write, lambda: core.version):
        core.require_single_node("a runtime server change")
        return _set_server(core, write, backend, server, state, weight)


def _set_server(
    core: Core, write: Write, backend: str, server: str, state: str | None, weight: int | None
) -> ServerResult:
    core.require_if_match(write)
    with core.lock:
        core.lock_for(write)
        new_spec, old, new = servers.edit_server(core.spec, backend, server, state=state,
                                                 weight=weight)
        if not core.require_process().is_running():
            raise HAProxyUnavailable("HAProxy is not running")
        changed = new != old  # the rest of new_spec is the very objects of core.spec
        live = core.state.read_config()
        temp = None
        document: dict[str, Any] | None = None  # new_spec's, once recorded
        if changed:
            write.attempted, write.spec = True, new_spec
            write.config = core.render(new_spec)
            temp, diagnostics = core.files.validated_temp(
                new_spec, write.config, while_checking=write.prepare_document)
            write.diagnostics = [d.as_dict() for d in diagnostics]
        client = core.runtime()
        try:
            servers.apply_server(client, backend, server, new.state, new.effective_weight)
            admin, stat = servers.confirm_server(client, backend, server, new.state,
                                                   new.effective_weight)
            if temp is not None:
                core.state.commit(temp, core.state.config_path)
                temp = None
                core.journal.commit_version(write, core.version + 1)
                document = core.state.write_current(core.version + 1, new_spec,
                                                    write.texts()).document
        except LbctlError as exc:
            core.journal.undo(write, f"{type(exc).__name__}: {exc}")
            if temp is not None:
                core.state.discard(temp)
            elif changed:
                core.files.restore(live)
            with contextlib.suppress(LbctlError):
                servers.apply_server(client, backend, server, old.state, old.effective_weight)
            raise
        if changed:  # the last-known-good stays what HAProxy last loaded
            core.set_current(core.version + 1, new_spec, document)
        write.current, write.result = core.version, "changed" if changed else "unchanged"
        log.info("server %s/%s: state=%s weight=%s (version %d, no reload) who=%r author=%r",
                 backend, server, new.state, new.weight, core.version, write.who, write.author)
        readback = servers.ServerReadBack(new.state, new.effective_weight, admin, stat)
        return ServerResult(core.version, changed, readback)


def clients(core: Core) -> dict[str, Any]:
    """Counters of every client of the current spec (:mod:`lbctl.control.clients`):
    ``{"clients": [{"frontend", "client", ..., "request_rate" (requests/s), "waiting",
    "delayed_total", "rejected_total"}], "reload_keeps_counters": bool | None}``.
    Raises :class:`BinaryNotFound`, :class:`HAProxyUnavailable`, :class:`RuntimeAPIError`."""
    core.require_process()
    runtime = core.runtime()
    ask = core.caps is None or core.caps.lua_cli
    stats = client_counters.client_stats(runtime, core.current()[1], ask_waiting=ask)
    keeps = (client_counters.reload_keeps_counters(runtime.command("show peers"))
             if stats else None)
    return {"clients": [c.as_dict() for c in stats], "reload_keeps_counters": keeps}


def clear_client_counters(core: Core, name: str, frontend: str | None = None) -> list[dict[str, str]]:
    """Remove client ``name``'s stick-table entry (every frontend, or ``frontend``): its
    counters restart from 0. Not a spec change: no version, no ``If-Match``. Returns
    ``[{"frontend", "client", "table"}]``. Raises :class:`NotFound`,
    :class:`BinaryNotFound`, :class:`HAProxyUnavailable`, :class:`RuntimeAPIError`."""
    core.require_process()
    cleared = client_counters.clear_client(core.runtime(), core.current()[1], name, frontend)
    log.info("cleared the counters of client %s in %s", name,
             ", ".join(c["frontend"] for c in cleared))
    return cleared
