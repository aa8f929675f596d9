"""Provenance: which spec field a line of a rendered ``haproxy.cfg`` came from.

``haproxy -c`` names lines of the file it read; :func:`field_for_line` turns such a line into
the spec field an operator edits (``backends[0].servers[1]``). The source view maps a line of
submitted text to its rendered line first (:func:`lbctl.config.normal.line_map`) and then uses
the same function, so every diagnostic goes through this one mechanism.
"""

from __future__ import annotations

from lbctl.render.names import PEERS_SECTION, PROMETHEUS_FRONTEND
from lbctl.spec import TIMEOUT_EVENTS, Spec

__all__ = ["field_for_line"]


def field_for_line(spec: Spec, text: str, line: int) -> str | None:
    """The spec field a line of rendered ``text`` came from (1-based ``line``), or ``None``.

    Used to point ``haproxy -c`` diagnostics at spec fields: ``server s1 ...`` in backend
    ``b`` → ``backends[i].servers[j]``; ``bind`` → ``frontends[i].bind``; ``timeout client``
    → ``defaults.timeouts.client``; an extra line → ``backends[i].extra[j]``, a line of a
    ``sections`` entry → ``sections[k].lines[j]``. A section header is the nearest line above
    that starts in column 0 and is not a comment (lbctl indents every other line).
    """
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    here = lines[line - 1].strip()
    for n in range(line - 1, -1, -1):
        head = lines[n]
        if head and head[0] not in " \t#":
            kind, *rest = head.split()
            return _field_in(spec, kind, rest[0] if rest else "", here)
    return None


def _field_in(spec: Spec, kind: str, name: str, here: str) -> str | None:
    """The field of the line ``here`` in the section ``kind name`` (see :func:`field_for_line`)."""
    words = here.split()

    def extra(where: str, lines: list[str], field: str = "extra") -> str:
        return f"{where}.{field}[{lines.index(here)}]" if here in lines else where

    if kind == "global":
        return extra("global", spec.global_.extra)
    if kind == "defaults":
        if words[:1] == ["timeout"] and len(words) > 1 and words[1] in TIMEOUT_EVENTS:
            return f"defaults.timeouts.{TIMEOUT_EVENTS[words[1]]}"
        return extra("defaults", spec.defaults.extra)
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
            if words and words[0] in ("option", "http-check"):
                return f"backends[{i}].health_check"
            return f"backends[{i}]"
    for i, section in enumerate(spec.sections):
        if section.kind == kind and (section.name or "") == name:
            return extra(f"sections[{i}]", section.lines, "lines")
    return None
