"""The scalar types of a spec: allowlisted names, path prefixes, hosts, ports, durations.

Every string of a typed spec field that reaches ``haproxy.cfg`` passes one of these
allowlists (DESIGN.md, "Safety rules"); nothing is ever escaped, a value that does not fit is
refused with ``ValueError`` (pydantic turns it into a field error naming the path). Durations
accept HAProxy time strings (``500ms``, ``5s``, ``1m``; configuration.txt §2.5) or integer
milliseconds and are normalised to integer milliseconds. The models are in :mod:`lbctl.spec`.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from lbctl.reserved import RESERVED_PREFIX, is_reserved
from lbctl.spec.lines import trim_line
from lbctl.units import MAX_TIME_MS, format_ms, time_ms

__all__ = [
    "RESERVED_PREFIX", "DurationMs", "Host", "Line", "Name", "PathPrefix", "Port", "TimeText", "Word",
    "format_duration", "no_forbidden", "no_items", "parse_duration_ms", "valid_host",
]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")
PATH_PREFIX_RE = re.compile(r"^/[A-Za-z0-9._~/-]{0,255}$")
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
#: Substrings that must never reach a rendered config, with the reason given in errors.
_FORBIDDEN = (
    ("\n", "a newline"),
    ("\r", "a carriage return"),
    ("#", "'#'"),
    ('"', "a double quote"),
    ("'", "a single quote"),
    ("\\", "a backslash"),
    ("%[", "'%['"),
    ("${", "'${'"),
    (" ", "a space"),
    ("\t", "a tab"),
)


def no_items(**constraints: Any) -> Any:
    """The default of a list field of the spec: a new empty list for each model, made by
    ``default_factory=list``, published as ``"default": []`` in the JSON Schema as before.

    Pydantic deep-copies a mutable default (``= []``) every time a model takes it; at 10,000
    backends of five servers that was 150,017 ``copy.deepcopy`` calls, 40 % of
    :func:`~lbctl.spec.validate_spec`. ``constraints`` go to :func:`pydantic.Field`
    (``max_length=3``)."""
    return Field(default_factory=list, json_schema_extra={"default": []}, **constraints)


#: Any of :data:`_FORBIDDEN` (one search for the common case: none of them).
_ANY_FORBIDDEN = re.compile("|".join(re.escape(needle) for needle, _ in _FORBIDDEN))


def no_forbidden(value: str) -> str:
    """``value`` unless it holds a character that could break out of a config token (a
    newline, ``#``, a quote, a backslash, ``%[``, ``${``, a blank) or starts with ``-``; then
    ``ValueError`` naming it. Never escapes."""
    if _ANY_FORBIDDEN.search(value) is None and not value.startswith("-"):
        return value
    for needle, what in _FORBIDDEN:
        if needle in value:
            raise ValueError(f"must not contain {what}")
    if value.startswith("-"):
        raise ValueError("must not start with '-'")
    return value


@functools.lru_cache(maxsize=65_536)  # a pure check; server names repeat across backends
def _name(value: str) -> str:
    no_forbidden(value)
    if not NAME_RE.match(value):
        raise ValueError(
            "must be 1-63 characters of letters, digits, '_', '.', ':' or '-', "
            "starting with a letter or digit"
        )
    if is_reserved(value):
        raise ValueError(f"names starting with {RESERVED_PREFIX!r} are reserved for lbctl")
    return value


#: One verbatim word of a line: no blank, quote, backslash, ``#`` or control character, so it
#: is written exactly as it is and stays one word.
WORD_RE = re.compile(r"^[^\s#'\"\\\x00-\x1f\x7f]{1,1024}$")


def _word(value: str) -> str:
    if not WORD_RE.match(value):
        raise ValueError("must be one word of 1-1024 characters without a blank, quote, "
                         "backslash, '#' or control character")
    return value


def _path_prefix(value: str) -> str:
    no_forbidden(value)
    if not PATH_PREFIX_RE.match(value):
        raise ValueError(
            "must start with '/' and contain only letters, digits and '.', '_', '~', '/', '-'"
        )
    if "//" in value:
        raise ValueError("must not contain '//'")
    return value


#: What :class:`ipaddress.IPv4Address` accepts: four decimal octets 0-255, ASCII digits,
#: no leading zero.
_IPV4_RE = re.compile(r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
                      r"(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}")


@functools.lru_cache(maxsize=4096)
def _is_ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=65_536)  # a pure check; a spec names the same hosts again and again
def valid_host(value: str) -> str:
    """``value`` when it is an IP address or an RFC 1123 host name; else ``ValueError``.

    An IPv4 literal is told by :data:`_IPV4_RE` (exactly what :func:`ipaddress.ip_address`
    accepts without a ``:``), other text with a ``:`` by :class:`ipaddress.IPv6Address`.
    Cached (an error is not: it is raised again each time)."""
    no_forbidden(value)
    if "@" in value or "$" in value:
        raise ValueError("must be an IP address or a host name")
    if _IPV4_RE.fullmatch(value) or (":" in value and _is_ipv6(value)):
        return value
    if not HOSTNAME_RE.match(value) or value.replace(".", "").isdigit():
        raise ValueError("must be an IP address or an RFC 1123 host name")
    return value


def parse_duration_ms(value: Any) -> int:
    """Normalise a HAProxy time value to integer milliseconds, as HAProxy stores it.

    Accepts an int (milliseconds) or a string ``<digits>[us|ms|s|m|h|d]`` (no unit means
    milliseconds, configuration.txt §2.5); a fraction of a millisecond rounds up, as HAProxy
    rounds it (``500us`` → 1, never 0, which would mean "no timeout";
    :func:`lbctl.units.time_ms`). Raises ``ValueError`` for anything else, for a negative
    value and for 2^31 ms or more, which HAProxy refuses.
    """
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 500ms, 5s or 1m")
    ms: int | None = None
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        ms = value
    elif isinstance(value, str):
        ms = time_ms(value.strip())
    if ms is None:
        raise ValueError("must be a duration such as 500ms, 5s or 1m (or milliseconds as an int)")
    if ms >= MAX_TIME_MS:
        raise ValueError(f"must be below {MAX_TIME_MS} ms (about 24.8 days), HAProxy's largest time")
    return ms


def time_text(value: Any) -> str:
    """A HAProxy time kept as written (``"2000"``, ``"2s"``; an int is milliseconds, written
    as the int): checked as :func:`parse_duration_ms` checks it, then returned as text, so a
    line read from a file comes back with the same spelling. Raises ``ValueError``, also for a
    blank or control character anywhere in the text (it is written as it is)."""
    if type(value) is str:
        return _time_text_of(value)
    return _time_text(value)


def _time_text(value: Any) -> str:
    parse_duration_ms(value)
    text = str(value)
    if not WORD_RE.match(text):
        raise ValueError("must be a time such as 2s, 500ms or 2000, without blanks")
    return text


#: :func:`_time_text` of a string, cached (a pure function; a spec repeats its times).
_time_text_of = functools.lru_cache(maxsize=4096)(_time_text)


def format_duration(ms: int) -> str:
    """Render milliseconds as the shortest exact HAProxy time string (``30000`` → ``30s``;
    :func:`lbctl.units.format_ms`)."""
    return format_ms(ms)


Name = Annotated[str, AfterValidator(_name)]
PathPrefix = Annotated[str, AfterValidator(_path_prefix)]
Host = Annotated[str, AfterValidator(valid_host)]
Port = Annotated[int, Field(ge=1, le=65535)]
#: A HAProxy time as written (:func:`time_text`): server check timings, ``slowstart``.
TimeText = Annotated[str, BeforeValidator(time_text), Field(
    pattern=r"^[0-9]+(us|ms|s|m|h|d)?$", examples=["2s", "2000", "500ms"])]
#: A verbatim word (a server's ``extra`` words, ``default_server``): see :data:`WORD_RE`.
Word = Annotated[str, AfterValidator(_word)]
DurationMs = Annotated[int, BeforeValidator(parse_duration_ms)]
#: A verbatim line (an extra directive or a comment): indentation and trailing blanks dropped;
#: checked by :func:`lbctl.spec.lines.verbatim_errors`.
Line = Annotated[str, BeforeValidator(trim_line)]
