"""``lbctl.config.pause.gc_paused``: what a large step builds while the collector is paused
leaves the pause in the oldest generation (no young collection then visits it), a small step's
stays young, cycles dropped are still collected (by the full collection the pauses schedule
themselves, too), and someone else's ``gc.freeze()`` is left as it was."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from lbctl.config import pause
from lbctl.config.pause import PROMOTE_AT, gc_paused


class _Node:
    """A tracked object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def _in_generation(obj: object, generation: int) -> bool:
    return any(o is obj for o in gc.get_objects(generation=generation))


@pytest.fixture(autouse=True)
def _collected() -> Iterator[None]:
    """Each test starts from a collected heap and leaves the collector enabled."""
    gc.collect()
    yield
    gc.enable()


def test_what_a_large_step_built_is_in_the_oldest_generation_after_it() -> None:
    with gc_paused():
        built = [_Node() for _ in range(PROMOTE_AT + 1_000)]
        assert gc.get_count()[0] >= PROMOTE_AT  # young, while paused
    assert gc.isenabled()
    assert gc.get_count()[0] < 700  # no young generation left to collect
    assert _in_generation(built[0], 2) and _in_generation(built[-1], 2)
    assert not _in_generation(built[0], 0) and gc.get_freeze_count() == 0


def test_what_a_small_step_built_stays_young() -> None:
    with gc_paused():
        built = [_Node() for _ in range(100)]
    assert gc.isenabled() and not _in_generation(built[0], 2)


def test_a_cycle_dropped_in_a_pause_is_collected_by_the_next_full_collection() -> None:
    with gc_paused():
        kept = [_Node() for _ in range(PROMOTE_AT)]
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
    assert gone() is not None  # reference counting alone cannot free a cycle
    assert _in_generation(kept[0], 2)
    gc.collect()
    assert gone() is None


def test_the_pauses_run_a_full_collection_once_they_moved_enough(
        monkeypatch: pytest.MonkeyPatch) -> None:
    gc.collect()
    assert pause._moved == 0  # a full collection, here the test's own, starts the count
    monkeypatch.setattr(pause, "FULL_AFTER", 3 * PROMOTE_AT)
    kept: list[_Node] = []
    refs = []
    for _ in range(3):
        with gc_paused():
            kept += [_Node() for _ in range(PROMOTE_AT)]
            a, b = _Node(), _Node()
            a.other, b.other = b, a
            refs.append(weakref.ref(a))
            del a, b
        if len(refs) < 3:
            assert all(r() is not None for r in refs)  # waiting in the oldest generation
    assert all(r() is None for r in refs)  # the third pause's end collected them all
    assert pause._moved == 0 and _in_generation(kept[0], 2)


def test_an_inner_pause_ends_nothing() -> None:
    with gc_paused():
        with gc_paused():
            built = [_Node() for _ in range(PROMOTE_AT + 1_000)]
            inner = built[0]
        assert not gc.isenabled()
        assert not _in_generation(inner, 2)  # still young: only the outermost pause moves it
    assert gc.isenabled() and _in_generation(inner, 2)


def test_someone_elses_freeze_is_left_alone() -> None:
    frozen = _Node()
    gc.freeze()
    try:
        count = gc.get_freeze_count()
        with gc_paused():
            built = [_Node() for _ in range(PROMOTE_AT + 1_000)]
            young = built[0]
        assert gc.get_freeze_count() == count  # not unfrozen by the pause
        assert not _in_generation(young, 2) and not _in_generation(frozen, 2)
    finally:
        gc.unfreeze()
    assert _in_generation(frozen, 2)


def test_a_collector_turned_off_stays_off_and_nothing_moves() -> None:
    gc.disable()
    with gc_paused():
        built = [_Node() for _ in range(PROMOTE_AT + 1_000)]
        young = built[0]
    assert not gc.isenabled()
    assert not _in_generation(young, 2)
