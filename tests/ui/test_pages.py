"""The other pages against a live agent: the config form (errors beside their inputs by
``errors[].loc``, a plan with summary and diff before saving), history (view, diff, a
confirmed rollback), clients (reset counters), and the layout on a narrow window."""

from __future__ import annotations

from typing import Any

from tests.agent_helpers import Agent

from .conftest import Ui


def set_field(ui: Ui, loc: str, value: str) -> None:
    """Type ``value`` into the input bound to ``loc`` and leave it (its change event)."""
    box = ui.page.locator(f"#config-form [data-loc='{loc}']")
    if box.evaluate("e => e.tagName") == "SELECT":
        box.select_option(value)
    else:
        box.fill(value)
        box.press("Tab")


def test_config_form_errors_by_loc_then_plan_and_save(agent: Agent, ui_factory: Any, backend: Any) -> None:
    ui = ui_factory(agent.url)
    ui.login()
    ui.goto("config")
    ui.page.wait_for_selector("#config-form [data-loc='frontends[0].clients[0].rate']")
    set_field(ui, "frontends[0].clients[0].rate", "0")
    set_field(ui, "backends[0].servers[0].port", "0")
    ui.page.click("#config-plan-btn")
    for loc in ("frontends[0].clients[0].rate", "backends[0].servers[0].port"):
        error = ui.page.locator(f"#config-form .field-error[data-error-for='{loc}']")
        error.wait_for()
        assert error.inner_text().startswith("Input should be greater than")
        box = ui.page.locator(f"#config-form [data-loc='{loc}']")
        assert box.get_attribute("aria-invalid") == "true"
        assert box.get_attribute("aria-describedby") == error.get_attribute("id")  # read with its input
    assert "Invalid spec (422)" in ui.page.locator("#config-result .problem").inner_text()
    assert ui.page.locator("#config-save").is_disabled()
    ui.shot("config-errors")

    set_field(ui, "frontends[0].clients[0].rate", "20")
    set_field(ui, "backends[0].servers[0].port", str(backend.port))
    set_field(ui, "backends[0].health_check.method", "GET")
    set_field(ui, "backends[0].health_check.path", "/health")
    ui.page.click("button[aria-label='add server to backends[0].servers']")
    set_field(ui, "backends[0].servers[2].name", "s3")
    set_field(ui, "backends[0].servers[2].port", str(backend.port))
    ui.page.click("button[aria-label='add client to frontends[0].clients']")
    set_field(ui, "frontends[0].clients[1].name", "client2")
    set_field(ui, "frontends[0].clients[1].path_prefix", "/client2")
    set_field(ui, "frontends[0].clients[1].mode", "reject")
    ui.page.click("#config-plan-btn")
    summary = ui.page.locator("#plan-summary")
    summary.wait_for()
    items = summary.inner_text()
    assert "added server app/s3" in items and "added client web/client2" in items and "changed client web/c1" in items
    diff = ui.page.locator("#config-plan pre.diff").inner_text()
    assert "+    http-request lua.lbctl_pace c1 20 5 if lbctl_client_c1" in diff
    assert "+    http-check send meth GET uri /health" in diff
    assert agent.api.get("/api/v1/config").headers["etag"] == '"1"'  # a plan writes nothing
    ui.shot("config-plan")
    ui.page.fill("#config-form ~ .toolbar input", "form: c1 at 20/s, s3, client2")
    ui.page.click("#config-save")
    ui.page.wait_for_selector("#config-result .ok")
    assert "version 2 is live" in ui.page.locator("#config-result").inner_text()
    spec = agent.api.get("/api/v1/config").json()["spec"]
    assert spec["frontends"][0]["clients"][0]["rate"] == 20
    assert [c["name"] for c in spec["frontends"][0]["clients"]] == ["c1", "client2"]
    assert spec["backends"][0]["health_check"]["method"] == "GET"
    assert [s["name"] for s in spec["backends"][0]["servers"]] == ["s1", "s2", "s3"]
    assert agent.api.get("/api/v1/config/versions/2").json()["message"] == "form: c1 at 20/s, s3, client2"


def test_history_view_diff_and_confirmed_rollback(agent: Agent, ui_factory: Any) -> None:
    source = agent.api.get("/api/v1/config/source").text
    edited = source.replace("    retries 3\n", "    retries 2\n")
    assert agent.api.put("/api/v1/config/source", content=edited.encode(), headers={
        "Content-Type": "text/plain", "If-Match": '"1"', "X-Lbctl-Message": "two retries"}).status_code == 200
    bad = edited.replace("\nbackend app\n", "\nbackend app\n    http-request set-header X %[nosuchfetch]\n")
    assert agent.api.put("/api/v1/config/source", content=bad.encode(), headers={
        "Content-Type": "text/plain", "If-Match": '"2"'}).status_code == 422  # a failed attempt
    ui = ui_factory(agent.url)
    ui.login()
    ui.goto("history")
    rows = ui.page.locator("#history-table tr[data-entry]")
    ui.page.wait_for_function("() => document.querySelectorAll('#history-table tr[data-entry]').length === 3")
    assert "failed" in (rows.first.get_attribute("class") or "")
    assert rows.first.locator("td").nth(1).inner_text() == "—"  # no version: refused
    rows.first.locator("button:has-text('View')").click()
    ui.page.wait_for_selector("#history-detail h2:has-text('Attempt')")
    assert "nosuchfetch" in ui.page.locator("#history-detail").inner_text()
    ui.page.select_option("#diff-from", "1")
    ui.page.select_option("#diff-to", "2")
    ui.page.click("#diff-show")
    ui.page.wait_for_selector("#history-detail pre.diff")
    assert [s.inner_text().strip() for s in ui.page.locator("#history-detail pre.diff span.del").all()] == ["-    retries 3"]
    assert [s.inner_text().strip() for s in ui.page.locator("#history-detail pre.diff span.add").all()] == ["+    retries 2"]
    ui.shot("history-diff")
    ui.page.click("button[aria-label='roll back to version 1']")
    dialog = ui.page.locator("dialog.confirm[open]")
    dialog.wait_for()
    dialog.locator("button:has-text('Cancel')").click()
    assert agent.api.get("/api/v1/config").headers["etag"] == '"2"'
    ui.page.click("button[aria-label='roll back to version 1']")
    ui.page.click("dialog.confirm[open] button.primary")
    ui.page.wait_for_selector("p.ok >> text=Rolled back: version 3")
    assert agent.api.get("/api/v1/config").json()["spec"]["defaults"]["retries"] == 3
    ui.page.wait_for_function("() => document.querySelectorAll('#history-table tr[data-entry]').length === 4")
    assert rows.first.locator("td").nth(2).inner_text() == "rollback"


def test_reset_counters_and_narrow_window(agent: Agent, ui_factory: Any) -> None:
    for i in range(5):
        assert agent.through_haproxy(f"/c1/{i}").status_code == 200
    ui = ui_factory(agent.url, width=390, height=844)
    ui.login()
    ui.goto("clients")
    ui.page.wait_for_function("""() => { const c = document.querySelector("#clients-table tr[data-client='web/c1'] td[data-col=request_rate]");
        return c && Number(c.textContent) > 0; }""")
    ui.shot("narrow-clients")
    ui.page.click("button[data-action=reset]")
    ui.page.click("dialog.confirm[open] button.primary")
    ui.page.wait_for_selector("p.ok >> text=Counters reset: web/c1")
    c1 = agent.api.get("/api/v1/clients").json()["clients"][0]
    assert (c1["request_rate"], c1["delayed_total"], c1["rejected_total"]) == (0, 0, 0)
    for name in ("overview", "source", "servers"):
        ui.goto(name)
        ui.page.wait_for_timeout(500)
        # Nothing wider than the window but the scrolling tables and the editor.
        assert ui.page.evaluate("document.documentElement.scrollWidth") <= 390, name
        ui.shot(f"narrow-{name}")


def test_config_form_edits_each_of_several_defaults_sections(agent: Agent, ui_factory: Any) -> None:
    """An imported config's defaults are a list of named sections (docs/importer.md): the form
    shows one fieldset per section and a change lands in that section only."""
    data = agent.api.get("/api/v1/config").json()["spec"]
    first = {**data["defaults"], "name": "web_defaults"}
    data["defaults"] = [first, {"name": "tcp_defaults", "mode": "tcp", "retries": 2}]
    data["frontends"][0]["from"] = "web_defaults"
    data["backends"][0]["from"] = "web_defaults"
    put = agent.api.put("/api/v1/config", json=data, headers={"If-Match": '"1"'})
    assert put.status_code == 200, put.text
    ui = ui_factory(agent.url)
    ui.login()
    ui.goto("config")
    ui.page.wait_for_selector("#config-form [data-loc='defaults[1].retries']")
    legends = ui.page.locator("#config-form fieldset > legend").all_inner_texts()
    assert "Defaults web_defaults" in legends and "Defaults tcp_defaults" in legends
    set_field(ui, "defaults[1].retries", "4")
    ui.page.click("#config-plan-btn")
    ui.page.locator("#plan-summary").wait_for()
    ui.page.click("#config-save")
    ui.page.wait_for_selector("#config-result .ok")
    spec = agent.api.get("/api/v1/config").json()["spec"]
    assert [d.get("retries") for d in spec["defaults"]] == [first.get("retries"), 4]
    assert not ui.errors and not ui.csp_violations()
    ui.shot("config-two-defaults")
