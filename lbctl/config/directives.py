"""Directive families: one type per family of ``haproxy.cfg`` keywords.

A family reads the unquoted words of one line (``keyword`` and ``args``, see
:mod:`lbctl.config.grammar`) into named fields, and rejects a line whose shape HAProxy could
never accept (a ``server`` without an address, ``timeout connect`` without a time, an
``http-request`` without an action, an unbalanced ``{ ... }`` anonymous ACL) with
:class:`ArgError`, which the document turns into a :class:`lbctl.errors.ParseError` at the
column of the word at fault. Values are never checked against a version's keyword list: an
unknown ``option`` or action is kept as written. Which keyword belongs to which family is in
the per-section tables of :mod:`lbctl.config.sections`; the families with a condition
(``http-request`` and the other rules, ``use_backend`` ...) are in :mod:`lbctl.config.rules`.

Every family keeps ``keyword`` (``"timeout"``, ``"http-request"`` ...), ``args`` (the words
after it, unquoted) and ``negated`` (the line started with ``no``, configuration.txt §4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Self

__all__ = [
    "Acl", "ArgError", "Balance", "Bind", "Directive", "Errorfile", "Flag", "Generic", "Log",
    "Named", "Option", "OptionalAddressServer", "Server", "ServerTemplate", "Timeout",
    "Unknown", "Value",
]

#: A time value starts with a digit (configuration.txt §2.5); HAProxy only warns about what
#: follows the unit (``15min``), and anything with ``$`` may be an environment variable.
_TIME_RE = re.compile(r"^\d")


class ArgError(Exception):
    """A line's arguments do not fit its family; ``index`` is the offending argument (0 = the
    first word after the keyword; ``len(args)`` = something is missing at the end)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


@dataclass(slots=True, kw_only=True)
class Directive:
    """Base of every family: the keyword, its unquoted arguments, and ``no`` in front."""

    keyword: str
    args: tuple[str, ...]
    negated: bool = False
    family: ClassVar[str] = "directive"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        """Read ``args``; raise :class:`ArgError` when they do not fit the family."""
        return cls(keyword=keyword, args=args, negated=negated)

    @staticmethod
    def need(args: tuple[str, ...], count: int, what: str) -> None:
        """Raise :class:`ArgError` unless ``args`` has at least ``count`` words."""
        if len(args) < count:
            raise ArgError(len(args), f"missing {what}")


@dataclass(slots=True, kw_only=True)
class Generic(Directive):
    """A known keyword with free-form arguments (``log-format``, ``stick-table`` ...)."""

    family: ClassVar[str] = "generic"


@dataclass(slots=True, kw_only=True)
class Unknown(Generic):
    """A keyword the section's table does not list; kept as written (newer or older HAProxy)."""

    family: ClassVar[str] = "unknown"


@dataclass(slots=True, kw_only=True)
class Flag(Directive):
    """A keyword without arguments (``daemon``, ``disabled`` ...)."""

    family: ClassVar[str] = "flag"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        if args:
            raise ArgError(0, f"'{keyword}' takes no argument")
        return cls(keyword=keyword, args=args, negated=negated)


@dataclass(slots=True, kw_only=True)
class Value(Directive):
    """A keyword with exactly one argument (``maxconn 4096``, ``mode http``, ``retries 3``)."""

    value: str = ""
    family: ClassVar[str] = "value"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        if negated and not args:
            return cls(keyword=keyword, args=args, negated=negated)
        cls.need(args, 1, f"value for '{keyword}'")
        if len(args) > 1:
            raise ArgError(1, f"'{keyword}' takes one argument")
        return cls(keyword=keyword, args=args, negated=negated, value=args[0])


@dataclass(slots=True, kw_only=True)
class Named(Directive):
    """``<keyword> <name> [params...]``: ``user`` and ``group`` (§3.4), ``cookie``, ``filter``,
    ``table`` (§3.5) ..."""

    name: str = ""
    params: tuple[str, ...] = ()
    family: ClassVar[str] = "named"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 1, f"name for '{keyword}'")
        return cls(keyword=keyword, args=args, negated=negated, name=args[0], params=args[1:])


@dataclass(slots=True, kw_only=True)
class Timeout(Directive):
    """``timeout <event> <time>`` (configuration.txt §4.2 "timeout"; times per §2.5)."""

    event: str = ""
    value: str = ""
    family: ClassVar[str] = "timeout"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 1, "timeout name (connect, client, server ...)")
        cls.need(args, 2, f"time for 'timeout {args[0]}'")
        if len(args) > 2:
            raise ArgError(2, f"'timeout {args[0]}' takes one time")
        if "$" not in args[1] and not _TIME_RE.match(args[1]):
            raise ArgError(1, f"{args[1]!r} is not a time (500ms, 5s, 1m ...)")
        return cls(keyword=keyword, args=args, negated=negated, event=args[0], value=args[1])


@dataclass(slots=True, kw_only=True)
class Option(Directive):
    """``[no] option <name> [args...]`` (configuration.txt §4.2 "option ...")."""

    name: str = ""
    params: tuple[str, ...] = ()
    family: ClassVar[str] = "option"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 1, "option name")
        return cls(keyword=keyword, args=args, negated=negated, name=args[0], params=args[1:])


@dataclass(slots=True, kw_only=True)
class Bind(Directive):
    """``bind <address>[,<address>...] [params...]`` (configuration.txt §4.2 "bind", §5.1)."""

    addresses: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    family: ClassVar[str] = "bind"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 1, f"address for '{keyword}'")
        return cls(keyword=keyword, args=args, negated=negated,
                   addresses=tuple(args[0].split(",")), params=args[1:])


@dataclass(slots=True, kw_only=True)
class Server(Directive):
    """``server <name> <address>[:port] [params...]`` (configuration.txt §4.2 "server", §5.2),
    and the same shape in ``peer`` (§3.5), ``nameserver`` (§5.3.2) and ``mailer`` (§3.6).

    ``params`` are the server options as written; :meth:`param` reads ``weight 100``-style
    options, :meth:`has` flags such as ``check`` and ``backup``.
    """

    name: str = ""
    address: str = ""
    params: tuple[str, ...] = ()
    family: ClassVar[str] = "server"
    address_required: ClassVar[bool] = True

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 1, f"name for '{keyword}'")
        if cls.address_required:
            cls.need(args, 2, f"address for '{keyword} {args[0]}'")
        return cls(keyword=keyword, args=args, negated=negated, name=args[0],
                   address=args[1] if len(args) > 1 else "", params=args[2:])

    def param(self, name: str) -> str | None:
        """The word after option ``name`` (``param("weight")`` → ``"100"``), or ``None``."""
        for i, word in enumerate(self.params[:-1]):
            if word == name:
                return self.params[i + 1]
        return None

    def has(self, flag: str) -> bool:
        """True when the flag option ``flag`` is present (``check``, ``backup`` ...)."""
        return flag in self.params


@dataclass(slots=True, kw_only=True)
class OptionalAddressServer(Server):
    """``server <name> [<address>]`` in ``peers``: the local peer has no address (§3.5)."""

    address_required: ClassVar[bool] = False


@dataclass(slots=True, kw_only=True)
class ServerTemplate(Directive):
    """``server-template <prefix> <num | range> <fqdn>[:port] [params...]`` (§4.2)."""

    prefix: str = ""
    count: str = ""
    address: str = ""
    params: tuple[str, ...] = ()
    family: ClassVar[str] = "server-template"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 3, "prefix, count and address for 'server-template'")
        return cls(keyword=keyword, args=args, negated=negated, prefix=args[0], count=args[1],
                   address=args[2], params=args[3:])


@dataclass(slots=True, kw_only=True)
class Acl(Directive):
    """``acl <name> <criterion> [flags] [operator] [values...]`` (configuration.txt §7.1)."""

    name: str = ""
    criterion: str = ""
    values: tuple[str, ...] = ()
    family: ClassVar[str] = "acl"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 1, "ACL name")
        cls.need(args, 2, f"criterion for ACL '{args[0]}'")
        return cls(keyword=keyword, args=args, negated=negated, name=args[0], criterion=args[1],
                   values=args[2:])


@dataclass(slots=True, kw_only=True)
class Balance(Directive):
    """``balance <algorithm> [arguments]`` (configuration.txt §4.2 "balance"); a bare
    ``balance`` means ``roundrobin`` (``cfgparse-listen.c``), as HAProxy reads it."""

    algorithm: str = ""
    params: tuple[str, ...] = ()
    family: ClassVar[str] = "balance"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        return cls(keyword=keyword, args=args, negated=negated,
                   algorithm=args[0] if args else "roundrobin", params=args[1:])


@dataclass(slots=True, kw_only=True)
class Log(Directive):
    """``log global`` | ``log <target> [len <n>] [format <f>] [sample <r>:<s>] <facility>
    [<level> [<minlevel>]]`` | ``no log`` (configuration.txt §3.1, §4.2 "log")."""

    target: str = ""
    params: tuple[str, ...] = ()
    family: ClassVar[str] = "log"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        if negated:
            return cls(keyword=keyword, args=args, negated=negated)
        cls.need(args, 1, "log target (global, an address or a ring)")
        if args[0] != "global" and len(args) < 2:
            raise ArgError(1, f"missing facility for 'log {args[0]}'")
        return cls(keyword=keyword, args=args, negated=negated, target=args[0], params=args[1:])


@dataclass(slots=True, kw_only=True)
class Errorfile(Directive):
    """``errorfile <code> <file>`` (configuration.txt §4.2, §3.8 ``http-errors``)."""

    code: str = ""
    path: str = ""
    family: ClassVar[str] = "errorfile"
    _CODE: ClassVar[re.Pattern[str]] = re.compile(r"^[1-5]\d\d$")

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 1, "status code")
        if "$" not in args[0] and not cls._CODE.match(args[0]):
            raise ArgError(0, f"{args[0]!r} is not an HTTP status code")
        cls.need(args, 2, f"file for 'errorfile {args[0]}'")
        return cls(keyword=keyword, args=args, negated=negated, code=args[0], path=args[1])
