"""Judging ``mode: smooth`` from what a backend saw: lbctl's schedule and the arrivals.

``lbctl_pace`` (``haproxy/lua/lbctl_pace.lua``) gives every paced request a departure slot, at
least ``1/rate`` seconds after the previous one, and holds the request until then. Two clocks
show whether that worked:

* the **slots** (forwarded to the backend by :data:`FORWARD_SLOT_LINE`, recorded as
  :attr:`~lbctl.demo.backend.Arrival.slot`) are lbctl's schedule: at most ``rate + 1`` in any
  sliding 1 s window, exactly, the precision nginx's ``limit_req`` has;
* the **arrivals** (the kernel's receive stamps, :class:`~lbctl.demo.backend.KernelTimedBackend`)
  are what the backend saw. A request arrives within :data:`ON_TIME_S` of its slot, unless the
  operating system did not run HAProxy in between (a machine whose cores are busy with other
  work: a stall of d seconds holds back about d × rate requests, which then arrive together
  with the next ones). On-time arrivals keep the ``rate + 1`` bound; a late one can add one to
  a window, so a window holds at most ``rate + 1 + late`` arrivals.

:func:`judge` measures both and :attr:`PacingReport.held` is the promise: the slot bound, the
on-time bound, no request before its slot, and at most :data:`MAX_LATE_SHARE` of the requests
late (more would mean HAProxy did not release requests at their slots).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lbctl.demo.backend import SLOT_HEADER, Arrival, max_in_window

__all__ = [
    "CLOCK_SKEW_S", "FORWARD_SLOT_LINE", "MAX_LATE_SHARE", "ON_TIME_S", "PacingReport", "judge",
]

#: A frontend ``extra`` line (HAProxy manual 4.2 "http-request set-header", 7.3.2 "var")
#: sending each paced request's slot to the server in the :data:`SLOT_HEADER` header.
FORWARD_SLOT_LINE = (
    f"http-request set-header {SLOT_HEADER} %[var(txn.lbctl_slot)] "
    "if { var(txn.lbctl_slot) -m found }"
)
#: A request reaching the backend within this many seconds of its slot is on time: HAProxy
#: forwards it in the same event-loop turn and loopback adds microseconds (measured: 1-17 ms
#: with the 2 cores of a test machine fully loaded).
ON_TIME_S = 0.05
#: Largest share of the paced requests that may arrive late (at least 3 requests).
MAX_LATE_SHARE = 0.1
#: Seconds by which HAProxy's clock (``core.now()``) may run ahead of the kernel's stamps.
CLOCK_SKEW_S = 0.002


@dataclass(frozen=True)
class PacingReport:
    """What the backend saw of one paced client.

    ``rate`` is the client's limit in requests/s; ``arrivals`` and ``slots`` are
    ``time.monotonic()`` seconds, one per request (``slots`` only for requests that carried a
    slot); ``delays`` are ``arrival - slot`` in seconds for those requests, sorted.
    """

    rate: float
    arrivals: tuple[float, ...]
    slots: tuple[float, ...]
    delays: tuple[float, ...]
    on_time: tuple[float, ...]

    @property
    def limit(self) -> int:
        """The most requests allowed in any sliding 1 s window: ``rate + 1`` for a whole rate
        (on-time arrivals may trail their slot by :data:`ON_TIME_S`, which the bound absorbs
        while ``ON_TIME_S < 1 / rate``)."""
        return math.floor((1 + ON_TIME_S) * self.rate) + 1

    @property
    def slots_max_per_s(self) -> int:
        """Most slots in any sliding 1 s window (lbctl's schedule)."""
        return max_in_window(list(self.slots))

    @property
    def arrivals_max_per_s(self) -> int:
        """Most arrivals in any sliding 1 s window (everything the backend saw)."""
        return max_in_window(list(self.arrivals))

    @property
    def on_time_max_per_s(self) -> int:
        """Most on-time arrivals in any sliding 1 s window."""
        return max_in_window(list(self.on_time))

    @property
    def late(self) -> tuple[float, ...]:
        """Delays (seconds) of the requests that arrived more than :data:`ON_TIME_S` after
        their slot, smallest first."""
        return tuple(d for d in self.delays if d > ON_TIME_S)

    @property
    def early(self) -> tuple[float, ...]:
        """Seconds by which requests arrived before their slot (beyond :data:`CLOCK_SKEW_S`)."""
        return tuple(-d for d in self.delays if d < -CLOCK_SKEW_S)

    @property
    def max_late(self) -> int:
        """How many late requests :attr:`held` tolerates."""
        return max(3, int(len(self.arrivals) * MAX_LATE_SHARE))

    def problems(self) -> list[str]:
        """Each broken part of the promise as a sentence; empty when it held."""
        out = []
        if self.slots and len(self.slots) != len(self.arrivals):
            out.append(f"{len(self.arrivals) - len(self.slots)} requests reached the backend "
                       "without a pacing slot")
        if self.slots and self.slots_max_per_s > self.rate + 1:
            out.append(f"lbctl scheduled {self.slots_max_per_s} requests in 1 s")
        if self.on_time and self.on_time_max_per_s > self.limit:
            out.append(f"{self.on_time_max_per_s} on-time arrivals in 1 s")
        if self.early:
            out.append(f"{len(self.early)} requests left up to {max(self.early) * 1000:.1f} ms "
                       "before their slot")
        if len(self.late) > self.max_late:
            out.append(f"{len(self.late)} requests arrived late (at most {self.max_late} allowed)")
        return out

    @property
    def held(self) -> bool:
        """True when every part of the promise (module docstring) held."""
        return not self.problems()

    def late_note(self) -> str:
        """``""`` or a sentence naming the late requests and their delays."""
        if not self.late:
            return ""
        return (f"{len(self.late)} of {len(self.arrivals)} arrived late, by "
                + ", ".join(f"{d * 1000:.0f}" for d in self.late)
                + " ms (HAProxy waited for a CPU)")


def judge(arrivals: Sequence[Arrival], rate: float) -> PacingReport:
    """Measure ``arrivals`` (one paced client's requests at the backend) against ``rate``
    (requests/s). Arrivals without a slot are counted in :meth:`PacingReport.problems` when
    any request carried one; with no slots at all, only the arrivals are judged."""
    with_slot = [a for a in arrivals if a.slot is not None]
    delays = sorted(a.t - a.slot for a in with_slot if a.slot is not None)
    if with_slot:
        on_time = tuple(a.t for a in with_slot if a.slot is not None and a.t - a.slot <= ON_TIME_S)
    else:
        on_time = tuple(a.t for a in arrivals)
    return PacingReport(
        rate=rate,
        arrivals=tuple(sorted(a.t for a in arrivals)),
        slots=tuple(sorted(a.slot for a in with_slot if a.slot is not None)),
        delays=tuple(delays),
        on_time=on_time,
    )
