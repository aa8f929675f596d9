"""How :mod:`lbctl.demo.pacing` judges a paced client from its arrivals and slots.

The arrival lists here are the shapes seen on real runs (tests/test_smoothing.py drives the real
HAProxy); the one with a late first request is the CI run of 2026-11 in which HAProxy 2.8 was
not scheduled for 183 ms right after releasing the first request of a burst.
"""

from __future__ import annotations

from lbctl.demo.backend import Arrival
from lbctl.demo.pacing import ON_TIME_S, judge

RATE = 10


def _paced(n: int, start: float = 100.0, delay: float = 0.002) -> list[Arrival]:
    """``n`` requests with slots 1/RATE apart, each arriving ``delay`` s after its slot."""
    return [Arrival(start + k / RATE + delay, "GET", "/client1/x", start + k / RATE) for k in range(n)]


def test_on_time_burst_holds() -> None:
    report = judge(_paced(101), RATE)
    assert report.held and report.problems() == []
    assert report.slots_max_per_s == report.arrivals_max_per_s == RATE + 1
    assert report.late == () and report.late_note() == ""


def test_a_late_first_request_is_named_not_blamed() -> None:
    arrivals = _paced(101)
    first = arrivals[0]
    arrivals[0] = Arrival(first.slot + 0.183, "GET", first.path, first.slot)  # type: ignore[operator]
    report = judge(arrivals, RATE)
    assert report.arrivals_max_per_s == RATE + 2  # what the backend saw
    assert report.on_time_max_per_s == RATE + 1 and report.held
    assert len(report.late) == 1 and abs(report.late[0] - 0.183) < 1e-9
    assert "1 of 101 arrived late, by 183 ms" in report.late_note()


def test_a_schedule_over_the_rate_fails() -> None:
    arrivals = [Arrival(100 + k / 11, "GET", "/c", 100 + k / 11) for k in range(30)]  # 11/s
    report = judge(arrivals, RATE)
    assert not report.held
    assert any("lbctl scheduled 12 requests in 1 s" in p for p in report.problems())


def test_an_early_request_fails() -> None:
    arrivals = _paced(20)
    a = arrivals[5]
    arrivals[5] = Arrival(a.slot - 0.01, "GET", a.path, a.slot)  # type: ignore[operator]
    assert any("before their slot" in p for p in judge(arrivals, RATE).problems())


def test_requests_not_released_at_their_slots_fail() -> None:
    report = judge(_paced(50, delay=ON_TIME_S + 0.03), RATE)  # every request late
    assert not report.held
    assert any("arrived late (at most 5 allowed)" in p for p in report.problems())


def test_a_request_without_a_slot_fails_when_others_have_one() -> None:
    arrivals = [*_paced(10), Arrival(102.0, "GET", "/c", None)]
    assert any("without a pacing slot" in p for p in judge(arrivals, RATE).problems())


def test_without_slots_the_arrivals_are_judged() -> None:
    bunched = [Arrival(100 + k / 20, "GET", "/c", None) for k in range(30)]  # 20/s
    report = judge(bunched, RATE)
    assert not report.held and report.slots == ()
    assert any("on-time arrivals in 1 s" in p for p in report.problems())
