"""``server`` lines → spec servers, each written back word for word.

A server line's options (configuration.txt §5.2) are read as groups: a keyword the spec has
a field for (:data:`lbctl.spec.servers.SERVER_KEYWORDS`) and its argument, or other words,
kept as the server's ``extra`` words. The server's ``order`` records the order of the groups,
so rendering gives the very same words back; servers are kept only when they do (the
backend is rendered and compared, :mod:`lbctl.importer.backends`). A line whose extra words are
not one run (``source 10.0.0.1 check alpn h2``: ``check`` between them) keeps the options after
the first run as extra words too, unless one of them is an option lbctl acts on (``weight``,
``check``, ``disabled`` ...): such a line raises :class:`Mismatch` and the backend's servers
stay extra lines.
"""

from __future__ import annotations

import functools
from typing import Any

from lbctl.config.document import Line
from lbctl.importer.words import number
from lbctl.spec import HealthCheck
from lbctl.spec.address import Address
from lbctl.spec.servers import SERVER_KEYWORDS

__all__ = ["Mismatch", "read_server"]

#: Server keywords that are fields → (field, words after the keyword).
_FIELDS = {"weight": ("weight", 1), "maxconn": ("maxconn", 1), "backup": ("backup", 0),
           "check": ("check", 0), "inter": ("inter", 1), "rise": ("rise", 1), "fall": ("fall", 1),
           "disabled": ("state", 0), "port": ("check_port", 1), "addr": ("check_addr", 1),
           "cookie": ("cookie", 1), "send-proxy": ("send_proxy", 0),
           "send-proxy-v2": ("send_proxy", 0), "resolvers": ("resolvers", 1),
           "init-addr": ("init_addr", 1), "on-marked-down": ("on_marked_down", 1),
           "slowstart": ("slowstart", 1)}
#: Other server keywords that take one argument (configuration.txt §5.2): read with it, so
#: that an argument is never taken for a keyword.
_ONE_ARGUMENT = frozenset((
    "agent-addr", "agent-inter", "agent-port", "agent-send", "alpn", "ca-file", "check-alpn",
    "check-proto", "check-sni", "ciphers", "ciphersuites", "crl-file", "crt", "curves",
    "downinter", "error-limit", "fastinter", "hash-key", "id", "log-proto", "max-reuse",
    "maxqueue", "minconn", "namespace", "npn", "observe", "on-error", "on-marked-up",
    "pool-conn-name", "pool-low-conn", "pool-max-conn", "pool-purge-delay", "proto", "redir",
    "resolve-net", "resolve-opts", "resolve-prefer", "shard", "sigalgs", "sni", "socks4",
    "source", "ssl-max-ver", "ssl-min-ver", "tcp-ut", "track", "usesrc", "verify",
    "verifyhost", "ws", "guid", "client-sigalgs", "set-proxy-v2-tlv-fmt"))
#: Options lbctl acts on (runtime operations, health): never left among the extra words.
_ACTED_ON = frozenset(("weight", "maxconn", "backup", "check", "inter", "rise", "fall",
                       "disabled", "ssl"))


class Mismatch(Exception):
    """The line does not read back as lbctl would write it."""


def _groups(words: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """``[(keyword of SERVER_KEYWORDS or "extra", words)]`` of a server line's options."""
    out: list[tuple[str, tuple[str, ...]]] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "ssl" and words[i + 1:i + 3] == ("verify", "none"):
            out.append(("ssl", words[i:i + 3]))
            i += 3
            continue
        field = _FIELDS.get(word)
        if field is not None and i + field[1] < len(words):
            key = "send-proxy" if word.startswith("send-proxy") else word
            out.append((key, words[i:i + 1 + field[1]]))
            i += 1 + field[1]
            continue
        size = 2 if word in _ONE_ARGUMENT and i + 1 < len(words) else 1
        if out and out[-1][0] == "extra":
            out[-1] = ("extra", out[-1][1] + words[i:i + size])
        else:
            out.append(("extra", words[i:i + size]))
        i += size
    return _one_extra_run(out)


def _one_extra_run(groups: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, tuple[str, ...]]]:
    """``groups`` with every group after the first extra run folded into it, when there are
    two runs; :class:`Mismatch` when a folded group is one lbctl acts on."""
    runs = [i for i, (key, _) in enumerate(groups) if key == "extra"]
    if len(runs) < 2:
        return groups
    first = runs[0]
    folded = groups[first + 1:]
    if any(key in _ACTED_ON for key, _ in folded):
        raise Mismatch(groups)
    words = groups[first][1] + tuple(w for _, ws in folded for w in ws)
    return [*groups[:first], ("extra", words)]


def read_server(line: Line, hc: HealthCheck | None) -> dict[str, Any]:
    """The spec data of one ``server`` line, rendered against the backend's health check
    ``hc`` (the ``check`` word is written only with one). Raises :class:`Mismatch` when the
    line has no address, repeats an option, or does not render back word for word."""
    a = line.args
    if len(a) < 2:
        raise Mismatch(a)
    try:
        where = Address.parse(a[1])
    except ValueError:
        raise Mismatch(a) from None
    server: dict[str, Any] = {"name": a[0], "address": where.host, "port": where.port}
    options, extra, order = _options(a[2:], hc is None)
    server.update(options)
    if "tls" in server:  # the one mapping among the cached fields: this server's own copy
        server["tls"] = dict(server["tls"])
    server["extra"] = list(extra)
    server["order"] = None if order is None else list(order)
    return server


@functools.lru_cache(maxsize=4096)
def _options(words: tuple[str, ...], unchecked: bool) -> tuple[
        tuple[tuple[str, Any], ...], tuple[str, ...], tuple[str, ...] | None]:
    """The fields a server line's option ``words`` set (``unchecked``: the backend has no
    health check), as ``(field items but extra and order, extra words, order or None)``.
    Cached: it depends on nothing else, and a large config repeats the same options from
    server to server. Raises :class:`Mismatch` (not cached)."""
    server: dict[str, Any] = {"weight": None, "check": False, "extra": []}
    order: list[str] = []
    for key, group in _groups(words):
        if key in order:
            raise Mismatch(words)
        order.append(key)
        _set(server, key, group)
    if server.get("weight") == 0 and server.get("state") != "maint":
        server.update(state="drain", weight=1)
    if unchecked:
        server["check"] = True  # the default: with no health check, no ``check`` is written
    canonical = [k for k in SERVER_KEYWORDS if k in order]
    extra = tuple(server.pop("extra"))
    return tuple(server.items()), extra, None if order == canonical else tuple(order)


def _set(server: dict[str, Any], key: str, words: tuple[str, ...]) -> None:
    if key == "extra":
        server["extra"] = list(words)
    elif key == "ssl":
        server["tls"] = {"verify": "none"}
    elif key == "disabled":
        server["state"] = "maint"
    elif key in ("backup", "check"):
        server[key] = True
    elif key == "send-proxy":
        server["send_proxy"] = "v1" if words[0] == "send-proxy" else "v2"
    elif key in ("weight", "maxconn", "rise", "fall"):
        value = number(words[1])
        if value is None:
            raise Mismatch(words)
        server[key] = value
    else:
        server[_FIELDS[key][0]] = words[1]
