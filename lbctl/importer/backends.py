"""Backend sections → spec data, keeping only what lbctl writes back the same.

Single-line fields (:mod:`lbctl.importer.proxies` rules): the first ``balance`` whose
value the spec has; written before a server or where lbctl writes them (:data:`_SLOTS`), the
first ``mode``, the first ``timeout connect|server|queue|check|tunnel``, ``option
<name>`` of an option without arguments (``option redispatch``), ``http-reuse`` and
``cookie`` line. The groups whose lines depend on each other are checked by
rendering the backend (:func:`lbctl.importer.proxies.renders_back`); a group that does not
come back the same stays extra, whole:

* the HTTP health check: ``option httpchk`` and ``http-check send`` / ``expect status``
  (``type: http``); with none of them but checked servers, a health check that writes no
  line: ``type: tcp`` (HAProxy's connect check), or ``custom`` when the backend's own check
  lines stay extra lines;
* a ``default-server`` line written before every server: its words, ``default_server``
  (not one that sets ``weight`` or ``disabled``: a server's weight and state are the spec's,
  runtime operations rely on them);
* the servers (:mod:`lbctl.importer.servers`): all of them or none, so that their order
  (server ids, ``balance first``, hashing) never changes; none when a ``server-template``
  line, a second ``default-server`` or one after a server is there (it applies to the
  servers written after it). When every checked server writes the same ``inter`` / ``rise``
  / ``fall`` as lbctl writes them, these go to the health check (a spec lbctl rendered reads
  back as it was); else each server keeps its own.

A server's comment, and the comment lines right above it, become its ``comment``.

Size: over 300 lines because the walk over a backend's lines, the mappings it tries (richest
first) and the servers' health-check timings are one decision over the same lines and slots;
split, the walk's state (slots, first lines, check lines) would be passed between modules.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from lbctl.config.document import DIRECTIVE, Line
from lbctl.features import Capabilities
from lbctl.importer.proxies import Mapped, renders_back
from lbctl.importer.servers import Mismatch, read_server
from lbctl.render import RenderContext
from lbctl.spec import Backend, HealthCheck
from lbctl.spec.models import BackendOption
from lbctl.spec.types import Word, format_duration, parse_duration_ms

__all__ = ["read_backend"]

_BALANCES = ("roundrobin", "static-rr", "leastconn", "first", "source", "uri")
_SERVERS = ("server", "default-server", "server-template")
_WORDS: TypeAdapter[list[str]] = TypeAdapter(list[Word])
#: The render context of a backend check: a backend names no file of it.
_NOWHERE = RenderContext(run_dir=Path("/nonexistent"))


def read_backend(name: str, parent: str | None, lines: list[Line], blocked: set[int],
                 caps: Capabilities, *, deferred: bool = False) -> Mapped:
    """Map a backend's ``lines`` (``blocked``: ids of lines inside ``.if`` blocks, never
    mapped) to the spec data of a :class:`~lbctl.spec.Backend`, with the lines each field
    came from. ``deferred``: the first mapping that validates, its round trip left to the
    caller (:class:`lbctl.importer.roundtrip.RoundTrips`; if it fails, map again without)."""
    base = Mapped({"name": name, "from": parent, "balance": None, "servers": []})
    hc: dict[str, Any] = {}
    hc_lines: list[Line] = []
    servers: list[Line] = []
    default_server: Line | None = None
    servers_ok = checks_ok = True
    seen: set[str] = set()
    settings: set[tuple[str, str]] = set()
    top, last = True, -1  # only lines so far that went to fields; the slot of the last one
    last_server = -1
    for at in range(len(lines) - 1, -1, -1):
        if lines[at].keyword in _SERVERS:
            last_server = at
            break
    for at, line in enumerate(lines):
        d = line.directive
        if d is not None:  # first_of_keyword and plain, inlined: this loop runs for every line
            kw, a = d.keyword, d.args
            first = kw not in seen
            seen.add(kw)
            free = line.kind == DIRECTIVE and line.comment is None and not d.negated \
                and not (blocked and id(line) in blocked)
        else:
            kw, a = line.keyword, line.args
            first = free = False
        setting = _setting(kw, a) if kw in _SETTING_KEYWORDS else None
        slot = _SLOTS.get(kw if setting is None else setting[0])
        in_place = slot is not None and ((top and slot >= last) or at < last_server)
        kept = True
        check_line = False
        if setting is not None and free and in_place and setting not in settings \
                and _read_setting(base, kw, a):
            index = len(base.data.get("options", ())) - 1
            base.place(line, {"timeout": f"timeouts.{a[0]}", "option": f"options[{index}]"}.get(
                kw, kw.replace("-", "_")))
        elif kw == "default-server" and free and in_place and not servers \
                and default_server is None and _valid_words(a) \
                and not {"weight", "disabled"} & set(a):
            default_server = line
        elif kw in _SERVERS and line.kind == DIRECTIVE:
            servers_ok &= kw == "server" and id(line) not in blocked and d is not None \
                and not d.negated
            servers.append(line)
            kept = False
        elif kw == "mode" and free and first and in_place and len(a) == 1 \
                and a[0] in ("http", "tcp"):
            base.data["mode"] = a[0]
            base.place(line, "mode")
        elif kw == "balance" and free and first and len(a) == 1 and a[0] in _BALANCES:
            base.data["balance"] = a[0]
            base.place(line, "balance")
        elif kw == "option" and a[:1] == ("httpchk",) and free and len(a) in (1, 3) \
                and "option" not in hc:
            hc.update(option=True, **({"method": a[1], "path": a[2]} if len(a) == 3 else {}))
            hc_lines.append(line)
            check_line = True
        elif kw == "http-check" and free and a[:2] == ("send", "meth") and len(a) == 5 \
                and a[3] == "uri" and "send" not in hc:
            hc.update(send=True, method=a[2], path=a[4])
            hc_lines.append(line)
            check_line = True
        elif kw == "http-check" and free and a[:2] == ("expect", "status") and len(a) == 3 \
                and a[2].isdigit() and "expect_status" not in hc:
            hc["expect_status"] = int(a[2])
            hc_lines.append(line)
            check_line = True
        else:
            kept = False
            if kw in ("http-check", "tcp-check") or (kw == "option" and a[:1] and a[0].endswith(
                    ("chk", "-check"))):
                checks_ok = False
        if setting is not None:
            settings.add(setting)
        top = top and kept
        if kept:
            key = "http-check" if check_line else kw if setting is None else setting[0]
            last = max(last, _SLOTS.get(key, last))
    if default_server is not None:
        base.data["default_server"] = list(default_server.args)
        base.place(default_server, "default_server")
    if not checks_ok or "option" not in hc:
        hc_lines = []
    # the HTTP check in the form the target is written in (templates/backend.j2), else none
    same_form = "send" in hc if caps.http_check_send else "send" not in hc
    starts: list[tuple[Mapped, dict[str, Any] | None]] = []  # (mapping, its health check)
    if hc_lines and same_form:
        http = {"type": "http", **{k: v for k, v in hc.items() if k not in ("option", "send")}}
        starts.append((base.with_group({"health_check": http},
                                       ((ln, "health_check") for ln in hc_lines)), http))
    starts.append((base, None))

    def candidates() -> Iterator[Mapped]:
        """The mappings to try, richest first; each made only when the one before fails."""
        for start, check in starts:
            if servers and servers_ok:
                try:
                    with_servers = _with_servers(start, servers, check,
                                                 custom=bool(hc) or not checks_ok)
                except (Mismatch, ValidationError):
                    pass
                else:
                    yield with_servers
            if check is not None:  # the health check without the servers
                yield start
        yield base

    for mapped in candidates():
        if renders_back(Backend, mapped, caps, _NOWHERE, lines, deferred=deferred):
            return mapped
    return Mapped({"name": name, "from": parent, "balance": None})


#: Where ``templates/backend.j2`` writes each single-line field (and the health check lines,
#: and ``default-server``): such a line becomes a field when it is written before a server,
#: or, in order, after fields only, so that a config lbctl rendered reads back to the same
#: bytes (its extra lines come after the servers, or after the fields: they stay extra).
_SLOTS = {"mode": 0, "balance": 1, "timeout": 2, "option": 3, "http-reuse": 4, "cookie": 5,
          "http-check": 6, "default-server": 7}


#: ``timeout <event>`` lines a backend has fields for (:class:`~lbctl.spec.BackendTimeouts`).
_TIMEOUTS = ("connect", "server", "queue", "check", "tunnel")
#: ``option <name>`` lines a backend has fields for (:data:`lbctl.spec.models.BackendOption`).
_OPTIONS = frozenset(typing.get_args(BackendOption))


def _setting(kw: str, a: tuple[str, ...]) -> tuple[str, str] | None:
    """What a line sets, for the single-line backend fields: ``("timeout", "server")``,
    ``("option", "redispatch")``, ``("http-reuse", "")``, ``("cookie", "")``; ``None`` for others.
    Only the first line setting it may become the field (HAProxy takes the last one, and extra
    lines are written after the fields)."""
    if kw == "timeout" and a and a[0] in _TIMEOUTS:
        return ("timeout", a[0])
    if kw == "option" and a[:1] and a[0] in _OPTIONS:
        return ("option", a[0])
    if kw in ("http-reuse", "cookie"):
        return (kw, "")
    return None


#: The keywords :func:`_setting` may give a setting for.
_SETTING_KEYWORDS = frozenset(("timeout", "option", "http-reuse", "cookie"))


def _read_setting(mapped: Mapped, kw: str, a: tuple[str, ...]) -> bool:
    """Put a single-line setting in ``mapped.data`` when lbctl writes it back the same."""
    if kw == "timeout" and len(a) == 2:
        try:
            ms = parse_duration_ms(a[1])
        except ValueError:
            return False
        mapped.data.setdefault("timeouts", {})[a[0]] = ms
        return True
    if kw == "option" and len(a) == 1:
        mapped.data.setdefault("options", []).append(a[0])
        return True
    if kw == "http-reuse" and len(a) == 1 and a[0] in ("never", "safe", "aggressive", "always"):
        mapped.data["http_reuse"] = a[0]
        return True
    if kw == "cookie" and _valid_words(a):
        mapped.data["cookie"] = list(a)
        return True
    return False


def _valid_words(words: tuple[str, ...]) -> bool:
    try:
        _WORDS.validate_python(list(words))
    except ValidationError:
        return False
    return bool(words)


def _with_servers(mapped: Mapped, lines: list[Line], health: dict[str, Any] | None, *,
                  custom: bool) -> Mapped:
    """``mapped`` with ``lines`` as its servers, against the health check ``health`` (spec
    data; with none, a ``type: tcp`` one when a server is checked, ``custom`` when the
    backend has check lines kept as extra lines; its timings the spec's defaults when no
    server is checked, as they are then written nowhere). Raises :class:`Mismatch` for a line
    the servers cannot hold; whether they render back is checked on the whole backend."""
    names: set[str] = set()
    checked = False  # a server line says "check"
    for line in lines:
        a = line.args
        if a:
            if a[0] in names:  # HAProxy takes it, the spec's names are unique
                raise Mismatch(a[0])
            names.add(a[0])
            checked = checked or "check" in a[2:]
    if health is None and checked:
        health = {"type": "custom" if custom else "tcp"}
    if health is not None and checked:  # the servers' own timings, unless all share them
        health = {**health, "inter": None, "rise": None, "fall": None}
    hc = _health_check(tuple(health.items())) if health is not None else None
    servers: list[dict[str, Any]] = []
    placed: list[tuple[Line, str]] = []
    for i, line in enumerate(lines):
        server = read_server(line, hc)
        before = line.comments_before
        comment = [c.text.strip() for c in before]
        if line.comment is not None:
            comment.append(line.comment.rstrip())
        server["comment"] = comment
        path = f"servers[{i}]"
        if before:
            placed += [(c, f"{path}.comment") for c in before]
        placed.append((line, path))
        servers.append(server)
    data: dict[str, Any] = {"servers": servers}
    if health is not None:
        lifted = _lift_timings(servers, health)
        # validated once for all the backends that share it (a frozen model, taken as is)
        data["health_check"] = hc if lifted is None else _health_check(tuple(lifted.items()))
        if lifted is not None:
            for server in servers:
                for key in ("inter", "rise", "fall"):
                    server.pop(key, None)
    return mapped.with_group(data, placed)


@functools.lru_cache(maxsize=1024)
def _health_check(items: tuple[tuple[str, Any], ...]) -> HealthCheck:
    """The :class:`HealthCheck` of these fields (a frozen model, shared: backends repeat the
    same few). Raises ``ValidationError``."""
    return HealthCheck.model_validate(dict(items))


def _lift_timings(servers: list[dict[str, Any]], health: dict[str, Any]) -> dict[str, Any] | None:
    """``health`` with the checked servers' common ``inter`` / ``rise`` / ``fall``, when every
    checked server writes all three, ``inter`` in lbctl's spelling (``3s``, not ``3000``), and
    no unchecked server writes any; else ``None``."""
    timings = set()
    for server in servers:
        triple = (server.get("inter"), server.get("rise"), server.get("fall"))
        if not server["check"]:
            if any(t is not None for t in triple):
                return None
            continue
        timings.add(triple)
    if len(timings) != 1:
        return None
    inter, rise, fall = timings.pop()
    if inter is None or rise is None or fall is None:
        return None
    ms = _lbctl_spelling(inter)
    if ms is None:
        return None
    # the same words, in the same places (each server's ``order``): only their source moves
    return {**health, "inter": ms, "rise": rise, "fall": fall}


@functools.lru_cache(maxsize=1024)
def _lbctl_spelling(inter: str) -> int | None:
    """``inter`` in milliseconds when lbctl writes that time as ``inter`` (``3s``, not
    ``3000``), else ``None``. Raises ``ValueError`` for a word that is not a time."""
    ms = parse_duration_ms(inter)
    return ms if format_duration(ms) == inter else None
