// Clients (rate limits): per client its prefix, rate, burst, mode, request rate now,
// waiting, delayed so far and 429s sent (GET /api/v1/clients, every second), a chart of
// the last 5 minutes of its request rate against its limit, and reset counters (operator).
import { can, problemBox, request } from "../api.js";
import { rateChart } from "../chart.js";
import { confirmDialog } from "../dialog.js";
import { clock, fill, h, keepFocus } from "../dom.js";

export const TITLE = "Clients";
const EVERY_MS = 1000;
const WINDOW_S = 300;
// Kept across visits of the page, so the chart shows the minutes before it too.
const series = new Map();

const COLUMNS = [
  ["frontend", "Frontend"], ["client", "Client"], ["path_prefix", "Prefix"], ["rate", "Rate /s"],
  ["burst", "Burst"], ["mode", "Mode"], ["request_rate", "Req/s now"], ["waiting", "Waiting"],
  ["delayed_total", "Delayed"], ["rejected_total", "429s"],
];

export function render(root) {
  const updated = h("p.updated", { "aria-live": "polite" }, "Loading…");
  const message = h("div", { "aria-live": "polite" });
  const table = h("table.grid", { id: "clients-table" });
  const charts = h("div.charts");
  fill(root, h("h1", TITLE), updated, message, h("div.scroll", table), h("h2", "Request rate, last 5 minutes"), charts);

  async function reset(c) {
    const yes = await confirmDialog(`Reset the counters of ${c.frontend}/${c.client}?`,
      "Its request rate, delayed and 429 counts start again from zero.", { confirm: "Reset counters" });
    if (!yes) return;
    try {
      const { body } = await request("DELETE", `/clients/${encodeURIComponent(c.client)}/counters`, { query: { frontend: c.frontend } });
      fill(message, h("p.ok", { role: "status" }, `Counters reset: ${body.cleared.map((e) => `${e.frontend}/${e.client}`).join(", ") || c.client}.`));
    } catch (err) {
      fill(message, problemBox(err));
    }
  }

  function draw(body) {
    const now = body.checked_at || Date.now() / 1000;
    for (const c of body.clients) {
      const key = `${c.frontend}/${c.client}`;
      const points = series.get(key) || [];
      points.push({ t: now, rate: c.request_rate ?? 0 });
      while (points.length && points[0].t < now - WINDOW_S) points.shift();
      series.set(key, points);
    }
    fill(table, h("thead", h("tr", COLUMNS.map(([, l]) => h("th", { scope: "col" }, l)),
      can("operator") ? h("th", { scope: "col" }, "Actions") : null)),
    h("tbody", body.clients.map((c) => h("tr", { "data-client": `${c.frontend}/${c.client}` },
      COLUMNS.map(([k]) => h("td", { "data-col": k }, c[k] == null ? "—" : String(c[k]))),
      can("operator") ? h("td", h("button", { type: "button", "data-action": "reset",
        "aria-label": `reset counters of ${c.frontend}/${c.client}`, on: { click: () => reset(c) } }, "Reset counters")) : null))));
    if (!body.clients.length) fill(charts, h("p.muted", "No rate-limited clients in the spec."));
    else {
      fill(charts, body.clients.map((c) => {
        const key = `${c.frontend}/${c.client}`;
        return h("figure.chart-box", rateChart(series.get(key), c.rate,
          { windowS: WINDOW_S, label: `${key}: request rate against its limit of ${c.rate}/s` }),
        h("figcaption", `${key} · limit ${c.rate}/s (${c.mode}) · now ${c.request_rate ?? 0}/s`));
      }));
    }
  }

  let timer = null;
  let alive = true;
  async function tick() {
    try {
      const { body } = await request("GET", "/clients");
      if (!alive) return;
      keepFocus(table, () => draw(body));
      updated.textContent = `Last updated ${clock()}`;
    } catch (err) {
      if (alive) fill(message, problemBox(err));
    }
    if (alive) timer = setTimeout(tick, EVERY_MS);
  }
  tick();
  return () => { alive = false; clearTimeout(timer); };
}
