// Config form: frontends (binds, default backend, routes, clients), backends (balance,
// health check, servers), global and defaults, edited as the spec (GET /config). Plan
// (POST /config/plan) shows the summary and the unified diff of haproxy.cfg before Save
// (PUT /config with If-Match); errors[].loc of a 422 appear beside their inputs.
import { can, etagVersion, problemBox, request, writeHeaders } from "../api.js";
import { diffView, unified } from "../diff.js";
import { fill, h, newId } from "../dom.js";
import { getPath, setPath } from "../paths.js";

export const TITLE = "Config form";
const BALANCE = ["roundrobin", "static-rr", "leastconn", "first", "source", "uri"];

const NEW = {
  frontend: (i) => ({ name: `frontend${i}`, bind: [], routes: [], clients: [] }),
  backend: (i) => ({ name: `backend${i}`, balance: "roundrobin", health_check: { method: "HEAD", path: "/" }, servers: [] }),
  server: (i) => ({ name: `s${i}`, address: "127.0.0.1", port: 8080, weight: 1, state: "ready", backup: false, check: true }),
  client: (i) => ({ name: `client${i}`, path_prefix: `/client${i}`, rate: 10, burst: 0, mode: "smooth" }),
  route: () => ({ path_prefix: "/", backend: "" }),
};

export function render(root) {
  const editable = can("admin");
  const st = { spec: null, etag: null, base: null, errors: new Map() };
  const form = h("form#config-form", { novalidate: true });
  const result = h("div#config-result", { "aria-live": "polite" });
  const planOut = h("section#config-plan", { "aria-live": "polite" });
  const msgId = newId();
  const message = h("input", { id: msgId, maxlength: 500 });
  const planBtn = h("button#config-plan-btn", { type: "button" }, "Plan");
  const saveBtn = h("button#config-save.primary", { type: "button", disabled: true }, "Save");
  const version = h("span.badge");
  fill(root, h("h1", TITLE, " ", version),
    editable ? null : h("p.muted", "Read only: changing the spec needs the admin role."),
    form, result,
    editable ? h("div.toolbar.sticky", h("div.field", h("label", { for: msgId }, "Change message"), message), planBtn, saveBtn) : null,
    planOut);

  // --- inputs bound to spec paths (loc: "frontends[0].clients[1].rate") ---
  function input(label, loc, type = "text", opts = {}) {
    const id = newId();
    const value = getPath(st.spec, loc);
    let el;
    if (type === "select") {
      el = h("select", { id, "data-loc": loc, disabled: !editable },
        (opts.nullable ? [""] : []).concat(opts.options).map((o) => h("option", { value: o }, o === "" ? "(none)" : o)));
      el.value = value == null ? "" : String(value);
    } else if (type === "checkbox") {
      el = h("input", { id, type, "data-loc": loc, checked: Boolean(value), disabled: !editable });
    } else {
      el = h("input", { id, type, "data-loc": loc, value: value ?? "", readonly: !editable,
        min: opts.min, max: opts.max, inputmode: type === "number" ? "numeric" : null });
    }
    el.addEventListener("change", () => {
      let v;
      if (type === "checkbox") v = el.checked;
      else if (type === "number") v = el.value === "" ? null : Number(el.value);
      else v = el.value === "" && opts.nullable ? null : el.value;
      setPath(st.spec, loc, v);
      saveBtn.disabled = true;
    });
    const err = st.errors.get(loc);
    const errId = `${id}-err`;
    if (err) { el.setAttribute("aria-invalid", "true"); el.setAttribute("aria-describedby", errId); }
    return h(`div.field${type === "checkbox" ? ".check" : ""}`, h("label", { for: id }, label), el,
      err ? h("span.field-error", { id: errId, "data-error-for": loc }, err) : null);
  }

  function button(label, fn, aria) {
    return editable ? h("button.small", { type: "button", "aria-label": aria || label,
      on: { click: () => { fn(); saveBtn.disabled = true; draw(); } } }, label) : null;
  }

  function listOf(loc, kind, label) {
    const list = getPath(st.spec, loc);
    return button(`Add ${label}`, () => list.push(NEW[kind](list.length + 1)), `add ${label} to ${loc}`);
  }

  function removeAt(loc, i, what) {
    return button("Remove", () => getPath(st.spec, loc).splice(i, 1), `remove ${what}`);
  }

  function rows(loc, kind, label, cols) {
    const list = getPath(st.spec, loc) || [];
    return h("div.rows", list.map((_, i) => h("div.row", { "data-loc": `${loc}[${i}]` },
      cols.map(([l, key, type, opts]) => input(l, `${loc}[${i}].${key}`, type, opts)),
      removeAt(loc, i, `${label} ${i + 1} of ${loc}`))), listOf(loc, kind, label));
  }

  function frontend(f, i) {
    const at = `frontends[${i}]`;
    const backends = st.spec.backends.map((b) => b.name);
    return h("fieldset.block", { "data-loc": at }, h("legend", `Frontend ${f.name}`),
      h("div.grid3", input("Name", `${at}.name`), input("Default backend", `${at}.default_backend`, "select", { options: backends, nullable: true }),
        input("Max connections", `${at}.maxconn`, "number", { min: 1 })),
      h("h4", "Binds"),
      h("div.rows", f.bind.map((b, j) => typeof b === "string"
        ? h("div.row", input(`Bind ${j + 1} (host:port)`, `${at}.bind[${j}]`), removeAt(`${at}.bind`, j, `bind ${j + 1} of ${f.name}`))
        : h("div.row", h("code", `${b.address}:${b.port}${b.tls ? " (TLS)" : ""}`), removeAt(`${at}.bind`, j, `bind ${j + 1} of ${f.name}`))),
      button("Add bind", () => f.bind.push("127.0.0.1:8080"), `add bind to ${f.name}`)),
      errorFor(`${at}.bind`),
      h("h4", "Routes (path prefix → backend)"),
      rows(`${at}.routes`, "route", "route", [["Path prefix", "path_prefix"], ["Backend", "backend", "select", { options: backends }]]),
      h("h4", "Clients (rate limits)"),
      rows(`${at}.clients`, "client", "client", [["Name", "name"], ["Path prefix", "path_prefix"],
        ["Rate (req/s)", "rate", "number", { min: 1 }], ["Burst", "burst", "number", { min: 0 }],
        ["Mode", "mode", "select", { options: ["smooth", "reject"] }]]),
      (f.extra || []).length ? h("p.muted", `${f.extra.length} extra line(s): edit them in the source view.`) : null,
      h("div.row-end", removeAt("frontends", i, `frontend ${f.name}`)));
  }

  function backend(b, i) {
    const at = `backends[${i}]`;
    const hc = b.health_check;
    return h("fieldset.block", { "data-loc": at }, h("legend", `Backend ${b.name}`),
      h("div.grid3", input("Name", `${at}.name`), input("Balance", `${at}.balance`, "select", { options: BALANCE })),
      h("h4", "Health check"),
      hc ? h("div.grid3", input("Method", `${at}.health_check.method`, "select", { options: ["HEAD", "GET", "OPTIONS"] }),
        input("Path", `${at}.health_check.path`), input("Expected status", `${at}.health_check.expect_status`, "number", { min: 100, max: 599 }),
        input("Interval (ms)", `${at}.health_check.inter`, "number", { min: 1 }), input("Rise", `${at}.health_check.rise`, "number", { min: 1, max: 100 }),
        input("Fall", `${at}.health_check.fall`, "number", { min: 1, max: 100 }),
        button("No health check", () => { b.health_check = null; }, `remove the health check of ${b.name}`))
        : h("p", "No HTTP health check. ", button("Add health check", () => { b.health_check = { method: "HEAD", path: "/" }; }, `add a health check to ${b.name}`)),
      errorFor(`${at}.health_check`),
      h("h4", "Servers"),
      rows(`${at}.servers`, "server", "server", [["Name", "name"], ["Address", "address"], ["Port", "port", "number", { min: 1, max: 65535 }],
        ["Weight", "weight", "number", { min: 0, max: 256 }], ["State", "state", "select", { options: ["ready", "drain", "maint"] }],
        ["Backup", "backup", "checkbox"], ["Check", "check", "checkbox"]]),
      (b.extra || []).length ? h("p.muted", `${b.extra.length} extra line(s): edit them in the source view.`) : null,
      h("div.row-end", removeAt("backends", i, `backend ${b.name}`)));
  }

  function errorFor(loc) {
    const err = st.errors.get(loc);
    return err ? h("p.field-error", { "data-error-for": loc }, err) : null;
  }

  function draw() {
    const s = st.spec;
    s.global = s.global || {};
    s.defaults = s.defaults || {};
    // One defaults mapping, or (imported configs) a list of defaults sections, named for `from`.
    const sections = Array.isArray(s.defaults) ? s.defaults.map((d, i) => [d, `defaults[${i}]`]) : [[s.defaults, "defaults"]];
    const defaults = sections.map(([d, at]) => {
      d.timeouts = d.timeouts || {};
      return h("fieldset.block", h("legend", d.name && sections.length > 1 ? `Defaults ${d.name}` : "Defaults"),
        h("div.grid3", input("Mode", `${at}.mode`, "select", { options: ["http", "tcp"] }),
          input("Retries", `${at}.retries`, "number", { min: 0 }),
          ["connect", "client", "server", "queue", "http_request"].map((t) => input(`Timeout ${t.replace("_", " ")} (ms)`, `${at}.timeouts.${t}`, "number", { min: 0 }))));
    });
    fill(form,
      h("fieldset.block", h("legend", "Global"), h("div.grid3", input("Max connections", "global.maxconn", "number", { min: 1 }),
        input("Hard stop after (ms)", "global.hard_stop_after", "number"), input("Peers port", "global.peers_port", "number", { min: 1, max: 65535 }))),
      defaults,
      h("h2", "Frontends"), s.frontends.map(frontend), button("Add frontend", () => s.frontends.push(NEW.frontend(s.frontends.length + 1))),
      h("h2", "Backends"), s.backends.map(backend), button("Add backend", () => s.backends.push(NEW.backend(s.backends.length + 1))));
    const unplaced = [...st.errors].filter(([loc]) => !form.querySelector(`[data-error-for="${CSS.escape(loc)}"]`));
    if (unplaced.length) {
      form.append(h("div.problem", { role: "alert" }, h("strong", "Also wrong:"),
        h("ul", unplaced.map(([loc, m]) => h("li", h("code", loc), `: ${m}`)))));
    }
  }

  function setErrors(err) {
    st.errors = new Map();
    for (const e of (err && err.problem && err.problem.errors) || []) {
      st.errors.set(e.loc, st.errors.has(e.loc) ? `${st.errors.get(e.loc)}; ${e.message}` : e.message);
    }
    draw();
    const first = form.querySelector("[aria-invalid=true]");
    if (first) first.focus();
  }

  function summary(s) {
    const items = [];
    for (const [kind, ch] of Object.entries(s)) {
      if (kind === "settings") { for (const x of ch) items.push(h("li", `setting: ${typeof x === "string" ? x : JSON.stringify(x)}`)); continue; }
      for (const [what, names] of Object.entries(ch)) for (const n of names) items.push(h("li", `${what} ${kind.replace(/s$/, "")} ${n}`));
    }
    return items.length ? h("ul#plan-summary", items) : h("p#plan-summary", "No change.");
  }

  // 412: someone saved meanwhile. Keep the form, show what they changed in the spec, and
  // take their version as the base: Plan then shows this form against the live config, and
  // Save writes it over theirs, deliberately.
  async function stale(err) {
    saveBtn.disabled = true;
    try {
      const live = await request("GET", "/config");
      const before = st.base;
      st.base = JSON.stringify(live.body.spec, null, 2);
      st.etag = live.etag;
      version.textContent = `version ${etagVersion(live.etag)}`;
      fill(result, h("div.problem#config-stale", { role: "alert" },
        h("strong", `Someone else saved version ${etagVersion(live.etag)} while you were editing.`),
        h("p", err.problem.detail || ""),
        h("p", "Your form is kept. What they changed in the spec:"),
        diffView(unified(before, st.base, "the version you edited", `live version ${etagVersion(live.etag)}`)),
        h("p", "Press Plan to see your form against the live config, then Save to apply it over theirs.")));
    } catch (again) {
      fill(result, problemBox(err), problemBox(again));
    }
  }

  async function load() {
    try {
      const resp = await request("GET", "/config");
      st.spec = resp.body.spec;
      st.base = JSON.stringify(resp.body.spec, null, 2);
      st.etag = resp.etag;
      version.textContent = `version ${etagVersion(resp.etag)}`;
      st.errors = new Map();
      draw();
    } catch (err) {
      fill(result, problemBox(err));
    }
  }

  planBtn.addEventListener("click", async () => {
    fill(planOut); fill(result, h("p.muted", "Planning…"));
    try {
      const { body } = await request("POST", "/config/plan", { json: st.spec });
      setErrors(null);
      fill(result);
      fill(planOut, h("h2", "Plan"), summary(body.summary), diffView(body.diff));
      saveBtn.disabled = !body.changed;
    } catch (err) {
      setErrors(err);
      fill(result, problemBox(err));
    }
  });

  saveBtn.addEventListener("click", async () => {
    fill(result, h("p.muted", "Saving…"));
    try {
      const { body } = await request("PUT", "/config", { json: st.spec, headers: writeHeaders({ ifMatch: st.etag, message: message.value }) });
      await load();
      fill(planOut);
      fill(result, h("p.ok", { role: "status" }, body.changed ? `Saved: version ${body.version} is live.` : `Nothing changed: version ${body.version}.`));
    } catch (err) {
      if (err.status === 412) { await stale(err); return; }
      setErrors(err);
      fill(result, problemBox(err));
    }
    saveBtn.disabled = true;
  });

  load();
  return null;
}
