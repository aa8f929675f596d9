// Element building without innerHTML: every piece of data goes in as text (textContent),
// so a change message or extra line holding <script> or <img onerror> shows as text.

/** h("tag.class#id", {attrs, on: {event: fn}}, ...children) → HTMLElement.
 * children: strings (text nodes), nodes, arrays, null/false (skipped). Attributes are set
 * with setAttribute except `class`, `for`, boolean `true` (empty attribute) and `false`/null
 * (omitted). */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement(m[1] || "div");
  for (const part of (m[2] || "").match(/[.#][\w-]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1)); else el.id = part.slice(1);
  }
  if (attrs != null && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "on") {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === "class") {
      for (const c of String(v).split(/\s+/).filter(Boolean)) el.classList.add(c);
    } else if (k === "value") {
      el.value = v == null ? "" : String(v);
    } else if (k === "checked" || k === "disabled" || k === "selected" || k === "hidden") {
      el[k] = Boolean(v);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else if (v !== false && v != null) {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

/** Append children (see h) to el. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** A fresh element id (labels need one). */
export function newId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled input: returns {wrap, input}. kind: "input" | "select" | "textarea";
 * options of a select: values, or [value, label] pairs. */
export function field(label, kind, attrs = {}, options = []) {
  const id = newId();
  const input = h(kind, { id, ...attrs }, options.map((o) => {
    const [value, text] = Array.isArray(o) ? o : [o, o];
    return h("option", { value, selected: String(attrs.value) === String(value) }, text);
  }));
  if (kind === "select" && attrs.value != null) input.value = String(attrs.value);
  const wrap = h("div.field", h("label", { for: id }, label), input);
  return { wrap, input };
}

/** "12 s ago"-style age of a UNIX time in seconds. */
export function ago(unixS) {
  if (unixS == null) return "—";
  const s = Math.max(0, Math.round(Date.now() / 1000 - unixS));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** A UNIX time in seconds as local "YYYY-MM-DD HH:MM:SS". */
export function when(unixS) {
  if (unixS == null) return "—";
  const d = new Date(unixS * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A duration in seconds as "3 h 2 min" / "41 s". */
export function duration(s) {
  if (s == null) return "—";
  s = Math.round(s);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** A <time>-free "last updated HH:MM:SS" text. */
export function clock(date = new Date()) {
  const p = (n) => String(n).padStart(2, "0");
  return `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

/** Run redraw() (which replaces children of container) and give the focus back to the
 * control with the same aria-label or id, so a live refresh never steals the keyboard. */
export function keepFocus(container, redraw) {
  const active = document.activeElement;
  const key = active && container.contains(active)
    ? (active.getAttribute("aria-label") || active.id) : null;
  redraw();
  if (!key) return;
  for (const el of container.querySelectorAll("[aria-label], [id]")) {
    if ((el.getAttribute("aria-label") || el.id) === key) { el.focus(); break; }
  }
}
