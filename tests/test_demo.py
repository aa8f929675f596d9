"""``lbctl demo`` end to end (issue 2, item 10): a real agent process, a real HAProxy, a real
recording backend. The printed figures must be true and consistent with each other, and
nothing the demo started may outlive it."""

from __future__ import annotations

import re
import subprocess
import sys

import psutil
import pytest

from lbctl.demo.run import run_demo, sparkline

pytestmark = pytest.mark.slow

RATE, BURST, N = 10, 20, 30


def _leftovers() -> list[str]:
    """Command lines of live processes that belong to a demo's temporary state dir."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "lbctl-demo-" in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(cmdline)
    return found


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split()]


def test_demo_prints_true_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(rate=RATE, burst=BURST, n=N) == 0
    out = capsys.readouterr().out

    # run_demo's own check (exit 0) holds the count to the leaky-bucket rule: burst + 1 served,
    # plus one per 1/rate seconds the burst took to be written (none on an idle machine).
    counts = re.search(r"client1: 200 × (\d+), 429 × (\d+) \(Retry-After: 1\)", out)
    assert counts is not None, out
    served, rejected = map(int, counts.groups())
    assert served >= BURST + 1 and served + rejected == N, out
    assert re.search(rf"client2: 200 × {N}$", out, re.M), out
    assert "✗" not in out and out.count("✓") == 5, out

    per1 = _ints(re.search(r"client1 per 250 ms: ([\d ]+)", out).group(1))  # type: ignore[union-attr]
    per2 = _ints(re.search(r"client2 per 250 ms: ([\d ]+)", out).group(1))  # type: ignore[union-attr]
    assert sum(per1) == served and sum(per2) == N  # the chart counts every arrival once
    assert len(per1) == len(per2)
    # Any 4 consecutive 250 ms buckets are a 1 s window: never more than rate + 1, plus one per
    # request that reached the backend late because the OS did not run HAProxy (named in the
    # output; lbctl.demo.pacing).
    late_match = re.search(r"(\d+) of \d+ arrived late", out)
    late = int(late_match.group(1)) if late_match else 0
    four = [sum(per1[i:i + 4]) for i in range(max(1, len(per1) - 3))]
    assert max(four) <= RATE + 1 + late, per1
    # Paced at 10/s, 21 requests span 2 s: the chart covers at least that.
    assert len(per1) * 0.25 >= (served - 1) / RATE
    assert per2[0] == N  # client2 is not held back: everything in the first 250 ms

    most = int(re.search(r"saw at most (\d+) client1 requests in any 1 s", out).group(1))  # type: ignore[union-attr]
    assert max(four) <= most <= RATE + 1 + late

    for label, counts in (("client1", per1), ("client2", per2)):
        line = re.search(rf"^  {label}  (.*?)  peak (\d+) per 250 ms$", out, re.M)
        assert line is not None, out
        assert line.group(1) == sparkline(counts) and int(line.group(2)) == max(counts)

    lat = re.search(r"p50 (\d+) ms, p99 (\d+) ms, max (\d+) ms", out)
    assert lat is not None, out
    p50, p99, worst = map(int, lat.groups())
    assert p50 <= p99 <= worst < 500

    assert _leftovers() == []


def test_lbctl_demo_command() -> None:
    """The console entry point runs the same story; exit 0 and the counts on stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "lbctl.cli", "demo", "--rate", "20", "--burst", "5", "--requests", "12"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    counts = re.search(r"client1: 200 × (\d+), 429 × (\d+) \(Retry-After: 1\)", proc.stdout)
    assert counts is not None, proc.stdout
    served, rejected = map(int, counts.groups())
    assert served >= 6 and served + rejected == 12, proc.stdout
    assert "client2: 200 × 12" in proc.stdout
    assert _leftovers() == []


def test_sparkline_scales_to_the_peak() -> None:
    assert sparkline([0, 1, 2, 4]) == " ▂▄█"
    assert sparkline([]) == ""
    assert sparkline([0, 0]) == "  "
