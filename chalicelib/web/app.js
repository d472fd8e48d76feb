// The dashboard's entry point: sign-in, the view router (#overview, #errors, … and a thing's own
// page: #errors/rty_…, #schedules/sch_…), the theme, and the live subscription that feeds every view.
import { api, session } from "./api.js";
import { detailFor } from "./detail.js";
import { Live } from "./live.js";
import { notify } from "./ui.js";
import { Analytics } from "./view-analytics.js";
import { DeadLetters } from "./view-dead-letters.js";
import { Errors } from "./view-errors.js";
import { Overview } from "./view-overview.js";
import { Schedules } from "./view-schedules.js";
import { Webhooks } from "./view-webhooks.js";

const $ = (id) => document.getElementById(id);
const views = {
  overview: new Overview(),
  errors: new Errors(),
  "dead-letters": new DeadLetters(),
  schedules: new Schedules(),
  webhooks: new Webhooks(),
  analytics: new Analytics(),
};
let current = null;
let poller = null;

const live = new Live({
  onEvent: (event) => current?.onEvent(event),
  onState: (state, text) => {
    showLive(state, text);
    // without the socket, keep the view fresh by polling; with it, events do that
    clearInterval(poller);
    if (state !== "live" && session.role) poller = setInterval(() => current?.reloadSoon(0), 15000);
  },
  onGap: (message) => {
    notify(`${message} Reloading the view.`, "error");
    current?.reloadSoon(0);
  },
});

function showLive(state, text) {
  $("live").dataset.state = state;
  $("live").querySelector(".live-text").textContent = text;
}

// --- theme ---------------------------------------------------------------------------------------

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const button = $("theme");
  button.setAttribute("aria-pressed", String(theme === "dark"));
  button.textContent = theme === "dark" ? "Light theme" : "Dark theme";
}
applyTheme(localStorage.getItem("conductor.theme") || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
$("theme").addEventListener("click", () => {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  localStorage.setItem("conductor.theme", next);
  applyTheme(next);
});

// --- sign-in ---------------------------------------------------------------------------------------

async function signIn(key) {
  session.save(key);
  let me;
  try {
    me = await api("dashboard/session");
  } catch (err) {
    session.clear();
    $("signin-error").textContent = err.status === 401 ? "That key was not accepted." : `Could not sign in: ${err.message}`;
    showSignIn();
    return;
  }
  Object.assign(session, { role: me.key.role, name: me.key.name, websocketUrl: me.websocket_url });
  document.body.dataset.role = me.key.role;
  $("signin-error").textContent = "";
  $("signin-view").hidden = true;
  $("nav").hidden = false;
  $("signout").hidden = false;
  $("who").hidden = false;
  $("who").textContent = `${me.key.name} (${me.key.role})`;
  live.start(me.websocket_url, async () => (await api("realtime/tickets", { method: "POST" })).ticket);
  await route();
  $("view-title").focus();
}

function showSignIn() {
  live.stop();
  clearInterval(poller);
  $("view").hidden = true;
  $("nav").hidden = true;
  $("signout").hidden = true;
  $("who").hidden = true;
  $("signin-view").hidden = false;
  showLive("off", "Offline");
  $("key").focus();
}

$("signin").addEventListener("submit", (e) => {
  e.preventDefault();
  signIn($("key").value.trim());
});
$("signout").addEventListener("click", () => {
  session.clear();
  $("key").value = "";
  notify("Signed out.");
  showSignIn();
});

// --- routing -------------------------------------------------------------------------------------

async function route() {
  if (!session.role) return;
  const [path, query] = location.hash.slice(1).split("?");
  const [name, id] = path.split("/");
  const detail = id ? detailFor(decodeURIComponent(id)) : null;
  // no hash (back to where the session began) is the overview; an in-page anchor (the skip
  // link) is not a view: stay where we are
  const view = detail || views[name] || (name === "" || !current ? views.overview : null);
  if (!view) return;
  current = view;
  if (query !== undefined) view.applyQuery(new URLSearchParams(query)); // #errors?service=payments
  const viewName = detail ? detail.back[0] : Object.keys(views).find((k) => views[k] === view);
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === viewName) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("view").hidden = false;
  $("view").dataset.view = viewName;
  $("view").dataset.detail = detail ? detail.kind : "";
  $("view-title").textContent = view.title;
  document.title = `${view.title} · Conductor`;
  const body = document.createElement("div");
  body.id = "view-body";
  body.setAttribute("aria-busy", "true");
  $("view-body").replaceWith(body);
  try {
    await view.render(body);
  } catch (err) {
    notify(`Could not load ${view.title}: ${err.message}`, "error");
    if (err.status === 401) showSignIn();
  } finally {
    body.setAttribute("aria-busy", "false");
  }
}

window.addEventListener("hashchange", () => {
  route().then(() => $("view-title").focus());
});

if (session.key) signIn(session.key);
else showSignIn();
