"""Checks of a whole spec: pydantic field errors named by path, cross-field rules, and the
verbatim text (``extra`` lines, ``comment`` lines, ``sections``) read through
:mod:`lbctl.spec.lines`.

:func:`validate_spec` is the one entry: a parsed document (a dict) → a :class:`Spec`, or
:class:`~lbctl.errors.SpecError` listing every bad field by its path
(``frontends[0].clients[1].path_prefix``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from lbctl.errors import FieldError, SpecError
from lbctl.spec.known import KnownProxies, spec_from_known
from lbctl.spec.lines import (
    CONDITIONALS,
    PROXY_KINDS,
    check_comment,
    check_section_name,
    line_errors,
)
from lbctl.spec.models import Backend, Frontend, Listen, Spec
from lbctl.spec.tls_checks import tls_errors

__all__ = ["format_loc", "spec_from_json", "validate_spec", "validation_errors", "verbatim_errors"]


def format_loc(loc: tuple[int | str, ...]) -> str:
    """``("frontends", 0, "clients", 1, "path_prefix")`` → ``frontends[0].clients[1].path_prefix``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = {"global_": "global", "from_": "from"}.get(part, part)
            out += ("." if out else "") + name
    return out


def validation_errors(exc: ValidationError, at: tuple[int | str, ...] = ()) -> list[FieldError]:
    """pydantic's errors as :class:`FieldError` s naming spec fields (``backends[0].name``);
    ``at`` is where the validated model sits in a spec (``("backends", 0, "servers", 1)`` for
    one server validated alone)."""
    errors = []
    for err in exc.errors():
        # Drop the function-validator and union tags pydantic appends to a location.
        loc = at + tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        errors.append(FieldError(format_loc(loc), msg))
    return errors


def _cross_field_errors(spec: Spec) -> list[FieldError]:
    errors: list[FieldError] = []

    def unique(items: list[Any], attr: str, where: str, what: str) -> None:
        seen: dict[Any, int] = {}
        for i, item in enumerate(items):
            key = getattr(item, attr)
            if key in seen:
                errors.append(
                    FieldError(
                        f"{where}[{i}].{attr}",
                        f"duplicate {what} {key!r} (also at {where}[{seen[key]}])",
                    )
                )
            else:
                seen[key] = i

    errors += _name_errors(spec)
    backends = {b.name for b in spec.backends} | {li.name for li in spec.listens} | {
        s.name for s in spec.sections if s.kind in ("backend", "listen") and s.name}
    binds: dict[str, str] = {}
    for fi, fe in enumerate(spec.frontends):
        where = f"frontends[{fi}]"
        if fe.default_backend is not None and fe.default_backend not in backends:
            errors.append(
                FieldError(f"{where}.default_backend", f"no backend named {fe.default_backend!r}")
            )
        for ri, route in enumerate(fe.routes):
            if route.backend not in backends:
                errors.append(
                    FieldError(f"{where}.routes[{ri}].backend", f"no backend named {route.backend!r}")
                )
        unique(fe.routes, "path_prefix", f"{where}.routes", "path prefix")
        acls: dict[str, int] = {}
        for ri, route in enumerate(fe.routes):  # one name, one test (HAProxy ORs same-name ACLs)
            if route.acl is not None and acls.setdefault(route.acl, ri) != ri:
                errors.append(FieldError(f"{where}.routes[{ri}].acl", f"duplicate route ACL "
                                         f"{route.acl!r} (also at {where}.routes[{acls[route.acl]}])"))
        unique(fe.clients, "name", f"{where}.clients", "client name")
        unique(fe.clients, "path_prefix", f"{where}.clients", "path prefix")
        for bi, bind in enumerate(fe.bind):
            key = str(bind)
            if key in binds:
                errors.append(FieldError(f"{where}.bind[{bi}]", f"{key} is already bound by {binds[key]}"))
            binds[key] = f"{where}.bind[{bi}]"
        directives = [line for line in fe.extra if line and not line.startswith("#")]
        if fe.default_backend is None and not fe.routes and not fe.monitor_uri and not directives:
            errors.append(
                FieldError(f"{where}.default_backend", "a frontend needs a default_backend or routes")
            )
        if not fe.bind and not any(line.split()[0] == "bind" for line in directives):
            errors.append(FieldError(f"{where}.bind", "a frontend needs at least one bind "
                                                      "(in bind, or an extra 'bind' line)"))
        for ci, client in enumerate(fe.clients):
            limit = fe.timeouts.client if fe.timeouts.client is not None else \
                _client_timeout(spec, fe.from_)
            if client.mode == "smooth" and limit is not None:
                wait_ms = client.burst * 1000 // client.rate
                if wait_ms >= limit:
                    errors.append(
                        FieldError(
                            f"{where}.clients[{ci}].burst",
                            f"burst/rate makes requests wait up to {wait_ms} ms, which must stay "
                            f"below defaults.timeouts.client ({limit} ms)",
                        )
                    )
    exporter = spec.global_.prometheus_exporter
    if exporter is not None:
        key = str(exporter.bind)
        where = "global.prometheus_exporter.bind"
        if key in binds:
            errors.append(FieldError(where, f"{key} is already bound by {binds[key]}"))
        elif exporter.bind.port == spec.global_.peers_port:
            errors.append(FieldError(where, f"port {exporter.bind.port} is global.peers_port"))
    for bi, be in enumerate(spec.backends):
        if len({s.name for s in be.servers}) != len(be.servers):  # the common case: no f-string
            unique(be.servers, "name", f"backends[{bi}].servers", "server name")
    for li_index, li in enumerate(spec.listens):
        where = f"listens[{li_index}]"
        unique(li.servers, "name", f"{where}.servers", "server name")
        for bi, bind in enumerate(li.bind):
            key = str(bind)
            if bind.tls is not None:
                errors.append(FieldError(f"{where}.bind[{bi}].tls", "TLS binds are a frontend's "
                                         "(a listen section's TLS bind is an extra line)"))
            if key in binds:
                errors.append(FieldError(f"{where}.bind[{bi}]", f"{key} is already bound by {binds[key]}"))
            binds[key] = f"{where}.bind[{bi}]"
    names = [d.name for d in spec.defaults_sections() if d.name is not None]
    for key, items in (("frontends", spec.frontends), ("backends", spec.backends),
                       ("listens", spec.listens), ("sections", spec.sections)):
        for i, parent in enumerate([item.from_ for item in items]):
            if parent is not None and parent not in names:  # the path written only then
                errors.append(FieldError(f"{key}[{i}].from", f"no defaults section named "
                                         f"{parent!r} (the defaults sections' names: {names})"))
    return errors + tls_errors(spec) + verbatim_errors(spec)


def _client_timeout(spec: Spec, parent: str | None) -> int | None:
    """The ``timeout client`` (ms) a frontend gets: its ``from`` section's; without ``from``
    the last defaults section before it applies, so the shortest of them all (``None``: no
    section sets one)."""
    sections = [d for d in spec.defaults_sections() if parent is None or d.name == parent]
    limits = [d.timeouts.client for d in sections if d.timeouts.client is not None]
    return min(limits) if limits else None


def _name_errors(spec: Spec) -> list[FieldError]:
    """Section names unique as HAProxy wants them: frontends among frontends, backends among
    backends (a frontend and a backend may share a name), a ``listen`` against both, other
    kinds within their kind."""
    if _names_unique(spec):  # the common case: no clash, no field path written
        return []
    errors: list[FieldError] = []
    seen: dict[tuple[str, str], str] = {}
    named = [(f"frontends[{i}]", "frontend", fe.name) for i, fe in enumerate(spec.frontends)]
    named += [(f"backends[{i}]", "backend", be.name) for i, be in enumerate(spec.backends)]
    named += [(f"listens[{i}]", "listen", li.name) for i, li in enumerate(spec.listens)]
    named += [(f"sections[{i}]", s.kind, s.name) for i, s in enumerate(spec.sections) if s.name]
    for where, kind, name in named:
        spaces = ({"frontend", "backend"} & ({kind} if kind != "listen" else PROXY_KINDS)) or {kind}
        clash = next((seen[(space, name)] for space in sorted(spaces) if (space, name) in seen), None)
        if clash is not None:
            errors.append(FieldError(f"{where}.name", f"duplicate name {name!r} (also {clash})"))
        for space in spaces:
            seen.setdefault((space, name), where)
    return errors


def _names_unique(spec: Spec) -> bool:
    """Whether :func:`_name_errors` finds nothing: in each name space (a frontend's, a
    backend's, both for a listen, its own kind's for any other section) no name twice."""
    frontends = [fe.name for fe in spec.frontends]
    backends = [be.name for be in spec.backends]
    listens = [li.name for li in spec.listens]
    spaces: dict[str, list[str]] = {"frontend": frontends + listens, "backend": backends + listens}
    for section in spec.sections:
        if section.name:
            kind = "frontend" if section.kind == "listen" else section.kind
            spaces.setdefault(kind, []).append(section.name)
            if section.kind == "listen":
                spaces["backend"].append(section.name)
    return all(len(names) == len(set(names)) for names in spaces.values())


def validate_spec(data: Any) -> Spec:
    """Validate a parsed spec document (a dict) and return the :class:`Spec`.

    Raises :class:`SpecError` listing every bad field: allowlists, types, ranges, then the
    cross-field rules (referenced backends exist, names unique, prefixes unique per frontend,
    binds unique, smooth waits within the client timeouts).
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError([FieldError("", "the spec must be a mapping (YAML or JSON object)")])
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(validation_errors(exc)) from None
    return _cross_checked(spec)


def spec_from_json(raw: bytes | str, known: KnownProxies | None = None) -> Spec | None:
    """``raw`` (a JSON text) as a :class:`Spec` in one pass of pydantic-core, which parses and
    validates together (``Spec.model_validate_json``): the spec
    ``validate_spec(json.loads(raw))`` gives, without building the document's Python objects
    first (at 10,000 backends ``json.loads`` alone took 0.12 s of an apply). ``None`` when
    pydantic refuses the text in any way — not JSON, not an object, a bad field: the caller
    then reads it the usual way, whose errors (their fields and messages) are the ones to
    answer. Raises :class:`SpecError` when the fields are valid but the cross-field rules are
    not (as :func:`validate_spec` does).

    With ``known`` (the live spec's proxies): the body is read with pydantic-core's JSON
    reader, and every proxy (and every route and client of a frontend that is not) whose JSON
    text is a known one is taken as that model, not validated again
    (:func:`lbctl.spec.known.spec_from_known`: the same spec, at 10,000 backends a third of
    the time)."""
    if known is not None:
        return spec_from_known(raw, known, _cross_checked)
    try:
        spec = Spec.model_validate_json(raw)
    except ValidationError:
        return None
    return _cross_checked(spec)


def _cross_checked(spec: Spec) -> Spec:
    """``spec`` once the cross-field rules hold; raises :class:`SpecError` naming each break."""
    errors = _cross_field_errors(spec)
    if errors:
        raise SpecError(errors)
    return spec


def _comment_errors(lines: Sequence[str], where: str) -> list[FieldError]:
    return [FieldError(f"{where}[{i}]", problem) for i, text in enumerate(lines)
            if (problem := check_comment(text)) is not None]


def _part_errors(kind: str, where: str, part: Any) -> list[FieldError]:
    """The bad ``comment`` and ``extra`` lines of a section's model (``where``: its path)."""
    errors = _comment_errors(part.comment, f"{where}.comment") if part.comment else []
    if part.extra:
        errors += line_errors(kind, part.extra, f"{where}.extra")
    return errors


#: The proxies of the last spec checked whose verbatim lines had no error: ``id`` → the
#: model (held, so that its ``id`` names no other object). See :func:`verbatim_errors`.
_CLEAN: dict[int, Frontend | Backend | Listen] = {}


def verbatim_errors(spec: Spec) -> list[FieldError]:
    """Every bad extra line, comment line and ``sections`` entry of ``spec``.

    A frontend, backend or listen that is the very object of the last spec checked, and whose
    lines had no error then, is not read again (one generation, as :mod:`lbctl.render.memo`
    keeps): a proxy's errors depend on its own lines alone, and spec models are frozen. The
    importer's kept sections (:mod:`lbctl.importer.memo`) and an apply's known proxies
    (:mod:`lbctl.spec.known`) are such objects: at 10,000 backends the check of an edited
    text read each backend's comments, extra lines and servers' comments again."""
    global _CLEAN
    errors = _comment_errors(spec.comment, "comment")
    parts: list[tuple[str, str, Any]] = [("global", "global", spec.global_)]
    parts += [("defaults", spec.defaults_loc(i), d) for i, d in enumerate(spec.defaults_sections())]
    for kind, where, part in parts:
        errors += _part_errors(kind, where, part)
    before, clean = _CLEAN, {}
    server_errors: list[FieldError] = []
    groups: list[tuple[str, str, Sequence[Frontend | Backend | Listen]]] = [
        ("frontend", "frontends", spec.frontends), ("backend", "backends", spec.backends),
        ("listen", "listens", spec.listens)]
    for kind, field, proxies in groups:
        for index, proxy in enumerate(proxies):
            if before.get(id(proxy)) is proxy:
                clean[id(proxy)] = proxy
                continue
            where = f"{field}[{index}]"
            found = _part_errors(kind, where, proxy)
            servers = [] if isinstance(proxy, Frontend) else [
                e for si, server in enumerate(proxy.servers) if server.comment
                for e in _comment_errors(server.comment, f"{where}.servers[{si}].comment")]
            errors += found
            server_errors += servers
            if not found and not servers:
                clean[id(proxy)] = proxy
    _CLEAN = clean
    errors += server_errors  # (after every proxy's own lines, as they were always listed)
    for i, section in enumerate(spec.sections):
        where = f"sections[{i}]"
        problem = check_section_name(section.kind, section.name)
        if problem is not None:
            errors.append(FieldError(f"{where}.name", problem))
        if section.from_ is not None and section.kind not in PROXY_KINDS:
            errors.append(FieldError(f"{where}.from", "only proxies (frontend, backend, listen) "
                                                      "take 'from <defaults>'"))
        errors += _comment_errors(section.comment, f"{where}.comment")
        errors += line_errors(section.kind, section.lines, f"{where}.lines")
        for field in ("before", "after"):
            errors += _block_errors(section.kind, getattr(section, field), f"{where}.{field}")
    return errors


def _block_errors(kind: str, lines: list[str], where: str) -> list[FieldError]:
    """``before`` / ``after`` of a ``sections`` entry: each line one ``.if`` / ``.elif`` /
    ``.else`` / ``.endif`` line (configuration.txt §2.4), checked as an extra line is."""
    errors = []
    for i, text in enumerate(lines):
        word = text.split()[0] if text.split() else ""
        if word not in CONDITIONALS:
            errors.append(FieldError(f"{where}[{i}]", "only the lines of a conditional block "
                                     "(.if, .elif, .else, .endif) go around a section"))
            continue
        # Checked inside the smallest balanced block that holds it: the block itself spans
        # sections, so its balance is HAProxy's check (haproxy -c), not one list's.
        block = [*([] if word == ".if" else [".if 1"]), text, *([] if word == ".endif" else [".endif"])]
        at = block.index(text)
        errors += [FieldError(f"{where}[{i}]", e.message) for e in line_errors(kind, block, "")
                   if e.loc == f"[{at}]"]
    return errors
