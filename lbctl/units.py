"""HAProxy's time units, in one table: parse a time value, write the shortest exact one.

HAProxy times are ``<digits>[us|ms|s|m|h|d]``; no unit means milliseconds (configuration.txt
§2.5 "Time format"). HAProxy keeps whole milliseconds and rounds a microsecond value UP
(``500us`` is 1 ms, ``2500us`` 3 ms: ``parse_time_err()`` in HAProxy's ``src/tools.c``), so a
non-zero time never becomes 0, which would mean "no timeout"; :func:`time_ms` follows it. It
refuses a time of 2^31 ms or more (:data:`MAX_TIME_MS`). The spec (:mod:`lbctl.spec.types`),
the parser's normal form (:mod:`lbctl.config.normal`) and the templates (the ``duration``
filter) all go through here.
"""

from __future__ import annotations

import math
import re

__all__ = ["MAX_TIME_MS", "TIME_UNITS_MS", "format_ms", "parse_time_ms", "time_ms"]

#: The first time HAProxy refuses as too large (``PARSE_TIME_OVER``): 2^31 ms, about 24.8 days.
MAX_TIME_MS = 2**31

#: Unit → milliseconds (configuration.txt §2.5).
TIME_UNITS_MS: dict[str, float] = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000,
                                   "h": 3_600_000, "d": 86_400_000}
_TIME = re.compile(r"^(\d+)(" + "|".join(TIME_UNITS_MS) + r")?$")
#: Units :func:`format_ms` writes, largest first (never ``us``: lbctl keeps whole ms).
_WRITTEN = ("d", "h", "m", "s")


def parse_time_ms(text: str) -> float | None:
    """``"5s"`` → ``5000``, ``"250"`` → ``250``, ``"10us"`` → ``0.01``; ``None`` for anything
    that is not a plain HAProxy time (``"${T}"``, ``"15min"``, ``" 5s"``)."""
    m = _TIME.match(text)
    if m is None:
        return None
    return int(m.group(1)) * TIME_UNITS_MS[m.group(2) or "ms"]


def time_ms(text: str) -> int | None:
    """A HAProxy time as HAProxy stores it: whole milliseconds, a fraction rounded up
    (``"500us"`` → 1, ``"2500us"`` → 3, ``"0us"`` → 0, ``"5s"`` → 5000); ``None`` when
    :func:`parse_time_ms` reads no time."""
    value = parse_time_ms(text)
    return None if value is None else math.ceil(value)


def format_ms(ms: int) -> str:
    """Milliseconds as the shortest exact HAProxy time string: ``30000`` → ``"30s"``,
    ``90000`` → ``"90s"``, ``120000`` → ``"2m"``, ``0`` → ``"0ms"``, ``1500`` → ``"1500ms"``."""
    for unit in _WRITTEN:
        factor = int(TIME_UNITS_MS[unit])
        if ms and ms % factor == 0:
            return f"{ms // factor}{unit}"
    return f"{ms}ms"
