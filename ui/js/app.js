// The admin UI shell: session (login, reload recovery, logout), hash routing, pages.
import { ApiError, can, problemBox, request, session, setUnauthorizedHandler } from "./api.js";
import { fill, h } from "./dom.js";
import * as overview from "./pages/overview.js";
import * as servers from "./pages/servers.js";
import * as clients from "./pages/clients.js";
import * as config from "./pages/config.js";
import * as source from "./pages/source.js";
import * as history from "./pages/history.js";
import * as tokens from "./pages/tokens.js";

const PAGES = { overview, servers, clients, config, source, history, tokens };
const $ = (id) => document.getElementById(id);
let stop = null;

function showLogin(error) {
  session.current = null;
  if (stop) { stop(); stop = null; }
  $("nav").hidden = true;
  $("who").hidden = true;
  fill($("page"));
  $("login").hidden = false;
  fill($("login-error"), error ? problemBox(error) : null);
  $("login-token").focus();
}

// The Tokens page is an admin's: its nav entry exists for an admin session only (the API
// refuses the routes to any other role all the same).
function adminNav() {
  const link = $("nav").querySelector("a[href='#/tokens']");
  if (can("admin") && !link) $("nav").append(h("a", { href: "#/tokens" }, "Tokens"));
  else if (!can("admin") && link) link.remove();
}

function signedIn(body) {
  session.current = body;
  $("login").hidden = true;
  $("nav").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = body.token_name;
  $("who-role").textContent = body.role;
  document.body.dataset.role = body.role;
  adminNav();
  route();
}

function route() {
  if (!session.current) return;
  const name = (location.hash.replace(/^#\/?/, "").split("/")[0]) || "overview";
  const page = PAGES[name] || overview;
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (stop) stop();
  const root = $("page");
  fill(root);
  document.title = `lbctl · ${page.TITLE}`;
  stop = page.render(root, { can }) || null;
}

async function start() {
  setUnauthorizedHandler(() => showLogin(new ApiError(401, {
    title: "Signed out", detail: "The session ended or expired: sign in again." })));
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const { body } = await request("POST", "/session", { json: { token: $("login-token").value } });
      $("login-token").value = "";
      signedIn(body);
    } catch (err) {
      showLogin(err);
    }
  });
  $("logout").addEventListener("click", async () => {
    try { await request("DELETE", "/session"); } catch (err) { /* gone already: signed out */ }
    showLogin(null);
  });
  window.addEventListener("hashchange", route);
  try {
    const { body } = await request("GET", "/session");
    signedIn(body);
  } catch (err) {
    showLogin(err instanceof ApiError && err.status === 401 ? null : err);
  }
}

start();
