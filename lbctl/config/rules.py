"""Directive families with an optional ``if`` / ``unless`` condition: rules and switches.

HAProxy reads a condition as ACL names and anonymous ACLs ``{ <criterion> <values> }``
(optionally negated, ``!{ ... }``), combined with ``||``, ``!`` and implicit AND
(configuration.txt §7.2 "Using ACLs to form conditions"). The braces are words of their own;
an unbalanced one is an :class:`~lbctl.config.directives.ArgError` at its column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Self

from lbctl.config.directives import ArgError, Directive

__all__ = ["Condition", "Rule", "Subcommand", "Switch", "TcpRule"]

_OPEN_BRACE = re.compile(r"^!*\{$")


@dataclass(slots=True)
class Condition:
    """An ``if`` / ``unless`` condition (configuration.txt §7.2 "Using ACLs to form
    conditions"): ``terms`` are its words, with anonymous ACLs as ``{`` ... ``}`` words."""

    kind: str
    terms: tuple[str, ...]

    @classmethod
    def split(cls, args: tuple[str, ...], start: int = 0) -> tuple[tuple[str, ...], Condition | None]:
        """Split ``args`` at the first ``if``/``unless`` at or after ``start``; check braces.

        Raises :class:`ArgError` for a ``}`` without its ``{``, a nested ``{``, an empty
        ``{ }`` or a ``{`` that is never closed. A bare ``if`` is kept (an empty condition:
        real configs have one, corpus file 241).
        """
        at = next((i for i in range(start, len(args)) if args[i] in ("if", "unless")), None)
        if at is None:
            return args, None
        terms = args[at + 1:]
        opened: int | None = None
        for i, term in enumerate(terms, at + 1):
            if _OPEN_BRACE.match(term):
                if opened is not None:
                    raise ArgError(i, "nested '{' in an anonymous ACL")
                opened = i
            elif term == "}":
                if opened is None:
                    raise ArgError(i, "'}' without '{'")
                if i == opened + 1:
                    raise ArgError(i, "empty anonymous ACL '{ }'")
                opened = None
        if opened is not None:
            raise ArgError(opened, "'{' without '}' (unbalanced anonymous ACL)")
        return args[:at], cls(args[at], terms)

    def __str__(self) -> str:
        return " ".join((self.kind, *self.terms))


@dataclass(slots=True, kw_only=True)
class Subcommand(Directive):
    """``<keyword> <sub> [args...]``: ``stats``, ``capture``, ``http-check``, ``tcp-check``,
    ``stick`` (with an optional condition), ``monitor`` ..."""

    sub: str = ""
    params: tuple[str, ...] = ()
    condition: Condition | None = None
    family: ClassVar[str] = "subcommand"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 1, f"'{keyword}' subcommand")
        head, cond = Condition.split(args, 1)
        return cls(keyword=keyword, args=args, negated=negated, sub=args[0], params=head[1:],
                   condition=cond)


@dataclass(slots=True, kw_only=True)
class Rule(Directive):
    """``http-request <action> [params...] [if|unless <condition>]`` and the other rule sets
    (``http-response``, ``http-after-response``; configuration.txt §4.2, §7.2)."""

    action: str = ""
    params: tuple[str, ...] = ()
    condition: Condition | None = None
    family: ClassVar[str] = "rule"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 1, f"action for '{keyword}'")
        head, cond = Condition.split(args, 1)
        return cls(keyword=keyword, args=args, negated=negated, action=args[0], params=head[1:],
                   condition=cond)


@dataclass(slots=True, kw_only=True)
class TcpRule(Rule):
    """``tcp-request <ruleset> <action> ...`` / ``tcp-response content <action> ...`` and their
    ``inspect-delay <time>`` (configuration.txt §4.2); ``ruleset`` is ``connection``,
    ``session``, ``content`` or ``inspect-delay``."""

    ruleset: str = ""
    family: ClassVar[str] = "tcp-rule"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        cls.need(args, 1, f"rule set for '{keyword}' (connection, session, content ...)")
        if args[0] == "inspect-delay":
            cls.need(args, 2, "time for 'inspect-delay'")
            return cls(keyword=keyword, args=args, negated=negated, ruleset=args[0],
                       params=args[1:])
        cls.need(args, 2, f"action for '{keyword} {args[0]}'")
        head, cond = Condition.split(args, 2)
        return cls(keyword=keyword, args=args, negated=negated, ruleset=args[0], action=args[1],
                   params=head[2:], condition=cond)


@dataclass(slots=True, kw_only=True)
class Switch(Directive):
    """``use_backend <backend> [if|unless <cond>]`` / ``use-server``, and any other keyword
    with one target and an optional condition (``redirect``, ``block``, legacy ``reqadd`` ...;
    configuration.txt §4.2)."""

    target: str = ""
    params: tuple[str, ...] = ()
    condition: Condition | None = None
    family: ClassVar[str] = "switch"

    @classmethod
    def parse(cls, keyword: str, args: tuple[str, ...], negated: bool = False) -> Self:
        head, cond = Condition.split(args, 0)
        if not head and keyword not in ("block", "force-persist", "ignore-persist"):
            raise ArgError(0, f"missing argument for '{keyword}'")
        return cls(keyword=keyword, args=args, negated=negated, target=head[0] if head else "",
                   params=head[1:], condition=cond)
