// Source view, the seed's workflow: the live haproxy.cfg with line numbers; Validate
// (PUT /config/source?dry_run=true) shows diagnostics at their lines, a click jumps there;
// Validate and save (PUT with If-Match) shows the new version or HAProxy's refusal; a stale
// edit (412) shows what changed meanwhile and keeps the operator's text.
import { can, etagVersion, problemBox, request, writeHeaders } from "../api.js";
import { diffView, unified } from "../diff.js";
import { field, fill, h } from "../dom.js";

export const TITLE = "Source view";

/** The diagnostics of an answer or a problem as [{line, severity, message, text, field}]. */
function diagnosticsOf(data) {
  const out = (data.diagnostics || []).map((d) => ({ ...d }));
  for (const e of data.errors || []) {
    out.push({ line: e.line, severity: "error", message: e.message,
      field: /^line \d+$/.test(e.loc) ? null : e.loc, text: e.directive });
  }
  if (data.line && !out.some((d) => d.line === data.line)) {
    out.push({ line: data.line, severity: "error", message: data.detail || data.title });
  }
  return out;
}

export function render(root) {
  const admin = can("admin");
  const state = { etag: null, base: "", marked: new Set() };
  const gutter = h("pre.gutter", { "aria-hidden": "true" });
  const text = h("textarea#source-text", { spellcheck: "false", wrap: "off", autocapitalize: "off",
    readonly: !admin, "aria-label": "haproxy.cfg source" });
  const version = h("span#source-version.badge");
  const result = h("div#source-result", { "aria-live": "polite" });
  const diags = h("div#source-diagnostics");
  const message = field("Change message", "input", { id: "source-message", maxlength: 500 });
  const author = field("Author", "input", { id: "source-author", maxlength: 200 });
  const validate = h("button#source-validate", { type: "button" }, "Validate");
  const save = h("button#source-save.primary", { type: "button" }, "Validate and save");
  const reload = h("button#source-reload", { type: "button" }, "Reload the live text");
  fill(root, h("h1", TITLE, " ", version),
    admin ? null : h("p.muted", "Read only: saving needs the admin role."),
    h("div.editor", gutter, text),
    admin ? h("div.toolbar", message.wrap, author.wrap) : null,
    h("div.toolbar", admin ? [validate, save] : null, reload),
    result, diags);

  // The line numbers: one text node per run of plain lines, a span per marked line (a
  // 80,000-line config stays one cheap redraw per change of the line count).
  function numbers() {
    const n = text.value.split("\n").length;
    const parts = [];
    let run = [];
    for (let i = 1; i <= n; i += 1) {
      if (state.marked.has(i)) {
        if (run.length) { parts.push(run.join("")); run = []; }
        parts.push(h("span.bad", { "data-line": i }, `${i}\n`));
      } else {
        run.push(`${i}\n`);
      }
    }
    if (run.length) parts.push(run.join(""));
    fill(gutter, parts);
    gutter.scrollTop = text.scrollTop;
  }
  let lines = 0;
  text.addEventListener("input", () => {
    const n = text.value.split("\n").length;
    if (n !== lines) { lines = n; numbers(); }
  });
  text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });

  function jump(line) {
    const all = text.value.split("\n");
    const start = all.slice(0, line - 1).reduce((s, l) => s + l.length + 1, 0);
    const end = start + (all[line - 1] || "").length;
    text.focus();
    text.setSelectionRange(start, end);
    const lh = parseFloat(getComputedStyle(text).lineHeight) || 18;
    text.scrollTop = Math.max(0, (line - 3) * lh);
    gutter.scrollTop = text.scrollTop;
  }

  function showDiagnostics(list) {
    state.marked = new Set(list.filter((d) => d.line).map((d) => d.line));
    numbers();
    if (!list.length) { fill(diags); return; }
    fill(diags, h("h2", "Diagnostics"), h("ol.diagnostics", list.map((d) => h("li",
      d.line ? h("button.linkish", { type: "button", "data-line": d.line,
        on: { click: () => jump(d.line) } }, `line ${d.line}`) : h("span", "no line"),
      " ", h(`span.sev.sev-${d.severity}`, d.severity), " ", h("span.msg", d.message),
      d.field ? [" ", h("code", d.field)] : null,
      d.text ? h("pre.line-text", d.text) : null))));
  }

  async function load(keepText) {
    try {
      const resp = await request("GET", "/config/source", { headers: { Accept: "text/plain" } });
      state.etag = resp.etag;
      state.base = resp.body;
      version.textContent = `version ${etagVersion(resp.etag)}`;
      if (!keepText) { text.value = resp.body; lines = 0; showDiagnostics([]); }
      lines = text.value.split("\n").length;
      numbers();
      return resp;
    } catch (err) {
      fill(result, problemBox(err));
      return null;
    }
  }

  async function doValidate() {
    fill(result, h("p.muted", "Validating…"));
    try {
      const { body } = await request("PUT", "/config/source", { text: text.value, query: { dry_run: "true" } });
      showDiagnostics(diagnosticsOf(body));
      fill(result, body.ok
        ? h("p.ok", { role: "status" }, `Valid: HAProxy accepts it. ${body.changed ? "Saving makes a new version." : "Same as the live config: saving changes nothing."}`)
        : h("div.problem", { role: "alert" }, h("strong", "HAProxy rejects this config."), " See the diagnostics below."));
    } catch (err) {
      showDiagnostics(err.problem ? diagnosticsOf(err.problem) : []);
      fill(result, problemBox(err));
    }
  }

  async function stale(err) {
    const mine = text.value;
    const before = state.base;
    const live = await load(true);
    text.value = mine;
    if (!live) return;
    const now = etagVersion(live.etag);
    fill(result, h("div.problem#stale", { role: "alert" },
      h("strong", `Someone else saved version ${now} while you were editing.`),
      h("p", err.problem.detail || ""),
      h("p", "Your text is kept in the editor. What changed in the live config since you opened it:"),
      diffView(unified(before, live.body, "the version you edited", `live version ${now}`)),
      h("p", `Press "Validate and save" again to save your text over version ${now}, or "Reload the live text" to drop your edit.`)));
  }

  async function doSave() {
    fill(result, h("p.muted", "Validating and saving…"));
    try {
      const resp = await request("PUT", "/config/source", { text: text.value,
        headers: writeHeaders({ ifMatch: state.etag, message: message.input.value, author: author.input.value }) });
      const b = resp.body;
      showDiagnostics(diagnosticsOf(b));
      await load(false);
      fill(result, h("p.ok#save-ok", { role: "status" }, b.changed
        ? `Saved: version ${b.version} is live${b.reload ? ` (reload ${b.reload.ok ? "ok" : "failed"}, ${b.reload.method})` : ""}.`
        : `Nothing changed: version ${b.version} is still live.`));
    } catch (err) {
      if (err.status === 412) { await stale(err); return; }
      showDiagnostics(err.problem ? diagnosticsOf(err.problem) : []);
      const live = err.problem && err.problem.current_version;
      fill(result, problemBox(err), h("p", `Nothing was saved: ${live ? `version ${live}` : "the old config"} is still live.`));
    }
  }

  validate.addEventListener("click", doValidate);
  save.addEventListener("click", doSave);
  reload.addEventListener("click", () => { fill(result); load(false); });
  load(false);
  return null;
}
