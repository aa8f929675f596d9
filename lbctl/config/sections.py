"""Section keywords and, per section, the table of the directives it accepts.

The sections are those of configuration.txt §3 (``global``), §4 (``defaults``, ``frontend``,
``backend``, ``listen``; §4.1 has the keyword matrix), §3.4 ``userlist``, §3.5 ``peers``,
§3.6 ``mailers``, §3.8 ``http-errors``, §3.9 ``ring``, §3.10 ``log-forward``, §5.3.2
``resolvers``, §6 ``cache``, §3.7 ``program`` and §10.1.1 ``fcgi-app``, plus the newer
``crt-store``, ``traces``, ``acme`` and ``log-profile`` whose directives are kept unread.
A keyword missing from its section's table is kept as :class:`~lbctl.config.directives.Unknown`
(a newer, older or misspelled keyword is HAProxy's to judge, not the parser's).
"""

from __future__ import annotations

from collections.abc import Mapping

from lbctl.config.directives import (
    Acl,
    ArgError,
    Balance,
    Bind,
    Directive,
    Errorfile,
    Flag,
    Generic,
    Log,
    Named,
    Option,
    OptionalAddressServer,
    Server,
    ServerTemplate,
    Timeout,
    Unknown,
    Value,
)
from lbctl.config.rules import Rule, Subcommand, Switch, TcpRule

__all__ = ["FAMILIES", "NAMED_SECTIONS", "SECTION_KEYWORDS", "TABLES", "family_for", "parse_header"]

FAMILIES: tuple[type[Directive], ...] = (
    Generic, Unknown, Flag, Value, Named, Timeout, Option, Subcommand, Bind, Server,
    OptionalAddressServer, ServerTemplate, Acl, Rule, TcpRule, Switch, Balance, Log, Errorfile,
)
"""Every directive family, for documentation and tests."""

Table = Mapping[str, type[Directive]]


def _table(family: type[Directive], *keywords: str) -> dict[str, type[Directive]]:
    return dict.fromkeys(keywords, family)


_LEGACY_REQ_RSP = _table(
    Switch, "reqadd", "reqrep", "reqirep", "reqdel", "reqidel", "reqdeny", "reqideny", "reqpass",
    "reqipass", "reqallow", "reqiallow", "reqtarpit", "reqitarpit", "reqsetbe", "reqisetbe",
    "rspadd", "rsprep", "rspirep", "rspdel", "rspidel", "rspdeny", "rspideny",
)
#: Keywords valid in every proxy section (defaults, frontend, backend, listen).
_PROXY: dict[str, type[Directive]] = {
    **_table(Value, "mode", "maxconn", "log-tag", "grace", "id", "guid"),
    **_table(Flag, "disabled", "enabled"),
    **_table(Generic, "description", "log-format", "log-format-sd", "error-log-format",
             "http-error", "errorloc", "errorloc302", "errorloc303", "errorfiles",
             "stick-table"),
    **_table(Subcommand, "stats", "compression", "email-alert"),
    "timeout": Timeout, "option": Option, "log": Log, "errorfile": Errorfile,
    "acl": Acl, "http-request": Rule, "http-response": Rule, "http-after-response": Rule,
    "tcp-request": TcpRule, "tcp-response": TcpRule, "redirect": Switch, "block": Switch,
    "filter": Named,
}
_FRONTEND_ONLY: dict[str, type[Directive]] = {
    **_table(Value, "default_backend", "backlog", "monitor-uri", "monitor-net", "clitimeout",
             "unique-id-header"),
    **_table(Subcommand, "capture", "declare", "monitor", "rate-limit"),
    **_table(Generic, "unique-id-format"),
    "bind": Bind, "use_backend": Switch, **_LEGACY_REQ_RSP,
}
_BACKEND_ONLY: dict[str, type[Directive]] = {
    **_table(Value, "retries", "fullconn", "dispatch", "contimeout", "srvtimeout",
             "dynamic-cookie-key", "load-server-state-from-file", "hash-balance-factor",
             "use-fcgi-app", "max-keep-alive-queue", "http-reuse"),
    **_table(Flag, "redispatch", "transparent"),
    **_table(Generic, "default-server", "hash-type", "source", "retry-on", "persist",
             "http-send-name-header", "server-state-file-name", "appsession"),
    **_table(Subcommand, "http-check", "tcp-check", "stick", "external-check"),
    **_table(Switch, "use-server", "force-persist", "ignore-persist"),
    "server": Server, "server-template": ServerTemplate, "balance": Balance, "cookie": Named,
    **_LEGACY_REQ_RSP,
}
_GLOBAL: dict[str, type[Directive]] = {
    **_table(Flag, "daemon", "quiet", "debug", "noepoll", "nokqueue", "noevports", "nopoll",
             "nosplice", "nogetaddrinfo", "noreuseport", "zero-warning", "insecure-fork-wanted",
             "insecure-setuid-wanted", "expose-experimental-directives", "strict-limits",
             "busy-polling", "set-dumpable", "ssl-skip-self-issued-ca", "ssl-mode-async"),
    **_table(Value, "maxconn", "maxconnrate", "maxsessrate", "maxsslconn", "maxsslrate",
             "maxcomprate", "maxcompcpuusage", "maxpipes", "maxzlibmem", "nbproc", "nbthread",
             "ulimit-n", "user", "group", "uid", "gid", "chroot", "pidfile", "node",
             "hard-stop-after", "spread-checks", "max-spread-checks", "ca-base", "crt-base",
             "key-base", "server-state-base", "server-state-file", "localpeer",
             "ssl-server-verify", "ssl-dh-param-file", "mworker-max-reloads", "log-tag",
             "warn-blocked-traffic-after"),
    **_table(Generic, "description", "default-path", "log-send-hostname", "lua-load",
             "lua-load-per-thread", "lua-prepend-path", "setenv", "presetenv", "resetenv",
             "unsetenv", "cpu-map", "unix-bind", "master-worker", "external-check",
             "numa-cpu-mapping", "h1-case-adjust", "h1-case-adjust-file"),
    "log": Log, "stats": Subcommand,
}
#: Global keyword families by prefix (``tune.*``, ``ssl-default-*`` ...), all free-form.
_GLOBAL_PREFIXES = ("tune.", "ssl-default-", "httpclient.", "ocsp-update.", "wurfl-",
                    "51degrees-", "deviceatlas-", "ssl-engine", "ssl-propquery", "ssl-provider")

TABLES: dict[str, Table] = {
    "global": _GLOBAL,
    "defaults": {**_PROXY, **_FRONTEND_ONLY, **_BACKEND_ONLY},
    "frontend": {**_PROXY, **_FRONTEND_ONLY},
    "backend": {**_PROXY, **_BACKEND_ONLY},
    "listen": {**_PROXY, **_FRONTEND_ONLY, **_BACKEND_ONLY},
    "userlist": _table(Named, "user", "group"),
    "peers": {"peer": Server, "server": OptionalAddressServer, "bind": Bind,
              "default-server": Generic, "default-bind": Generic, "table": Named,
              "disabled": Flag, "enabled": Flag, "log": Log, "shards": Value},
    "resolvers": {"nameserver": Server, "parse-resolv-conf": Flag, "hold": Subcommand,
                  "resolve_retries": Value, "timeout": Timeout, "accepted_payload_size": Value,
                  "resolution_pool_size": Value},
    "mailers": {"mailer": Server, "timeout": Timeout},
    "cache": _table(Value, "total-max-size", "max-object-size", "max-age", "process-vary",
                    "max-secondary-entries"),
    "program": {"command": Generic, "user": Value, "group": Value, "option": Option},
    "http-errors": {"errorfile": Errorfile},
    "ring": {"description": Generic, "format": Value, "maxlen": Value, "size": Value,
             "timeout": Timeout, "server": Server, "backing-file": Value},
    "log-forward": {"bind": Bind, "dgram-bind": Bind, "log": Log, "maxconn": Value,
                    "backlog": Value, "timeout": Timeout, "option": Option},
    "fcgi-app": {"docroot": Value, "index": Value, "log-stderr": Generic, "path-info": Value,
                 "pass-header": Generic, "set-param": Generic, "option": Option, "acl": Acl},
}
#: Sections kept with every directive unread: no table yet.
_UNREAD_SECTIONS = ("crt-store", "traces", "acme", "log-profile")
SECTION_KEYWORDS = frozenset((*TABLES, *_UNREAD_SECTIONS))
#: Sections whose header needs a name (configuration.txt §3, §4).
NAMED_SECTIONS = frozenset(
    ("frontend", "backend", "listen", "userlist", "peers", "resolvers", "mailers", "cache",
     "program", "http-errors", "ring", "log-forward", "fcgi-app", "log-profile", "acme")
)
_FROM_SECTIONS = frozenset(("defaults", "frontend", "backend", "listen"))
_EMPTY: Table = {}


def family_for(kind: str, keyword: str) -> type[Directive]:
    """The family of ``keyword`` in a section of ``kind`` (:class:`Unknown` when unlisted)."""
    family = TABLES.get(kind, _EMPTY).get(keyword)
    if family is not None:
        return family
    if kind == "global" and keyword.startswith(_GLOBAL_PREFIXES):
        return Generic
    return Unknown


def header_addresses(kind: str, args: tuple[str, ...]) -> list[str]:
    """The listening addresses written on a ``frontend`` or ``listen`` header, the 1.x form
    ``listen <name> <address>[,<address>...]`` (configuration.txt §4 "Proxies" in 1.5; 2.x
    refuses it: "please use the 'bind' keyword"): each is what a ``bind`` line would say.
    ``[]`` for other kinds and for headers with only a name and ``from <defaults>``."""
    if kind not in ("frontend", "listen") or not args:
        return []
    rest = list(args[1:])
    if "from" in rest:
        at = rest.index("from")
        del rest[at:at + 2]
    return [address for word in rest for address in word.split(",") if address]


def parse_header(kind: str, args: tuple[str, ...]) -> tuple[str | None, str | None]:
    """Read a section header's arguments into ``(name, from_defaults)``.

    ``defaults [<name>] [from <defaults>]`` and ``frontend|backend|listen <name> [from
    <defaults>]`` (configuration.txt §4 "Proxies"; ``listen <name> <address>`` is the 1.x form).
    Raises :class:`ArgError` for a missing name or a ``from`` without its defaults name.
    """
    name: str | None = None
    parent: str | None = None
    rest = args
    if rest and not (kind in _FROM_SECTIONS and rest[0] == "from"):
        name, rest = rest[0], rest[1:]
    elif kind in NAMED_SECTIONS:
        raise ArgError(0, f"missing name for '{kind}'")
    if kind in _FROM_SECTIONS and "from" in rest:
        at = rest.index("from")
        index = len(args) - len(rest) + at
        if at + 1 >= len(rest):
            raise ArgError(index + 1, "missing defaults name after 'from'")
        parent = rest[at + 1]
    return name, parent
