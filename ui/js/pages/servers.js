// Backends and servers: every server's health and stats (GET /api/v1/health), filtered,
// sorted and paged (100 rows a page, so 10,000 servers paint at once); drain / ready /
// maint / weight (operator) at runtime, confirmed first (PUT .../servers/{s}/state).
import { can, problemBox, request, writeHeaders } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { clock, duration, field, fill, h, keepFocus } from "../dom.js";

export const TITLE = "Backends and servers";
const PAGE = 100;
// Refresh every 5 s, or 10 times as long as the last answer took (10,000 servers: ~0.7 s),
// so a big fleet's page never keeps the agent busy.
const EVERY_MS = 5000;
const COLUMNS = [
  ["backend", "Backend"], ["server", "Server"], ["status", "Status"],
  ["check_status", "Check"], ["check_duration_ms", "Check ms"], ["last_change_s", "Last change"],
  ["weight", "Weight"], ["current_sessions", "Sessions"], ["queue", "Queue"],
  ["request_rate", "Req/s"], ["http_5xx", "5xx"],
];

function cell(row, key) {
  const v = row[key];
  if (key === "last_change_s") return v == null ? "—" : `${duration(v)} ago`;
  return v == null ? "—" : String(v);
}

export function render(root) {
  const state = { rows: [], filter: "", status: "", sort: "backend", desc: false, page: 0 };
  const updated = h("p.updated", { "aria-live": "polite" }, "Loading…");
  const message = h("div", { "aria-live": "polite" });
  const filter = field("Filter (backend or server)", "input", { type: "search", id: "server-filter" });
  const status = field("Status", "select", { id: "server-status" }, [["", "any"], ["unusable", "taking no traffic"], "UP", "DOWN", "DRAIN", "MAINT", "NOLB"]);
  const count = h("span.count");
  const table = h("table.grid", { id: "servers-table" });
  const pager = h("nav.pager", { "aria-label": "Pages of servers" });
  fill(root, h("h1", TITLE), updated, message,
    h("div.toolbar", filter.wrap, status.wrap, count), h("div.scroll", table), pager);

  filter.input.addEventListener("input", () => { state.filter = filter.input.value.trim().toLowerCase(); state.page = 0; draw(); });
  status.input.addEventListener("change", () => { state.status = status.input.value; state.page = 0; draw(); });

  function visible() {
    let rows = state.rows;
    if (state.filter) {
      rows = rows.filter((r) => r.backend.toLowerCase().includes(state.filter) ||
        r.server.toLowerCase().includes(state.filter));
    }
    if (state.status === "unusable") rows = rows.filter((r) => !r.usable);
    else if (state.status) rows = rows.filter((r) => r.status.toUpperCase().startsWith(state.status));
    const k = state.sort;
    const sign = state.desc ? -1 : 1;
    return rows.slice().sort((a, b) => {
      const x = a[k], y = b[k];
      if (x === y) return 0;
      if (x == null) return 1;
      if (y == null) return -1;
      return (typeof x === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true })) * sign;
    });
  }

  function head() {
    return h("thead", h("tr", COLUMNS.map(([key, label]) => {
      const sorted = state.sort === key;
      return h("th", { scope: "col", "aria-sort": sorted ? (state.desc ? "descending" : "ascending") : "none" },
        h("button.sort", { type: "button", on: { click: () => {
          state.desc = sorted ? !state.desc : false; state.sort = key; draw();
        } } }, label, sorted ? (state.desc ? " ▼" : " ▲") : ""));
    }), can("operator") ? h("th", { scope: "col" }, "Actions") : null));
  }

  function actions(row) {
    const act = (label, body, text) => h("button", { type: "button", "data-action": label,
      "aria-label": `${label} ${row.backend}/${row.server}`,
      on: { click: () => change(row, body, text) } }, label);
    return h("td.actions",
      act("drain", { state: "drain" }, "No new traffic is sent to it; sessions in flight finish."),
      act("ready", { state: "ready" }, "It takes traffic again."),
      act("maint", { state: "maint" }, "All traffic and health checks stop."),
      h("button", { type: "button", "data-action": "weight", "aria-label": `weight ${row.backend}/${row.server}`,
        on: { click: () => weight(row) } }, "weight…"));
  }

  function draw() {
    const rows = visible();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const shown = rows.slice(state.page * PAGE, (state.page + 1) * PAGE);
    count.textContent = `${rows.length} of ${state.rows.length} servers`;
    fill(table, head(), h("tbody", shown.map((r) => h("tr", {
      "data-server": `${r.backend}/${r.server}`, class: r.usable ? "" : "unusable" },
    COLUMNS.map(([key]) => h(key === "status" ? `td.status.s-${r.status.split(" ")[0].toLowerCase()}` : "td", cell(r, key))),
    can("operator") ? actions(r) : null))));
    const go = (p, label) => h("button", { type: "button", disabled: p < 0 || p >= pages || p === state.page,
      on: { click: () => { state.page = p; draw(); } } }, label);
    fill(pager, go(0, "« First"), go(state.page - 1, "‹ Previous"),
      h("span", ` Page ${state.page + 1} of ${pages} `), go(state.page + 1, "Next ›"), go(pages - 1, "Last »"));
  }

  async function apply(row, body, what) {
    try {
      const status = await request("GET", "/haproxy");
      const out = await request("PUT", `/backends/${encodeURIComponent(row.backend)}/servers/${encodeURIComponent(row.server)}/state`,
        { json: body, headers: writeHeaders({ ifMatch: status.body.spec_version, message: `${what} from the UI` }) });
      const s = out.body.server;
      fill(message, h("p.ok", { role: "status" }, `${s.backend}/${s.server}: ${s.state}, weight ${s.runtime_weight ?? s.weight}, ` +
        `status ${s.status} (version ${out.body.version}, applied at runtime, no reload).`));
      await load();
    } catch (err) {
      fill(message, problemBox(err));
    }
  }

  async function change(row, body, text) {
    if (await confirmDialog(`Set ${row.backend}/${row.server} to ${body.state}?`, text, { confirm: `Set ${body.state}` })) {
      await apply(row, body, body.state);
    }
  }

  async function weight(row) {
    const value = await confirmDialog(`Weight of ${row.backend}/${row.server}`, "0 to 256; applied at runtime.",
      { confirm: "Set weight", input: { label: "Weight", type: "number", min: 0, max: 256, value: row.weight ?? 1 } });
    if (value !== false) await apply(row, { weight: Number(value) }, `weight ${value}`);
  }

  let timer = null;
  let alive = true;
  async function load() {
    try {
      const { body } = await request("GET", "/health");
      if (!alive) return;
      state.rows = (body.backends || []).flatMap((b) => b.servers);
      updated.textContent = `Last updated ${clock()} · ${(body.backends || []).length} backends`;
      keepFocus(root, draw);
    } catch (err) {
      if (alive) fill(message, problemBox(err));
    }
  }
  async function tick() {
    const t0 = performance.now();
    await load();
    if (alive) timer = setTimeout(tick, Math.max(EVERY_MS, 10 * (performance.now() - t0)));
  }
  tick();
  return () => { alive = false; clearTimeout(timer); };
}
