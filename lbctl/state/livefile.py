"""The live ``haproxy.cfg`` of one state dir: exact bytes checked, renamed in, put back.

DESIGN.md "Safety rules": validate the exact bytes that will be deployed — a temp file in the
same directory, ``haproxy -c`` on it (the file's fsync runs meanwhile and ends before anything
else), then a rename over the live file (and an fsync of the directory); on any failure the
live file stays byte-identical, or is put back from the bytes read before the change. The
last-known-good copy (``haproxy.cfg.lkg``) is what HAProxy last accepted.
:class:`lbctl.control.controller.Controller` is the only caller that writes.

This is also the host-safety choke point (:mod:`lbctl.spec.policy`): every text is screened
by :meth:`LiveFile.screen` before it is written to the temp file and before ``haproxy -c``
runs, whatever it came from (a spec, extra lines, the source view, an import, a rollback).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from lbctl.errors import ConfigRejected, Diagnostic, StoreError
from lbctl.render import FieldsOfLines
from lbctl.spec import Spec
from lbctl.spec.policy import HostPolicy, refusal_error
from lbctl.state.store import StateDir

__all__ = ["Checker", "LiveFile", "with_fields"]

log = logging.getLogger("lbctl.livefile")
#: A spec field holding verbatim lines (``global.extra[0]``, ``sections[1].lines[2]``).
_VERBATIM = re.compile(r"\.(extra|lines)\[\d+\]$")

class Checker(Protocol):
    """``haproxy -c`` on a file: its warnings, or :class:`ConfigRejected` (see
    :func:`lbctl.haproxy.validate.check_file`, which calls ``while_running`` once the check
    runs); may raise :class:`BinaryNotFound`."""

    def __call__(self, path: Path, *,
                 while_running: Callable[[], None] | None = None) -> list[Diagnostic]: ...


def with_fields(spec: Spec, text: str, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Attach the spec field each diagnostic's config line came from (when known)."""
    out = []
    field_of = FieldsOfLines(spec, text)
    for d in diagnostics:
        where = field_of(d.line) if d.line else None
        out.append(Diagnostic(d.severity, d.message, d.line, d.text, where or d.field))
    return out


class LiveFile:
    """The live config of ``state``, screened by ``policy`` (the default policy of the state
    dir when not given) and checked by ``check`` before it is ever renamed in."""

    def __init__(self, state: StateDir, check: Checker, policy: HostPolicy | None = None) -> None:
        self.state = state
        self.check = check
        self.policy = policy or HostPolicy.for_state(state.root, state.run_dir)

    def screen(self, spec: Spec, text: str) -> None:
        """Apply the host policy to ``text`` (rendered from ``spec``). Raises
        :class:`~lbctl.errors.PolicyRefused` naming the spec field of each refused line
        (:func:`lbctl.render.field_for_line`), or :class:`~lbctl.errors.ParseError`."""

        field_of = FieldsOfLines(spec, text)

        def extra(lineno: int) -> bool:
            where = field_of(lineno)
            return where is not None and _VERBATIM.search(where) is not None

        refusals = self.policy.screen_text(text, own=lambda n: not extra(n))
        if refusals:
            raise refusal_error(refusals, field_of)

    def validated_temp(self, spec: Spec, text: str, *,
                       while_checking: Callable[[], None] | None = None,
                       kept: bool = True) -> tuple[Path, list[Diagnostic]]:
        """``text`` in a temp file next to the live one, checked; the caller commits or
        discards it. Returns ``(path, warnings with spec fields)``. Raises
        :class:`ConfigRejected` (spec fields attached) and :class:`StoreError`; the temp file
        is gone then; :class:`~lbctl.errors.PolicyRefused` before anything is written.
        ``while_checking`` runs while ``haproxy -c`` does (:data:`Checker`).

        The file is fsynced while ``haproxy -c`` runs (``-c`` reads the bytes from the page
        cache; the fsync ends before this returns, so before any commit); ``kept`` false (a
        dry run, which discards the file) skips the fsync."""
        self.screen(spec, text)
        temp = self.state.write_temp(text.encode(), suffix=".cfg", sync=False)

        def during() -> None:
            if kept:
                self.state.sync_temp(temp)
            if while_checking is not None:
                while_checking()

        try:
            diags = self.check(temp, while_running=during)
        except ConfigRejected as exc:
            self.state.discard(temp)
            raise ConfigRejected(with_fields(spec, text, exc.diagnostics), exc.output) from None
        except BaseException:
            self.state.discard(temp)
            raise
        return temp, with_fields(spec, text, diags)

    def dry_run(self, spec: Spec, text: str, *,
                while_checking: Callable[[], None] | None = None) -> tuple[bool, list[Diagnostic]]:
        """Check ``text`` as :meth:`validated_temp` does, keep nothing: ``(ok, diagnostics)``.
        A policy refusal is raised (:class:`~lbctl.errors.PolicyRefused`), not answered.
        ``while_checking``: see :meth:`validated_temp`."""
        try:
            temp, diags = self.validated_temp(spec, text, while_checking=while_checking,
                                              kept=False)
        except ConfigRejected as exc:
            return False, exc.diagnostics
        self.state.discard(temp)
        return True, diags

    def install(self, spec: Spec, text: str, *,
                while_checking: Callable[[], None] | None = None) -> list[Diagnostic]:
        """Check ``text``, then rename it over the live file; its warnings. Raises
        :class:`ConfigRejected`, :class:`StoreError` (the live file unchanged).
        ``while_checking``: see :meth:`validated_temp`."""
        temp, diags = self.validated_temp(spec, text, while_checking=while_checking)
        self.state.commit(temp, self.state.config_path)
        return diags

    def restore(self, previous: bytes | None) -> None:
        """Put the previous live bytes back (or the last-known-good when there were none)."""
        data = previous if previous is not None else self.state.read_lkg()
        if data is not None:
            self.state.atomic_write(self.state.config_path, data)

    def save_lkg(self) -> None:
        """Copy the live file to the last-known-good (after HAProxy accepted it); a failure
        is logged (the previous last-known-good stays)."""
        data = self.state.read_config()
        if data is not None:
            try:
                self.state.atomic_write(self.state.lkg_path, data)
            except StoreError as exc:
                log.warning("could not save last-known-good: %s", exc)
