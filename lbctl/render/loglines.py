"""Which of lbctl's log lines ``defaults`` gets: ``log global`` and ``option httplog``.

The agent collects HAProxy's logs on a UNIX datagram socket (``log <socket> local0`` in
``global``, :attr:`lbctl.render.names.RenderContext.log_socket`; :mod:`lbctl.haproxy.logs`
reads it). Every proxy sends its traffic logs there through ``log global`` in ``defaults``,
and an ``http`` defaults logs in HAProxy's HTTP format (``option httplog``,
configuration.txt 1.5 §8.2.3), which :mod:`lbctl.haproxy.logformat` parses.

The spec says otherwise with its own lines in ``defaults.extra``: a ``log`` line of its own
(``log global``, ``no log``) replaces lbctl's ``log global`` (a second ``log global`` would
send every line twice), and a log format of its own (``option httplog``/``tcplog``/
``httpslog``, ``log-format``, ``no option httplog``) replaces lbctl's ``option httplog``
(HAProxy warns when ``option httplog`` overrides another). A frontend's own ``extra`` lines
come later in its section and override both.
"""

from __future__ import annotations

from lbctl.spec import Defaults

__all__ = ["defaults_log_lines", "sets_log", "sets_log_format"]

_FORMATS = ("option httplog", "option tcplog", "option httpslog", "log-format",
            "no option httplog", "no option tcplog")


def sets_log(line: str) -> bool:
    """True for a ``defaults`` line that says where logs go (``log ...``, ``no log``)."""
    words = " ".join(line.split())
    return words == "log" or words.startswith(("log ", "no log"))


def sets_log_format(line: str) -> bool:
    """True for a ``defaults`` line that sets the log format (``option httplog`` ...)."""
    words = " ".join(line.split())
    return any(words == form or words.startswith(form + " ") for form in _FORMATS)


def defaults_log_lines(defaults: Defaults) -> list[str]:
    """The lines lbctl writes in ``defaults`` for the agent's log collector, in order:
    ``["log global", "option httplog"]`` for an ``http`` defaults, without what the spec's
    ``defaults.extra`` already says (see the module docstring)."""
    lines = []
    if not any(sets_log(line) for line in defaults.extra):
        lines.append("log global")
    if defaults.mode == "http" and not any(sets_log_format(line) for line in defaults.extra):
        lines.append("option httplog")
    return lines
