"""The seed story in the browser (issue 10): sign in, open the source view, type client1's
limit into frontend ``web``, validate with a typo and see the diagnostics at their lines,
fix it, validate and save (version 2), then fire 150 simultaneous requests from client1 and
watch the clients page: waiting and delayed rise, and the 429s are the overflow (49 on an idle
machine, derived as in tests/test_smoothing.py)."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Any

from lbctl.demo.load import Result, simultaneous, status_counts
from tests.agent_helpers import Agent

from .conftest import WAIT_MS, Ui

pytestmark = __import__("pytest").mark.slow

# The lines lbctl writes for client1 (10 req/s, burst 100, smooth), each before the line of
# client c1 it sorts ahead of (longer prefixes first); the last one mistyped.
CLIENT1 = [
    ("    acl lbctl_client_c1 path /c1", ["    acl lbctl_client_client1 path /client1",
                                         "    acl lbctl_client_client1 path_beg /client1/"]),
    ("    http-request track-sc0 str(c1)",
     ["    http-request track-sc0 str(client1) table lbctl_clients_web if lbctl_client_client1"]),
    ("    http-request lua.lbctl_pace c1",
     ["    htp-request lua.lbctl_pace client1 10 100 if lbctl_client_client1"]),
]
RATE = 10


def type_before(ui: Ui, anchor: str, lines: list[str]) -> None:
    """Put the caret at the start of the line starting with ``anchor`` and type ``lines``."""
    start = ui.page.evaluate(
        """(anchor) => { const t = document.getElementById("source-text");
             const i = t.value.indexOf("\\n" + anchor) + 1; t.focus(); t.setSelectionRange(i, i); return i; }""",
        anchor)
    assert start > 0, anchor
    ui.page.keyboard.type("".join(line + "\n" for line in lines))


def caret_line(ui: Ui) -> int:
    return int(ui.page.evaluate("""() => { const t = document.getElementById("source-text");
        return t.value.slice(0, t.selectionStart).split("\\n").length; }"""))


def cell(ui: Ui, client: str, col: str) -> int:
    text = ui.page.locator(f"#clients-table tr[data-client='web/{client}'] td[data-col={col}]").inner_text()
    return int(text)


def test_seed_story(agent: Agent, ui_factory: Any) -> None:
    ui = ui_factory(agent.url)
    ui.page.goto(f"{agent.url}/ui/")
    ui.page.wait_for_selector("#login:not([hidden])")
    ui.shot("login")
    ui.login()
    ui.shot("overview")

    # 1-3: the source view; type client1's lines (one mistyped).
    ui.goto("source")
    text = ui.page.locator("#source-text")
    ui.page.wait_for_function("() => document.getElementById('source-text').value.includes('frontend web')")
    assert text.input_value() == agent.api.get("/api/v1/config/source").text
    for anchor, added in CLIENT1:
        type_before(ui, anchor, added)
    typed = text.input_value()
    assert "htp-request lua.lbctl_pace client1" in typed

    # 4: validate: the diagnostics the API gives for this text, each at its line; a click jumps.
    ui.page.click("#source-validate")
    ui.page.wait_for_selector("#source-diagnostics li")
    expected = agent.api.put("/api/v1/config/source", params={"dry_run": "true"}, content=typed.encode(),
                             headers={"Content-Type": "text/plain"}).json()
    lines = sorted(e["line"] for e in expected["errors"])
    shown = sorted(int(b.get_attribute("data-line") or 0)
                   for b in ui.page.locator("#source-diagnostics button[data-line]").all())
    assert lines and shown == lines, (shown, expected)
    typo_line = next(i for i, ln in enumerate(typed.split("\n"), 1) if "htp-request" in ln)
    assert expected["errors"][0]["line"] == typo_line and "did you mean 'http-request'" in \
        ui.page.locator("#source-diagnostics").inner_text()
    assert ui.page.locator("#source-result .problem").inner_text().startswith(expected["title"])
    for line in lines:
        assert ui.page.locator(f".gutter span.bad[data-line='{line}']").count() == 1
        ui.page.click(f"#source-diagnostics button[data-line='{line}']")
        assert caret_line(ui) == line
        assert typed.split("\n")[line - 1].strip() in ui.page.evaluate(
            "() => { const t = document.getElementById('source-text'); return t.value.slice(t.selectionStart, t.selectionEnd); }")
    ui.shot("source-diagnostics")
    assert agent.api.get("/api/v1/config").headers["etag"] == '"1"'  # nothing was saved

    # 5: fix the typo by typing over it; validate (clean), then validate and save.
    at = typed.index("htp-request lua.lbctl_pace client1")
    ui.page.evaluate("(at) => { const t = document.getElementById('source-text'); t.focus(); t.setSelectionRange(at, at + 11); }", at)
    ui.page.keyboard.type("http-request")
    ui.page.click("#source-validate")
    ui.page.wait_for_selector("#source-result .ok")
    assert "Saving makes a new version" in ui.page.locator("#source-result").inner_text()
    assert ui.page.locator("#source-diagnostics li").count() == 0
    ui.page.fill("#source-message", "client1: 10 req/s, burst 100")
    ui.page.click("#source-save")
    ui.page.wait_for_selector("#save-ok")
    assert "version 2 is live" in ui.page.locator("#save-ok").inner_text()
    assert ui.page.locator("h1 .badge").inner_text() == "version 2"
    spec = agent.api.get("/api/v1/config").json()["spec"]
    assert {"name": "client1", "path_prefix": "/client1", "rate": RATE, "burst": 100,
            "mode": "smooth"} in spec["frontends"][0]["clients"]
    ui.shot("source-saved")

    # 6: the burst; the clients page (refreshed every second) shows waiting and delayed rise.
    ui.goto("clients")
    ui.page.wait_for_selector("#clients-table tr[data-client='web/client1']")
    out: dict[str, list[Result]] = {}
    burst = threading.Thread(target=lambda: out.update(asyncio.run(
        simultaneous(agent.front, {"client1": ("/client1", 150)}, timeout_s=40))))
    burst.start()
    waiting, delayed = [0], [0]
    deadline = time.monotonic() + 60
    shot_taken = False
    while burst.is_alive() and time.monotonic() < deadline:
        waiting.append(cell(ui, "client1", "waiting"))
        delayed.append(cell(ui, "client1", "delayed_total"))
        if waiting[-1] > 0 and not shot_taken:
            ui.shot("clients-burst")
            shot_taken = True
        ui.page.wait_for_timeout(250)
    burst.join(timeout=5)
    assert not burst.is_alive()
    counts = status_counts(out["client1"])
    sent = sorted(r.sent_at for r in out["client1"])
    freed = math.floor((sent[-1] - sent[0]) * RATE)
    served = counts[200]
    assert set(counts) == {200, 429} and 101 <= served <= 101 + freed, counts
    assert max(waiting) > 0, waiting  # requests held back by the pacing, seen live
    assert delayed == sorted(delayed) and delayed[-1] > 0, delayed  # rising, never falling
    # The page settles on the agent's own counters (final: every request was answered):
    # every 429 sent (49 on an idle machine), every delayed one.
    api = next(c for c in agent.api.get("/api/v1/clients").json()["clients"] if c["client"] == "client1")
    assert api["rejected_total"] == counts[429] and api["delayed_total"] >= delayed[-1]
    ui.page.wait_for_function(
        """([rejected, delayed]) => {
             const row = "#clients-table tr[data-client='web/client1'] ";
             const n = (col) => Number((document.querySelector(row + `td[data-col=${col}]`) || {}).textContent);
             return n("rejected_total") === rejected && n("delayed_total") === delayed; }""",
        arg=[counts[429], api["delayed_total"]], timeout=WAIT_MS)
    assert ui.page.locator("figure.chart-box svg.chart path.rate").count() >= 1
    ui.shot("clients")
    print(f"\nclient1 burst of 150: {dict(counts)}, max waiting seen {max(waiting)}, "
          f"delayed {delayed[-1]}, written over {sent[-1] - sent[0]:.3f} s")

    # The history shows the change and its message; the other pages render.
    ui.goto("history")
    ui.page.wait_for_selector("#history-table tr[data-entry] td.message")
    assert "client1: 10 req/s, burst 100" in ui.page.locator("#history-table").inner_text()
    ui.shot("history")
    for name in ("servers", "config"):
        ui.goto(name)
        ui.page.wait_for_selector("#servers-table tbody tr, #config-form fieldset", timeout=WAIT_MS)
        ui.shot(name)
    assert ui.errors == [] and ui.csp_violations() == []
