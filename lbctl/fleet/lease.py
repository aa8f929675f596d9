"""The node's lease kept alive from another thread while the fleet loop runs a long step.

The background loop of :class:`lbctl.fleet.member.FleetMember` refreshes the node's lease every
``ttl_s / 3`` between its steps. Applying a committed version runs the whole apply pipeline
(``haproxy -c``, a reload HAProxy may refuse only after seconds — 2.6 is polled with ``show
proc`` — and the restore), and no refresh happened meanwhile: an apply longer than what was
left of the TTL let the node drop out of the fleet. Seen in CI with the tests' 3 s TTL: the node
whose reload failed counted as gone right after, came back a tick later, and every node's
``peers`` section changed twice. :func:`kept_alive` refreshes the lease during such a step. The
node is working, so it is live; every step it covers is bounded by its own timeouts
(``haproxy -c`` 30 s, a reload 10 s). A failed refresh (etcd away, the lease gone) is left to
the loop, which notices it on its next round and registers again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from lbctl.errors import FleetUnavailable
from lbctl.fleet.store import FleetStore

__all__ = ["kept_alive"]


@contextlib.contextmanager
def kept_alive(store: FleetStore, lease: Callable[[], int | None], every_s: float,
               kept: Callable[[], None]) -> Iterator[None]:
    """Refresh ``lease()`` (``None``: no lease, nothing to do) every ``every_s`` seconds from a
    daemon thread for the ``with`` block; ``kept()`` after each refresh that held. The thread
    is stopped and joined when the block ends (at most one etcd round trip later)."""
    stop = threading.Event()

    def keep() -> None:
        while not stop.wait(every_s):
            current = lease()
            if current is None:
                return
            with contextlib.suppress(FleetUnavailable):
                if store.keep_alive(current):
                    kept()

    thread = threading.Thread(target=keep, name="lbctl-fleet-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
