"""The Tokens page and the audit trail in a real Chromium, against a live agent: an admin
creates an operator token in the page, its secret is shown once (copy button) and works
against the API with its role; revoking it in the page (confirmed) makes it a 401. A viewer or
operator has no Tokens entry; the History page's audit trail lists the creation and the
revocation; a name that looks like markup cannot exist (422, shown beside the field), and
audit text that looks like markup renders as text."""

from __future__ import annotations

from typing import Any

import httpx

from lbctl.state.tokens import Role
from tests.agent_helpers import Agent

from .conftest import WAIT_MS, Ui, named_token

XSS = "<img src=x onerror=window.__pwned=1>"


def _bearer(agent: Agent, token: str) -> httpx.Client:
    return httpx.Client(base_url=agent.url, headers={"Authorization": f"Bearer {token}"},
                        timeout=60)


def _tokens_page(ui: Ui) -> None:
    ui.goto("tokens")
    ui.page.wait_for_selector("#tokens-table tr[data-token=admin]")


def test_admin_creates_an_operator_token_once_and_revokes_it(agent: Agent,
                                                             ui_factory: Any) -> None:
    ui = ui_factory(agent.url)
    ui.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ui.login()
    _tokens_page(ui)
    ui.page.fill("#token-name", "ops-ui")
    ui.page.select_option("#token-role", "operator")
    ui.page.click("#token-create")
    ui.page.wait_for_selector("#token-secret")
    secret = ui.page.input_value("#token-secret")
    assert len(secret) >= 40
    ui.page.click("#token-copy")
    ui.page.wait_for_selector("#token-copied:has-text('Copied.')")
    assert ui.page.evaluate("navigator.clipboard.readText()") == secret
    ui.page.wait_for_selector("#tokens-table tr[data-token=ops-ui]")
    row = ui.page.locator("#tokens-table tr[data-token=ops-ui]").inner_text()
    assert "operator" in row and secret not in row
    ui.shot("tokens-created")
    with _bearer(agent, secret) as ops:  # the secret works, with its role
        assert ops.get("/api/v1/haproxy").status_code == 200
        assert ops.get("/api/v1/tokens").status_code == 403
    # Shown once: the page opened again lists the token, never its secret.
    ui.goto("history")
    _tokens_page(ui)
    assert ui.page.locator("#token-secret").count() == 0
    assert secret not in ui.page.content()
    # Revoke, confirmed in the dialog.
    ui.page.click("#tokens-table button[aria-label='revoke token ops-ui']")
    dialog = ui.page.locator("dialog.confirm[open]")
    dialog.wait_for()
    assert "Revoke token ops-ui?" in dialog.inner_text()
    dialog.locator("button[value=ok]").click()
    ui.page.wait_for_selector("#tokens-table tr[data-token=ops-ui]", state="detached")
    ui.page.wait_for_selector("p.ok:has-text('Revoked token ops-ui')")
    with _bearer(agent, secret) as ops:
        resp = ops.get("/api/v1/haproxy")
        assert resp.status_code == 401 and resp.json()["error"] == "AuthError"
    assert not ui.errors and not ui.csp_violations()


def test_cancelling_the_dialog_revokes_nothing(agent: Agent, ui_factory: Any) -> None:
    token = named_token(agent, "keep", "viewer")
    ui = ui_factory(agent.url)
    ui.login()
    _tokens_page(ui)
    ui.page.click("#tokens-table button[aria-label='revoke token keep']")
    ui.page.locator("dialog.confirm[open]").wait_for()
    ui.page.keyboard.press("Escape")
    ui.page.locator("dialog.confirm").wait_for(state="detached")
    assert ui.page.locator("#tokens-table tr[data-token=keep]").count() == 1
    with _bearer(agent, token) as viewer:
        assert viewer.get("/api/v1/haproxy").status_code == 200


def test_viewer_and_operator_have_no_tokens_page(agent: Agent, ui_factory: Any) -> None:
    roles: tuple[tuple[str, Role], ...] = (("vic", "viewer"), ("olga", "operator"))
    for name, role in roles:
        ui = ui_factory(agent.url)
        ui.login(named_token(agent, name, role))
        assert ui.page.locator("#nav a[href='#/tokens']").count() == 0, role
        # Forced by its address, the page shows the agent's 403, not a token.
        ui.page.goto(f"{agent.url}/ui/#/tokens")
        ui.page.wait_for_selector(".problem:has-text('Needs the admin role.')")
        assert ui.page.locator("#tokens-table tr").count() == 0
    admin = ui_factory(agent.url)
    admin.login()
    assert admin.page.locator("#nav a[href='#/tokens']").count() == 1


def test_markup_names_are_refused_and_audit_text_renders_as_text(agent: Agent,
                                                                  ui_factory: Any) -> None:
    ui = ui_factory(agent.url)
    ui.login()
    _tokens_page(ui)
    ui.page.fill("#token-name", XSS)
    ui.page.click("#token-create")
    ui.page.wait_for_selector(".problem:has-text('Invalid request (422)')")
    assert ui.page.get_attribute("#token-name", "aria-invalid") == "true"
    assert "String should match pattern" in ui.page.inner_text("#token-name-error")
    assert "body.name" in ui.page.inner_text(".problem")
    tokens_file = agent.state.tokens_path
    assert not tokens_file.exists() or "onerror" not in tokens_file.read_text()
    # A token created and revoked in the page, and a refused write whose message is markup.
    ui.page.fill("#token-name", "audit-me")
    ui.page.click("#token-create")
    ui.page.wait_for_selector("#tokens-table tr[data-token=audit-me]")
    ui.page.click("#tokens-table button[aria-label='revoke token audit-me']")
    ui.page.locator("dialog.confirm[open] button[value=ok]").click()
    ui.page.wait_for_selector("#tokens-table tr[data-token=audit-me]", state="detached")
    viewer = named_token(agent, "peeker", "viewer")
    with _bearer(agent, viewer) as api:
        assert api.post("/api/v1/haproxy/reload", headers={"X-Lbctl-Message": XSS}).status_code == 403
    ui.goto("history")
    ui.page.wait_for_selector("#audit-table tr[data-audit]", timeout=WAIT_MS)
    table = ui.page.locator("#audit-table")
    created = table.locator("tr", has_text="audit-me (viewer)").filter(has_text="token-create")
    revoked = table.locator("tr", has_text="audit-me (viewer)").filter(has_text="token-revoke")
    assert created.count() == 1 and revoked.count() == 1
    assert "created from the UI" in created.inner_text()
    assert "revoked from the UI" in revoked.inner_text()
    denied = table.locator("tr", has_text="peeker").filter(has_text="denied")
    assert denied.locator("td.message").inner_text() == XSS  # the markup, as text
    assert table.locator("img").count() == 0
    assert ui.page.evaluate("window.__pwned === undefined")
    ui.shot("history-audit")
    assert not ui.errors and not ui.csp_violations()
