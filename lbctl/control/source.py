"""The source view and plans of a ``haproxy.cfg`` text: parse → import → render → check → apply.

The source view shows the live ``haproxy.cfg`` and has two buttons: *validate* (:func:`check`)
and *validate and save* (:func:`apply`). A submitted text is read (:func:`read`: parse with
:mod:`lbctl.config`, import with :mod:`lbctl.importer`: every line a field or an extra line),
then goes through the controller's one apply path (:mod:`lbctl.control.configuration`:
``If-Match``, the lock, render, ``haproxy -c``, the history, the reload) — rendered once.

Every diagnostic names lines of the SUBMITTED text: a :class:`~lbctl.errors.ParseError` its
line and column, an import or spec error the ``line`` of each field, a ``haproxy -c`` message
the submitted line its rendered line came from (:func:`lbctl.render.provenance.to_submitted_lines`;
``line`` ``None`` for lbctl's own lines, with their text). GET then PUT of the same text is a
no-op: the text is the live file, so the current spec is applied again, which the controller
answers ``changed: false`` (no new version, no reload).

:func:`plan` answers what applying a spec or a source would change (:mod:`lbctl.control.plan`).

Opening the view reads the live text too (:func:`read_live`, after ``GET /config/source`` has
answered): the operator's first press then finds the lines and sections of the text it edits
kept (:func:`lbctl.config.document.build`, :mod:`lbctl.importer.memo`) instead of reading all of
them, which at 80,000 lines is the difference between a whole import and an edit's.

:func:`read`, :func:`check`, :func:`plan` and the dry run's answer run with Python's cyclic
garbage collector paused (:mod:`lbctl.config.pause`): they build documents, specs and
renderings of up to hundreds of thousands of objects, no cycles, and the full collections they
would set off took most of a large text's validation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lbctl.config import Document, loads
from lbctl.config.linemap import LineMap
from lbctl.config.pause import gc_paused
from lbctl.config.spelling import misspelled
from lbctl.control import configuration
from lbctl.control.controller import Controller
from lbctl.control.plan import Plan, make_plan
from lbctl.control.results import ApplyResult, ValidateResult
from lbctl.errors import (
    ConfigRejected,
    FieldError,
    LbctlError,
    ParseError,
    PolicyRefused,
    SpecError,
)
from lbctl.features import Capabilities
from lbctl.importer import import_config
from lbctl.render import RenderContext
from lbctl.render.provenance import to_submitted_lines
from lbctl.spec import Spec
from lbctl.state.journal import LOCAL

__all__ = ["SourceCheck", "Submitted", "apply", "check", "decode", "plan", "read", "read_live"]

log = logging.getLogger("lbctl.controller")


@dataclass(frozen=True)
class Submitted:
    """A submitted ``haproxy.cfg`` ``text``: the ``spec`` it imports as for the render
    ``target`` (the controller's ``(caps, ctx)``), and what its diagnostics' lines are looked
    up in (:attr:`source`: its parsed document when kept, else the text)."""

    text: str
    spec: Spec
    #: Spec field → the submitted line it was imported from (:meth:`Imported.line_of`).
    line_of: Callable[[str], int | None]
    target: tuple[Capabilities, RenderContext]
    #: The parsed text, when kept (the last read, :func:`read`, keeps the text alone).
    parsed: Document | None = field(default=None, repr=False, compare=False)

    @property
    def source(self) -> Document | str:
        """What a diagnostic's line is looked up in (:func:`lbctl.render.provenance
        .to_submitted_lines`): the parsed text when kept, else the text, which is read only in
        the sections the diagnostics name (a kept 80,000-line text is not parsed again)."""
        return self.parsed if self.parsed is not None else self.text

    def with_lines(self, exc: PolicyRefused) -> PolicyRefused:
        """``exc`` with the submitted ``line`` of each refused field, so a source-view refusal
        names the line of the text the operator sent, as every other source-view error does."""
        errors = [dataclasses.replace(e, line=e.line if e.line is not None else self.line_of(e.loc))
                  for e in exc.errors]
        return PolicyRefused(errors, exc.directives)


@dataclass(frozen=True)
class SourceCheck:
    """A dry run of a submitted text over ``version``: the ``spec`` checked, the ``result``
    of ``haproxy -c`` (diagnostics naming submitted lines) and whether applying it would
    make a new version (``changed``)."""

    version: int
    spec: Spec
    result: ValidateResult
    changed: bool
    #: ``spec.to_data()`` when it was made already (while ``haproxy -c`` ran), else ``None``.
    document: dict[str, Any] | None = None

    @gc_paused()
    def as_dict(self) -> dict[str, Any]:
        """``{"ok", "diagnostics", "config", "spec", "changed"}`` (JSON-ready; ``config`` is
        the text lbctl would write)."""
        data = self.spec.to_data() if self.document is None else self.document
        return {**self.result.as_dict(), "spec": data, "changed": self.changed}


def decode(raw: bytes) -> str:
    """A submitted body as UTF-8 text. Raises :class:`SpecError` (no field named) for an empty
    or blank body and for bytes that are not UTF-8."""
    if not raw.strip():
        raise SpecError([FieldError("", "the request body is empty: send a haproxy.cfg as "
                                        "text/plain")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError([FieldError("", "the request body is not UTF-8 text")]) from None


#: Per controller, the last text read (without its document): *validate* then *validate and
#: save* of one text, or a plan then its apply, parse and import it once.
_LAST_READ: weakref.WeakKeyDictionary[Controller, Submitted] = weakref.WeakKeyDictionary()
#: Per controller, held while a text is parsed and imported: one read at a time, so that a
#: press waits for the read before it (the live text's, :func:`read_live`) and then finds that
#: text's lines and sections kept, instead of reading all of them beside it.
_READING: weakref.WeakKeyDictionary[Controller, threading.Lock] = weakref.WeakKeyDictionary()
_READING_MADE = threading.Lock()


def _reading(controller: Controller) -> threading.Lock:
    with _READING_MADE:
        lock = _READING.get(controller)
        if lock is None:
            lock = _READING[controller] = threading.Lock()
        return lock


def _last(controller: Controller, text: str,
          target: tuple[Capabilities, RenderContext]) -> Submitted | None:
    last = _LAST_READ.get(controller)
    return last if last is not None and last.target == target and last.text == text else None


def read(controller: Controller, text: str) -> Submitted:
    """Parse and import ``text`` for the controller's target. Raises :class:`ParseError`
    (line and column), :class:`SpecError` (the submitted line of each field),
    :class:`BinaryNotFound`; when the import fails, the lines whose keyword looks misspelled
    (:func:`lbctl.config.spelling.misspelled`) come first. Nothing reaches HAProxy. On a
    fleet member it raises :class:`InvalidRequest`: the live text holds per-node lines (the
    peers, the rate share) that are not the fleet's spec; a fleet changes the spec.

    The same text read again for the same target is not parsed and imported again: the last
    text that imported is kept per controller, with its spec and the lines of its fields (an
    import is a function of the text and the target alone), not its document; at 80,000 lines
    that saves the second press of *validate*, *validate and save*, 2–3 s. Reads of one
    controller run one at a time (a read waits for the one under way, then takes what that one
    kept)."""
    controller.core.require_single_node("a haproxy.cfg source text")
    target = controller.render_target()
    last = _last(controller, text, target)
    if last is not None:
        return last
    with _reading(controller):
        last = _last(controller, text, target)
        if last is not None:  # the read this one waited for was of the same text
            return last
        return _read(controller, text, target)


@gc_paused()
def _read(controller: Controller, text: str,
          target: tuple[Capabilities, RenderContext]) -> Submitted:
    caps, ctx = target
    doc = loads(text)
    try:
        imported = import_config(doc, caps=caps, ctx=ctx)
    except SpecError as exc:
        # A misspelled keyword is the likely cause: name its line before what it broke.
        hints = [FieldError("", m.message(), m.line) for m in misspelled(doc)]
        if not hints:
            raise
        raise SpecError([*hints, *exc.errors]) from None
    submitted = Submitted(text, imported.spec, imported.line_of, target, doc)
    _LAST_READ[controller] = dataclasses.replace(submitted, parsed=None)
    return submitted


def read_live(controller: Controller) -> bool:
    """Read the live ``haproxy.cfg`` as a press of *validate* would (:func:`read`), for the
    source view that just showed it: the text the operator edits is that one, so the first
    press finds every line and section it did not change kept (at 80,000 lines, 10,000
    backends: an edit's read instead of a whole one, ``tests/bench/bench_source.py``), and
    renders its spec, so the press renders only the sections it changed. Nothing is written
    and nothing reaches HAProxy. Returns whether it read: not when another read of
    this controller is under way (that one is what the next press finds), when the live text
    was the last one read, before the first start, or on a fleet member; an error (an import
    of the live file that fails, a missing binary) is logged, never raised: the press names
    it."""
    if controller.core.coordinator is not None:
        return False
    text = controller.config_source()
    lock = _reading(controller)
    if not text or not lock.acquire(blocking=False):
        return False
    try:
        target = controller.render_target()
        if _last(controller, text, target) is not None:
            return False
        submitted = _read(controller, text, target)
        # the press renders its edit: the backends it did not change are then this
        # rendering's (lbctl.render's memo), not rendered again
        controller.render_config(submitted.spec)
        return True
    except LbctlError as exc:
        log.info("reading the live haproxy.cfg for the source view failed: %s", exc)
        return False
    finally:
        lock.release()


def _spec(submitted: Submitted, current: Spec, live: str, *, same_version: bool) -> Spec:
    """The spec a submitted text stands for: the current one when the text is the live file
    — and the version read with it is the one the write names (``same_version``; a write
    landing between the two reads makes them disagree) — else the imported one."""
    return current if submitted.text == live and same_version else submitted.spec


@gc_paused()
def check(controller: Controller, submitted: Submitted) -> SourceCheck:
    """*Validate*: render the text's spec and ``haproxy -c`` the exact bytes; nothing is
    written and no ``If-Match`` is needed. ``result.ok`` is false when HAProxy rejects it.
    Raises :class:`BinaryNotFound`, :class:`RenderError`, :class:`StoreError`."""
    version, current = controller.current()
    live = controller.config_source()
    spec = _spec(submitted, current, live, same_version=True)
    # While haproxy -c runs (on the other core): the answer's spec serialised, and the line
    # map of the rendered text to the submitted one indexed, for the diagnostics -c gives.
    made: list[dict[str, Any]] = []
    maps: list[LineMap] = []

    def while_checking(config: str) -> None:
        made.append(spec.to_data())
        with contextlib.suppress(ParseError):  # (lbctl renders what lexes) made again below
            maps.append(LineMap(submitted.source, config))

    try:
        checked = controller.validate(spec, while_checking=while_checking)
    except PolicyRefused as exc:
        raise submitted.with_lines(exc) from None
    result = checked
    if checked.diagnostics:  # only the lines they name are paired (lbctl.config.linemap)
        mapped = to_submitted_lines(checked.diagnostics, submitted.source, checked.config,
                                    mapping=maps[0] if maps else None)
        result = dataclasses.replace(checked, diagnostics=mapped)
    # The texts first: unequal, they answer without comparing two large specs.
    return SourceCheck(version, spec, result, checked.config != live or spec != current,
                       made[0] if made else None)


def apply(
    controller: Controller, submitted: Submitted, *, if_match: int | None, who: str = LOCAL,
    author: str = "", message: str = "", allow_empty: bool = False,
) -> ApplyResult:
    """*Validate and save*: apply the text's spec as version ``if_match + 1`` through
    :func:`lbctl.control.configuration.run` (rendered once; warnings name submitted lines).
    Raises what :meth:`Controller.apply` raises (``allow_empty``: :mod:`lbctl.control.guard`);
    a :class:`ConfigRejected`'s diagnostics name
    submitted lines (the history and the audit line keep the rendered ones)."""
    version, current = controller.current()
    spec = _spec(submitted, current, controller.config_source(), same_version=if_match == version)
    write = configuration.apply_write(if_match=if_match, who=who, author=author, message=message,
                                      allow_empty=allow_empty)
    try:
        result = configuration.run(controller.core, write, lambda: spec)
    except PolicyRefused as exc:
        raise submitted.with_lines(exc) from None
    except ConfigRejected as exc:
        if write.config is None:  # rejected before a rendering: nothing to map
            raise
        mapped = to_submitted_lines(exc.diagnostics, submitted.source, write.config)
        raise ConfigRejected(mapped, exc.output) from None
    if result.diagnostics and write.config is not None:
        mapped = to_submitted_lines(result.diagnostics, submitted.source, write.config)
        result = dataclasses.replace(result, diagnostics=mapped)
    return result


@gc_paused()
def plan(controller: Controller, body: Spec | str) -> Plan:
    """What applying ``body`` — a spec, or a ``haproxy.cfg`` text (the live file's own text
    stands for the current spec) — would change (:func:`lbctl.control.plan.make_plan`).
    The rendered text is screened by the host policy first, as every text is; nothing is
    checked by HAProxy, nothing is written. Raises :class:`ParseError`, :class:`SpecError`,
    :class:`PolicyRefused` (told to the listeners, ``on_validation_error("policy")``),
    :class:`BinaryNotFound`, :class:`RenderError`."""
    version, current = controller.current()
    live = controller.config_source()
    if not isinstance(body, Spec):
        body = current if body == live else read(controller, body).spec
    text = controller.render_config(body)
    controller.core.screen(body, text)
    return make_plan(version, current, live, body, text)
