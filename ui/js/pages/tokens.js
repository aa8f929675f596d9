// Tokens (admin): the named API tokens (GET /tokens: name, role, created; never a secret),
// create one with a role (POST /tokens: its secret is shown once, with a copy button) and
// revoke one, confirmed first (DELETE /tokens/{name}: it and its sessions end at once).
import { ApiError, problemBox, request, session, writeHeaders } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { field, fill, h, when } from "../dom.js";

export const TITLE = "Tokens";
const ROLES = [["viewer", "viewer: reads only"], ["operator", "operator: + runtime operations"],
  ["admin", "admin: everything"]];

export function render(root) {
  const message = h("div", { "aria-live": "polite" });
  // The agent checks the name and role (422 naming the field): its message shows beside it.
  const name = field("Name (who holds it): letters, digits, _.:-", "input", { id: "token-name",
    required: true, autocomplete: "off" });
  const role = field("Role", "select", { id: "token-role", value: "viewer" }, ROLES);
  const create = h("button.primary#token-create", { type: "submit" }, "Create token");
  const form = h("form#token-form", { "aria-label": "Create a token" },
    h("div.toolbar", name.wrap, role.wrap, create));
  const secret = h("section#token-secret-box.card", { hidden: true, "aria-live": "polite" });
  const table = h("table.grid", { id: "tokens-table" });
  fill(root, h("h1", TITLE), message, h("h2", "Create a token"), form, secret,
    h("h2", "Tokens"), h("div.scroll", table),
    h("p.muted", "Only a token's SHA-256 is kept: a secret cannot be shown again. Use is not tracked."));

  function showSecret(body) {
    const input = h("input#token-secret", { type: "text", readonly: true, value: body.token,
      "aria-label": `the secret of token ${body.name}`, size: 48, spellcheck: "false" });
    const copied = h("span#token-copied", { role: "status" });
    const copy = h("button#token-copy", { type: "button", on: { click: async () => {
      try {
        await navigator.clipboard.writeText(body.token);
        copied.textContent = "Copied.";
      } catch (err) {
        input.select();
        copied.textContent = "The clipboard is not available here: the secret is selected, copy it with Ctrl+C.";
      }
    } } }, "Copy");
    const done = h("button", { type: "button", on: { click: () => { fill(secret); secret.hidden = true; } } },
      "Done: I have copied it");
    fill(secret, h("h3", `Token ${body.name} (${body.role}) created`),
      h("p", "This is the only time its secret is shown: copy it now."),
      h("div.toolbar", input, copy, done), copied);
    secret.hidden = false;
    input.focus();
    input.select();
  }

  function mark(err) {
    const errors = err instanceof ApiError ? err.problem.errors || [] : [];
    for (const [f, loc] of [[name, "body.name"], [role, "body.role"]]) {
      const said = errors.filter((e) => e.loc === loc).map((e) => e.message).join("; ");
      f.input.setAttribute("aria-invalid", String(Boolean(said)));
      let note = f.wrap.querySelector(".field-error");
      if (!note) {
        note = h("span.field-error", { id: `${f.input.id}-error` });
        f.wrap.append(note);
        f.input.setAttribute("aria-describedby", note.id);
      }
      note.textContent = said;
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const { body } = await request("POST", "/tokens", { json: { name: name.input.value, role: role.input.value },
        headers: writeHeaders({ message: "created from the UI" }) });
      mark(null);
      name.input.value = "";
      fill(message, h("p.ok", { role: "status" }, `Created token ${body.name} with role ${body.role}.`));
      showSecret(body);
      await load();
    } catch (err) {
      mark(err);
      fill(message, problemBox(err));
    }
  });

  async function revoke(t) {
    const self = session.current && session.current.token_name === t.name;
    const yes = await confirmDialog(`Revoke token ${t.name}?`, [
      `Requests with it are refused (401) from now on, and every session signed in with it ends.`,
      self ? "This is the token you are signed in with: you will be signed out." : null,
    ].filter(Boolean), { confirm: "Revoke" });
    if (!yes) return;
    try {
      const { body } = await request("DELETE", `/tokens/${encodeURIComponent(t.name)}`,
        { headers: writeHeaders({ message: "revoked from the UI" }) });
      fill(message, h("p.ok", { role: "status" }, `Revoked token ${body.name} (${body.role}); ` +
        `${body.sessions_ended} session(s) ended.`));
      await load();  // signed in with it: this answers 401, and the shell signs out
    } catch (err) {
      fill(message, problemBox(err));
    }
  }

  function draw(body) {
    const b = body.bootstrap;
    fill(table, h("thead", h("tr", ["Name", "Role", "Created", ""].map((l) => h("th", { scope: "col" }, l)))),
      h("tbody",
        h("tr.bootstrap", { "data-token": b.name }, h("td", b.name), h("td", b.role), h("td", "—"),
          h("td.note", `Bootstrap: ${b.note}`)),
        body.tokens.map((t) => h("tr", { "data-token": t.name }, h("td.name", t.name), h("td", t.role),
          h("td", when(t.created_at)),
          h("td.actions", h("button", { type: "button", "data-action": "revoke", "aria-label": `revoke token ${t.name}`,
            on: { click: () => revoke(t) } }, "Revoke"))))));
  }

  async function load() {
    try {
      const { body } = await request("GET", "/tokens");
      draw(body);
    } catch (err) {
      fill(message, problemBox(err));
    }
  }
  load();
  return null;
}
