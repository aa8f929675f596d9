"""Lossless reading of ``haproxy.cfg``: ``dumps(loads(text)) == text`` for any text HAProxy reads.

    >>> doc = loads("backend app\\n    server s1 10.0.0.1:80 check  # primary\\n")
    >>> server = doc.section("backend", "app").directives("server")[0]
    >>> server.name, server.address, server.has("check")
    ('s1', '10.0.0.1:80', True)
    >>> dumps(doc) == "backend app\\n    server s1 10.0.0.1:80 check  # primary\\n"
    True

Layers (configuration.txt §2 for the language):

* :mod:`~lbctl.config.grammar` — the pyparsing grammar of one line: words, quotes, escapes,
  comments;
* :mod:`~lbctl.config.document` — the document model (sections → lines) and its one-pass
  assembly;
* :mod:`~lbctl.config.directives` and :mod:`~lbctl.config.rules` — one type per directive
  family (``rules``: those with an ``if``/``unless`` condition);
* :mod:`~lbctl.config.sections` — the section keywords and, per section, its directive table.

Unreadable text raises :class:`lbctl.errors.ParseError` with the line and column.
"""

from __future__ import annotations

from pathlib import Path

from lbctl.config.directives import (
    Acl,
    Balance,
    Bind,
    Directive,
    Errorfile,
    Flag,
    Generic,
    Log,
    Named,
    Option,
    Server,
    ServerTemplate,
    Timeout,
    Unknown,
    Value,
)
from lbctl.config.document import Document, Line, Section, build
from lbctl.config.grammar import Word
from lbctl.config.rules import Condition, Rule, Subcommand, Switch, TcpRule

__all__ = [
    "Acl", "Balance", "Bind", "Condition", "Directive", "Document", "Errorfile", "Flag",
    "Generic", "Line", "Log", "Named", "Option", "Rule", "Section", "Server", "ServerTemplate",
    "Subcommand", "Switch", "TcpRule", "Timeout", "Unknown", "Value", "Word", "dumps", "load",
    "loads",
]


def loads(text: str) -> Document:
    """Parse configuration ``text`` (any line endings) into a :class:`Document`.

    Raises :class:`lbctl.errors.ParseError` (line, column, reason) for text HAProxy could not
    read either: an unterminated quote, a bad ``\\x`` escape, an unbalanced ``{ ... }``
    anonymous ACL, a stray ``.endif``, a directive missing a required argument.
    """
    return build(text)


def dumps(doc: Document) -> str:
    """The text of ``doc``, byte for byte what :func:`loads` read."""
    return doc.dumps()


def load(path: str | Path) -> Document:
    """Read and parse a file, keeping its line endings (UTF-8; undecodable bytes are kept as
    surrogate escapes, so ``dumps(...).encode("utf-8", "surrogateescape")`` gives the file back).
    """
    data = Path(path).read_bytes()
    return loads(data.decode("utf-8", "surrogateescape"))
