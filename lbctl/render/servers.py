"""The option words of a ``server`` line (configuration.txt §5.2), in the server's ``order``.

:func:`server_line` writes ``server <name> <address>:<port>`` and then
:func:`server_options` (``templates/backend.j2`` calls it for every server,
``templates/server.j2``'s macro wraps it: at 50,000 servers a Jinja macro per line was a
third of the whole render). Each option is a group of words, keyed by its keyword
(:data:`lbctl.spec.servers.SERVER_KEYWORDS`):

* ``weight <w>`` (``weight 0`` for a drained server, none for ``weight: null``),
  ``maxconn <n>``, ``backup``, the TLS words (:func:`lbctl.render.tls.server_tls`);
* ``check`` when the backend has a health check and the server is checked, then ``inter`` /
  ``rise`` / ``fall``: the server's own, else the health check's (for a checked server);
* ``disabled`` for a server in maintenance;
* ``port``, ``addr``, ``cookie``, ``send-proxy`` / ``send-proxy-v2``, ``resolvers``,
  ``init-addr``, ``on-marked-down``, ``slowstart``; then the ``extra`` words.

Written in the server's ``order`` (``lbctl import`` keeps a file's), then every other set group
in :data:`~lbctl.spec.servers.SERVER_KEYWORDS` order: a hand-written server is written
``weight 1 [maxconn n] [backup] [ssl ...] [check inter 2s rise 2 fall 3] [disabled]`` as lbctl
always wrote it.
"""

from __future__ import annotations

from pathlib import Path

from lbctl.render.tls import server_tls
from lbctl.spec import HealthCheck, Server
from lbctl.spec.servers import SERVER_KEYWORDS
from lbctl.spec.types import format_duration

__all__ = ["server_groups", "server_line", "server_options"]


def server_groups(server: Server, hc: HealthCheck | None,
                  root: Path | None = None) -> dict[str, list[str]]:
    """The set option groups of ``server``: keyword (:data:`SERVER_KEYWORDS`) → its words
    (``{"weight": ["weight", "1"], "check": ["check"], ...}``), in :data:`SERVER_KEYWORDS`
    order (:func:`server_options` relies on it); ``root``:
    the state dir, for the TLS CA file (:func:`lbctl.render.tls.server_tls`)."""
    s = server
    checked = hc is not None and s.check
    groups: dict[str, list[str]] = {}
    if s.state == "drain":
        groups["weight"] = ["weight", "0"]
    elif s.weight is not None:
        groups["weight"] = ["weight", str(s.weight)]
    if s.maxconn:
        groups["maxconn"] = ["maxconn", str(s.maxconn)]
    if s.backup:
        groups["backup"] = ["backup"]
    tls = server_tls(s, root).split()
    if tls:
        groups["ssl"] = tls
    if checked:
        groups["check"] = ["check"]
    inter = s.inter if s.inter is not None or not checked or hc is None else (
        None if hc.inter is None else format_duration(hc.inter))
    rise = s.rise if s.rise is not None or not checked or hc is None else hc.rise
    fall = s.fall if s.fall is not None or not checked or hc is None else hc.fall
    if inter is not None:
        groups["inter"] = ["inter", inter]
    if rise is not None:
        groups["rise"] = ["rise", str(rise)]
    if fall is not None:
        groups["fall"] = ["fall", str(fall)]
    if s.state == "maint":
        groups["disabled"] = ["disabled"]
    for key, value in (("port", s.check_port), ("addr", s.check_addr), ("cookie", s.cookie)):
        if value is not None:
            groups[key] = [key, str(value)]
    if s.send_proxy is not None:
        groups["send-proxy"] = ["send-proxy" if s.send_proxy == "v1" else "send-proxy-v2"]
    for key, value in (("resolvers", s.resolvers), ("init-addr", s.init_addr),
                       ("on-marked-down", s.on_marked_down)):
        if value is not None:
            groups[key] = [key, str(value)]
    if s.slowstart is not None:
        groups["slowstart"] = ["slowstart", s.slowstart]
    if s.extra:
        groups["extra"] = list(s.extra)
    return groups


def server_options(server: Server, hc: HealthCheck | None, root: Path | None = None) -> str:
    """The option words of ``server``'s line after ``<address>:<port>``, with a leading space
    (``""`` when none): :func:`server_groups` in the server's ``order``, then the others in
    :data:`SERVER_KEYWORDS` order."""
    groups = server_groups(server, hc, root)
    if not server.order:  # the groups are in SERVER_KEYWORDS order already
        return "".join([" " + w for words in groups.values() for w in words])
    keys = dict.fromkeys([*(k for k in server.order if k in groups), *SERVER_KEYWORDS])
    words = [w for k in keys if k in groups for w in groups[k]]
    return "".join(" " + w for w in words)


def server_line(server: Server, hc: HealthCheck | None, root: Path | None = None) -> str:
    """A backend's ``server`` line without its indent (configuration.txt §4 "server", §5.2):
    ``server <name> <address>:<port>`` (an IPv6 address in brackets), then
    :func:`server_options`."""
    address = server.address
    host = f"[{address}]" if ":" in address else address
    return f"server {server.name} {host}:{server.port}{server_options(server, hc, root)}"
