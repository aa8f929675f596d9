"""``/docs`` works with no network and under the agent's strict CSP (issue 15, item 6).

Against a live agent (real HAProxy 2.8, real backend): the page and its init script name no
``http(s)://`` URL, every file they load answers 200 from the agent itself with the right type,
and ReDoc (which the CSP would break) is gone. Then Debian's Chromium (Playwright) opens
``/docs`` with every request that does not go to the agent aborted: Swagger UI renders the
agent's operations with no CSP violation and no console error. The screenshot is saved under
the test's ``tmp_path``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Route, sync_playwright

from lbctl.api.ui import CSP
from lbctl.demo.backend import RecordingBackend

from .agent_helpers import Agent, free_port, make_spec, running_agent
from .conftest import BINARIES

CHROMIUM = "/usr/bin/chromium"
#: Bound on each wait for the page (ms): Swagger UI parses a 1.5 MB bundle on a shared machine.
WAIT_MS = 30_000
_WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    binary = BINARIES["2.8"] or BINARIES["2.6"]
    assert binary is not None, "no HAProxy binary"
    be = RecordingBackend("backend").start()
    try:
        root = Path(tmp_path_factory.mktemp("docs"))
        with running_agent(root, make_spec(free_port(), free_port(), [("s1", be.port)]),
                           binary) as agent:
            yield agent
    finally:
        be.stop()


def test_docs_name_no_network_and_their_files_answer(agent: Agent) -> None:
    page = agent.api.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    init = agent.api.get("/docs/init.js")
    assert init.status_code == 200 and init.headers["content-type"].startswith("text/javascript")
    for text in (page.text, init.text):
        assert not re.search(r"https?://", text), text
    assert "<script>" not in page.text and "onload" not in page.text  # nothing inline
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert set(loaded) == {"/docs/assets/swagger-ui.css", "/docs/assets/favicon.png",
                           "/docs/assets/swagger-ui-bundle.js", "/docs/init.js"}
    types = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
    for path in loaded:
        resp = agent.api.get(path)
        assert resp.status_code == 200, path
        assert resp.headers["content-type"].startswith(types[Path(path).suffix]), path
        assert len(resp.content) > 0
    assert '"openapi"' in agent.api.get("/openapi.json").text
    # Only the files the page needs; ReDoc is not served.
    assert agent.api.get("/docs/assets/redoc.standalone.js").status_code == 404
    assert agent.api.get("/docs/assets/..%2Fcore.py").status_code == 404
    assert agent.api.get("/redoc").status_code == 404


def test_docs_render_in_chromium_offline_under_the_csp(agent: Agent, tmp_path: Path) -> None:
    outside: list[str] = []

    def only_the_agent(route: Route) -> None:
        if route.request.url.startswith(agent.url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.add_init_script(_WATCH_CSP)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", only_the_agent)
            page.goto(f"{agent.url}/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=WAIT_MS)
            assert page.inner_text(".swagger-ui .info .title").startswith("lbctl agent")
            page.wait_for_selector("#operations-config-put_config", timeout=WAIT_MS)
            operations = page.locator(".opblock").count()
            page.screenshot(path=str(tmp_path / "docs.png"))
            violations = page.evaluate("window.__csp")
        finally:
            browser.close()
    doc = agent.api.get("/openapi.json").json()
    assert operations == sum(len(ops) for ops in doc["paths"].values())
    assert violations == [] and errors == [] and outside == []
