"""``global`` and ``defaults`` sections → spec settings, and lbctl's own lines among them.

Settings are single directives (``maxconn``, ``hard-stop-after``; ``mode``, the five
``timeout`` fields, ``retries``). HAProxy takes the last of repeated settings, and lbctl writes
a section's extra lines after its fields, so only the FIRST line that sets something may
become the field — a later one stays an extra line and still wins — and only when that first
line has the exact form lbctl writes back: no ``no``, no comment beside it, not inside an
``.if`` block. A setting whose first line is not exact stays unset (``null``: no line).

lbctl's own lines are recognised the same way and left to lbctl, which writes them again: its
stats socket (at ``ctx``'s run dir, or any ``.../haproxy.sock`` in lbctl's form without a
``ctx``) and ``stats timeout 30s``; ``localpeer lbctl`` and the pacing action's ``lua-load``
when the spec has (smooth) clients; ``user`` and ``group`` at ``ctx``'s values (any, without
a ``ctx``: lbctl renders its own privilege drop, :mod:`lbctl.haproxy.privileges`);
``option idle-close-on-response`` in an ``http`` defaults
on a target that has it; the log target (``log <ctx's log socket> local0``, any
``.../log.sock`` without a ``ctx``), ``log global`` in ``defaults`` and ``option httplog`` in an
``http`` defaults (:mod:`lbctl.render.loglines`) where lbctl writes them: among the first lines
(``mode``, ``option idle-close-on-response``), and with no later line of the section saying
where logs go or in which format (then lbctl writes neither, and the lines stay extra).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lbctl.config.document import Line
from lbctl.features import Capabilities
from lbctl.importer.words import number, plain
from lbctl.render import LOCAL_PEER, RenderContext
from lbctl.render.loglines import sets_log, sets_log_format
from lbctl.spec import TIMEOUT_EVENTS
from lbctl.spec.lines import trim_line
from lbctl.spec.types import parse_duration_ms

__all__ = ["Pending", "read_defaults", "read_global", "settle", "text_of"]

#: A section's own lines in order, each with whether it may become a field (not in ``.if``).
Pending = list[tuple[Line, bool]]


def text_of(line: Line) -> str:
    """A line as an extra line: its text without indentation and trailing blanks."""
    value: str = trim_line(line.text)
    return value


def _duration(text: str) -> int | None:
    try:
        return parse_duration_ms(text)
    except ValueError:
        return None


def _setting(line: Line) -> str | None:
    """What a line sets, whatever its form (``no``, a comment beside it, inside ``.if``):
    ``"maxconn"``, ``"timeout client"``, ``"option idle-close-on-response"``, ``"stats
    socket <path>"`` ...; ``None`` for a line that is not a directive."""
    d = line.directive
    if d is None:
        return None
    if d.keyword in ("timeout", "option", "stats") and d.args:
        socket = f" {d.args[1]}" if d.args[0] == "socket" and len(d.args) > 1 else ""
        return f"{d.keyword} {d.args[0]}{socket}"
    if d.keyword == "lua-load" and d.args:
        return f"lua-load {d.args[0]}"
    return d.keyword


def settle(lines: Pending, part: dict[str, Any], where: str, origin: dict[str, int],
           classify: Callable[[Line], str | None]) -> dict[str, Line]:
    """Give each field the first line that sets it when ``classify`` (line → field, or
    ``"own:<what>"`` for lbctl's own lines, or ``None``) takes it; every other line is
    appended to ``part["extra"]``. ``origin`` gets ``<where>.<field>`` and
    ``<where>.extra[i]`` line numbers. Returns the lines taken, by field."""
    taken: dict[str, Line] = {}
    seen: set[str] = set()
    for line, free in lines:
        key = _setting(line)
        field = classify(line) if free and plain(line) and key not in seen else None
        if key is not None:
            seen.add(key)
        if field is not None and field not in taken:
            taken[field] = line
            if not field.startswith("own:"):
                origin[f"{where}.{field}"] = line.lineno
            continue
        origin[f"{where}.extra[{len(part['extra'])}]"] = line.lineno
        part["extra"].append(text_of(line))
    return taken


def read_global(lines: Pending, part: dict[str, Any], origin: dict[str, int],
                caps: Capabilities, ctx: RenderContext | None, *, clients: bool,
                smooth: bool) -> None:
    """Fill ``part`` (the spec's ``global``) from the ``global`` section's ``lines``;
    ``clients`` / ``smooth``: the spec has rate-limited (smooth) clients."""
    sock = str(ctx.stats_socket) if ctx is not None else None
    logs = str(ctx.log_socket) if ctx is not None else None
    expose = ("expose-fd", "listeners") if caps.master_worker else ()

    def classify(line: Line) -> str | None:
        kw, a = line.keyword, line.args
        if kw == "maxconn" and len(a) == 1 and number(a[0]):
            return "maxconn"
        if kw == "hard-stop-after" and len(a) == 1 and caps.hard_stop_after \
                and _duration(a[0]) is not None:
            return "hard_stop_after"
        if kw == "stats" and len(a) > 1 and a[0] == "socket" \
                and (a[1] == sock if sock else a[1].endswith("/haproxy.sock")) \
                and a[2:] == ("mode", "600", "level", "admin", *expose):
            return "own:socket"
        if kw == "stats" and a == ("timeout", "30s"):
            return "own:stats-timeout"
        if kw == "log" and len(a) == 2 and a[1] == "local0" \
                and (a[0] == logs if logs else a[0].endswith("/log.sock")):
            return "own:log"
        if kw == "localpeer" and a == (LOCAL_PEER,) and caps.localpeer and clients:
            return "own:localpeer"
        if kw == "lua-load" and len(a) == 1 and a[0].endswith("lbctl_pace.lua") and smooth:
            return "own:lua"
        if kw in ("user", "group") and len(a) == 1 and (
                ctx is None or a[0] == (ctx.user if kw == "user" else ctx.group)):
            return f"own:{kw}"
        return None

    taken = settle(lines, part, "global", origin, classify)
    if "maxconn" in taken:
        part["maxconn"] = int(taken["maxconn"].args[0])
    if "hard_stop_after" in taken:
        part["hard_stop_after"] = taken["hard_stop_after"].args[0]


def _own_log_lines(lines: list[Line]) -> set[int]:
    """The ids of the ``log global`` / ``option httplog`` lines lbctl would write again: in
    the leading run of ``mode`` / ``option idle-close-on-response`` / those two lines, with no
    later line setting the same (:func:`lbctl.render.loglines.defaults_log_lines`)."""
    texts = [" ".join(text_of(ln).split()) for ln in lines]
    own: set[int] = set()
    for i, (line, text) in enumerate(zip(lines, texts, strict=True)):
        if line.keyword == "mode" or text == "option idle-close-on-response":
            continue
        if text not in ("log global", "option httplog"):
            break
        same = sets_log if text == "log global" else sets_log_format
        if not any(same(later) for later in texts[i + 1:]):
            own.add(id(line))
    return own


def read_defaults(lines: Pending, part: dict[str, Any], origin: dict[str, int],
                  caps: Capabilities, *, where: str = "defaults") -> None:
    """Fill ``part`` (one of the spec's ``defaults`` sections, at the field path ``where``:
    ``defaults`` or ``defaults[1]``) from that ``defaults`` section's ``lines``."""
    modes = [ln.args[0] for ln, free in lines if free and plain(ln) and ln.keyword == "mode"
             and ln.args in (("http",), ("tcp",))]
    idle = bool(modes) and modes[0] == "http" and caps.idle_close_on_response
    own_logs = _own_log_lines([ln for ln, _ in lines])

    def classify(line: Line) -> str | None:
        kw, a = line.keyword, line.args
        if kw == "mode" and a in (("http",), ("tcp",)):
            return "mode"
        if kw == "timeout" and len(a) == 2 and a[0] in TIMEOUT_EVENTS and _duration(a[1]) is not None:
            return f"timeouts.{TIMEOUT_EVENTS[a[0]]}"
        if kw == "retries" and len(a) == 1 and number(a[0]) is not None and int(a[0]) <= 100:
            return "retries"
        if kw == "option" and a == ("idle-close-on-response",) and idle:
            return "own:idle-close"
        if kw == "log" and a == ("global",) and id(line) in own_logs:
            return "own:log-global"
        if kw == "option" and a == ("httplog",) and modes and modes[0] == "http" \
                and id(line) in own_logs:
            return "own:httplog"
        return None

    for field, line in settle(lines, part, where, origin, classify).items():
        if field == "mode":
            part["mode"] = line.args[0]
        elif field == "retries":
            part["retries"] = int(line.args[0])
        elif field.startswith("timeouts."):
            part["timeouts"][field[len("timeouts."):]] = line.args[1]
