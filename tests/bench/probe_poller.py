"""A poller process for ``bench_apply.py``: which server answers a URL, every few milliseconds.

``python tests/bench/probe_poller.py HOST PORT PATH WANT TIMEOUT_S [INTERVAL_S]`` sends
``GET PATH`` (HTTP/1.0, a fresh TCP connection each time: accepted by whichever HAProxy worker
holds the listener) every ``INTERVAL_S`` seconds (default 0.005) and reads the answer's
``X-Backend-Name``. It prints ``ready`` once a first answer came, then the ``CLOCK_MONOTONIC``
time (``time.monotonic()``, the same clock in every process of the machine) of the first
answer from ``WANT``, and exits 0; ``timeout`` and exit 1 when ``TIMEOUT_S`` seconds pass
first. Its own process, so that polling takes no time from the agent's interpreter (the
benchmark runs the agent in its process); plain sockets, so that each probe costs tens of
microseconds of CPU.
"""

from __future__ import annotations

import socket
import sys
import time


def backend_name(host: str, port: int, path: str) -> str | None:
    """``X-Backend-Name`` of one ``GET path`` on a new connection; None without one (or when
    the connection fails)."""
    try:
        with socket.create_connection((host, port), timeout=2.0) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii"))
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-backend-name":
            return value.strip().decode("latin-1")
    return None


def main(argv: list[str]) -> int:
    host, port, path, want, timeout_s = argv[0], int(argv[1]), argv[2], argv[3], float(argv[4])
    interval_s = float(argv[5]) if len(argv) > 5 else 0.005
    deadline = time.monotonic() + timeout_s
    ready = False
    while time.monotonic() < deadline:
        name = backend_name(host, port, path)
        now = time.monotonic()
        if name is not None and not ready:
            print("ready", flush=True)
            ready = True
        if name == want:
            print(repr(now), flush=True)
            return 0
        time.sleep(interval_s)
    print("timeout", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
