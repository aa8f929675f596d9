"""The source view's diagnostics name the same submitted lines, texts and messages now that
:func:`lbctl.render.provenance.to_submitted_lines` pairs only the lines they name
(:class:`lbctl.config.linemap.LineMap`) as when it paired the whole rendered text
(:func:`lbctl.render.provenance.submitted_line_map`): checked on the rendering of an imported
config, for every rendered line, lbctl's own lines included."""

from __future__ import annotations

import re
from pathlib import Path

from lbctl.config import Document, loads
from lbctl.errors import Diagnostic
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.importer import import_spec
from lbctl.render import RenderContext, render
from lbctl.render.provenance import submitted_line_map, to_submitted_lines

from .bench.bench_parse import generate

_FILE_LINE = re.compile(r"\[[^\]\s]*?\.cfg:(\d+)\]")


def whole_text_pairs(diagnostics: list[Diagnostic], source: Document,
                     rendered: str) -> list[Diagnostic]:
    """What ``to_submitted_lines`` answered when it paired every rendered line."""
    mapping = submitted_line_map(source, rendered)
    lines = source.dumps().splitlines()
    out = []
    for d in diagnostics:
        line = mapping.get(d.line) if d.line is not None else None
        text = lines[line - 1] if line is not None else d.text
        message = _FILE_LINE.sub(lambda m: f"[line {mapping[int(m[1])]}]" if int(m[1]) in mapping
                                 else "[lbctl's own line]", d.message)
        out.append(Diagnostic(d.severity, message, line, text, d.field))
    return out


def test_every_rendered_line_names_the_submitted_line_it_did() -> None:
    text = generate(40).replace("    timeout server 30s\n",
                                "    timeout server 30s  # why\n# a note\n")
    doc = loads(text)
    rendered = render(import_spec(doc, caps=Capabilities.for_target(HAProxyVersion(2, 8, 25))),
                      Capabilities.for_target(HAProxyVersion(2, 8, 25)),
                      RenderContext(Path("/run/lbctl")))
    count = rendered.count("\n")
    diagnostics = [Diagnostic("warning", f"[/tmp/x.cfg:{n}] said, see [/tmp/x.cfg:{count - n}]",
                              n, f"rendered {n}", "backends[0]") for n in range(1, count + 1)]
    diagnostics.append(Diagnostic("alert", "no line", None, "", None))
    got = to_submitted_lines(diagnostics, doc, rendered)
    assert got == whole_text_pairs(diagnostics, doc, rendered)
    assert to_submitted_lines(diagnostics, text, rendered) == got  # the text, not its document
    assert sum(d.line is None for d in got) > 1  # lbctl's own lines are among them
    assert any("[lbctl's own line]" in d.message for d in got)
    assert sum(d.line is not None for d in got) > count // 2
