// A small SVG line chart (no library): request rate against the limit, last few minutes.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** rateChart(points, limit, {windowS, label}) → <svg>: points [{t (UNIX s), rate (req/s)}],
 * the limit (req/s) as a dashed line; the x axis is the last windowS seconds. */
export function rateChart(points, limit, { windowS = 300, label = "" } = {}) {
  const W = 480, H = 120, L = 36, B = 18, T = 8, R = 8;
  const now = Date.now() / 1000;
  const top = Math.max(limit || 0, ...points.map((p) => p.rate), 1) * 1.2;
  const x = (t) => L + ((t - (now - windowS)) / windowS) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": label });
  const title = svg("title", {});
  title.textContent = label;
  root.append(title);
  root.append(svg("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), class: "axis" }));
  for (const v of [0, top / 1.2 / 2, top / 1.2].filter((v, i, a) => a.indexOf(v) === i)) {
    const t = svg("text", { x: L - 4, y: y(v) + 4, class: "tick", "text-anchor": "end" });
    t.textContent = String(Math.round(v));
    root.append(t);
  }
  const xl = svg("text", { x: W - R, y: H - 4, class: "tick", "text-anchor": "end" });
  xl.textContent = "now";
  const xs = svg("text", { x: L, y: H - 4, class: "tick" });
  xs.textContent = `−${Math.round(windowS / 60)} min`;
  root.append(xl, xs);
  if (limit) root.append(svg("line", { x1: L, y1: y(limit), x2: W - R, y2: y(limit), class: "limit" }));
  const shown = points.filter((p) => p.t >= now - windowS);
  if (shown.length) {
    const d = shown.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.rate).toFixed(1)}`).join(" ");
    root.append(svg("path", { d, class: "rate" }));
  }
  return root;
}
