"""``listen`` sections → spec data (:class:`lbctl.spec.models.Listen`), keeping only what lbctl
writes back the same (the rules of :mod:`lbctl.importer.proxies`).

A listen section is a frontend and a backend in one proxy (configuration.txt §4), so it is read
in two parts over its own lines:

* the frontend's single-line fields: ``bind`` lines of one plain ``host:port`` (a listener on
  the header, ``listen stats :1936``, is one too), the first ``maxconn``, and the first line
  setting each frontend-only ``timeout`` event (``client``, ``client-fin``, ``http-request``,
  ``http-keep-alive``, ``tarpit``) or frontend-only ``option`` (``httplog``, ``tcplog``,
  ``dontlognull`` ...);
* every other line, read as a backend's (:func:`lbctl.importer.backends.read_backend`: mode,
  balance, the backend's timeouts and options, ``http-reuse``, ``cookie``, the health check,
  ``default-server``, the servers, all of them or none).

The two parts are then rendered together (``templates/listen.j2``) and kept only when that
gives back exactly the lines they came from, rules in their order
(:func:`lbctl.importer.proxies.renders_back`); else the backend part alone, else nothing: every
line stays an extra line of the listen section, in order. A listen section whose name the
spec refuses stays a ``sections`` entry, whole (:mod:`lbctl.importer.core`).
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import TypeAdapter, ValidationError

from lbctl.config.document import Line
from lbctl.features import Capabilities
from lbctl.importer.backends import read_backend
from lbctl.importer.proxies import Mapped, frontend_walk, renders_back
from lbctl.importer.proxy_settings import FRONTEND_OPTIONS, frontend_field
from lbctl.importer.words import number
from lbctl.render import RenderContext
from lbctl.spec import BindSpec
from lbctl.spec.models import FRONTEND_TIMEOUTS, BackendOption, Listen

__all__ = ["read_listen"]

_BIND: TypeAdapter[Any] = TypeAdapter(BindSpec)
#: The options only a frontend has fields for (a backend's are read with the backend part).
_FRONT_OPTIONS = FRONTEND_OPTIONS - frozenset(typing.get_args(BackendOption))


def _frontend_only(line: Line) -> bool:
    """A line only a frontend's fields read: ``bind``, ``maxconn``, a frontend-only
    ``timeout`` event or ``option`` (in any form: ``no``, a comment beside it)."""
    d = line.directive
    if d is None:
        return False
    if d.keyword in ("bind", "maxconn"):
        return True
    if d.keyword == "timeout":
        return bool(d.args) and d.args[0] in FRONTEND_TIMEOUTS
    return d.keyword == "option" and bool(d.args) and d.args[0] in _FRONT_OPTIONS


def _front(lines: list[Line], blocked: set[int], binds_seen: set[str]) -> Mapped:
    """The frontend part: binds, ``maxconn``, frontend timeouts and options."""
    front = Mapped({"bind": []})
    for line, first, fresh in frontend_walk(lines, blocked):
        kw, a = line.keyword, line.args
        if kw == "bind" and len(a) == 1:
            try:
                bind = _BIND.validate_python(a[0])
            except ValidationError:
                continue
            if bind.haproxy() == a[0] and str(bind) not in binds_seen:
                front.place(line, f"bind[{len(front.data['bind'])}]")
                front.data["bind"].append(str(bind))
                binds_seen.add(str(bind))
        elif kw == "maxconn" and first and len(a) == 1 and number(a[0], 10_000_000) is not None:
            front.data["maxconn"] = int(a[0])
            front.place(line, "maxconn")
        elif fresh and frontend_field(front.data, kw, a):
            front.place(line, f"timeouts.{FRONTEND_TIMEOUTS[a[0]]}" if kw == "timeout"
                        else f"options[{len(front.data['options']) - 1}]")
    return front


def read_listen(name: str, parent: str | None, lines: list[Line], blocked: set[int],
                caps: Capabilities, ctx: RenderContext, binds_seen: set[str]) -> Mapped:
    """Map a listen section's ``lines`` (``blocked``: ids of lines inside ``.if`` blocks,
    never mapped) to the spec data of a :class:`~lbctl.spec.models.Listen`, with the lines
    each field came from (see the module docstring). ``binds_seen`` holds the binds of
    earlier proxies (a repeated one stays extra) and gets this section's."""
    front = _front([ln for ln in lines if _frontend_only(ln)], blocked, binds_seen)
    back = read_backend(name, parent, [ln for ln in lines if not _frontend_only(ln)], blocked,
                        caps)
    data = {**back.data, **front.data}
    data["timeouts"] = {**back.data.get("timeouts", {}), **front.data.get("timeouts", {})}
    # both parts' options in the order the file has them (a rendered listen reads back the same)
    options = sorted((ln.lineno, ln.args[0], ln) for part in (back, front)
                     for ln, path in part.placed.values() if path.startswith("options["))
    data["options"] = [option for _, option, _ in options]
    at = {id(ln): f"options[{i}]" for i, (_, _, ln) in enumerate(options)}
    both = Mapped(data, {})
    for part in (back, front):
        for ln, path in part.placed.values():
            both.place(ln, at.get(id(ln), path))
    front_only = Mapped({**front.data, "name": name, "from": parent}, dict(front.placed))
    for mapped in (both, back, front_only):
        if renders_back(Listen, mapped, caps, ctx, lines):
            if mapped is not both:
                binds_seen.difference_update(set(front.data["bind"]) - set(
                    mapped.data.get("bind", ())))
            return mapped
    binds_seen.difference_update(front.data["bind"])
    return Mapped({"name": name, "from": parent})
