"""A stale edit: two browser contexts (two signed-in admins) edit the live haproxy.cfg in the
source view, or the spec in the config form; the second save gets the 412, sees what the first
one changed, keeps its own text (form), and can then save it deliberately over the new
version."""

from __future__ import annotations

from typing import Any

from tests.agent_helpers import Agent

from .conftest import Ui


def open_source(ui: Ui) -> None:
    ui.login()
    ui.goto("source")
    ui.page.wait_for_function("() => document.getElementById('source-text').value.includes('frontend web')")


def edit(ui: Ui, old: str, new: str) -> str:
    """Select ``old`` in the editor and type ``new`` over it; the editor's text after."""
    at = ui.page.locator("#source-text").input_value().index(old)
    ui.page.evaluate("([a, b]) => { const t = document.getElementById('source-text'); t.focus(); t.setSelectionRange(a, b); }",
                     [at, at + len(old)])
    ui.page.keyboard.type(new)
    return ui.page.locator("#source-text").input_value()


def test_second_save_gets_the_conflict_and_keeps_its_text(agent: Agent, ui_factory: Any) -> None:
    ann, bob = ui_factory(agent.url), ui_factory(agent.url)
    open_source(ann)
    open_source(bob)
    edit(ann, "    retries 3\n", "    retries 2\n")
    ann.page.click("#source-save")
    ann.page.wait_for_selector("#save-ok")
    assert agent.api.get("/api/v1/config").headers["etag"] == '"2"'

    mine = edit(bob, "    default_backend app\n", "    default_backend app\n    http-response set-header X-Bob yes\n")
    bob.page.click("#source-save")
    stale = bob.page.locator("#stale")
    stale.wait_for()
    assert "Someone else saved version 2" in stale.inner_text()
    assert bob.page.locator("#source-text").input_value() == mine  # nothing lost
    removed = [s.inner_text() for s in stale.locator("pre.diff span.del").all()]
    added = [s.inner_text() for s in stale.locator("pre.diff span.add").all()]
    assert [r.strip() for r in removed] == ["-    retries 3"] and [a.strip() for a in added] == ["+    retries 2"]
    assert bob.page.locator("h1 .badge").inner_text() == "version 2"
    bob.shot("source-stale")
    assert agent.api.get("/api/v1/config").json()["spec"]["defaults"]["retries"] == 2  # bob saved nothing

    # Saving again is deliberate now: bob's text over version 2.
    bob.page.click("#source-save")
    bob.page.wait_for_selector("#save-ok")
    assert "version 3 is live" in bob.page.locator("#save-ok").inner_text()
    live = agent.api.get("/api/v1/config/source").text
    assert live == mine and "X-Bob yes" in live
    assert agent.through_haproxy("/x").headers["x-bob"] == "yes"


def plan_and_save(ui: Ui) -> None:
    ui.page.click("#config-plan-btn")
    ui.page.wait_for_selector("#plan-summary")
    ui.page.click("#config-save")


def test_config_form_stale_save_keeps_the_form(agent: Agent, ui_factory: Any) -> None:
    ann, bob = ui_factory(agent.url), ui_factory(agent.url)
    for ui in (ann, bob):
        ui.login()
        ui.goto("config")
        ui.page.wait_for_selector("#config-form [data-loc='defaults.retries']")
    ann.page.fill("[data-loc='defaults.retries']", "2")
    ann.page.press("[data-loc='defaults.retries']", "Tab")
    plan_and_save(ann)
    ann.page.wait_for_selector("#config-result .ok")
    bob.page.fill("[data-loc='frontends[0].clients[0].rate']", "30")
    bob.page.press("[data-loc='frontends[0].clients[0].rate']", "Tab")
    plan_and_save(bob)
    stale = bob.page.locator("#config-stale")
    stale.wait_for()
    assert "Someone else saved version 2" in stale.inner_text()
    assert [s.inner_text().strip() for s in stale.locator("pre.diff span.del").all()] == ['-    "retries": 3']
    assert [s.inner_text().strip() for s in stale.locator("pre.diff span.add").all()] == ['+    "retries": 2']
    assert bob.page.locator("[data-loc='frontends[0].clients[0].rate']").input_value() == "30"  # kept
    assert agent.api.get("/api/v1/config").json()["spec"]["frontends"][0]["clients"][0]["rate"] == 50
    bob.shot("config-stale")
    plan_and_save(bob)  # deliberate now: bob's form over version 2
    bob.page.wait_for_selector("#config-result .ok")
    assert "version 3 is live" in bob.page.locator("#config-result").inner_text()
    assert agent.api.get("/api/v1/config").json()["spec"]["frontends"][0]["clients"][0]["rate"] == 30
