"""Provenance: where a line of a rendered ``haproxy.cfg`` came from — a spec field, and a line
of the text a user submitted.

``haproxy -c`` names lines of the file it read (the rendered one). Both ways back go through
this module:

* :func:`field_for_line` turns such a line into the spec field an operator edits
  (``backends[0].servers[1]``); every apply and dry run attaches it to its diagnostics
  (:func:`lbctl.state.livefile.with_fields`);
* :func:`submitted_line_map` pairs each rendered line with the line of a submitted text it
  carries (:func:`lbctl.config.normal.line_map`), and :func:`to_submitted_lines` rewrites
  diagnostics about the rendered text into diagnostics about the submitted one — the source
  view (:mod:`lbctl.control.source`), where a user edits ``haproxy.cfg`` itself. It pairs
  only the lines the diagnostics name (:class:`lbctl.config.linemap.LineMap`, the same
  pairs): a large text is not parsed a second time for a warning or two.
"""

from __future__ import annotations

import re

from lbctl.config import Document, loads
from lbctl.config.linemap import LineMap
from lbctl.config.normal import line_map
from lbctl.errors import Diagnostic
from lbctl.render.names import PEERS_SECTION, PROMETHEUS_FRONTEND
from lbctl.spec import TIMEOUT_EVENTS, Spec

__all__ = ["FieldsOfLines", "field_for_line", "submitted_line_map", "to_submitted_lines"]

#: ``[<file>.cfg:<line>]``: how HAProxy names a config line inside a message.
_FILE_LINE = re.compile(r"\[[^\]\s]*?\.cfg:(\d+)\]")


def submitted_line_map(source: Document, rendered: str) -> dict[int, int]:
    """Line of ``rendered`` (1-based) → the line of the submitted ``source`` it carries, for
    every rendered line that says what a source line says; lbctl's own lines are absent.
    Raises :class:`ParseError` if ``rendered`` does not parse (lbctl renders only what does)."""
    return line_map(source, loads(rendered))


def to_submitted_lines(
    diagnostics: list[Diagnostic], source: Document | str, rendered: str, *,
    mapping: LineMap | None = None,
) -> list[Diagnostic]:
    """``haproxy -c`` diagnostics about ``rendered`` → the same about the submitted
    ``source`` (its document, or its text, which :class:`~lbctl.config.linemap.LineMap` reads
    only in the sections asked): ``line`` and ``text`` of the submitted line each rendered
    line came from (what :func:`submitted_line_map` pairs), and every ``[file.cfg:N]`` in a
    message rewritten as ``[line M]``; for lbctl's own lines ``line`` is ``None``, ``text``
    the rendered text and a message names ``[lbctl's own line]``. The spec ``field`` is kept.

    Only the lines the diagnostics name are paired (:class:`lbctl.config.linemap.LineMap`:
    the sections they are in, not the whole rendered text parsed again). ``mapping``: that
    :class:`~lbctl.config.linemap.LineMap` of ``source`` and ``rendered`` when made already
    (the source view makes it while ``haproxy -c`` runs: at 80,000 lines its index of both
    texts is most of the time here)."""
    if mapping is None:
        mapping = LineMap(source, rendered)

    def own(match: re.Match[str]) -> str:
        line = mapping.get(int(match[1]))
        return f"[line {line.lineno}]" if line is not None else "[lbctl's own line]"

    out = []
    for d in diagnostics:
        line = mapping.get(d.line) if d.line is not None else None
        out.append(Diagnostic(d.severity, _FILE_LINE.sub(own, d.message),
                              line.lineno if line is not None else None,
                              line.text if line is not None else d.text, d.field))
    return out


def field_for_line(spec: Spec, text: str, line: int, *,
                   lines: list[str] | None = None) -> str | None:
    """The spec field a line of rendered ``text`` came from (1-based ``line``), or ``None``.

    Used to point ``haproxy -c`` diagnostics at spec fields: ``server s1 ...`` in backend
    ``b`` → ``backends[i].servers[j]``; ``bind`` → ``frontends[i].bind``; ``timeout client``
    → ``defaults.timeouts.client``; an extra line → ``backends[i].extra[j]``, a line of a
    ``sections`` entry → ``sections[k].lines[j]``; in the second of several defaults sections
    → ``defaults[1].timeouts.client``. A section header is the nearest line above that starts
    in column 0 and is neither a comment nor a conditional-block line (lbctl indents every
    other line). ``lines``: ``text.splitlines()``, when the caller has it (several lines of one
    text looked up: :class:`FieldsOfLines`).
    """
    if lines is None:
        lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    here = lines[line - 1].strip()
    for n in range(line - 1, -1, -1):
        head = lines[n]
        if head and head[0] not in " \t#.":
            kind, *rest = head.split()
            if kind == "defaults":
                return _field_in_defaults(spec, lines[:n], rest[0] if rest else None, here)
            return _field_in(spec, kind, rest[0] if rest else "", here)
    return None


class FieldsOfLines:
    """:func:`field_for_line` for any number of lines of one rendered ``text`` of ``spec``,
    the text split once, when first asked (at 80,000 lines a split is ~10 ms: the host
    policy's own-line test, its refusals and a check's diagnostics each asked for one)."""

    def __init__(self, spec: Spec, text: str) -> None:
        self.spec = spec
        self.text = text
        self._lines: list[str] | None = None

    def __call__(self, line: int) -> str | None:
        """The spec field of 1-based ``line`` (:func:`field_for_line`), or ``None``."""
        if self._lines is None:
            self._lines = self.text.splitlines()
        return field_for_line(self.spec, self.text, line, lines=self._lines)


def _field_in_defaults(spec: Spec, above: list[str], name: str | None, here: str) -> str | None:
    """The field of the line ``here`` in a ``defaults`` section called ``name``, the one after
    as many headers of that name in ``above`` as the spec's list has before it."""
    header = "defaults" if name is None else f"defaults {name}"
    nth = sum(1 for ln in above if ln.split()[:2] == header.split())
    found = [i for i, d in enumerate(spec.defaults_sections()) if d.name == name]
    if nth >= len(found):
        return None
    where, d = spec.defaults_loc(found[nth]), spec.defaults_sections()[found[nth]]
    words = here.split()
    if words[:1] == ["timeout"] and len(words) > 1 and words[1] in TIMEOUT_EVENTS:
        return f"{where}.timeouts.{TIMEOUT_EVENTS[words[1]]}"
    return f"{where}.extra[{d.extra.index(here)}]" if here in d.extra else where


def _field_in(spec: Spec, kind: str, name: str, here: str) -> str | None:
    """The field of the line ``here`` in the section ``kind name`` (see :func:`field_for_line`)."""
    words = here.split()

    def extra(where: str, lines: list[str], field: str = "extra") -> str:
        return f"{where}.{field}[{lines.index(here)}]" if here in lines else where

    if kind == "global":
        return extra("global", spec.global_.extra)
    if kind == "peers" and name == PEERS_SECTION:
        return "global.peers_port"
    if kind == "frontend" and name == PROMETHEUS_FRONTEND:
        return "global.prometheus_exporter"
    for i, fe in enumerate(spec.frontends if kind == "frontend" else []):
        if fe.name == name:
            if here in fe.extra:
                return extra(f"frontends[{i}]", fe.extra)
            key = {"bind": "bind", "maxconn": "maxconn", "monitor-uri": "monitor_uri",
                   "default_backend": "default_backend", "use_backend": "routes"}
            sub = key.get(words[0]) if words else None
            return f"frontends[{i}].{sub}" if sub else f"frontends[{i}]"
    for i, be in enumerate(spec.backends if kind == "backend" else []):
        if be.name == name:
            if here in be.extra:
                return extra(f"backends[{i}]", be.extra)
            if words[:1] == ["server"] and len(words) > 1:
                for j, s in enumerate(be.servers):
                    if s.name == words[1]:
                        return f"backends[{i}].servers[{j}]"
            if words[:1] == ["timeout"] and len(words) > 1:
                return f"backends[{i}].timeouts.{words[1]}"
            if words[:1] == ["option"] and words[1:2] != ["httpchk"] and len(words) > 1 \
                    and words[1] in be.options:
                return f"backends[{i}].options[{be.options.index(words[1])}]"
            sub = {"mode": "mode", "balance": "balance", "http-reuse": "http_reuse",
                   "cookie": "cookie", "default-server": "default_server"}.get(
                       words[0] if words else "")
            if sub:
                return f"backends[{i}].{sub}"
            if words and words[0] in ("option", "http-check"):
                return f"backends[{i}].health_check"
            return f"backends[{i}]"
    for i, li in enumerate(spec.listens if kind == "listen" else []):
        if li.name == name:
            if here in li.extra:
                return extra(f"listens[{i}]", li.extra)
            names = [s.name for s in li.servers]
            if words[:1] == ["server"] and words[1:2] and words[1] in names:
                return f"listens[{i}].servers[{names.index(words[1])}]"
            return f"listens[{i}]"
    for i, section in enumerate(spec.sections):
        if section.kind == kind and (section.name or "") == name:
            return extra(f"sections[{i}]", section.lines, "lines")
    return None
