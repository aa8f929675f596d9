"""How much of a config an import made structured: per section kind, how many directive lines
became spec fields, stayed extra lines of their section, went whole into a verbatim
``sections`` entry, or were lbctl's own (recognised, and written again by lbctl); and how many
``server`` lines became structured servers. ``lbctl import --stats`` prints it.

Read from :attr:`lbctl.importer.Imported.origin` (spec field → line), so it counts what the
import did, not what it could have done.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from lbctl.config.document import DIRECTIVE, Document
from lbctl.importer.core import Imported

__all__ = ["KINDS", "ImportStats", "import_stats"]

#: What a directive line became.
KINDS = ("field", "extra", "verbatim", "lbctl")


@dataclass
class ImportStats:
    """``lines[section kind][what]`` with ``what`` one of :data:`KINDS`; ``servers`` and
    ``structured_servers``: the ``server`` lines of the config and those that became
    ``backends[i].servers[j]`` entries."""

    lines: dict[str, Counter[str]] = field(default_factory=dict)
    servers: int = 0
    structured_servers: int = 0

    def total(self, what: str, kinds: tuple[str, ...] | None = None) -> int:
        """Lines that became ``what``, over ``kinds`` of sections (every kind by default)."""
        return sum(c[what] for k, c in self.lines.items() if kinds is None or k in kinds)

    def share(self, what: str, kinds: tuple[str, ...] | None = None) -> float:
        """:meth:`total` over every directive line of those kinds, 0.0 when there is none."""
        every = sum(self.total(w, kinds) for w in KINDS)
        return self.total(what, kinds) / every if every else 0.0

    def rows(self) -> list[list[str]]:
        """One row per section kind and a total: ``[kind, field, extra, verbatim, lbctl,
        "fields %"]``."""
        out = []
        for kind in sorted(self.lines):
            c = self.lines[kind]
            out.append([kind, *(str(c[w]) for w in KINDS),
                        f"{100 * self.share('field', (kind,)):.0f} %"])
        out.append(["all", *(str(self.total(w)) for w in KINDS),
                    f"{100 * self.share('field'):.0f} %"])
        return out


def import_stats(doc: Document, imported: Imported) -> ImportStats:
    """Classify every directive line of ``doc`` by what ``imported`` made of it."""
    by_line: dict[int, list[str]] = {}
    for loc, lineno in imported.origin.items():
        by_line.setdefault(lineno, []).append(loc)
    stats = ImportStats()
    for section in doc.sections:
        counter = stats.lines.setdefault(section.kind, Counter())
        for line in section.lines[1:]:
            if line.kind != DIRECTIVE:
                continue
            locs = by_line.get(line.lineno, [])
            if any(loc.startswith("sections[") for loc in locs):
                what = "verbatim"
            elif any(".extra[" in loc for loc in locs):
                what = "extra"
            elif locs:
                what = "field"
            else:
                what = "lbctl"
            counter[what] += 1
            if line.keyword == "server":
                stats.servers += 1
                stats.structured_servers += any(".servers[" in loc for loc in locs)
    return stats
