"""Verbatim text in a spec: per-section ``extra`` lines, ``comment`` lines, and ``sections``
of the kinds the spec has no model for (``listen``, ``userlist``, ``peers``, ``cache`` ...).

Everything else in a spec is a typed field checked against an allowlist (DESIGN.md "Safety
rules"). These are the exception: HAProxy directives written by hand, rendered as written.
They are still checked, and refused (never escaped) when they could do more than add lines to
their own section:

* an extra line is ONE line: no newline, carriage return or NUL;
* it reads with :mod:`lbctl.config`'s line grammar (quotes, escapes, ``{ ... }`` anonymous
  ACLs) and its section's directive table (``server`` needs an address, ``timeout connect``
  a time ...); a :class:`~lbctl.errors.ParseError` becomes a field error naming the line,
  ``backends[2].extra[3]: column 12: unterminated quote``;
* it is not a section keyword (it would start a new section: write a ``sections`` entry) nor a
  ``[scope]`` line; blank lines are refused (lbctl writes its own);
* of the dot-directives only the conditional block ``.if`` / ``.elif`` / ``.else`` /
  ``.endif`` (balanced within one list) and the messages ``.notice`` / ``.warning`` /
  ``.alert`` / ``.diag`` are allowed (configuration.txt §2.4);
* comment lines (``comment`` fields, and extra lines that are only a comment) start with ``#``.

Why only admins may send them: ``haproxy -c`` is not a sandbox. ``lua-load`` runs Lua code
while the configuration is parsed (so during the check itself), ``program`` sections start
commands, ``external-check command`` runs one per check, ``setenv`` changes what every
``${VAR}`` means, an ``errorfile`` or ``ca-file`` reads any file HAProxy may read. The agent's
token roles (README "Roles") keep every config write, and so every extra line, to ``admin``
tokens; the checks here keep an admin's line from spilling into other sections.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from lbctl.config.document import BLANK, DOT, HEADER, SCOPE, read_before, read_line
from lbctl.config.sections import NAMED_SECTIONS, SECTION_KEYWORDS
from lbctl.errors import FieldError, ParseError
from lbctl.reserved import RESERVED_PREFIX, is_reserved

__all__ = ["CONDITIONALS", "GENERIC_KINDS", "MESSAGES", "PROXY_KINDS", "check_comment",
           "check_section_name", "line_errors", "trim_line"]

#: Dot-directives of a conditional block (configuration.txt §2.4).
CONDITIONALS = (".if", ".elif", ".else", ".endif")
#: Dot-directives that print a message while the configuration is read.
MESSAGES = (".notice", ".warning", ".alert", ".diag")
#: Kinds a ``sections`` entry may have: every section keyword but ``global`` and
#: ``defaults`` (the spec has exactly one of each).
GENERIC_KINDS = tuple(sorted(SECTION_KEYWORDS - {"global", "defaults"}))
#: Section kinds that are proxies (their names share HAProxy's proxy namespace).
PROXY_KINDS = frozenset(("frontend", "backend", "listen"))
_ONE_LINE = (("\n", "a newline"), ("\r", "a carriage return"), ("\0", "a NUL"))
_SECTION_NAME = re.compile(r"^[^\s#'\"\\$]{1,128}$")
_BLANKS = " \t"


def trim_line(value: Any) -> Any:
    """Drop the indentation and trailing blanks of a line (a blank escaped with ``\\`` stays).

    A pydantic before-validator: anything but a string is passed on for the type check.
    """
    if not isinstance(value, str):
        return value
    if not value or (value[0] not in _BLANKS and value[-1] not in _BLANKS):
        return value  # nothing to trim: the common case, without copies
    text = value.lstrip(_BLANKS)
    stripped = text.rstrip(_BLANKS)
    if len(stripped) < len(text) and stripped.endswith("\\"):
        stripped = text[: len(stripped) + 1]
    return stripped


def _one_line(text: str) -> str | None:
    for needle, what in _ONE_LINE:
        if needle in text:
            return f"must be one line (it contains {what})"
    return None


def check_comment(text: str) -> str | None:
    """Why ``text`` is not a valid comment line, or ``None``."""
    return _one_line(text) or (None if text.startswith("#") else "a comment line starts with '#'")


def check_section_name(kind: str, name: str | None) -> str | None:
    """Why ``name`` cannot name a ``sections`` entry of ``kind``, or ``None``: one word without
    blanks, ``#``, quotes, backslashes or ``$``; required where HAProxy requires it; names
    starting with ``lbctl`` are reserved for the sections lbctl adds itself."""
    if name is None:
        return f"a '{kind}' section needs a name" if kind in NAMED_SECTIONS else None
    if not _SECTION_NAME.match(name):
        return ("must be one word of at most 128 characters, without blanks, '#', quotes, "
                "backslashes or '$'")
    if is_reserved(name):
        return f"names starting with {RESERVED_PREFIX!r} are reserved for lbctl"
    return None


def _dot_error(word: str, blocks: list[tuple[int, bool]], index: int) -> str | None:
    if word in MESSAGES:
        return None
    if word not in CONDITIONALS:
        return (f"the dot-directive {word!r} is not supported in extra lines (only "
                f"{', '.join(CONDITIONALS + MESSAGES)})")
    if word == ".if":
        blocks.append((index, False))
        return None
    if not blocks:
        return f"'{word}' without '.if' in the same list"
    if word == ".endif":
        blocks.pop()
    elif blocks[-1][1]:
        return f"'{word}' after '.else'"
    elif word == ".else":
        blocks[-1] = (blocks[-1][0], True)
    return None


@functools.lru_cache(maxsize=65_536)
def _line_problem(kind: str, text: str) -> tuple[str | None, str | None]:
    """What is wrong with the extra line ``text`` of a section of ``kind`` by itself (``None``:
    nothing), and for a dot line its keyword instead (checked against its list by
    :func:`_dot_error`). Cached: it depends on nothing else, and a large config repeats its
    lines from section to section. A line the last document built read as a directive of
    ``kind`` (:func:`~lbctl.config.document.read_before`: an import's extra lines) is not
    lexed again: at 10,000 backends that was 0.12 s of the first import's 1.4 s."""
    problem = _one_line(text)
    if problem is not None:
        return problem, None
    if read_before(kind, text):
        return None, None
    try:
        line = read_line(kind, text)
    except ParseError as exc:
        return f"column {exc.column}: {exc.reason}", None
    if line.kind == BLANK:
        return "must not be empty", None
    if line.kind == HEADER:
        return (f"{line.keyword!r} is a section keyword: it would start a new section (use a "
                f"'sections' entry)"), None
    if line.kind == SCOPE:
        return "a '[scope]' line is not supported in extra lines", None
    if line.kind == DOT:
        return None, line.keyword
    return None, None


def line_errors(kind: str, lines: Sequence[str], where: str) -> list[FieldError]:
    """Check the extra ``lines`` of a section of ``kind``; ``where`` is their field path
    (``backends[2].extra``). Returns one :class:`FieldError` per bad line (see the module
    docstring for the rules)."""
    errors: list[FieldError] = []
    blocks: list[tuple[int, bool]] = []
    for i, text in enumerate(lines):
        problem, dot = _line_problem(kind, text)
        if dot is not None:
            problem = _dot_error(dot, blocks, i)
        if problem is not None:
            errors.append(FieldError(f"{where}[{i}]", problem))
    errors.extend(FieldError(f"{where}[{i}]", "'.if' without '.endif' in the same list")
                  for i, _ in blocks)
    return errors
