"""``lbctl demo``: the burst-smoothing story, end to end on this machine.

1. A :class:`~lbctl.demo.backend.KernelTimedBackend` starts on a free 127.0.0.1 port; it
   records when each request reaches it (the kernel's receive time).
2. A temporary state dir is seeded with version 1 of a spec: one frontend on a free port in
   front of that backend, no client limits.
3. The agent starts as its own process, exactly as an operator runs it:
   ``python -m lbctl.cli serve --listen 127.0.0.1:<free port> --state-dir <tmp>`` with a fresh
   token in ``$LBCTL_TOKEN``; the agent starts HAProxy (master-worker) from the state dir.
4. The demo applies version 2 through the REST API (``PUT /api/v1/config`` with ``If-Match``
   and the bearer token, via :class:`lbctl.client.AgentClient`): client1 (``/client1``) limited
   to ``rate`` requests/s with ``burst`` waiting, ``mode: smooth``.
5. client1 and client2 each fire ``n`` requests at the same moment (:mod:`lbctl.demo.load`).
6. It prints the arrivals at the backend per 250 ms for each client as a text chart, the
   status counts, client2's latency (p50/p99/max) and checks the figures against the promise:
   at most ``rate + 1`` client1 arrivals in any sliding 1 s window (judged with each request's
   departure slot, :mod:`lbctl.demo.pacing`, so a request the OS made late is named as such
   rather than blamed on the pacing), ``min(n, burst + 1)``
   client1 requests served and the rest answered 429 with ``Retry-After``, client2 all served.

Every process started here is stopped at the end: the agent by its pid (SIGTERM, which makes it
stop its HAProxy; SIGKILL after 15 s), then, should an HAProxy of the temporary state dir still
run, that one through :class:`lbctl.haproxy.process.HAProxyProcess` (verified pids only).
With the defaults (10 req/s, burst 100, 150 requests) the demo takes about 13 s.

Size: over 300 lines because it is one script end to end (backend, agent, load, report); its
parts are only ever used together.
"""

from __future__ import annotations

import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from rich.console import Console

from lbctl.client import AgentClient
from lbctl.demo.backend import Arrival, KernelTimedBackend, per_bucket
from lbctl.demo.load import Result, free_port, run_simultaneous, status_counts, summarize_latency
from lbctl.demo.pacing import FORWARD_SLOT_LINE, PacingReport, judge
from lbctl.errors import AgentError, LbctlError
from lbctl.haproxy.binary import find_binary, inspect_binary
from lbctl.haproxy.process import HAProxyProcess
from lbctl.render import peer_args
from lbctl.spec import Spec, validate_spec
from lbctl.state.store import StateDir

__all__ = ["DemoFigures", "run_demo", "sparkline"]

BUCKET_S = 0.25
AGENT_START_TIMEOUT_S = 30.0
AGENT_STOP_TIMEOUT_S = 15.0
_BARS = " ▁▂▃▄▅▆▇█"


def demo_spec(
    frontend_port: int, peers_port: int, backend_port: int, client1: dict[str, Any] | None
) -> Spec:
    """The demo's spec: ``front_http_plain`` on 127.0.0.1:``frontend_port`` → the recording
    backend; ``client1`` (a client dict: rate, burst, mode) limits ``/client1`` when given."""
    frontend: dict[str, Any] = {
        "name": "front_http_plain",
        "bind": [f"127.0.0.1:{frontend_port}"],
        "monitor_uri": "/lbctl-monitor",
        "default_backend": "bck_http_plain",
    }
    if client1 is not None:
        frontend["clients"] = [{"name": "client1", "path_prefix": "/client1", **client1}]
        # Each paced request tells the recording backend its departure slot, so a request
        # the OS made late is told apart from a pacing error (lbctl.demo.pacing).
        frontend["extra"] = [FORWARD_SLOT_LINE]
    return validate_spec({
        "global": {"peers_port": peers_port},
        "frontends": [frontend],
        "backends": [{
            "name": "bck_http_plain",
            "servers": [{"name": "server1", "address": "127.0.0.1", "port": backend_port,
                         "check": False}],
        }],
    })


@dataclass(frozen=True)
class DemoFigures:
    """What one demo run measured. Times in seconds; ``buckets*`` are backend arrivals per
    :data:`BUCKET_S` from the moment the bursts were sent; ``paced1`` are client1's arrivals
    with their departure slots."""

    rate: int
    burst: int
    n: int
    client1: list[Result]
    client2: list[Result]
    paced1: list[Arrival]
    arrivals2: list[float]
    start: float

    @property
    def arrivals1(self) -> list[float]:
        """client1's arrival times at the backend."""
        return [a.t for a in self.paced1]

    @property
    def pacing(self) -> PacingReport:
        """client1's arrivals judged against its rate (:func:`lbctl.demo.pacing.judge`)."""
        return judge(self.paced1, self.rate)

    @property
    def buckets1(self) -> list[int]:
        return self._buckets(self.arrivals1)

    @property
    def buckets2(self) -> list[int]:
        return self._buckets(self.arrivals2)

    def _buckets(self, times: list[float]) -> list[int]:
        width = len(per_bucket([*self.arrivals1, *self.arrivals2], self.start, BUCKET_S))
        counts = per_bucket(times, self.start, BUCKET_S)
        return counts + [0] * (width - len(counts))

    @property
    def max_per_s(self) -> int:
        """Most client1 arrivals at the backend in any sliding 1 s window."""
        return self.pacing.arrivals_max_per_s

    def checks(self) -> list[tuple[bool, str]]:
        """The promise of ``mode: smooth``, each as ``(held, sentence)``."""
        c1, c2 = status_counts(self.client1), status_counts(self.client2)
        # 1 + burst are served when the burst is simultaneous; a burst written over S seconds
        # frees S * rate more slots while it arrives (a leaky bucket, like nginx's limit_req).
        sent = sorted(r.sent_at for r in self.client1)
        freed = math.floor((sent[-1] - sent[0]) * self.rate) if sent else 0
        served = min(self.n, self.burst + 1)
        most = min(self.n, served + freed)
        rejected = [r for r in self.client1 if r.status == 429]
        retry_ok = all(r.retry_after and r.retry_after.isdigit() and int(r.retry_after) >= 1
                       for r in rejected)
        pacing = self.pacing
        late = pacing.late_note()
        return [
            (pacing.held,
             f"the backend saw at most {self.max_per_s} client1 requests in any 1 s "
             f"(limit: {self.rate}/s, so at most {self.rate + 1})"
             + (f"; {late}; on time, at most {pacing.on_time_max_per_s}" if late else "")
             + "".join(f"; {problem}" for problem in pacing.problems())),
            (served <= c1[200] <= most and c1[200] + c1[429] == self.n,
             f"client1: {c1[200]} served, {c1[429]} answered 429 (expected {served}"
             + (f" to {most}, the burst took {sent[-1] - sent[0]:.3f} s to write" if most > served
                else "") + ", the rest 429)"),
            (retry_ok, "every 429 carries a Retry-After of at least 1 s"),
            (c2[200] == len(self.client2) and len(self.arrivals2) == len(self.client2),
             f"client2: {c2[200]} of {len(self.client2)} served"),
            (len(self.arrivals1) == c1[200],
             f"the backend received exactly the {c1[200]} client1 requests that got 200"),
        ]


def sparkline(counts: Sequence[int]) -> str:
    """One character per count, scaled to the largest (``" "`` for 0, ``"█"`` for the max)."""
    top = max(counts, default=0)
    if top <= 0:
        return " " * len(counts)
    return "".join(_BARS[math.ceil(c / top * 8)] if c else " " for c in counts)


def _wait_for_agent(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + AGENT_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AgentError(f"the agent exited with status {proc.returncode}: {_tail(log_path)}")
        with suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise AgentError(f"the agent did not answer /healthz within {AGENT_START_TIMEOUT_S:g} s: "
                     f"{_tail(log_path)}")


def _wait_for_frontend(url: str, timeout_s: float = 10.0) -> None:
    """Poll HAProxy's monitor URI until the new config answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            if httpx.get(f"{url}/lbctl-monitor", timeout=1.0).status_code == 200:
                return
        time.sleep(0.05)
    raise AgentError(f"HAProxy did not answer on {url} within {timeout_s:g} s")


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:].strip()
    except OSError:
        return "(no log)"


def _stop_pid(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the agent by pid (it stops its HAProxy), SIGKILL it after the timeout."""
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(AGENT_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(AGENT_STOP_TIMEOUT_S)


def _stop_leftover_haproxy(state: StateDir, haproxy_bin: str) -> None:
    """Stop an HAProxy of ``state`` that outlived its agent (verified pids only)."""
    with suppress(LbctlError, OSError):
        binary = inspect_binary(haproxy_bin)
        leftover = HAProxyProcess(binary, config_path=state.config_path, run_dir=state.run_dir,
                                  extra_args=peer_args(binary.capabilities()))
        if leftover.adopt():
            leftover.stop()


@contextmanager
def _agent(state: StateDir, haproxy_bin: str, token: str, log: IO[bytes]) -> Iterator[str]:
    """Run ``lbctl serve`` on a free port for ``state``; yield its URL; stop it by pid."""
    port = free_port()
    argv = [sys.executable, "-m", "lbctl.cli", "serve", "--listen", f"127.0.0.1:{port}",
            "--state-dir", str(state.root), "--haproxy-bin", haproxy_bin, "--log-level", "warning"]
    env = {**os.environ, "LBCTL_TOKEN": token}
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_agent(url, proc, Path(log.name))
        yield url
    finally:
        _stop_pid(proc)
        _stop_leftover_haproxy(state, haproxy_bin)


def print_report(console: Console, fig: DemoFigures) -> bool:
    """Print the chart, the counts, client2's latency and the checks; True when all hold."""
    b1, b2 = fig.buckets1, fig.buckets2
    seconds = len(b1) * BUCKET_S
    console.print(f"\n[bold]Arrivals at the backend per {BUCKET_S * 1000:.0f} ms[/bold] "
                  f"(one column each, {seconds:.2f} s in all)")
    axis = "".join("|" if i % int(1 / BUCKET_S) == 0 else " " for i in range(len(b1)))
    for label, counts, style in (("client1", b1, "cyan"), ("client2", b2, "magenta")):
        console.print(f"  {label}  [{style}]{sparkline(counts)}[/{style}]  "
                      f"peak {max(counts, default=0)} per {BUCKET_S * 1000:.0f} ms", highlight=False)
    console.print(f"           {axis}  (| = each second)", highlight=False)
    for label, counts in (("client1", b1), ("client2", b2)):
        console.print(f"  {label} per {BUCKET_S * 1000:.0f} ms: {' '.join(map(str, counts))}",
                      highlight=False)

    console.print("\n[bold]Status counts[/bold]")
    for label, results in (("client1", fig.client1), ("client2", fig.client2)):
        by_status = status_counts(results)
        parts = [f"{status if status else 'no answer'} × {count}"
                 for status, count in sorted(by_status.items())]
        retry = sorted({r.retry_after for r in results if r.status == 429 and r.retry_after})
        extra = f" (Retry-After: {', '.join(retry)})" if retry else ""
        console.print(f"  {label}: {', '.join(parts)}{extra}", highlight=False)
    lat = summarize_latency(fig.client2)
    console.print(f"\n[bold]client2 latency[/bold] (during client1's burst): p50 "
                  f"{lat.p50 * 1000:.0f} ms, p99 {lat.p99 * 1000:.0f} ms, max {lat.max * 1000:.0f} ms",
                  highlight=False)
    served = [r.sent_at + r.latency_s - fig.start for r in fig.client1 if r.status == 200]
    if served:
        console.print(f"client1's last request was served {max(served):.1f} s after the burst "
                      f"(it waited its turn at {fig.rate}/s)", highlight=False)

    console.print()
    ok = True
    for held, sentence in fig.checks():
        ok &= held
        mark = "[green]✓[/green]" if held else "[red]✗[/red]"
        console.print(f"{mark} {sentence}", highlight=False)
    return ok


def run_demo(rate: int = 10, burst: int = 100, n: int = 150, haproxy_bin: str | None = None) -> int:
    """Run the story (module docstring) and print it; 0 when every check held, 1 otherwise.

    ``rate`` is client1's limit in requests/s, ``burst`` how many excess requests may wait,
    ``n`` the number of requests each client sends at once; ``haproxy_bin`` defaults to the
    usual lookup (``$LBCTL_HAPROXY_BIN`` → bundled → ``PATH``). Raises :class:`SpecError` for
    impossible numbers (e.g. ``burst / rate`` beyond the client timeout), :class:`AgentError`
    when the agent does not come up, and whatever the agent answers to the apply as the
    matching :class:`LbctlError`.
    """
    console = Console(highlight=False, soft_wrap=True)
    binary = inspect_binary(find_binary(haproxy_bin))
    timeout_s = burst / rate + 15.0
    with (
        tempfile.TemporaryDirectory(prefix="lbctl-demo-") as tmp,
        KernelTimedBackend("backend") as backend,
    ):
        state = StateDir(Path(tmp) / "state")
        state.ensure()
        fe_port, peers_port = free_port(), free_port()
        limited = demo_spec(fe_port, peers_port, backend.port,
                            {"rate": rate, "burst": burst, "mode": "smooth"})  # validated first
        state.write_current(1, demo_spec(fe_port, peers_port, backend.port, None))
        token = secrets.token_urlsafe(24)
        console.print(f"[bold]lbctl demo[/bold]: client1 limited to {rate} req/s with a queue of "
                      f"{burst}; {n} requests from client1 and {n} from client2 at the same moment")
        console.print(f"  backend on 127.0.0.1:{backend.port}; HAProxy {binary.version} "
                      f"({binary.path}) on 127.0.0.1:{fe_port}")
        with open(Path(tmp) / "agent.log", "wb") as log, _agent(state, binary.path, token, log) as url:
            with AgentClient(url, token, timeout=60.0) as client:
                version, _ = client.get_config()
                applied = client.put_config(limited, if_match=version, author="lbctl demo",
                                            message="limit client1")
            console.print(f"  agent on {url}: PUT /api/v1/config (If-Match: \"{version}\") → "
                          f"version {applied.get('version')} in {float(applied.get('duration_s', 0)):.2f} s")
            frontend = f"http://127.0.0.1:{fe_port}"
            _wait_for_frontend(frontend)
            backend.clear()
            console.print(f"  firing {n} + {n} requests ...")
            out = run_simultaneous(frontend, {"client1": ("/client1", n), "client2": ("/client2", n)},
                                   timeout_s=timeout_s)
        c1, c2 = out["client1"], out["client2"]
        figures = DemoFigures(
            rate, burst, n, c1, c2,
            backend.snapshot("/client1/"),
            [a.t for a in backend.snapshot("/client2/")],
            min(r.sent_at for r in c1 + c2) if c1 or c2 else time.monotonic(),
        )
    return 0 if print_report(console, figures) else 1
