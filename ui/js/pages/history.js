// History: versions and failed attempts with who/why (GET /config/versions, paged), one
// entry's spec and haproxy.cfg, the diff of any two versions, rollback (admin, confirmed),
// and the audit trail (operator: GET /audit, paged): every write, refusal, login and token
// change, newest first.
import { can, problemBox, request, writeHeaders } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { diffView, unified } from "../diff.js";
import { field, fill, h, when } from "../dom.js";

export const TITLE = "History";
const LIMIT = 50;

export function render(root) {
  const entries = [];
  let before = null;
  const message = h("div", { "aria-live": "polite" });
  const table = h("table.grid", { id: "history-table" });
  const more = h("button", { type: "button", hidden: true }, "Older entries");
  const from = field("From version", "select", { id: "diff-from" });
  const to = field("To version", "select", { id: "diff-to" });
  const diffBtn = h("button#diff-show", { type: "button" }, "Show diff");
  const detail = h("section#history-detail", { "aria-live": "polite" });
  const audit = auditSection();
  fill(root, h("h1", TITLE), message, h("div.scroll", table), more,
    h("h2", "Compare two versions"), h("div.toolbar", from.wrap, to.wrap, diffBtn), detail, audit);

  async function entry(e) {
    const path = e.version != null ? `/config/versions/${e.version}` : `/config/entries/${e.id}`;
    return (await request("GET", path)).body;
  }

  async function view(e) {
    try {
      const full = await entry(e);
      fill(detail, h("h2", e.version != null ? `Version ${e.version}` : `Attempt #${e.id} (${e.result})`),
        h("dl.kv", [["Who", full.who], ["Author", full.author], ["Message", full.message], ["When", when(full.at)],
          ["Result", full.result], ["Error", full.error]].map(([k, v]) => [h("dt", k), h("dd", v || "—")])),
        (full.diagnostics || []).length ? h("ul", full.diagnostics.map((d) =>
          h("li", `${d.severity}${d.line ? ` line ${d.line}` : ""}: ${d.message}`))) : null,
        full.config ? [h("h3", "haproxy.cfg"), h("pre.config", { tabindex: 0 }, full.config)] : null,
        full.spec ? [h("h3", "Spec"), h("pre.config", { tabindex: 0 }, JSON.stringify(full.spec, null, 2))] : null);
      detail.scrollIntoView({ block: "start" });
    } catch (err) {
      fill(detail, problemBox(err));
    }
  }

  async function rollback(e) {
    const yes = await confirmDialog(`Roll back to version ${e.version}?`,
      "Its spec is applied as a new version (validated and reloaded like any apply).", { confirm: "Roll back" });
    if (!yes) return;
    try {
      const status = await request("GET", "/haproxy");
      const { body } = await request("POST", `/config/versions/${e.version}/rollback`,
        { headers: writeHeaders({ ifMatch: status.body.spec_version, message: `rollback to version ${e.version} from the UI` }) });
      fill(message, h("p.ok", { role: "status" }, body.changed
        ? `Rolled back: version ${body.version} (the spec of version ${e.version}) is live.`
        : `Nothing changed: version ${body.version} already has that spec.`));
      entries.length = 0; before = null; await page();
    } catch (err) {
      fill(message, problemBox(err));
    }
  }

  function draw() {
    // The newest version in the history is the live one: rolling back to it changes nothing.
    const current = Math.max(...entries.filter((e) => e.version != null).map((e) => e.version));
    fill(table, h("thead", h("tr", ["#", "Version", "Kind", "Result", "When", "Who", "Author", "Message", "Error", ""]
      .map((l) => h("th", { scope: "col" }, l)))),
    h("tbody", entries.map((e) => h("tr", { "data-entry": e.id, class: e.result === "ok" ? "" : "failed" },
      h("td", String(e.id)), h("td", e.version == null ? "—" : String(e.version)), h("td", e.kind),
      h("td", e.result), h("td", when(e.at)), h("td.who", e.who), h("td.author", e.author || ""),
      h("td.message", e.message || ""), h("td.error", e.error || ""),
      h("td.actions", h("button", { type: "button", "aria-label": `view entry ${e.id}`, on: { click: () => view(e) } }, "View"),
        can("admin") && e.version != null && e.result === "ok" && e.version !== current
          ? h("button", { type: "button", "data-action": "rollback", "aria-label": `roll back to version ${e.version}`,
            on: { click: () => rollback(e) } }, "Roll back") : null)))));
    const versions = entries.filter((e) => e.version != null).map((e) => e.version);
    const uniq = [...new Set(versions)];
    for (const [sel, pick] of [[from.input, uniq[1] ?? uniq[0]], [to.input, uniq[0]]]) {
      const was = sel.value;
      fill(sel, uniq.map((v) => h("option", { value: v }, `version ${v}`)));
      sel.value = was && uniq.includes(Number(was)) ? was : String(pick ?? "");
    }
    more.hidden = before == null;
  }

  async function page() {
    try {
      const { body } = await request("GET", "/config/versions", { query: { limit: LIMIT, before } });
      entries.push(...body.entries);
      before = body.next_before;
      draw();
    } catch (err) {
      fill(message, problemBox(err));
    }
  }

  diffBtn.addEventListener("click", async () => {
    const a = Number(from.input.value), b = Number(to.input.value);
    try {
      const [x, y] = await Promise.all([request("GET", `/config/versions/${a}`), request("GET", `/config/versions/${b}`)]);
      fill(detail, h("h2", `Version ${a} → version ${b}`),
        diffView(unified(x.body.config || "", y.body.config || "", `version ${a} haproxy.cfg`, `version ${b} haproxy.cfg`)));
    } catch (err) {
      fill(detail, problemBox(err));
    }
  });
  more.addEventListener("click", page);
  page();
  return null;
}

const AUDIT_COLUMNS = ["#", "When", "What", "Who", "Author", "Target", "Result", "Message", "Error"];

// The audit trail (operator and up; a viewer is told what it needs), 50 lines a page.
function auditSection() {
  const title = h("h2#audit-title", "Audit trail");
  if (!can("operator")) {
    return h("section#audit", { "aria-labelledby": "audit-title" }, title,
      h("p.muted", "The audit trail needs the operator role."));
  }
  const lines = [];
  let before = null;
  const message = h("div", { "aria-live": "polite" });
  const table = h("table.grid", { id: "audit-table" });
  const more = h("button#audit-more", { type: "button", hidden: true }, "Older audit lines");

  function draw() {
    fill(table, h("thead", h("tr", AUDIT_COLUMNS.map((l) => h("th", { scope: "col" }, l)))),
      h("tbody", lines.map((l) => h("tr", { "data-audit": l.id, class: ["changed", "unchanged", "ok"].includes(l.result) ? "" : "failed" },
        h("td", String(l.id)), h("td", when(Date.parse(l.ts) / 1000)), h("td.what", l.what), h("td.who", l.who),
        h("td.author", l.author || ""), h("td.target", l.target || ""), h("td.result", l.result),
        h("td.message", l.message || ""), h("td.error", l.error || "")))));
    more.hidden = before == null;
  }

  async function page() {
    try {
      const { body } = await request("GET", "/audit", { query: { limit: LIMIT, before } });
      lines.push(...body.lines);
      before = body.next_before;
      draw();
    } catch (err) {
      fill(message, problemBox(err));
    }
  }
  more.addEventListener("click", page);
  page();
  return h("section#audit", { "aria-labelledby": "audit-title" }, title,
    h("p.muted", "Every write, refused write, login and token change, newest first."),
    message, h("div.scroll", table), more);
}
