"""The single-line settings of a frontend (and of a ``listen`` section's frontend part) the spec
has fields for: ``mode``, ``timeout <event>`` (:data:`lbctl.spec.models.FRONTEND_TIMEOUTS`)
and ``option <name>`` without arguments (:data:`lbctl.spec.models.FrontendOption`).

HAProxy takes the last line that sets a thing, and lbctl writes the fields before the extra
lines, so only the first line setting each thing (in any form: ``no``, a comment beside it,
inside ``.if``) may become its field (:func:`frontend_setting` says what a line sets).
"""

from __future__ import annotations

import typing
from typing import Any

from lbctl.config.document import Line
from lbctl.spec.models import FRONTEND_TIMEOUTS, FrontendOption
from lbctl.spec.types import parse_duration_ms

__all__ = ["FRONTEND_OPTIONS", "frontend_field", "frontend_setting"]

#: ``option <name>`` lines a frontend has fields for (:data:`lbctl.spec.models.FrontendOption`).
FRONTEND_OPTIONS = frozenset(typing.get_args(FrontendOption))
#: Options that set the same thing (the log format; how HTTP connections are kept,
#: configuration.txt §4 "HTTP connection modes"): one setting, so that a field never moves
#: before or after a line it overrides or is overridden by.
_OPTION_GROUPS = {"httplog": "log", "tcplog": "log", "http-keep-alive": "http-mode",
                  "http-server-close": "http-mode", "httpclose": "http-mode",
                  "forceclose": "http-mode", "http-tunnel": "http-mode"}


def frontend_setting(line: Line) -> tuple[str, str] | None:
    """What a line sets among a frontend's single-line fields, in any form (``no``, with a
    comment, inside ``.if``): ``("mode", "")``, ``("timeout", "client")``, ``("option",
    "log")``; ``None`` for other lines. HAProxy takes the last line setting a thing, and extra
    lines are written after the fields, so only the first such line may become the field."""
    d = line.directive
    if d is None:
        return None
    kw, a = d.keyword, d.args
    if kw == "mode":
        return ("mode", "")
    if kw == "timeout" and a and a[0] in FRONTEND_TIMEOUTS:
        return ("timeout", a[0])
    if kw == "option" and a:
        return ("option", _OPTION_GROUPS.get(a[0], a[0]))
    return None


def frontend_field(data: dict[str, Any], kw: str, a: tuple[str, ...]) -> bool:
    """Put a frontend's ``mode``, ``timeout <event>`` or ``option <name>`` line in ``data``
    (a frontend's or a listen section's spec data) when lbctl writes it back the same
    (``templates/frontend.j2``, ``templates/listen.j2``)."""
    if kw == "mode" and len(a) == 1 and a[0] in ("http", "tcp"):
        data["mode"] = a[0]
        return True
    if kw == "timeout" and len(a) == 2 and a[0] in FRONTEND_TIMEOUTS:
        try:
            ms = parse_duration_ms(a[1])
        except ValueError:
            return False
        data.setdefault("timeouts", {})[FRONTEND_TIMEOUTS[a[0]]] = ms
        return True
    if kw == "option" and len(a) == 1 and a[0] in FRONTEND_OPTIONS:
        data.setdefault("options", []).append(a[0])
        return True
    return False
