// The partner portal: a single page over the public JSON API (/v1/...). Native ES modules,
// no build step and no third-party code here; plots use plotly's bundle, which the service
// serves from the installed plotly package at vendor/plotly.min.js.
//
// This module keeps the session (in the tab's sessionStorage), signs in and out, and renders
// the page the address names. Pages live in pages/ (see pages/index.js); shared pieces in
// api.js (requests), dom.js (elements), format.js (text), router.js (the address).
import { ApiError, problemText, request } from "./api.js";
import { $, h, note } from "./dom.js";
import { PAGES, PROBES } from "./pages/index.js";
import { asOfParam, hashFor, parseHash, setQuery } from "./router.js";
import { session, setSession, unauthorized, whenUnauthorized } from "./session.js";

const SESSION_KEY = "partnerPortal.session";

setSession(readSession());

function readSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

function saveSession(value) {
  setSession(value);
  if (value) sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
  else sessionStorage.removeItem(SESSION_KEY);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function signInMessage(error) {
  if (!(error instanceof ApiError)) return `Sign-in failed: ${error.message}`;
  switch (error.status) {
    case 401:
      return "Sign-in failed: this API key is not valid or has been revoked.";
    case 404:
      return "Sign-in failed: this key has no access to a partner with that id.";
    case 403:
      return "Sign-in failed: this key may not read partner accounts.";
    case 0:
      return `Sign-in failed: ${error.message}.`;
    default:
      return `Sign-in failed: the service answered ${error.status} (${error.message}).`;
  }
}

async function signIn(partnerId, token) {
  const [partner, me] = await Promise.all([
    request(`/v1/partners/${encodeURIComponent(partnerId)}`, null, token),
    request("/v1/me", null, token),
  ]);
  const allowed = {};
  await Promise.all(Object.entries(PROBES).map(async ([group, [path, params]]) => {
    try {
      await request(`/v1/partners/${encodeURIComponent(partnerId)}${path}`, params, token);
      allowed[group] = true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) throw e;
      allowed[group] = false;
    }
  }));
  saveSession({
    partnerId, token, allowed, partnerName: partner.name, currency: partner.currency,
    role: me.role, scope: me.scope, permissions: me.permissions,
  });
}

function showSignIn(message) {
  $("shell").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("signin").hidden = false;
  const box = $("signin-error");
  box.textContent = message || "";
  box.hidden = !message;
  document.body.dataset.signedIn = "false";
  (message ? $("api-key") : $("partner-id")).focus();
}

function signOut(message) {
  saveSession(null);
  renderSeq += 1;
  showSignIn(message);
}

async function onSignIn(event) {
  event.preventDefault();
  const partnerId = $("partner-id").value.trim();
  const token = $("api-key").value.trim();
  if (!partnerId || !token) {
    showSignIn("Sign-in failed: enter both the partner id and the API key.");
    return;
  }
  if (!UUID_RE.test(partnerId)) {
    showSignIn("Sign-in failed: the partner id is a UUID, like 5a886495-22a2-4d8d-a83f-8157703b3f36.");
    return;
  }
  const button = $("signin-submit");
  button.disabled = true;
  try {
    await signIn(partnerId, token);
    $("api-key").value = "";
    $("signin-error").hidden = true;
    // Setting a new address renders through its hashchange; render once, not twice.
    if (!window.location.hash || window.location.hash === "#/") window.location.hash = "#/lines";
    else route();
  } catch (e) {
    showSignIn(signInMessage(e));
  } finally {
    button.disabled = false;
  }
}

const allowedPages = () => PAGES.filter((p) => session.allowed[p.needs]);

function renderNav(current) {
  const { query } = parseHash();
  const keep = query.get("as_of") ? { as_of: query.get("as_of") } : {};
  $("nav").replaceChildren(...allowedPages().map((p) => h("a", {
    href: hashFor(p.id, keep), class: p.id === current ? "active" : null,
    dataset: { page: p.id },
  }, p.title)));
}

let renderSeq = 0;
let pendingFlash = null;

async function route() {
  if (!session) {
    showSignIn();
    return;
  }
  $("signin").hidden = true;
  $("shell").hidden = false;
  $("sign-out").hidden = false;
  document.body.dataset.signedIn = "true";
  $("who").textContent = `${session.partnerName} · ${session.partnerId}`;

  const { page, rest, query } = parseHash();
  const pages = allowedPages();
  if (!pages.length) {
    $("view").replaceChildren(note("This key may not read any of the portal's views.", "error"));
    $("view").dataset.state = "error";
    return;
  }
  const def = pages.find((p) => p.id === page);
  if (!def) {
    window.location.hash = hashFor(pages[0].id, {});
    return;
  }
  let asOf = asOfParam(query);
  // `#/<page>/<rest…>` opens the page's detail view (one invoice), when it has one.
  const detail = def.detail && rest.length > 0 ? def.detail : null;
  const viewId = detail ? detail.view : def.id;
  renderNav(def.id);
  $("title").textContent = detail ? detail.title : def.title;
  document.title = `${def.title} · Partner Portal`;
  $("as-of").value = asOf ? query.get("as_of") : "";
  const banner = $("as-of-banner");
  banner.hidden = !asOf;
  banner.replaceChildren(...(asOf ? [
    `As of the end of ${query.get("as_of")} (UTC): the view as it stood then. `,
    h("button", { type: "button", class: "link", onclick: () => setQuery({ as_of: null }) },
      "Back to live"),
  ] : []));

  const seq = ++renderSeq;
  const view = $("view");
  view.dataset.view = viewId;
  view.dataset.render = String(seq);
  view.dataset.state = "loading";
  if (asOf) {
    // A day after the service's today has no record: refused, never shown as a projection.
    // Today reads up to the service's present moment.
    let now;
    try {
      ({ now } = await request("/v1/me", null, session.token));
    } catch (e) {
      if (seq !== renderSeq) return;
      if (e instanceof ApiError && e.status === 401) { unauthorized(); return; }
      view.replaceChildren(note(problemText(e), "error"));
      view.dataset.state = "error";
      return;
    }
    if (seq !== renderSeq) return;
    const today = now.slice(0, 10);
    $("as-of").max = today;
    if (query.get("as_of") > today) {
      banner.hidden = true;
      view.replaceChildren(note(`${query.get("as_of")} is after today (${today}, the service's date): nothing is recorded for days still to come. Pick today or an earlier day, or go back to live.`, "error as-of-future"));
      view.dataset.state = "error";
      return;
    }
    if (query.get("as_of") === today) asOf = now;
  }
  view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  const mounted = [];
  // `reload(flash)` renders the page again after a change, with a one-time message.
  const flash = pendingFlash;
  pendingFlash = null;
  const ctx = {
    rest, query, asOf, params: asOf ? { as_of: asOf } : {}, onMount: (fn) => mounted.push(fn),
    flash, reload: (message) => { pendingFlash = message || null; route(); },
  };
  try {
    const node = await (detail || def).render(ctx);
    if (seq !== renderSeq) return;
    view.replaceChildren(node);
    for (const fn of mounted) await fn();
    if (seq !== renderSeq) return;
    view.dataset.state = "ready";
  } catch (e) {
    if (seq !== renderSeq || !session) return;
    view.replaceChildren(note(problemText(e), "error"));
    view.dataset.state = "error";
  }
}

function start() {
  whenUnauthorized(signOut);
  $("signin-form").addEventListener("submit", onSignIn);
  $("sign-out").addEventListener("click", () => signOut());
  $("as-of").addEventListener("change", (e) => setQuery({ as_of: e.target.value }));
  $("as-of-live").addEventListener("click", () => setQuery({ as_of: null }));
  window.addEventListener("hashchange", route);
  route();
}

start();
