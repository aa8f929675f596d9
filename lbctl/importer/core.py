"""Document → spec: bring any ``haproxy.cfg`` under lbctl without losing a line.

:func:`import_config` maps what lbctl can write back the same to spec fields, and keeps every
other line verbatim, in order, as an ``extra`` line of its section:

* ``global``: ``maxconn``, ``hard-stop-after``; ``defaults``: its ``name``, ``mode``, the five
  ``timeout`` fields, ``retries`` (:mod:`lbctl.importer.settings`); a file with several
  ``defaults`` sections (named ones for ``from``, or anonymous ones each applying to the
  proxies after it) gives the list of them, each where it was (``order``);
* frontends (:mod:`lbctl.importer.proxies`): binds, ``maxconn``, ``monitor-uri``,
  ``default_backend``, routes and rate-limited clients as lbctl writes them; backends
  (:mod:`lbctl.importer.backends`): ``mode``, ``balance``, the health check,
  ``default-server``, servers with their options (:mod:`lbctl.importer.servers`);
* ``listen`` sections (:mod:`lbctl.importer.listens`): binds, ``maxconn``, and what a
  backend has;
* sections of other kinds (``userlist``, ``peers``, ``resolvers``, ``cache``, ``program``,
  ``http-errors``, ``ring``, ``mailers`` ...), and proxies whose names the spec refuses,
  become ``sections`` entries, kept whole;
* lbctl's own lines (the two header comments, the stats socket and ``stats timeout 30s``,
  ``localpeer``, the pacing action's ``lua-load``, ``option idle-close-on-response``, the
  ``peers lbctl`` section, the ``lbctl_clients_*`` stick tables, the ``lbctl_prometheus``
  frontend) are recognised and left to lbctl, which writes them again;
* the order of the sections after ``global``: the spec's ``order`` when it is not lbctl's
  own (defaults, ``sections``, listens, frontends, backends), so proxies keep their
  numbers and each defaults section applies to the proxies it applied to;
* a conditional block around whole sections (``.if`` after a section, ``.endif`` at the end
  of the last one it wraps, :mod:`lbctl.importer.blocks`): the sections it wraps become
  ``sections`` entries, kept whole, with the block's lines as their ``before`` / ``after``.

A field the file does not set is ``null`` (no line: HAProxy's default), so rendering the import
adds nothing but lbctl's own lines. Comments: those right above a section header (and one
beside it) become the section's ``comment``, those above a server (and beside it) the
server's; comments before the first section that are not right above it go to the spec's
top ``comment``; every other comment line stays an extra line where it was. Blank lines are
lbctl's. Lines inside ``.if`` ... ``.endif`` blocks within a section stay extra lines (never
fields).

Properties, each a test: ``import(render(S)) == S`` up to what rendering forgets (the order
of clients, the weight of a drained server, the burst of a ``reject`` client, ``check`` of
servers without a health check, the check timings no server uses); ``render(import(F))``
keeps every section's normalised directives of F (:mod:`lbctl.config.normal`), which HAProxy
accepts as it accepted F; and no line is ever dropped silently: a line that has no place (one
before any section, a conditional block that opens or closes among a section's directives or
before the first section, ``from`` on a defaults section, a ``[scope]`` line) is a
:class:`~lbctl.errors.SpecError` naming its line.

Size: over 300 lines because the importer's walk over a document (sections, preamble,
comments, conditionals, lbctl's own lines) is one state machine; split, its state would be
passed around in every call.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lbctl.config.directives import Directive
from lbctl.config.document import BLANK, COMMENT, DOT, SCOPE, Document, Line, Section, read_line
from lbctl.config.pause import gc_paused
from lbctl.config.sections import header_addresses
from lbctl.errors import FieldError, ParseError, SpecError
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.importer.backends import read_backend
from lbctl.importer.blocks import section_blocks
from lbctl.importer.listens import read_listen
from lbctl.importer.memo import MEMO, KeptProxy, kept_data, section_key, shared_origin
from lbctl.importer.proxies import Mapped, read_frontend, split_address
from lbctl.importer.roundtrip import RoundTrips
from lbctl.importer.settings import read_defaults, read_global, text_of
from lbctl.render import (
    LOCAL_PEER,
    PEERS_SECTION,
    PROMETHEUS_FRONTEND,
    RenderContext,
    section_ref,
    stick_table_name,
)
from lbctl.reserved import RESERVED_PREFIX, is_reserved
from lbctl.spec import TIMEOUT_EVENTS, Backend, Frontend, Spec, validate_spec
from lbctl.spec.lines import CONDITIONALS
from lbctl.spec.models import Listen

__all__ = ["HEADER_PREFIXES", "Imported", "import_config", "import_spec"]

#: The comment lines lbctl writes at the top of every config it renders.
HEADER_PREFIXES = ("# haproxy.cfg generated by lbctl ", "# lbctl overwrites this file")
_HEADER_VERSION = re.compile(r"^# haproxy\.cfg generated by lbctl \S+ for HAProxy (\S+)")
#: The model of each proxy list: a model kept by ``_keep_model`` must be of it.
_MODELS: dict[str, type[Any]] = {"frontends": Frontend, "backends": Backend, "listens": Listen}
#: The target assumed for a config that names none (no lbctl header, no ``caps``).
DEFAULT_TARGET = HAProxyVersion(2, 8, 0)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")


@dataclass(frozen=True)
class Imported:
    """An import: the ``spec``, and ``origin``: for spec field paths (``frontends[0]``,
    ``backends[1].servers[2]``, ``global.extra[3]``) the 1-based line they came from."""

    spec: Spec
    origin: dict[str, int]

    def line_of(self, loc: str) -> int | None:
        """The line the field ``loc`` (or the closest enclosing one) came from, or ``None``."""
        while loc:
            if loc in self.origin:
                return self.origin[loc]
            cut = max(loc.rfind("."), loc.rfind("["))
            loc = loc[:cut] if cut > 0 else ""
        return None


def import_spec(doc: Document, *, caps: Capabilities | None = None,
                ctx: RenderContext | None = None) -> Spec:
    """The spec of ``doc`` (:func:`import_config` without the origins)."""
    return import_config(doc, caps=caps, ctx=ctx).spec


def import_config(doc: Document, *, caps: Capabilities | None = None,
                  ctx: RenderContext | None = None) -> Imported:
    """Import ``doc`` (see the module docstring).

    ``caps`` is the target the spec will be rendered for: a version-gated form it would write
    differently stays an extra line. Without it, the version named by lbctl's header comment,
    else HAProxy 2.8. ``ctx`` tells lbctl's own stats socket, Lua file and 429 error file by
    their paths; without it they are told by their shapes. Raises :class:`SpecError`: every
    line that has no place (``loc`` ``line N``), or the spec's own field errors, each with the
    ``line`` it came from.
    """
    with gc_paused():  # the import only builds (lbctl.config.pause: half its time otherwise)
        return _Importer(doc, caps or _header_caps(doc) or Capabilities.for_target(
            DEFAULT_TARGET), ctx).run()


def _header_caps(doc: Document) -> Capabilities | None:
    for line in doc.preamble[:2]:
        m = _HEADER_VERSION.match(line.text)
        if m:
            try:
                return Capabilities.for_target(HAProxyVersion.parse(m.group(1)))
            except ValueError:
                return None
    return None


class _Importer:
    """One import: walks the document once, then validates the spec it built."""

    def __init__(self, doc: Document, caps: Capabilities, ctx: RenderContext | None) -> None:
        self.doc, self.caps, self.ctx = doc, caps, ctx
        self.errors: list[FieldError] = []
        self.origin: dict[str, int] = {}
        self.data: dict[str, Any] = {
            "comment": [], "global": {"maxconn": None, "hard_stop_after": None, "extra": []},
            "defaults": _empty_defaults(),
            "frontends": [], "backends": [], "listens": [], "sections": []}
        self.claimed = {id(c) for s in doc.sections for c in s.comments_before}
        self.binds: set[str] = set()
        self.global_lines: list[tuple[Line, bool]] = []  # (line, outside .if blocks)
        self.defaults: list[tuple[dict[str, Any], list[tuple[Line, bool]]]] = []
        self.many_defaults = len(doc.sections_of("defaults")) > 1
        self.blocks = section_blocks(doc, self.claimed)
        self.tables: list[Section] = []
        self.peers: Section | None = None
        self.order: list[str] = []  # the sections after global, as the file has them
        self.round_trips = RoundTrips(caps)  # backends' round trips, checked in one render
        self.immediate: set[Hashable] = set()  # backends (header line) checked alone
        self.models: dict[tuple[str, int], Any] = {}  # proxies validated, with their lines
        self.kept: list[tuple[str, int, Any, dict[str, Any]]] = []  # (_keep_model)
        self.found_ctx: RenderContext | None = None  # (_ctx)
        self.proxy_names: frozenset[str] | None = None  # (_proxy_names)
        # Proxy sections of the last import (lbctl.importer.memo), those reused, and those read
        # now (key, list, index, data, origin entries, binds taken), kept if the import succeeds.
        self.memo = MEMO.generation(caps, ctx)
        self.reused: dict[Hashable, KeptProxy] = {}
        self.read_now: list[tuple[Hashable, str, int, dict[str, Any], tuple[tuple[str, int], ...],
                                  frozenset[str]]] = []

    def unplaced(self, line: Line, why: str) -> None:
        self.errors.append(FieldError(f"line {line.lineno}", f"{why}: {line.text.strip()}",
                                      line.lineno))

    # -- the walk --------------------------------------------------------------------------
    def run(self) -> Imported:
        self._preamble()
        for index, section in enumerate(self.doc.sections):
            if index in self.blocks.wrapped:
                self._wrapped(index, section)
            else:
                self._section(section)
        self._finish_global()
        self._finish_defaults()
        self._finish_lbctl_sections()
        self._finish_order()
        if self.errors:
            raise SpecError(self.errors)
        failed = self.round_trips.failures()
        if failed:  # those backends mapped again, each checked with its own render
            again = _Importer(self.doc, self.caps, self.ctx)
            again.immediate = failed
            return again.run()
        self._take_models()
        try:
            spec = validate_spec(self._validated())
        except SpecError as exc:
            imported = Imported(Spec(), self.origin)
            raise SpecError([FieldError(e.loc, e.message, imported.line_of(e.loc))
                             for e in exc.errors]) from None
        self._remember()
        return Imported(spec, self.origin)

    def _remember(self) -> None:
        """Keep this import's proxy sections for the next import (:mod:`lbctl.importer.memo`):
        those reused, and those read now whose model was kept whole (round trip passed,
        ``comment`` and ``extra`` taken)."""
        sections = dict(self.reused)
        models = self.models
        for key, kind, index, data, origin, binds in self.read_now:
            model = models.get((kind, index))
            if model is not None:
                sections[key] = KeptProxy(kept_data(data), model, shared_origin(origin), binds)
        MEMO.keep(self.caps, self.ctx, sections)

    def _preamble(self) -> None:
        for line in self.doc.preamble:
            if line.kind == BLANK or id(line) in self.claimed:
                continue
            if line.kind != COMMENT:
                self.unplaced(line, "outside any section")
            elif not line.text.startswith(HEADER_PREFIXES):
                self.origin[f"comment[{len(self.data['comment'])}]"] = line.lineno
                self.data["comment"].append(text_of(line))

    def _lines(self, section: Section) -> tuple[list[Line], set[int]]:
        """The section's lines that are its own (not blank, not the next header's comments),
        and the ids of those inside ``.if`` blocks. Unplaceable lines are recorded."""
        claimed, moved = self.claimed, self.blocks.moved
        lines = [ln for ln in section.lines[1:] if ln.kind != BLANK and id(ln) not in claimed
                 and not (moved and id(ln) in moved)]
        lines = self._header_binds(section) + lines
        blocked: set[int] = set()
        if all(ln.kind != SCOPE and ln.kind != DOT for ln in lines):
            return lines, blocked  # no [scope] line, no block: the loop below finds nothing
        opened: list[Line] = []
        for line in lines:
            if line.kind == SCOPE:
                self.unplaced(line, "a '[scope]' line has no place in the spec")
            if line.kind == DOT and line.keyword in CONDITIONALS:
                if line.keyword == ".if":
                    opened.append(line)
                elif not opened:
                    self.unplaced(line, "a conditional block spanning sections cannot be kept "
                                        "(it holds lines of a section, or comes before the first)")
                    continue
                blocked.add(id(line))
                if line.keyword == ".endif":
                    opened.pop()
            elif opened:
                blocked.add(id(line))
        for line in opened:
            self.unplaced(line, "a conditional block spanning sections cannot be kept")
        return lines, blocked

    def _header_binds(self, section: Section) -> list[Line]:
        """The listeners written on a ``frontend`` / ``listen`` header (``listen stats :1936``,
        the 1.x form) as the ``bind`` lines they mean, numbered as the header, so they become
        binds (fields or extra lines) and render as ``bind`` on every target. Words after a
        backend's name (HAProxy refuses them) are an error naming the header line."""
        header = section.header
        if section.kind == "backend":
            words = _after_name(section)
            if words:
                self.unplaced(header, f"{' '.join(words)!r} after the name of a backend has no "
                                      "place (HAProxy refuses it too)")
            return []
        binds = []
        for address in header_addresses(section.kind, header.args):
            try:
                binds.append(read_line(section.kind, f"bind {address}", header.lineno))
            except ParseError as exc:
                self.unplaced(header, f"the header address {address!r} cannot be a bind: {exc}")
        return binds

    def _comment(self, section: Section, where: str,
                 origin: dict[str, int] | None = None) -> list[str]:
        header = section.lines[0]
        before = header.comments_before
        comments = [text_of(c) for c in before]
        if header.comment is not None:
            comments.append(header.comment.rstrip())
        into = self.origin if origin is None else origin
        for i, c in enumerate(before):
            into[f"{where}.comment[{i}]"] = c.lineno
        return comments

    def _section(self, section: Section) -> None:
        kind, name = section.kind, section.name
        if kind == "global":
            first = not self.global_lines
            if first:
                self.data["global"]["comment"] = self._comment(section, "global")
                self.origin["global"] = section.header.lineno
            else:  # sections of the same kind merge: its lines follow the first one's
                self.global_lines += [(c, False) for c in section.comments_before]
            lines, blocked = self._lines(section)
            self.global_lines += [(ln, id(ln) not in blocked) for ln in lines]
        elif kind == "defaults":
            if section.parent is not None:
                self.unplaced(section.header, "'from' on the defaults section has no place")
            where = f"defaults[{len(self.defaults)}]" if self.many_defaults else "defaults"
            comment = self._comment(section, where)
            ignored = _after_name(section)
            if ignored:  # HAProxy ignores them; kept in sight, not silently dropped
                comment.append(f"# lbctl import: words after the defaults name, which HAProxy "
                               f"ignores: {' '.join(ignored)}")
            self.origin[where] = section.header.lineno
            self.order.append(section_ref(kind, name))
            lines, blocked = self._lines(section)
            self.defaults.append(({**_empty_defaults(), "name": name, "comment": comment},
                                  [(ln, id(ln) not in blocked) for ln in lines]))
        elif name is not None and is_reserved(name):
            self._lbctl_section(section)
        elif kind in ("frontend", "backend", "listen") and _NAME.match(name or ""):
            self.order.append(section_ref(kind, name))
            self._proxy(section)
        else:
            self.order.append(section_ref(kind, name))
            self._generic(section)

    def _proxy(self, section: Section) -> None:
        key = {"frontend": "frontends", "backend": "backends", "listen": "listens"}[section.kind]
        where = f"{key}[{len(self.data[key])}]"
        lines, blocked = self._lines(section)
        name = section.name or ""
        memo_key: Hashable = section_key(section, lines, blocked)
        binds_before: frozenset[str] = frozenset()
        if section.kind != "backend":  # what else a frontend's or listen's import reads
            binds_before = frozenset(self.binds)
            memo_key = (memo_key, self._ctx(), binds_before,
                        self._proxy_names() if section.kind == "frontend" else None)
        kept = self.memo.get(memo_key)
        if kept is not None:
            self._reuse(memo_key, kept, key, where, section.header.lineno)
            return
        mapped: Mapped
        if section.kind == "frontend":
            mapped = read_frontend(name, section.parent, lines, blocked, self.caps,
                                   self._ctx(), self.binds, self._proxy_names())
        elif section.kind == "listen":
            mapped = read_listen(name, section.parent, lines, blocked, self.caps, self._ctx(),
                                 self.binds)
        else:
            deferred = section.header.lineno not in self.immediate
            mapped = read_backend(name, section.parent, lines, blocked, self.caps,
                                  deferred=deferred)
            if deferred and mapped.model is not None:
                self.round_trips.add(section.header.lineno, mapped, lines)
        if section.kind == "frontend" and not _whole_frontend(mapped, lines):
            # HAProxy takes a frontend without bind or backend; the spec does not: kept whole.
            self.binds.difference_update(mapped.data.get("bind", ()))
            self._generic(section)
            return
        data = dict(mapped.data)
        origin: dict[str, int] = {}
        data["comment"] = self._comment(section, where, origin)
        data["extra"] = self._extra(lines, mapped, where, "extra", origin)
        lineno = section.lines[0].lineno
        origin[where] = lineno
        for line, path in mapped.placed.values():
            origin.setdefault(f"{where}.{path}", line.lineno)
        self.origin.update(origin)
        cut = len(where)
        taken = frozenset(self.binds) - binds_before if section.kind != "backend" else frozenset()
        self.read_now.append((memo_key, key, len(self.data[key]), data, tuple(
            [(loc[cut:], at - lineno) for loc, at in origin.items()]), taken))
        self._keep_model(key, mapped, data)
        self.data[key].append(data)

    def _reuse(self, memo_key: Hashable, kept: KeptProxy, key: str, where: str,
               lineno: int) -> None:
        """Take a proxy section the last import read from the same lines and surroundings
        (:mod:`lbctl.importer.memo`): its model as it is (validated and round-tripped then),
        the binds it took, its fields' lines counted from this header's line ``lineno``."""
        origin = self.origin
        for suffix, offset in kept.origin:
            origin[where + suffix] = lineno + offset
        self.binds.update(kept.binds)
        self.models[(key, len(self.data[key]))] = kept.model
        self.data[key].append(kept.data)
        self.reused[memo_key] = kept

    def _keep_model(self, key: str, mapped: Mapped, data: dict[str, Any]) -> None:
        """Keep the model ``mapped.data`` validated as, to take ``data``'s ``comment`` and
        ``extra`` (validated by the model's own field validators) once the round trip is
        checked (:meth:`_take_models`), for :meth:`_validated`. Not for a model with
        validators of the whole model (they would see other fields)."""
        model = mapped.model
        if model is None or type(model) is not _MODELS[key] \
                or set(data) - set(mapped.data) - {"comment", "extra"}:
            return
        cls = type(model)
        if cls.__pydantic_decorators__.model_validators or cls.__pydantic_post_init__:
            return
        self.kept.append((key, len(self.data[key]), model, data))

    def _take_models(self) -> None:
        """Give each model kept by :meth:`_keep_model` its ``comment`` and ``extra``, in
        place (no copy): the round trip rendered it without them
        (:mod:`lbctl.importer.roundtrip`), and nothing renders it since. An empty list where
        the model holds one is not assigned again (nothing to validate); a value the field
        refuses leaves the proxy to :func:`validate_spec`, which names the field."""
        for key, index, model, data in self.kept:
            validator = type(model).__pydantic_validator__
            try:
                for field in ("comment", "extra"):
                    if data[field] or getattr(model, field):
                        validator.validate_assignment(model, field, data[field])
            except ValidationError:
                continue
            self.models[(key, index)] = model

    def _validated(self) -> dict[str, Any]:
        """The spec data, each proxy kept by :meth:`_keep_model` as its model (pydantic takes
        a model as it is: each proxy is validated once)."""
        data = dict(self.data)
        for key in ("frontends", "backends", "listens"):
            if key in data:
                data[key] = [self.models.get((key, i), part) for i, part in enumerate(data[key])]
        return data

    def _proxy_names(self) -> frozenset[str]:
        """The names of the file's backends and listen sections (what a route may name)."""
        if self.proxy_names is None:
            self.proxy_names = frozenset(s.name for s in self.doc.sections
                                         if s.kind in ("backend", "listen") and s.name)
        return self.proxy_names

    def _extra(self, lines: list[Line], mapped: Mapped | None, where: str, field: str,
               into: dict[str, int] | None = None) -> list[str]:
        out: list[str] = []
        origin = self.origin if into is None else into
        placed = mapped.placed if mapped is not None else {}
        for line in lines:
            if id(line) not in placed:
                origin[f"{where}.{field}[{len(out)}]"] = line.lineno
                out.append(text_of(line))
        return out

    def _wrapped(self, index: int, section: Section) -> None:
        """A section inside a conditional block around sections: kept whole, with the
        block's lines (:mod:`lbctl.importer.blocks`)."""
        if section.kind in ("global", "defaults") or (section.name and is_reserved(section.name)):
            self.unplaced(section.header, f"a conditional block around a {section.kind} "
                                          "section cannot be kept (lbctl writes it)")
            return
        self.order.append(section_ref(section.kind, section.name))
        self._generic(section, self.blocks.before.get(index, []), self.blocks.after.get(index, []))

    def _generic(self, section: Section, before: list[Line] | None = None,
                 after: list[Line] | None = None) -> None:
        where = f"sections[{len(self.data['sections'])}]"
        lines, _ = self._lines(section)
        self.origin[where] = section.header.lineno
        entry: dict[str, Any] = {
            "kind": section.kind, "name": section.name, "from": section.parent,
            "comment": self._comment(section, where),
            "lines": self._extra(lines, None, where, "lines")}
        for field, block in (("before", before or []), ("after", after or [])):
            if block:
                entry[field] = self._extra(block, None, where, field)
        self.data["sections"].append(entry)

    # -- lbctl's own sections and lines -------------------------------------------------------
    def _ctx(self) -> RenderContext:
        """The render context: the given one, else one whose 429 error file is the one this
        config names (so the old-form client rules read back)."""
        if self.ctx is not None:
            return self.ctx
        if self.found_ctx is None:
            self.found_ctx = RenderContext(Path("/run/lbctl"))
            for line in self.doc.lines():
                # the text first (a substring test is cheap); a backslash may spell the keyword
                if ("errorfile" in line.text or "\\" in line.text) \
                        and line.keyword == "errorfile" and line.args[:1] == ("429",) \
                        and len(line.args) == 2 and line.args[1].endswith("/errors/429.http"):
                    self.found_ctx = RenderContext(Path("/run/lbctl"),
                                                   Path(line.args[1]).parent.parent)
                    break
        return self.found_ctx

    def _lbctl_section(self, section: Section) -> None:
        kind, name = section.kind, section.name
        if section.comments_before or section.comment is not None:
            self.unplaced(section.header, "a comment on a section lbctl writes cannot be kept")
        if kind == "peers" and name == PEERS_SECTION:
            self.peers = section
        elif kind == "backend" and (name or "").startswith(stick_table_name("")):
            self.tables.append(section)
        elif kind == "frontend" and name == PROMETHEUS_FRONTEND:
            self._prometheus(section)
        else:
            self.unplaced(section.header, f"names starting with {RESERVED_PREFIX!r} are lbctl's")

    def _only(self, section: Section, accept: Any) -> None:
        lines, _ = self._lines(section)
        for line in lines:
            if line.directive is None or line.comment is not None or not accept(line.directive):
                self.unplaced(line, f"not what lbctl writes in {section.kind} {section.name}")

    def _prometheus(self, section: Section) -> None:
        exporter: dict[str, Any] = {}

        def accept(d: Directive) -> bool:
            a = d.args
            if d.keyword == "bind" and len(a) == 1 and "bind" not in exporter:
                try:
                    host, port = split_address(a[0])
                except ValueError:
                    return False
                exporter["bind"] = f"[{host}]:{port}" if ":" in host else f"{host or '*'}:{port}"
                return True
            if d.keyword == "http-request" and len(a) == 7 and a[:5] == (
                    "use-service", "prometheus-exporter", "if", "{", "path") and a[6] == "}":
                exporter["path"] = a[5]
                return True
            return False

        self._only(section, accept)
        self.data["global"]["prometheus_exporter"] = exporter

    def _finish_lbctl_sections(self) -> None:
        with_clients = {fe["name"] for fe in self.data["frontends"] if fe.get("clients")}
        for table in self.tables:
            if table.name not in {stick_table_name(n) for n in with_clients}:
                self.unplaced(table.header, "lbctl writes this stick table only for a frontend "
                                            "with rate-limited clients")
            self._only(table, lambda d: d.keyword == "stick-table")
        if self.peers is not None:
            if not with_clients:
                self.unplaced(self.peers.header, "lbctl writes its peers section only with "
                                                 "rate-limited clients")

            def peer(d: Directive) -> bool:
                if d.keyword != "peer" or len(d.args) != 2 or d.args[0] != LOCAL_PEER:
                    return False
                try:
                    self.data["global"]["peers_port"] = split_address(d.args[1])[1]
                except ValueError:
                    return False
                return True
            self._only(self.peers, peer)

    def _smooth(self) -> bool:
        return any(c.get("mode", "smooth") == "smooth" for fe in self.data["frontends"]
                   for c in fe.get("clients") or [])

    def _finish_global(self) -> None:
        clients = any(fe.get("clients") for fe in self.data["frontends"])
        read_global(self.global_lines, self.data["global"], self.origin, self.caps, self.ctx,
                    clients=clients, smooth=self._smooth())

    def _finish_order(self) -> None:
        """``order``: the file's order of the sections after global, unless it is lbctl's
        own (defaults, ``sections``, listens, frontends, backends), which needs none. Defaults sections
        that all come first are left out of it (the renderer writes unnamed ones first), so a
        file of one defaults section before its proxies gives the order it gave before."""
        first = [section_ref("defaults", part["name"]) for part, _ in self.defaults]
        order = self.order
        if order[:len(first)] == first:
            order = order[len(first):]
        own = [section_ref(s["kind"], s["name"]) for s in self.data["sections"]]
        own += [section_ref("listen", li["name"]) for li in self.data["listens"]]
        own += [section_ref("frontend", fe["name"]) for fe in self.data["frontends"]]
        own += [section_ref("backend", be["name"]) for be in self.data["backends"]]
        if order != own:
            self.data["order"] = order

    def _finish_defaults(self) -> None:
        """``defaults``: one mapping (also for a file without a defaults section: every
        field unset), or the list of the file's defaults sections."""
        for index, (part, lines) in enumerate(self.defaults):
            where = f"defaults[{index}]" if self.many_defaults else "defaults"
            read_defaults(lines, part, self.origin, self.caps, where=where)
        parts = [part for part, _ in self.defaults]
        if len(parts) > 1:
            self.data["defaults"] = parts
        elif parts:
            self.data["defaults"] = parts[0]


def _empty_defaults() -> dict[str, Any]:
    """A defaults section's fields, every one unset (no line: HAProxy's defaults)."""
    return {"mode": None, "retries": None, "timeouts": dict.fromkeys(TIMEOUT_EVENTS.values()),
            "extra": []}


def _whole_frontend(mapped: Mapped, lines: list[Line]) -> bool:
    """True when the frontend meets the spec's own rules: a bind, and a backend or a
    directive among its extra lines."""
    extra = [ln for ln in lines if id(ln) not in mapped.placed and ln.kind != COMMENT]
    binds = mapped.data.get("bind") or any(ln.keyword == "bind" for ln in extra)
    data = mapped.data
    return bool(binds) and bool(data.get("default_backend") or data.get("routes")
                                or data.get("monitor_uri") or extra)


def _after_name(section: Section) -> list[str]:
    """The words of a ``backend`` or ``defaults`` header after its name and ``from <defaults>``
    (``defaults d mode http``: ``["mode", "http"]``; HAProxy ignores them on a defaults
    header and refuses them on a backend's)."""
    words = list(section.header.args)
    if words and words[0] != "from" and (section.kind == "backend" or section.name):
        words = words[1:]
    if "from" in words:
        at = words.index("from")
        del words[at:at + 2]
    return words
