"""The spec's scalar types (:mod:`lbctl.spec.types`): ``ok`` / ``fail`` tables per type, each
refusal with its exact reason (the reason is what a 422 shows next to the field path).

Written against the survivors of ``tests/mutation/run_mutmut.py --module spec.types``: boundary
values (``0`` ms, 2^31 - 1 ms), each refused character on its own, and the exact message.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from lbctl.spec.types import DurationMs, Host, Name, PathPrefix, parse_duration_ms
from lbctl.units import MAX_TIME_MS

NAME_SHAPE = ("must be 1-63 characters of letters, digits, '_', '.', ':' or '-', "
              "starting with a letter or digit")
PREFIX_SHAPE = "must start with '/' and contain only letters, digits and '.', '_', '~', '/', '-'"
HOST_CHARS = "must be an IP address or a host name"
HOST_SHAPE = "must be an IP address or an RFC 1123 host name"
DURATION_BOOL = "must be a duration such as 500ms, 5s or 1m"
DURATION_SHAPE = "must be a duration such as 500ms, 5s or 1m (or milliseconds as an int)"
DURATION_MAX = f"must be below {MAX_TIME_MS} ms (about 24.8 days), HAProxy's largest time"


def _reason(kind: Any, value: Any) -> str:
    """The one error message pydantic gives for ``value`` as ``kind`` (its ``Value error, ``
    prefix dropped)."""
    with pytest.raises(ValidationError) as info:
        TypeAdapter(kind).validate_python(value)
    errors = info.value.errors()
    assert len(errors) == 1, errors
    return str(errors[0]["msg"]).removeprefix("Value error, ")


@pytest.mark.parametrize("value", ["a", "web", "A1", "b.e_x:t-1", "x" * 63])
def test_name_ok(value: str) -> None:
    assert TypeAdapter(Name).validate_python(value) == value


@pytest.mark.parametrize("value, reason", [
    ("-web", "must not start with '-'"),
    ("_web", NAME_SHAPE),
    ("x" * 64, NAME_SHAPE),
    ("we/b", NAME_SHAPE),
    ("", NAME_SHAPE),
    ("lbctl_x", "names starting with 'lbctl' are reserved for lbctl"),
    ("a b", "must not contain a space"),
    ("a\tb", "must not contain a tab"),
    ("a\rb", "must not contain a carriage return"),
])
def test_name_fail(value: str, reason: str) -> None:
    assert _reason(Name, value) == reason


@pytest.mark.parametrize("value", ["/", "/p", "/p/", "/a.b_c~d/e-f"])
def test_path_prefix_ok(value: str) -> None:
    assert TypeAdapter(PathPrefix).validate_python(value) == value


@pytest.mark.parametrize("value, reason", [
    ("p", PREFIX_SHAPE),
    ("/p?q", PREFIX_SHAPE),
    ("/a//b", "must not contain '//'"),
    ("//", "must not contain '//'"),
    ("-/p", "must not start with '-'"),
])
def test_path_prefix_fail(value: str, reason: str) -> None:
    assert _reason(PathPrefix, value) == reason


@pytest.mark.parametrize("value", ["127.0.0.1", "::1", "example.com", "a-b.example", "a"])
def test_host_ok(value: str) -> None:
    assert TypeAdapter(Host).validate_python(value) == value


@pytest.mark.parametrize("value, reason", [
    ("a@b", HOST_CHARS),   # each character on its own, not only both together
    ("a$b", HOST_CHARS),
    ("a_b.example", HOST_SHAPE),
    ("-a.example", "must not start with '-'"),
    ("1.2.3", HOST_SHAPE),  # all digits and dots but not an address
    ("a..b", HOST_SHAPE),
])
def test_host_fail(value: str, reason: str) -> None:
    assert _reason(Host, value) == reason


@pytest.mark.parametrize("value, ms", [
    (0, 0),  # 0 ms is a value (HAProxy: no timeout), not an error
    (1, 1),
    ("0", 0),
    ("500ms", 500),
    ("5s", 5000),
    (" 5s ", 5000),
    (MAX_TIME_MS - 1, MAX_TIME_MS - 1),
])
def test_duration_ok(value: Any, ms: int) -> None:
    assert parse_duration_ms(value) == ms
    assert TypeAdapter(DurationMs).validate_python(value) == ms


@pytest.mark.parametrize("value, reason", [
    (True, DURATION_BOOL),
    (-1, "must not be negative"),
    ("5 s", DURATION_SHAPE),
    ("abc", DURATION_SHAPE),
    (None, DURATION_SHAPE),
    (1.5, DURATION_SHAPE),
    (MAX_TIME_MS, DURATION_MAX),
    (f"{MAX_TIME_MS}ms", DURATION_MAX),
])
def test_duration_fail(value: Any, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration_ms(value)
    assert str(info.value) == reason
