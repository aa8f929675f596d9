"""Time values as HAProxy reads them (configuration.txt §2.5; parse_time_err() rounds up)."""

from __future__ import annotations

import pytest

from lbctl.config.normal import time_ms as normal_time
from lbctl.errors import SpecError
from lbctl.spec import validate_spec
from lbctl.spec.types import parse_duration_ms
from lbctl.units import MAX_TIME_MS, format_ms, parse_time_ms, time_ms


@pytest.mark.parametrize(("text", "ms"), [
    ("500us", 1), ("1000us", 1), ("1001us", 2), ("2500us", 3), ("0us", 0), ("0", 0),
    ("250", 250), ("5s", 5000), ("1m", 60_000), ("2h", 7_200_000), ("1d", 86_400_000),
])
def test_time_ms_rounds_up_like_haproxy(text: str, ms: int) -> None:
    assert time_ms(text) == ms
    assert parse_duration_ms(text) == ms
    assert normal_time(text) == str(ms)


@pytest.mark.parametrize("text", ["${T}", "15min", " 5s", "5 s", "-1", "1.5s", ""])
def test_not_a_time(text: str) -> None:
    assert parse_time_ms(text) is None and time_ms(text) is None
    assert normal_time(text) == text


def test_sub_millisecond_timeout_never_becomes_infinite() -> None:
    spec = validate_spec({"defaults": {"timeouts": {"connect": "500us"}}})
    assert spec.defaults.timeouts.connect == 1
    assert format_ms(1) == "1ms"


def test_too_large_a_time_is_refused_naming_the_field() -> None:
    assert parse_duration_ms(MAX_TIME_MS - 1) == MAX_TIME_MS - 1
    with pytest.raises(SpecError) as info:
        validate_spec({"defaults": {"timeouts": {"server": "25d"}}})
    assert [e.loc for e in info.value.errors] == ["defaults.timeouts.server"]
    assert "24.8 days" in info.value.errors[0].message


@pytest.mark.parametrize(("ms", "text"), [(0, "0ms"), (1500, "1500ms"), (30_000, "30s"),
                                          (90_000, "90s"), (120_000, "2m"), (86_400_000, "1d")])
def test_format_ms_shortest_exact(ms: int, text: str) -> None:
    assert format_ms(ms) == text and time_ms(text) == ms
