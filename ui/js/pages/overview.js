// Overview: HAProxy (version, binary, pids, uptime, reloads), the spec version and who
// changed it, a health summary and supervision restarts; refreshed every 3 s.
import { problemBox, request } from "../api.js";
import { ago, clock, duration, fill, h, when } from "../dom.js";

export const TITLE = "Overview";
const EVERY_MS = 3000;

function dl(rows) {
  return h("dl.kv", rows.map(([k, v]) => [h("dt", k), h("dd", v == null || v === "" ? "—" : v)]));
}

function reloadText(r) {
  if (!r) return "none yet";
  return [r.ok ? "ok" : "failed", r.method ? ` (${r.method})` : "",
    r.at ? ` · ${ago(r.at)}` : "", !r.ok && r.output ? ` · ${r.output}` : ""].join("");
}

function view(status, health, last) {
  const hp = status.haproxy || {};
  const sup = status.supervision || {};
  const servers = (health.backends || []).flatMap((b) => b.servers);
  const up = servers.filter((s) => s.status === "UP").length;
  const backendsDown = (health.backends || []).filter((b) => !b.usable).map((b) => b.name);
  return [
    h("section.card", h("h2", "HAProxy"), dl([
      ["Running", hp.running ? "yes" : "no"],
      ["Version", hp.version || status.binary?.version],
      ["Binary", status.binary?.path],
      ["Master pid", hp.master_pid], ["Workers", (hp.worker_pids || []).join(", ")],
      ["Uptime", duration(hp.uptime_s)], ["Reloads", hp.reload_count],
      ["Last reload", reloadText(hp.last_reload)],
    ])),
    h("section.card", h("h2", "Spec"), dl([
      ["Version", status.spec_version],
      ["Changed by", last ? [last.who, last.author ? ` (${last.author})` : ""].join("") : null],
      ["When", last ? `${when(last.at)} (${ago(last.at)})` : null],
      ["Why", last?.message], ["Kind", last?.kind],
    ])),
    h("section.card", h("h2", "Health"), dl([
      ["Overall", health.ok ? "OK" : "NOT OK"],
      ["Backends", `${(health.backends || []).length} (${backendsDown.length} unusable)`],
      ["Servers up", `${up} of ${servers.length}`],
      ["Unusable", backendsDown.slice(0, 10).join(", ") + (backendsDown.length > 10 ? " …" : "")],
    ]),
    (health.reasons || []).length ? h("ul.reasons", health.reasons.map((r) => h("li", r))) : null,
    (health.warnings || []).length ? h("ul.warnings", health.warnings.map((r) => h("li", r))) : null),
    h("section.card", h("h2", "Supervision"), dl([
      ["Enabled", sup.enabled ? "yes" : "no"], ["Restarts", sup.restarts],
      ["Failed restarts", sup.failed_restarts],
      ["Last restart", sup.last_restart ? [when(sup.last_restart.at), " · ", sup.last_restart.reason,
        sup.last_restart.ok ? " · ok" : ` · failed: ${sup.last_restart.error || ""}`].join("") : null],
    ])),
  ];
}

export function render(root) {
  const updated = h("p.updated", { "aria-live": "polite", id: "last-updated" }, "Loading…");
  const body = h("div.cards");
  const error = h("div");
  fill(root, h("h1", TITLE), updated, error, body);
  let timer = null;
  let alive = true;
  async function tick() {
    try {
      const [status, health, versions] = await Promise.all([
        request("GET", "/haproxy"), request("GET", "/health"),
        request("GET", "/config/versions", { query: { limit: 20 } })]);
      const last = versions.body.entries.find((e) => e.version === status.body.spec_version);
      if (!alive) return;
      fill(body, view(status.body, health.body, last));
      fill(error);
      updated.textContent = `Last updated ${clock()}`;
    } catch (err) {
      if (alive) fill(error, problemBox(err));
    }
    if (alive) timer = setTimeout(tick, EVERY_MS);
  }
  tick();
  return () => { alive = false; clearTimeout(timer); };
}
