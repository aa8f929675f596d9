"""lbctl.fleet.lease on a real etcd: a node's lease stays alive through a step longer than its
TTL while :func:`kept_alive` runs, and lapses without it (the node would drop out of the fleet
in the middle of a slow apply)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbctl.fleet.lease import kept_alive
from lbctl.fleet.store import FleetStore
from tests.fleet.conftest import Etcd

TTL_S = 2


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FleetStore]:
    etcd = Etcd(tmp_path).start()
    try:
        yield FleetStore(etcd.url, "lease-test")
    finally:
        etcd.stop()


def _live_after(store: FleetStore, name: str, step_s: float, keep: bool) -> tuple[bool, int]:
    lease = store.grant(TTL_S)
    store.put_node(name, {"name": name}, lease)
    kept: list[float] = []
    if keep:
        with kept_alive(store, lambda: lease, TTL_S / 3, lambda: kept.append(time.monotonic())):
            time.sleep(step_s)  # a step of the loop longer than the TTL: a slow apply
    else:
        time.sleep(step_s)
    return name in store.nodes()[0], len(kept)


def test_the_lease_outlives_a_long_step_only_while_kept_alive(store: FleetStore) -> None:
    live, refreshes = _live_after(store, "kept", TTL_S * 2.0, keep=True)
    assert live and refreshes >= 4  # refreshed every TTL / 3 through the whole step
    live, _ = _live_after(store, "left", TTL_S * 2.0, keep=False)
    assert not live  # the control: the same step without it loses the node's key


def test_no_lease_no_refresh_and_the_thread_ends_with_the_block(store: FleetStore) -> None:
    calls: list[float] = []
    started = time.monotonic()
    with kept_alive(store, lambda: None, 0.05, lambda: calls.append(1.0)):
        time.sleep(0.3)
    assert calls == [] and time.monotonic() - started < 1.0
