"""Roles in the browser: a viewer sees no write control on any page, and a write forced from
its own page (with its session's CSRF token, same origin) is a 403 from the server; an
operator gets the runtime operations but not the admin's config writes."""

from __future__ import annotations

from typing import Any

from tests.agent_helpers import Agent

from .conftest import Ui, named_token

WRITE_CONTROLS = ("button[data-action], #source-save, #source-validate, #config-plan-btn, #config-save, "
                  "button:has-text('Add'), button:has-text('Remove')")

FORCE = """async ([method, path, body]) => {
  const s = await (await fetch("/api/v1/session")).json();
  const r = await fetch(path, {method, credentials: "same-origin", body: body && JSON.stringify(body),
    headers: {"Content-Type": "application/json", "X-CSRF-Token": s.csrf_token, "If-Match": '"1"'}});
  return [r.status, await r.json()];
}"""


def visit(ui: Ui, name: str, ready: str) -> None:
    ui.goto(name)
    ui.page.wait_for_selector(ready)


def test_viewer_sees_no_write_controls_and_forced_writes_are_403(agent: Agent, ui_factory: Any) -> None:
    ui = ui_factory(agent.url)
    ui.login(named_token(agent, "vera", "viewer"))
    assert ui.page.locator("#who-role").inner_text() == "viewer"
    assert ui.page.locator("#who-name").inner_text() == "vera"
    for name, ready in (("servers", "#servers-table tr[data-server='app/s1']"),
                        ("clients", "#clients-table tr[data-client='web/c1']"),
                        ("history", "#history-table tr[data-entry]"),
                        ("config", "#config-form fieldset"),
                        ("source", "#source-text")):
        visit(ui, name, ready)
        assert ui.page.locator(WRITE_CONTROLS).count() == 0, name
        ui.shot(f"viewer-{name}")
    assert ui.page.locator("#source-text").get_attribute("readonly") is not None
    visit(ui, "config", "#config-form fieldset")
    assert ui.page.locator("#config-form input").count() > 0
    assert ui.page.locator("#config-form input:not([readonly]):not([disabled])").count() == 0
    for method, path, body, role in (
            ("PUT", "/api/v1/backends/app/servers/s1/state", {"state": "drain"}, "operator"),
            ("DELETE", "/api/v1/clients/c1/counters", None, "operator"),
            ("POST", "/api/v1/config/versions/1/rollback", None, "admin")):
        status, problem = ui.page.evaluate(FORCE, [method, path, body])
        assert status == 403 and problem["error"] == "Forbidden" and problem["required_role"] == role, problem
    assert agent.api.get("/api/v1/config").headers["etag"] == '"1"'


def test_operator_gets_runtime_operations_only(agent: Agent, ui_factory: Any) -> None:
    ui = ui_factory(agent.url)
    ui.login(named_token(agent, "otto", "operator"))
    visit(ui, "servers", "#servers-table tr[data-server='app/s1']")
    assert ui.page.locator("#servers-table button[data-action=drain]").count() == 2
    visit(ui, "clients", "#clients-table tr[data-client='web/c1']")
    assert ui.page.locator("button[data-action=reset]").count() == 1
    visit(ui, "source", "#source-text")
    assert ui.page.locator("#source-save, #source-validate").count() == 0
    visit(ui, "history", "#history-table tr[data-entry]")
    assert ui.page.locator("button[data-action=rollback]").count() == 0
    status, problem = ui.page.evaluate(FORCE, ["POST", "/api/v1/config/versions/1/rollback", None])
    assert status == 403 and problem["required_role"] == "admin"
