// The public /api/v1 API over the session cookie: every unsafe request carries the
// session's CSRF token (X-CSRF-Token); errors are problem+json, raised as ApiError.
import { h } from "./dom.js";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const RANK = { viewer: 1, operator: 2, admin: 3 };

/** The signed-in session: {role, token_name, csrf_token, expires_at} or null. */
export const session = { current: null };

/** True when the session's role is at least `role` (viewer < operator < admin). */
export function can(role) {
  return Boolean(session.current) && RANK[session.current.role] >= RANK[role];
}

/** An HTTP error answer: status, and the problem+json body (title, detail, errors[]...). */
export class ApiError extends Error {
  constructor(status, problem, etag) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.etag = etag;
  }
}

/** A free-text header value (X-Lbctl-Message/Author) as UTF-8 bytes in a Latin-1 string
 * (fetch only takes Latin-1; the agent decodes UTF-8 back). */
export function headerText(text) {
  return String.fromCharCode(...new TextEncoder().encode(text));
}

/** request(method, path, {json, text, headers, query}) → {status, body, etag, headers}.
 * path is under /api/v1. Raises ApiError for every status ≥ 400. */
export async function request(method, path, opts = {}) {
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  let body;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.text !== undefined) {
    headers["Content-Type"] = "text/plain";
    body = opts.text;
  }
  if (UNSAFE.has(method) && session.current) headers["X-CSRF-Token"] = session.current.csrf_token;
  let url = `/api/v1${path}`;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) if (v != null) q.set(k, String(v));
    if ([...q].length) url += `?${q}`;
  }
  const resp = await fetch(url, { method, headers, body, credentials: "same-origin" });
  const etag = resp.headers.get("ETag");
  const type = resp.headers.get("Content-Type") || "";
  let data = null;
  if (resp.status !== 204) {
    data = type.includes("json") ? await resp.json().catch(() => null) : await resp.text();
  }
  if (resp.status >= 400) {
    const problem = data && typeof data === "object" ? data
      : { title: `HTTP ${resp.status} ${resp.statusText}`, detail: String(data || "").slice(0, 500) };
    if (resp.status === 401 && path !== "/session") onUnauthorized();
    throw new ApiError(resp.status, problem, etag);
  }
  return { status: resp.status, body: data, etag, headers: resp.headers };
}

let unauthorizedHandler = () => {};
function onUnauthorized() { unauthorizedHandler(); }
/** Called when any request answers 401 (the session ended). */
export function setUnauthorizedHandler(fn) { unauthorizedHandler = fn; }

/** The write headers: If-Match (an ETag or a version number), author and message. */
export function writeHeaders({ ifMatch, message, author } = {}) {
  const out = {};
  if (ifMatch != null) out["If-Match"] = /^"/.test(String(ifMatch)) ? String(ifMatch) : `"${ifMatch}"`;
  if (message) out["X-Lbctl-Message"] = headerText(message);
  if (author) out["X-Lbctl-Author"] = headerText(author);
  return out;
}

/** The version number an ETag names ('"7"' → 7). */
export function etagVersion(etag) {
  const m = /"?(\d+)"?/.exec(etag || "");
  return m ? Number(m[1]) : null;
}

/** A problem+json shown to the operator: title, status, detail, each errors[] entry with
 * its field path (loc) and line, and HAProxy's diagnostics. Never a generic message. */
export function problemBox(err) {
  if (!(err instanceof ApiError)) {
    return h("div.problem", { role: "alert" },
      h("strong", "Request failed: "), String(err && err.message ? err.message : err));
  }
  const p = err.problem;
  const items = (p.errors || []).map((e) =>
    h("li", h("code", e.loc), e.line && e.loc !== `line ${e.line}` ? ` (line ${e.line})` : "", ": ", e.message));
  const diags = (p.diagnostics || []).map((d) =>
    h("li", `${d.severity}`, d.line ? ` line ${d.line}` : "", ": ", d.message));
  return h("div.problem", { role: "alert" },
    h("strong", `${p.title || "Error"} (${err.status})`),
    p.detail ? h("p", p.detail) : null,
    items.length ? h("ul", items) : null,
    diags.length ? h("ul", diags) : null,
    p.required_role ? h("p", `Needs the ${p.required_role} role.`) : null,
    p.output ? h("pre.output", p.output) : null);
}
