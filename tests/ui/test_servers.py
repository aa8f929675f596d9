"""Backends and servers in the browser: drain a server from the page (keyboard only:
Tab/Enter, the confirmation dialog), then the runtime state through the API and HAProxy's
own stats, with the same master pid and no reload; a weight change the same way."""

from __future__ import annotations

from typing import Any

from tests.agent_helpers import Agent

from .conftest import Ui


def server(agent: Agent, name: str) -> dict[str, Any]:
    health = agent.api.get("/api/v1/health").json()
    return next(s for b in health["backends"] for s in b["servers"] if s["server"] == name)


def open_servers(agent: Agent, ui: Ui) -> None:
    ui.login()
    ui.goto("servers")
    ui.page.wait_for_selector("#servers-table tr[data-server='app/s1']")


def test_drain_from_the_page_applies_at_runtime_without_reload(agent: Agent, ui_factory: Any) -> None:
    before = agent.api.get("/api/v1/haproxy").json()["haproxy"]
    ui = ui_factory(agent.url)
    open_servers(agent, ui)
    assert ui.page.locator("#servers-table tbody tr").count() == 2
    button = ui.page.locator("#servers-table button[aria-label='drain app/s1']")
    button.focus()
    ui.page.keyboard.press("Enter")
    dialog = ui.page.locator("dialog.confirm[open]")
    dialog.wait_for()
    assert "Set app/s1 to drain?" in dialog.inner_text()
    ui.shot("servers-confirm")
    ui.page.keyboard.press("Escape")  # cancelled: nothing changes
    dialog.wait_for(state="detached")
    assert server(agent, "s1")["status"] == "UP"
    button.focus()
    ui.page.keyboard.press("Enter")
    dialog.wait_for()
    ui.page.keyboard.press("Enter")  # the confirm button has the focus
    ui.page.wait_for_selector("p.ok >> text=app/s1: drain")
    assert "no reload" in ui.page.locator("p.ok").inner_text()

    s1 = server(agent, "s1")
    # HAProxy's drain as lbctl does it: still UP, runtime weight 0, takes no new traffic.
    assert s1["status"] == "UP" and s1["weight"] == 0 and s1["usable"] is False, s1
    assert server(agent, "s2")["status"] == "UP"
    spec = agent.api.get("/api/v1/config").json()["spec"]
    assert spec["backends"][0]["servers"][0]["state"] == "drain"
    after = agent.api.get("/api/v1/haproxy").json()["haproxy"]
    assert after["master_pid"] == before["master_pid"] and after["reload_count"] == before["reload_count"]
    ui.page.wait_for_selector("#servers-table tr.unusable[data-server='app/s1']")  # the next refresh
    assert ui.page.locator("#servers-table tr[data-server='app/s1'] td").nth(6).inner_text() == "0"
    ui.page.select_option("#server-status", "unusable")  # the drained one, found by the filter
    ui.page.wait_for_function("() => document.querySelectorAll('#servers-table tbody tr').length === 1")
    assert ui.page.locator("#servers-table tbody tr").get_attribute("data-server") == "app/s1"
    ui.page.select_option("#server-status", "")
    ui.shot("servers-drained")

    # weight: a number in the dialog, at runtime too
    ui.page.click("#servers-table button[aria-label='weight app/s2']")
    ui.page.fill("#dialog-input", "7")
    ui.page.click("dialog.confirm button.primary")
    ui.page.wait_for_selector("p.ok >> text=app/s2: ready, weight 7")
    assert server(agent, "s2")["weight"] == 7
    final = agent.api.get("/api/v1/haproxy").json()["haproxy"]
    assert final["master_pid"] == before["master_pid"] and final["reload_count"] == before["reload_count"]


def test_filter_sort_and_pages(agent: Agent, ui_factory: Any) -> None:
    ui = ui_factory(agent.url)
    open_servers(agent, ui)
    ui.page.fill("#server-filter", "s2")
    ui.page.wait_for_function("() => document.querySelectorAll('#servers-table tbody tr').length === 1")
    assert ui.page.locator("#servers-table tbody tr").get_attribute("data-server") == "app/s2"
    assert "1 of 2 servers" in ui.page.locator(".count").inner_text()
    ui.page.fill("#server-filter", "")
    ui.page.click("#servers-table th button:has-text('Server')")
    ui.page.click("#servers-table th button:has-text('Server')")  # descending
    rows = ui.page.locator("#servers-table tbody tr")
    assert [rows.nth(i).get_attribute("data-server") for i in range(2)] == ["app/s2", "app/s1"]
    assert ui.page.locator("#servers-table th[aria-sort=descending]").inner_text().startswith("Server")
