"""The agent's own log lines (``lbctl serve --log-format``, ``--log-level``).

``text`` (the default): ``LEVEL logger: message``, what a terminal or journald wants.
``json``: one JSON object a line — ``{"ts": epoch s, "level", "logger", "message"}`` plus
``exc`` (the formatted traceback) when there is one — for a log shipper. Both go to stderr
(under systemd, to the journal). HAProxy's own logs are not these: see :mod:`lbctl.haproxy.logs`.
"""

from __future__ import annotations

import json
import logging
from typing import Literal

__all__ = ["LOG_FORMATS", "JsonFormatter", "configure_logging"]

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")


class JsonFormatter(logging.Formatter):
    """A :class:`logging.Formatter` writing one JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        """``{"ts", "level", "logger", "message"[, "exc"]}`` as one line."""
        doc: dict[str, object] = {"ts": round(record.created, 3), "level": record.levelname,
                                  "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    """Send the root logger's records at ``level`` (``debug`` … ``critical``) to stderr in
    ``fmt`` (``text`` | ``json``). Raises :class:`ValueError` for an unknown level or format."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"--log-format {fmt!r}: expected one of {', '.join(LOG_FORMATS)}")
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"--log-level {level!r}: expected debug, info, warning, error or critical")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json"
                         else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
