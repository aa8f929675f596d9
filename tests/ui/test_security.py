"""The UI's security in a real browser: CSRF from another origin (127.0.0.1 on another port,
the same site, so the SameSite cookie IS sent and the agent's own check must refuse), stored
XSS rendered as text, the CSP header and no violation, the session cookie's flags, logout."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from lbctl.api.ui import CSP
from tests.agent_helpers import TOKEN, Agent, free_port

from .conftest import Ui

UI_DIR = Path(__file__).resolve().parents[2] / "ui"


class _Evil(BaseHTTPRequestHandler):
    """Serves the forger's pages (inline script allowed: this is another origin)."""

    pages: ClassVar[dict[str, str]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = self.pages.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def evil() -> Iterator[str]:
    """Another origin on 127.0.0.1 (its own port); stopped after the test."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Evil)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def audit_lines() -> Iterator[list[dict[str, Any]]]:
    """The audit lines the agent emits during the test (its ``lbctl.audit`` logger)."""
    lines: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(getattr(record, "audit", {}))

    handler = Keep(level=logging.INFO)
    logger = logging.getLogger("lbctl.audit")
    old = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(old)


def session_cookie(ui: Ui) -> Any:
    """The browser's ``lbctl_session`` cookie (Playwright's Cookie dict)."""
    return next(c for c in ui.context.cookies() if c["name"] == "lbctl_session")


def test_cross_origin_writes_with_the_cookie_are_refused(agent: Agent, ui_factory: Any, evil: str,
                                                         audit_lines: list[dict[str, Any]]) -> None:
    ui = ui_factory(agent.url)
    ui.login()
    before = agent.api.get("/api/v1/haproxy").json()["haproxy"]
    _Evil.pages["/fetch.html"] = f"""<!doctype html><script>
      window.done = (async () => {{
        const out = {{}};
        await fetch("{agent.url}/api/v1/haproxy/reload", {{method: "POST", mode: "no-cors", credentials: "include"}});
        out.posted = true;
        try {{ await fetch("{agent.url}/api/v1/session", {{credentials: "include"}}); out.read = "readable"; }}
        catch (e) {{ out.read = "blocked"; }}
        return out;
      }})();
    </script>"""
    _Evil.pages["/form.html"] = f"""<!doctype html>
      <form id="f" method="POST" action="{agent.url}/api/v1/config/versions/1/rollback"></form>
      <script>document.getElementById("f").submit();</script>"""
    page = ui.context.new_page()
    page.goto(f"{evil}/fetch.html")
    # The forger cannot read the session (no CORS), so it has no CSRF token to send.
    assert page.evaluate("window.done") == {"posted": True, "read": "blocked"}
    with page.expect_response(lambda r: "/rollback" in r.url) as answer:
        page.goto(f"{evil}/form.html")
    assert answer.value.status == 403
    assert answer.value.json()["error"] == "CsrfRefused"  # the cookie came (not a 401), refused
    after = agent.api.get("/api/v1/haproxy").json()["haproxy"]
    assert after["reload_count"] == before["reload_count"] and after["master_pid"] == before["master_pid"]
    assert agent.api.get("/api/v1/config").headers["etag"] == '"1"'
    denied = [ln for ln in audit_lines if ln.get("what") == "denied"]
    assert {ln["target"] for ln in denied} == {"POST /api/v1/haproxy/reload",
                                               "POST /api/v1/config/versions/1/rollback"}, denied
    assert all(ln["who"] == "admin" and "CsrfRefused" in ln["error"] for ln in denied)
    # The same cookie from the UI's own page still works (the refusal ended nothing).
    ui.goto("servers")
    ui.page.wait_for_selector("#servers-table tr[data-server='app/s1']")


def test_stored_xss_renders_as_text(agent: Agent, ui_factory: Any) -> None:
    message = '<img src=x onerror="window.__xss=1">'
    author = "<script>window.__xss=2</script>"
    extra = "    # <script>window.__xss=3</script><img src=x onerror=window.__xss=4>"
    ui = ui_factory(agent.url)
    ui.login()
    ui.goto("source")
    ui.page.wait_for_function("() => document.getElementById('source-text').value.includes('frontend web')")
    text = ui.page.locator("#source-text").input_value()
    ui.page.fill("#source-text", text.replace("    default_backend app\n", f"    default_backend app\n{extra}\n"))
    ui.page.fill("#source-message", message)
    ui.page.fill("#source-author", author)
    ui.page.click("#source-save")
    ui.page.wait_for_selector("#save-ok")
    entry = agent.api.get("/api/v1/config/versions/2").json()
    assert (entry["message"], entry["author"]) == (message, author)
    assert extra.strip() in agent.api.get("/api/v1/config").json()["spec"]["frontends"][0]["extra"][0]

    ui.goto("history")
    row = ui.page.locator("#history-table tr[data-entry]").first
    row.wait_for()
    assert row.locator("td.message").inner_text() == message
    assert row.locator("td.author").inner_text() == author
    row.locator("button:has-text('View')").click()
    ui.page.wait_for_selector("#history-detail pre.config")
    assert extra in ui.page.locator("#history-detail pre.config").first.inner_text()
    ui.page.select_option("#diff-from", "1")
    ui.page.select_option("#diff-to", "2")
    ui.page.click("#diff-show")
    ui.page.wait_for_selector("#history-detail pre.diff span.add")
    assert ui.page.locator("#history-detail pre.diff span.add").last.inner_text().strip() == "+" + extra
    ui.goto("overview")
    ui.page.wait_for_selector(f"dd:text-is('{message}')")
    for name in ("history", "source", "config", "overview"):
        ui.goto(name)
        ui.page.wait_for_timeout(300)
        assert ui.page.evaluate("document.querySelectorAll('main img, main script').length") == 0
    assert ui.page.evaluate("window.__xss") is None
    assert ui.errors == [] and ui.csp_violations() == []
    ui.shot("history-xss")


def test_csp_header_and_no_inline_code(agent: Agent, ui_factory: Any) -> None:
    for path in ("/ui/", "/ui/js/app.js", "/ui/app.css", "/api/v1/health"):
        resp = agent.api.get(path)
        assert resp.status_code == 200 and resp.headers["content-security-policy"] == CSP, path
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP and "script-src 'self'" in CSP
    html = (UI_DIR / "index.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(re.search(r'\bsrc="/ui/', s) for s in scripts)
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html) and " style=" not in html and "<style" not in html
    for js in UI_DIR.rglob("*.js"):
        found = re.search(r"\.(innerHTML|outerHTML|insertAdjacentHTML|write)\b|\beval\(|new Function",
                          js.read_text())
        assert found is None, (js, found)
    # Every page in the browser, under that policy: no violation, no error.
    ui = ui_factory(agent.url)
    ui.login()
    for name in ("overview", "servers", "clients", "config", "source", "history"):
        ui.goto(name)
        ui.page.wait_for_timeout(400)
    assert ui.errors == [] and ui.csp_violations() == [], (ui.errors, ui.csp_violations())


def test_cookie_flags_reload_and_logout(agent: Agent, ui_factory: Any) -> None:
    ui = ui_factory(agent.url)
    ui.login()
    cookie = session_cookie(ui)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    assert ui.page.evaluate("document.cookie") == ""  # not readable by any script
    assert TOKEN not in ui.page.content()
    ui.page.reload()  # the session survives a reload (GET /api/v1/session)
    ui.page.wait_for_selector("#nav:not([hidden])")
    assert ui.page.locator("#who-role").inner_text() == "admin"
    jar = {"lbctl_session": cookie["value"]}
    assert httpx.get(f"{agent.url}/api/v1/config", cookies=jar).status_code == 200
    ui.page.click("#logout")
    ui.page.wait_for_selector("#login:not([hidden])")
    ui.shot("logged-out")
    assert httpx.get(f"{agent.url}/api/v1/config", cookies=jar).status_code == 401
    assert httpx.get(f"{agent.url}/api/v1/session", cookies=jar).status_code == 401
    ui.page.reload()
    ui.page.wait_for_selector("#login:not([hidden])")
    assert ui.page.locator("#nav").is_hidden()
    # A wrong token: the problem+json's own words, and still signed out.
    ui.page.fill("#login-token", "not-a-token")
    ui.page.locator("#login-form button[type=submit]").click()
    problem = ui.page.locator("#login-error .problem")
    problem.wait_for()
    assert "(401)" in problem.inner_text()


def test_a_session_ended_elsewhere_signs_the_page_out(agent: Agent, ui_factory: Any) -> None:
    ui = ui_factory(agent.url)
    ui.login()
    csrf = ui.page.evaluate("async () => (await (await fetch('/api/v1/session')).json()).csrf_token")
    ended = httpx.delete(f"{agent.url}/api/v1/session", cookies={"lbctl_session": session_cookie(ui)["value"]},
                         headers={"X-CSRF-Token": csrf, "Origin": agent.url})
    assert ended.status_code == 204
    # The overview's next refresh (every 3 s) gets the 401 and shows the sign-in, saying why.
    ui.page.wait_for_selector("#login:not([hidden])")
    assert "Signed out" in ui.page.locator("#login-error").inner_text()
    assert ui.page.locator("#nav").is_hidden() and ui.page.locator("#page").inner_text() == ""
