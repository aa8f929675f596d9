// Overview: HAProxy (version, binary, pids, uptime, reloads), the spec version and who
// changed it, a health summary, supervision restarts and the fleet (GET /api/v1/fleet: one
// line on a single agent, a table of nodes with --fleet); refreshed every 3 s.
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

function applyText(r) {
  if (!r) return "none yet";
  return [r.result, ` (v${r.version})`, r.reload_ok === false ? " · reload failed" : "",
    r.at ? ` · ${ago(r.at)}` : "", r.error ? ` · ${r.error}` : ""].join("");
}

function nodeRow(n, fleet) {
  const applied = n.applied_version == null ? "—" : String(n.applied_version);
  const cls = [!n.live ? "down" : "", n.lagging ? "lagging" : "",
    n.live && n.last_result && !n.last_result.ok ? "failed" : ""].filter(Boolean).join(" ");
  return h("tr", { "data-node": n.name, class: cls },
    h("td", { "data-col": "name" }, n.name, n.name === fleet.node ? " (this node)" : ""),
    h("td", { "data-col": "live", class: n.live ? "s-up" : "s-down" }, n.live ? "yes" : "no (lease expired)"),
    h("td", { "data-col": "applied" }, applied,
      n.lagging ? h("span.lag", ` lagging: committed ${fleet.committed_version}`) : null),
    h("td", { "data-col": "last_result", class: "message" }, applyText(n.last_result)),
    // A node that is not live shows its last report's health, muted: it may be stale.
    h("td", { "data-col": "health", class: !n.live ? "muted" : n.healthy ? "s-up" : "s-down" },
      n.healthy ? "healthy" : ["unhealthy", ...(n.reasons || [])].join(": "),
      n.live ? "" : " (last report)"),
    h("td", { "data-col": "haproxy" }, n.haproxy || "—"),
    h("td", { "data-col": "agent" }, n.agent || "—"),
    h("td", { "data-col": "reported" }, ago(n.reported_at)));
}

/** The fleet card: one line on a single agent; with --fleet the summary and every node. */
function fleetView(fleet, err) {
  const head = h("h2", "Fleet");
  if (err) return h("section.card.fleet#fleet", head, problemBox(err));
  if (fleet.mode !== "fleet") {
    return h("section.card.fleet#fleet", { "data-mode": "single" }, head,
      h("p#fleet-mode", "Single node: this agent alone (started without --fleet)."));
  }
  const s = fleet.summary;
  const etcd = fleet.etcd || {};
  const problems = [["lagging", s.lagging], ["unhealthy", s.unhealthy], ["last apply failed", s.failed]]
    .filter(([, names]) => names.length).map(([what, names]) => `${what}: ${names.join(", ")}`);
  if (!etcd.reachable) problems.unshift("etcd unreachable");
  return h("section.card.fleet#fleet", { "data-mode": "fleet" }, head, dl([
    ["Fleet", fleet.fleet], ["This node", fleet.node],
    ["Committed version", h("span#fleet-committed", fleet.committed_version == null
      ? "none yet (nothing written through the fleet)" : String(fleet.committed_version))],
    ["etcd", etcd.reachable ? `${etcd.endpoint} · reachable`
      : `${etcd.endpoint} · unreachable${etcd.down_since ? ` since ${when(etcd.down_since)}` : ""}` +
        `${etcd.error ? ` · ${etcd.error}` : ""}`],
    ["Summary", h("span#fleet-summary", { class: s.ok ? "ok" : "not-ok" },
      `${s.live} of ${s.nodes} live · ${s.ok ? "OK" : `NOT OK (${problems.join("; ")})`}`)],
  ]), h("div.scroll", h("table.grid#fleet-table",
    h("thead", h("tr", ["Node", "Live", "Applied version", "Last apply", "Health", "HAProxy",
      "Agent", "Reported"].map((l) => h("th", { scope: "col" }, l)))),
    h("tbody", fleet.nodes.map((n) => nodeRow(n, fleet))))));
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
      const [status, health, versions, fleet] = await Promise.all([
        request("GET", "/haproxy"), request("GET", "/health"),
        request("GET", "/config/versions", { query: { limit: 20 } }),
        // A fleet view that fails shows its problem in the fleet card only.
        request("GET", "/fleet").then((r) => [r.body, null], (e) => [null, e])]);
      const last = versions.body.entries.find((e) => e.version === status.body.spec_version);
      if (!alive) return;
      fill(body, view(status.body, health.body, last), fleetView(...fleet));
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
