"""``show stat`` CSV parsers (management.txt §9.1 "CSV format"): every column as dicts, or a
few columns as tuples for the 60,000 rows of a health report at 50,000 servers.

HAProxy writes ``# pxname,svname,...`` then one line per frontend, backend and server, and
quotes a field only when it holds ``,`` or ``"`` (its ``csv_enc``; a newline in a field is
written as a space, so a row is one line). A line without ``"`` is therefore split on commas,
only as far as the last column wanted; a line with one goes through :mod:`csv`. Both parsers
take the answer as one text or as its lines while they arrive
(:meth:`lbctl.haproxy.sockets.SocketClient.command_lines`). ``tests/test_stat_parse.py``
checks them against ``csv.DictReader`` on real answers.
"""

from __future__ import annotations

import csv
import itertools
import operator
from collections.abc import Iterable, Iterator

from lbctl.errors import RuntimeAPIError

__all__ = ["HEALTH_COLUMNS", "parse_stat_csv", "stat_fields"]

#: The ``show stat`` columns a health report reads
#: (:meth:`lbctl.haproxy.runtime.RuntimeClient.backends_health`, ``ServerHealth.from_fields``).
HEALTH_COLUMNS = ("pxname", "svname", "status", "check_status", "check_duration", "lastchg",
                  "weight", "scur", "qcur", "req_rate", "rate", "hrsp_5xx")


def parse_stat_csv(text: str | Iterable[str], columns: tuple[str, ...] | None = None,
                   ) -> Iterator[dict[str, str]]:
    """``show stat`` CSV (``# pxname,svname,...`` then one line per proxy or server;
    management.txt §9.1), as one text or its lines as they arrive
    (:meth:`lbctl.haproxy.sockets.SocketClient.command_lines`) → one dict per row keyed by
    column name, every column or only ``columns`` (a column the header lacks is left out).

    HAProxy quotes a field only when it holds ``,`` or ``"`` and writes one line per row, so
    a line without ``"`` is split on commas (only as far as the last column wanted); a line
    with one goes through :mod:`csv`. Raises ``RuntimeAPIError`` (when iterated) when the
    answer is not the CSV (e.g. permission denied).
    """
    lines, header = _stat_header(text)
    if columns is None:
        picks = list(enumerate(header))
        cut = -1
    else:
        where = {name: i for i, name in enumerate(header)}  # the last one, as csv.DictReader
        picks = [(where[name], name) for name in columns if name in where]
        cut = max((i for i, _ in picks), default=0) + 1
    for line in lines:
        if not line.strip():
            continue
        fields = next(csv.reader([line])) if '"' in line else line.split(",", cut)
        count = len(fields)
        yield {name: fields[i] for i, name in picks if i < count}


def stat_fields(text: str | Iterable[str], columns: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """``show stat`` CSV (as :func:`parse_stat_csv` takes it) → per row, the values of
    ``columns`` in that order (``""`` for a column the header or the row lacks): tuples,
    no dict per row, for the 60,000 rows of a health report. Raises ``RuntimeAPIError``
    (when iterated) when the answer is not the CSV."""
    lines, header = _stat_header(text)
    where = {name: i for i, name in enumerate(header)}
    if not columns:
        return
    if any(name not in where for name in columns):  # an older HAProxy: fewer columns
        for row in parse_stat_csv(itertools.chain([_HEADER_MARK + ",".join(header)], lines),
                                  columns):
            yield tuple(row.get(name, "") for name in columns)
        return
    index = [where[name] for name in columns]
    cut = max(index) + 1
    pick = operator.itemgetter(*index)
    for line in lines:
        if not line.strip():
            continue
        fields = next(csv.reader([line])) if '"' in line else line.split(",", cut)
        if len(fields) < cut:
            fields += [""] * (cut - len(fields))
        values = pick(fields)
        yield values if isinstance(values, tuple) else (values,)


_HEADER_MARK = "# "


def _stat_header(text: str | Iterable[str]) -> tuple[Iterator[str], list[str]]:
    lines = iter(text.splitlines() if isinstance(text, str) else text)
    first = next((ln for ln in lines if ln.strip()), "")
    if not first.startswith(_HEADER_MARK):
        raise RuntimeAPIError(f"show stat: unexpected answer: {first.strip()[:200]!r}")
    return lines, next(csv.reader([first[len(_HEADER_MARK):]]))
