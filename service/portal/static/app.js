// The partner portal: a read-only single page over the public JSON API (/v1/...).
// No build step and no third-party code here; plots use plotly's bundle, which the
// service serves from the installed plotly package at vendor/plotly.min.js.
"use strict";

(() => {
  const SESSION_KEY = "partnerPortal.session";
  const LINE_STATUSES = ["available", "active", "flagged", "move_requested", "delete_requested"];
  // Lines that need attention are listed first, in this order.
  const ATTENTION = { flagged: 0, move_requested: 1, delete_requested: 2 };
  const STATUS_LABELS = {
    available: "Available", active: "Active", flagged: "Flagged",
    move_requested: "Move requested", delete_requested: "Delete requested", deleted: "Deleted",
    merge_requested: "Merge requested", merged: "Merged", open: "Open", paid: "Paid",
    past_due: "Past due", void: "Void",
  };
  const PAGE_LIMIT = 500;
  const MAX_PAGES = 40;

  // ---------------------------------------------------------------- session ----------

  let session = readSession();

  function readSession() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch {
      return null;
    }
  }

  function saveSession(value) {
    session = value;
    if (value) sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
    else sessionStorage.removeItem(SESSION_KEY);
  }

  // ---------------------------------------------------------------- DOM helpers ------

  // Builds an element; strings become text nodes, so API data is never parsed as HTML.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- formatting -------

  function currencyOf(data) {
    return (data && data.currency) || (session && session.currency) || "USD";
  }

  // Money arrives as integer minor units; shown as currency with two decimals.
  function money(minor, currency, digits = 2) {
    if (minor === null || minor === undefined) return "—";
    return new Intl.NumberFormat("en-US", {
      style: "currency", currency: currency || currencyOf(null),
      minimumFractionDigits: digits, maximumFractionDigits: digits,
    }).format(Number(minor) / 100);
  }

  // An exact amount "p/q" in minor units (the charge explanation's rationals): shown to the
  // cent like all money, the exact value on hover.
  function fractionMoney(text, currency) {
    const [p, q] = String(text).split("/").map(Number);
    const value = q ? p / q : p;
    return h("span", { title: `${money(value, currency, 4)} (exactly ${text} minor units)` },
      money(value, currency));
  }

  const count = (n) => new Intl.NumberFormat("en-US").format(n);
  const percent = (rate) => (rate === null || rate === undefined
    ? "—" : `${(rate * 100).toFixed(1)}%`);
  const day = (iso) => (iso ? iso.slice(0, 10) : "—");
  const time = (iso) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : "—");

  function lastDay(endIso) {
    const end = new Date(endIso);
    end.setUTCDate(end.getUTCDate() - 1);
    return end.toISOString().slice(0, 10);
  }

  // Periods are half-open [start, end): shown as first day – last day.
  const period = (p) => (p ? `${day(p.start)} – ${lastDay(p.end)}` : "—");
  const label = (status) => STATUS_LABELS[status] || String(status || "—").replaceAll("_", " ");

  function badge(text, kind) {
    return h("span", { class: `badge ${kind || ""}` }, text);
  }

  function statusBadge(status) {
    return h("span", { class: `badge status-${status}`, dataset: { status } }, label(status));
  }

  function figure(key, title, value, note) {
    return h("div", { class: "card", dataset: { figure: key } },
      h("div", { class: "card-label" }, title),
      h("div", { class: String(value).length > 14 ? "value long" : "value" }, value),
      note ? h("div", { class: "card-note" }, note) : null);
  }

  function cards(...items) {
    return h("div", { class: "cards" }, items);
  }

  // columns: [{key, title, cell(row) → node|string, num?: true}]
  function table(columns, rows, { id, rowId, rowClass, empty, foot } = {}) {
    if (!rows.length && empty) return h("p", { class: "muted empty", id }, empty);
    return h("table", { id },
      h("thead", null, h("tr", null, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.title)))),
      h("tbody", null, rows.map((row) => h("tr", {
        dataset: rowId ? { id: rowId(row) } : {}, class: rowClass ? rowClass(row) : null,
      }, columns.map((c) => h("td", { class: c.num ? "num" : null, dataset: { col: c.key } }, c.cell(row)))))),
      foot ? h("tfoot", null, foot) : null);
  }

  function section(title, ...children) {
    return h("section", { class: "panel" }, title ? h("h2", null, title) : null, children);
  }

  function note(text, kind = "info") {
    return h("div", { class: `note ${kind}` }, text);
  }

  // ---------------------------------------------------------------- API --------------

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  async function request(path, params, token) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
    }
    let response;
    try {
      response = await fetch(url, {
        headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
        cache: "no-store",
      });
    } catch (e) {
      throw new ApiError(0, { detail: `the service could not be reached (${e.message})` });
    }
    if (!response.ok) {
      let problem = null;
      try {
        problem = await response.json();
      } catch {
        problem = null;
      }
      throw new ApiError(response.status, problem);
    }
    return response.json();
  }

  // A read of the signed-in partner's resource; a 401 mid-session signs out.
  async function api(path, params) {
    try {
      return await request(`/v1/partners/${encodeURIComponent(session.partnerId)}${path}`,
        params, session.token);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        signOut("Your API key is no longer accepted (unknown or revoked). Sign in again.");
      }
      throw e;
    }
  }

  // Every page of a list (limit 500 per page).
  async function apiAll(path, params) {
    const rows = [];
    let cursor = null;
    for (let n = 0; n < MAX_PAGES; n += 1) {
      const page = await api(path, { ...params, limit: PAGE_LIMIT, cursor });
      rows.push(...page.data);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    return rows;
  }

  function problemText(error) {
    if (!(error instanceof ApiError)) return `Something went wrong: ${error.message}`;
    if (error.status === 403) return `This key may not read this view: ${error.message}.`;
    if (error.status === 404) return `Not found: ${error.message}.`;
    if (error.status === 0) return `The service could not be reached: ${error.message}.`;
    return `The service answered ${error.status}: ${error.message}.`;
  }

  // ---------------------------------------------------------------- sign-in ----------

  // What each page group needs, probed once at sign-in with the cheapest read there is;
  // 403 hides the group, as does 404 (a read the service does not offer).
  const PROBES = {
    lines: ["/lines", { limit: 1 }],
    billing: ["/invoices", { limit: 1 }],
    alerts: ["/alerts", { limit: 1 }],
    analytics: ["/analytics/response-rate",
      { since: "2000-01-01T00:00:00Z", until: "2000-01-01T01:00:00Z" }],
    audit: ["/audit-trail", { limit: 1 }],
  };

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
    const partner = await request(`/v1/partners/${encodeURIComponent(partnerId)}`, null, token);
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

  // ---------------------------------------------------------------- routing ----------

  function parseHash() {
    const raw = window.location.hash.replace(/^#\/?/, "");
    const [path, query] = raw.split("?");
    const parts = (path || "").split("/").filter(Boolean).map(decodeURIComponent);
    return { page: parts[0] || "lines", rest: parts.slice(1), query: new URLSearchParams(query || "") };
  }

  function hashFor(page, query) {
    const q = new URLSearchParams(query);
    for (const [key, value] of [...q.entries()]) if (!value) q.delete(key);
    const text = q.toString();
    return `#/${page}${text ? `?${text}` : ""}`;
  }

  // Keeps the as-of date when moving between pages.
  function link(page, text, extra) {
    const { query } = parseHash();
    const q = { ...(extra || {}) };
    if (query.get("as_of")) q.as_of = query.get("as_of");
    return h("a", { href: hashFor(page, q) }, text);
  }

  function setQuery(changes) {
    const { page, rest, query } = parseHash();
    for (const [key, value] of Object.entries(changes)) {
      if (value) query.set(key, value);
      else query.delete(key);
    }
    window.location.hash = hashFor([page, ...rest].map(encodeURIComponent).join("/"), query);
  }

  // The as-of picker names a day; the view is read as it stood at that day's end (UTC).
  function asOfParam(query) {
    const date = query.get("as_of");
    return date && /^\d{4}-\d{2}-\d{2}$/.test(date) ? `${date}T23:59:59Z` : null;
  }

  const PAGES = [
    { id: "lines", title: "Lines", needs: "lines", render: renderLines },
    { id: "pool", title: "Available pool", needs: "lines", render: renderPool },
    { id: "sub-accounts", title: "Sub-accounts", needs: "lines", render: renderSubAccounts },
    { id: "billing", title: "Billing summary", needs: "billing", render: renderBilling },
    { id: "upcoming", title: "Upcoming invoice", needs: "billing", render: renderUpcoming },
    { id: "invoices", title: "Billing history", needs: "billing", render: renderInvoices },
    { id: "my-status", title: "My status", needs: "billing", render: renderMyStatus },
    { id: "alerts", title: "Alerts", needs: "alerts", render: renderAlerts },
    { id: "analytics", title: "Analytics", needs: "analytics", render: renderAnalytics },
    { id: "audit", title: "Audit trail", needs: "audit", render: renderAudit },
  ];

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
    let def = pages.find((p) => p.id === page);
    if (!def) {
      window.location.hash = hashFor(pages[0].id, {});
      return;
    }
    const asOf = asOfParam(query);
    const isInvoice = def.id === "invoices" && rest.length > 0;
    const viewId = isInvoice ? "invoice" : def.id;
    renderNav(def.id);
    $("title").textContent = isInvoice ? "Invoice" : def.title;
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
    view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    const mounted = [];
    const ctx = { rest, query, asOf, params: asOf ? { as_of: asOf } : {}, onMount: (fn) => mounted.push(fn) };
    try {
      const node = await (isInvoice ? renderInvoice(ctx) : def.render(ctx));
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

  // ---------------------------------------------------------------- pages: lines -----

  async function subAccountNames(params) {
    const subs = await apiAll("/sub-accounts", params);
    return { subs, names: Object.fromEntries(subs.map((s) => [s.id, s.name])) };
  }

  async function renderLines(ctx) {
    const status = ctx.query.get("status") || "";
    const sub = ctx.query.get("sub_account_id") || "";
    const [overview, { subs, names }, lines] = await Promise.all([
      api("/lines/overview", ctx.params),
      subAccountNames(ctx.params),
      apiAll("/lines", { ...ctx.params, status, sub_account_id: sub }),
    ]);
    const total = LINE_STATUSES.reduce((n, s) => n + overview.counts[s], 0);
    lines.sort((a, b) => (ATTENTION[a.status] ?? 9) - (ATTENTION[b.status] ?? 9)
      || String(a.phone_number).localeCompare(String(b.phone_number)));

    const statusSelect = h("select", {
      id: "filter-status", onchange: (e) => setQuery({ status: e.target.value }),
    }, h("option", { value: "" }, "All statuses"),
    [...LINE_STATUSES, "deleted"].map((s) => h("option", { value: s, selected: s === status }, label(s))));
    const subSelect = h("select", {
      id: "filter-sub-account", onchange: (e) => setQuery({ sub_account_id: e.target.value }),
    }, h("option", { value: "" }, "All sub-accounts"),
    subs.map((s) => h("option", { value: s.id, selected: s.id === sub }, s.name)));

    const bySub = overview.by_sub_account.map((row) => ({
      ...row, total: LINE_STATUSES.reduce((n, s) => n + row.counts[s], 0),
    }));
    return h("div", null,
      cards(
        figure("count-total", "All lines", count(total)),
        LINE_STATUSES.map((s) => figure(`count-${s}`, label(s), count(overview.counts[s]))),
      ),
      overview.counts.flagged + overview.counts.move_requested + overview.counts.delete_requested
        ? note("Flagged lines and pending move or delete requests are listed first: resolve them early.", "warn")
        : null,
      section("Lines per sub-account", table([
        { key: "name", title: "Sub-account", cell: (r) => r.name },
        ...LINE_STATUSES.slice(1).map((s) => ({ key: s, title: label(s), num: true, cell: (r) => count(r.counts[s]) })),
        { key: "total", title: "Total", num: true, cell: (r) => count(r.total) },
      ], bySub, { id: "by-sub-account", rowId: (r) => r.sub_account_id, empty: "No sub-account holds lines." })),
      section("Line list",
        h("div", { class: "filters" },
          h("label", null, "Status ", statusSelect),
          h("label", null, "Sub-account ", subSelect),
          h("span", { class: "muted", id: "line-count" }, lineCount(lines))),
        table([
          { key: "phone", title: "Phone number", cell: (l) => l.phone_number || "—" },
          { key: "status", title: "Status", cell: (l) => statusBadge(l.status) },
          { key: "sending", title: "Sending", cell: (l) => l.sending },
          { key: "sub_account", title: "Sub-account", cell: (l) => (l.sub_account_id ? names[l.sub_account_id] || l.sub_account_id : h("span", { class: "muted" }, "Available pool")) },
          { key: "detail", title: "Detail", cell: (l) => lineDetail(l, names) },
          { key: "updated", title: "Last change", cell: (l) => time(l.updated_at) },
        ], lines, {
          id: "lines", rowId: (l) => l.id, empty: "No line matches these filters.",
          rowClass: (l) => (l.status in ATTENTION ? "attention" : null),
        })));
  }

  function lineCount(lines) {
    const deleted = lines.filter((l) => l.status === "deleted").length;
    return `${count(lines.length)} lines${deleted ? ` (${count(deleted)} deleted)` : ""}`;
  }

  function lineDetail(line, names) {
    if (line.status === "flagged") return `Flagged: ${line.flag_reason || "no reason given"}`;
    if (line.status === "move_requested") {
      const target = names[line.requested_sub_account_id] || line.requested_sub_account_id;
      return `Move to ${target} requested`;
    }
    if (line.status === "delete_requested") return "Deletion requested";
    return "";
  }

  async function renderPool(ctx) {
    const pool = await apiAll("/lines/available-pool", ctx.params);
    pool.sort((a, b) => b.days_idle - a.days_idle);
    const idle = pool.filter((l) => l.days_idle > 30).length;
    return h("div", null,
      cards(
        figure("pool-size", "Lines in the pool", count(pool.length)),
        figure("pool-idle", "Idle over 30 days", count(idle)),
        figure("pool-max-idle", "Longest idle", pool.length ? `${pool[0].days_idle} days` : "—"),
      ),
      note("Lines in the Available pool are billed but belong to no sub-account: assign or retire them."),
      section("Available pool", table([
        { key: "phone", title: "Phone number", cell: (l) => l.phone_number || "—" },
        { key: "since", title: "Available since", cell: (l) => time(l.available_since) },
        { key: "days_idle", title: "Days idle", num: true, cell: (l) => (l.days_idle > 30 ? badge(String(l.days_idle), "warn") : String(l.days_idle)) },
        { key: "sending", title: "Sending", cell: (l) => l.sending },
      ], pool, { id: "pool", rowId: (l) => l.id, empty: "The Available pool is empty." })));
  }

  async function renderSubAccounts(ctx) {
    const { subs, names } = await subAccountNames(ctx.params);
    const live = subs.filter((s) => !["merged", "deleted"].includes(s.status));
    const hinted = subs.filter((s) => s.naming_hint && !["merged", "deleted"].includes(s.status));
    return h("div", null,
      cards(
        figure("sub-accounts", "Open sub-accounts", count(live.length)),
        figure("naming-hints", "Names to tidy", count(hinted.length)),
      ),
      note("Name sub-accounts \"Client – Purpose\" (e.g. \"Acme Dental – Sales\"): one client or use case each."),
      section("Sub-accounts", table([
        { key: "name", title: "Name", cell: (s) => s.name },
        { key: "status", title: "Status", cell: (s) => badge(label(s.status), `status-${s.status}`) },
        { key: "lines", title: "Lines", num: true, cell: (s) => count(s.line_count) },
        { key: "hint", title: "Naming hint", cell: (s) => (s.naming_hint ? h("span", { class: "hint" }, s.naming_hint) : h("span", { class: "ok" }, "Follows “Client – Purpose”")) },
        { key: "related", title: "Merge", cell: (s) => (s.merged_into ? `Merged into ${names[s.merged_into] || s.merged_into}` : s.requested_primary_id ? `Merge into ${names[s.requested_primary_id] || s.requested_primary_id} requested` : "") },
        { key: "created", title: "Created", cell: (s) => day(s.created_at) },
      ], subs, { id: "sub-accounts", rowId: (s) => s.id, empty: "No sub-accounts yet." })));
  }

  // ---------------------------------------------------------------- pages: billing ---

  async function renderBilling(ctx) {
    const s = await api("/billing/summary", ctx.params);
    const cur = currencyOf(s);
    const card = s.default_payment_method;
    return h("div", null,
      card && card.expires_before_next_billing ? note(
        `Your default card ${card.brand} •••• ${card.last4} expires ${String(card.exp_month).padStart(2, "0")}/${card.exp_year}, before the next billing date ${day(s.next_billing_date)}. Update it to avoid a failed payment.`,
        "warn card-expiry") : null,
      cards(
        figure("period", "Current billing cycle", period(s.period)),
        figure("new-charges", "New charges so far", money(s.new_charges, cur)),
        figure("outstanding", "Outstanding", money(s.outstanding, cur)),
        figure("credit-balance", "Credit balance", money(s.credit_balance, cur)),
        figure("next-billing-date", "Next billing date", day(s.next_billing_date)),
        figure("card-failures", "Card failures this cycle", count(s.card_failures.length)),
      ),
      section("Default payment method", card
        ? h("p", { id: "default-card" }, `${card.brand} •••• ${card.last4}, expires ${String(card.exp_month).padStart(2, "0")}/${card.exp_year}`,
          card.expires_before_next_billing ? badge("expires before next billing", "warn") : badge("valid through next billing", "ok"))
        : note("No payment method on file.", "warn")),
      section("Card failures this cycle", table([
        { key: "at", title: "When", cell: (f) => time(f.at) },
        { key: "invoice", title: "Invoice", cell: (f) => link(`invoices/${f.invoice_id}`, "Open invoice") },
        { key: "reason", title: "Reason", cell: (f) => f.reason.replaceAll("_", " ") },
      ], s.card_failures, { id: "card-failures", empty: "No card failures this cycle." })));
  }

  function itemsTable(doc, { id, explain } = {}) {
    const cur = currencyOf(doc);
    const totals = [
      ["subtotal", "Subtotal", doc.subtotal],
      ["discount", "Discount", doc.discount ? -doc.discount : 0],
      ["credit_applied", "Credit applied", doc.credit_applied ? -doc.credit_applied : 0],
      ["total", "Total", doc.total],
      ["amount_due", "Amount due", doc.amount_due],
    ];
    const columns = [
      { key: "name", title: "Sub-account", cell: (i) => i.name },
      { key: "line_days", title: "Line-days", num: true, cell: (i) => count(i.line_days) },
      { key: "amount", title: "Amount", num: true, cell: (i) => money(i.amount, cur) },
    ];
    if (explain) {
      columns.push({ key: "explain", title: "", cell: (i) => h("button", { type: "button", class: "link", dataset: { explain: i.index }, onclick: () => explain(i.index) }, "Explain") });
    }
    const span = columns.length - 1;
    return table(columns, doc.items.map((item, index) => ({ ...item, index })), {
      id, rowId: (i) => String(i.index), empty: "No items.",
      foot: totals.map(([key, title, value]) => h("tr", { class: key === "total" || key === "amount_due" ? "strong" : null, dataset: { total: key } },
        h("td", { colspan: span - 1 }, title), h("td", { class: "num" }, money(value, cur)), explain ? h("td") : null)),
    });
  }

  async function renderUpcoming(ctx) {
    const u = await api("/billing/upcoming-invoice", ctx.params);
    const cur = currencyOf(u);
    return h("div", null,
      cards(
        figure("period", "Billing period", period(u.period)),
        figure("line-count", "Lines", count(u.line_count)),
        figure("total", "Total", money(u.total, cur)),
        figure("amount-due", "Amount due", money(u.amount_due, cur)),
      ),
      note("A preview of the invoice for the current period, from the line-days so far and the lines held to its end. Check line counts and discounts before the billing date."),
      (u.discounts || []).length ? section("Discounts", h("ul", { id: "discounts" }, u.discounts.map((d) => h("li", null, `${d.discount_id}: ${money(-d.amount, cur)}`)))) : null,
      section("Items", itemsTable(u, { id: "items" })));
  }

  async function renderInvoices(ctx) {
    const invoices = await apiAll("/invoices", ctx.params);
    const cur = currencyOf(invoices[0]);
    // What is still owed: open and past-due invoices, less what was paid on them.
    const due = invoices.filter((i) => i.status === "open" || i.status === "past_due")
      .reduce((n, i) => n + Math.max(0, i.amount_due - i.amount_paid), 0);
    return h("div", null,
      cards(
        figure("invoice-count", "Invoices", count(invoices.length)),
        figure("unpaid", "Unpaid", money(due, cur)),
      ),
      section("Invoices, newest first", table([
        { key: "number", title: "Invoice", cell: (i) => link(`invoices/${i.id}`, i.number) },
        { key: "period", title: "Period", cell: (i) => period(i.period) },
        { key: "status", title: "Status", cell: (i) => badge(label(i.status), `inv-${i.status}`) },
        { key: "total", title: "Total", num: true, cell: (i) => money(i.total, currencyOf(i)) },
        { key: "amount_due", title: "Amount due", num: true, cell: (i) => money(i.amount_due, currencyOf(i)) },
        { key: "amount_paid", title: "Paid", num: true, cell: (i) => money(i.amount_paid, currencyOf(i)) },
        { key: "issued", title: "Issued", cell: (i) => day(i.issued_at) },
      ], invoices, { id: "invoices", rowId: (i) => i.id, empty: "No invoices yet." })));
  }

  async function renderInvoice(ctx) {
    const iid = ctx.rest[0];
    const inv = await api(`/invoices/${encodeURIComponent(iid)}`, ctx.params);
    const cur = currencyOf(inv);
    const panel = h("div", { id: "explanation", dataset: { state: "empty" } },
      h("p", { class: "muted" }, "Choose “Explain” on an item."));
    const verifyBox = h("div", { id: "verify-result", dataset: { state: "empty" } });
    const explain = async (index) => {
      panel.dataset.state = "loading";
      panel.replaceChildren(h("p", { class: "muted" }, "Loading the explanation…"));
      try {
        const path = `/invoices/${encodeURIComponent(iid)}/items/${index}/explain`;
        const x = await api(path, { limit: EXPLAIN_EVENTS });
        panel.replaceChildren(explanation(x, cur, (cursor) => api(path, { limit: EXPLAIN_EVENTS, cursor })));
        panel.dataset.item = String(index);
        panel.dataset.state = "ready";
      } catch (e) {
        panel.replaceChildren(note(problemText(e), "error"));
        panel.dataset.state = "error";
      }
    };
    return h("div", null,
      h("p", null, link("invoices", "← Billing history")),
      h("h2", { id: "invoice-number" }, inv.number, " ", badge(label(inv.status), `inv-${inv.status}`)),
      cards(
        figure("period", "Period", period(inv.period)),
        figure("total", "Total", money(inv.total, cur)),
        figure("amount-due", "Amount due", money(inv.amount_due, cur)),
        figure("amount-paid", "Paid", money(inv.amount_paid, cur)),
        figure("amount-refunded", "Refunded", money(inv.amount_refunded, cur)),
        figure("issued", "Issued", day(inv.issued_at)),
      ),
      (inv.discounts || []).length ? section("Discounts", h("ul", { id: "discounts" }, inv.discounts.map((d) => h("li", null, `${d.discount_id}: ${money(-d.amount, cur)}`)))) : null,
      section("Items per sub-account", itemsTable(inv, { id: "items", explain })),
      section("Payments", table([
        { key: "at", title: "When", cell: (p) => time(p.at) },
        { key: "status", title: "Status", cell: (p) => badge(p.status, p.status === "failed" ? "bad" : "ok") },
        { key: "amount", title: "Amount", num: true, cell: (p) => money(p.amount, cur) },
        { key: "reason", title: "Reason", cell: (p) => (p.reason || "").replaceAll("_", " ") },
      ], inv.payments || [], { id: "payments", empty: "No payment attempts." })),
      (inv.refunds || []).length ? section("Refunds", table([
        { key: "at", title: "When", cell: (r) => time(r.at) },
        { key: "amount", title: "Amount", num: true, cell: (r) => money(r.amount, cur) },
        { key: "reason", title: "Reason", cell: (r) => r.reason },
      ], inv.refunds, { id: "refunds" })) : null,
      (inv.disputes || []).length ? section("Disputes", table([
        { key: "item", title: "Item", cell: (d) => String(d.item_index ?? "") },
        { key: "status", title: "Status", cell: (d) => d.status || "" },
        { key: "reason", title: "Reason", cell: (d) => d.reason || "" },
      ], inv.disputes, { id: "disputes" })) : null,
      session.allowed.audit ? section("Verification",
        h("p", { class: "muted" }, "Auditors: re-derive this invoice from the event log and compare it cent by cent."),
        h("button", { type: "button", id: "verify-invoice", onclick: () => runVerify(verifyBox, inv) }, "Verify this invoice"),
        verifyBox) : null,
      section("Why each item costs what it does", panel));
  }

  // The explanation pages the period's events; its arithmetic comes whole with each page.
  const EXPLAIN_EVENTS = 100;

  function explanation(x, cur, nextPage) {
    const events = [...x.events];
    let cursor = x.next_cursor;
    const holder = h("div", { id: "explain-events-holder" });
    const heading = h("h4", null);
    const more = h("button", { type: "button", id: "explain-more", class: "secondary", hidden: !cursor }, "Load more events");
    const redraw = () => {
      heading.replaceChildren(`Events that placed those lines during the period (${count(events.length)} of ${count(x.events_total ?? events.length)})`);
      holder.replaceChildren(table(auditColumns(), events, { id: "explain-events", empty: "No event." }));
    };
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        const page = await nextPage(cursor);
        events.push(...page.events);
        cursor = page.next_cursor;
        redraw();
        more.hidden = !cursor;
      } catch (e) {
        more.replaceWith(note(problemText(e), "error"));
      } finally {
        more.disabled = false;
      }
    });
    redraw();
    return h("div", { class: "explanation" },
      h("h3", null, `${x.item.name}: ${money(x.item.amount, cur)} for ${count(x.item.line_days)} line-days`),
      h("p", { class: "rule", dataset: { rule: "" } }, `Rule: ${x.rule}.`),
      h("p", null, `Period ${period(x.period)} (${x.days_in_period} days); the item's exact amount is ${x.exact_amount} minor units, rounded to ${money(x.item.amount, cur)}.`),
      h("p", null, `Pricing: ${pricingText(x.pricing, cur)}.`),
      table([
        { key: "day", title: "Day", cell: (d) => d.day },
        { key: "lines_total", title: "Lines (all)", num: true, cell: (d) => count(d.lines_total) },
        { key: "price", title: "Monthly price of all lines", num: true, cell: (d) => money(d.monthly_price_of_all_lines, cur) },
        { key: "day_amount", title: "Day's cost", num: true, cell: (d) => fractionMoney(d.day_amount, cur) },
        { key: "line_days", title: "Item's line-days", num: true, cell: (d) => count(d.line_days) },
        { key: "share", title: "Item's share", num: true, cell: (d) => fractionMoney(d.item_share, cur) },
      ], x.days, { id: "explain-days", empty: "No day contributes to this item." }),
      h("h4", null, "Lines that contributed"),
      table([
        { key: "line", title: "Line", cell: (l) => l.line_id },
        { key: "line_days", title: "Line-days", num: true, cell: (l) => count(l.line_days) },
      ], x.lines, { id: "explain-lines", empty: "No line." }),
      heading, holder, more);
  }

  function pricingText(p, cur) {
    if (!p) return "—";
    if (p.structure === "standard") return `standard, ${money(p.unit_amount, cur)} per line per month`;
    const tiers = p.tiers.map((t, i) => {
      const from = i === 0 ? 1 : p.tiers[i - 1].up_to + 1;
      const range = t.up_to === null ? `${from}+` : `${from}–${t.up_to}`;
      return `${range}: ${money(t.unit_amount, cur)}`;
    }).join("; ");
    return `tiered (${p.mode}), per line per month: ${tiers}`;
  }

  async function renderMyStatus(ctx) {
    const s = await api("/my-status", ctx.params);
    const cur = currencyOf(s);
    const p = s.pricing;
    return h("div", null,
      cards(
        figure("line-count", "Lines", count(s.line_count)),
        figure("pricing", "Pricing", p.structure === "standard" ? "Standard" : `Tiered (${p.mode})`),
        figure("credit-balance", "Credit balance", money(s.credit_balance, cur)),
      ),
      s.credit_balance > 0 ? note("Credits reduce your next invoices automatically.") : null,
      section("Pricing", h("p", { id: "pricing-text" }, pricingText(p, cur)),
        p.structure === "tiered" ? table([
          { key: "range", title: "Lines", cell: (t) => t.range },
          { key: "unit", title: "Per line per month", num: true, cell: (t) => money(t.unit_amount, cur) },
        ], p.tiers.map((t, i) => ({
          ...t, range: `${i === 0 ? 1 : p.tiers[i - 1].up_to + 1}${t.up_to === null ? "+" : `–${t.up_to}`}`,
        })), { id: "tiers" }) : null));
  }

  // ---------------------------------------------------------------- pages: alerts ----

  async function renderAlerts(ctx) {
    const status = ctx.query.get("status") || "open";
    const alerts = await apiAll("/alerts", { ...ctx.params, status });
    const select = h("select", { id: "filter-alert-status", onchange: (e) => setQuery({ status: e.target.value === "open" ? null : e.target.value }) },
      ["open", "resolved", "all"].map((s) => h("option", { value: s, selected: s === status }, s[0].toUpperCase() + s.slice(1))));
    return h("div", null,
      cards(figure("alert-count", status === "open" ? "Open alerts" : status === "resolved" ? "Resolved alerts" : "Alerts", count(alerts.length))),
      section("Alerts",
        h("div", { class: "filters" }, h("label", null, "Show ", select)),
        table([
          { key: "kind", title: "Kind", cell: (a) => badge(a.kind.replaceAll("_", " "), `alert-${a.kind}`) },
          { key: "message", title: "Message", cell: (a) => a.message },
          { key: "raised", title: "Raised", cell: (a) => time(a.raised_at) },
          { key: "status", title: "Status", cell: (a) => a.status },
          { key: "resolved", title: "Resolved", cell: (a) => (a.resolved_at ? `${time(a.resolved_at)}${a.resolution ? ` (${a.resolution})` : ""}` : "") },
        ], alerts, { id: "alerts", rowId: (a) => a.key, empty: status === "open" ? "No open alerts." : "No alerts." })));
  }

  // ---------------------------------------------------------------- pages: analytics -

  let plotlyLoading = null;

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!plotlyLoading) {
      plotlyLoading = new Promise((resolve, reject) => {
        const script = h("script", { src: "vendor/plotly.min.js" });
        script.onload = () => resolve(window.Plotly);
        script.onerror = () => {
          plotlyLoading = null;
          reject(new Error("the plotting library could not be loaded"));
        };
        document.head.append(script);
      });
    }
    return plotlyLoading;
  }

  const PLOT_LAYOUT = {
    margin: { l: 56, r: 16, t: 36, b: 48 }, height: 300,
    legend: { orientation: "h", y: -0.2 }, font: { family: "system-ui, sans-serif", size: 12 },
    paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
  };
  const PLOT_CONFIG = { displayModeBar: false, responsive: true };

  async function renderAnalytics(ctx) {
    const bucket = ["hour", "day", "week"].includes(ctx.query.get("bucket")) ? ctx.query.get("bucket") : "week";
    const params = { ...ctx.params, bucket };
    const [messages, conversations, hits, compared, Plotly] = await Promise.all([
      api("/analytics/messages", params),
      api("/analytics/conversations", params),
      api("/analytics/volume-limit-hits", params),
      api("/analytics/sub-accounts", ctx.params),
      loadPlotly(),
    ]);
    const o = compared.overall;
    const x = (series) => series.map((b) => b.start);
    // Best response rate at the top of the horizontal bars.
    const byRank = [...compared.data].reverse();
    const subNames = byRank.map((s) => s.name);
    const select = h("select", { id: "filter-bucket", onchange: (e) => setQuery({ bucket: e.target.value === "week" ? null : e.target.value }) },
      ["day", "week"].map((b) => h("option", { value: b, selected: b === bucket }, b === "day" ? "Per day" : "Per week")));
    const plots = {
      "plot-messages": [[
        { type: "scatter", mode: "lines+markers", name: "Sent", x: x(messages.series), y: messages.series.map((b) => b.messages_sent) },
        { type: "scatter", mode: "lines+markers", name: "Received", x: x(messages.series), y: messages.series.map((b) => b.messages_received) },
      ], { title: { text: "Messages over time" }, yaxis: { title: { text: "messages" }, rangemode: "tozero" } }],
      "plot-response-rate": [[
        { type: "scatter", mode: "lines+markers", name: "Response rate", x: x(conversations.series), y: conversations.series.map((b) => (b.response_rate === null ? null : b.response_rate * 100)) },
      ], { title: { text: "Response rate" }, yaxis: { title: { text: "% of new conversations answered" }, range: [0, 100] } }],
      "plot-conversations": [[
          { type: "bar", orientation: "h", name: "New conversations", y: subNames, x: byRank.map((s) => s.new_conversations) },
        { type: "bar", orientation: "h", name: "Responded", y: subNames, x: byRank.map((s) => s.responded_conversations) },
      ], { title: { text: "New vs responded conversations per sub-account" }, barmode: "group", yaxis: { automargin: true }, xaxis: { rangemode: "tozero" } }],
      "plot-hits": [[
        { type: "bar", name: "Volume-limit hits", x: x(hits.series), y: hits.series.map((b) => b.volume_limit_hits), marker: { color: "#c2410c" } },
      ], { title: { text: "Volume-limit hits" }, yaxis: { title: { text: "hits" }, rangemode: "tozero" } }],
    };
    ctx.onMount(async () => {
      for (const [id, [data, layout]] of Object.entries(plots)) {
        await Plotly.newPlot(id, data, { ...PLOT_LAYOUT, ...layout }, PLOT_CONFIG);
      }
    });
    const noUsage = !messages.series.length;
    return h("div", null,
      h("div", { class: "filters" }, h("label", null, "Buckets ", select)),
      cards(
        figure("messages-sent", "Messages sent", count(messages.totals.messages_sent)),
        figure("messages-received", "Messages received", count(messages.totals.messages_received)),
        figure("response-rate", "Response rate", percent(o.response_rate)),
        figure("volume-limit-hits", "Volume-limit hits", count(hits.totals.volume_limit_hits)),
      ),
      noUsage ? note("No usage has been reported yet.") : null,
      h("div", { class: "plots" }, Object.keys(plots).map((id) => h("div", { id, class: "plot" }))),
      section("Sub-accounts compared (best response rate first)", table([
        { key: "rank", title: "#", num: true, cell: (s) => String(s.rank) },
        { key: "name", title: "Sub-account", cell: (s) => s.name },
        { key: "lines", title: "Lines", num: true, cell: (s) => count(s.lines) },
        { key: "sent", title: "Sent", num: true, cell: (s) => count(s.messages_sent) },
        { key: "received", title: "Received", num: true, cell: (s) => count(s.messages_received) },
        { key: "new", title: "New conv.", num: true, cell: (s) => count(s.new_conversations) },
        { key: "responded", title: "Responded", num: true, cell: (s) => count(s.responded_conversations) },
        { key: "rate", title: "Response rate", num: true, cell: (s) => percent(s.response_rate) },
        { key: "hits", title: "Limit hits", num: true, cell: (s) => count(s.volume_limit_hits) },
      ], compared.data, { id: "compared", rowId: (s) => s.sub_account_id || "unassigned", empty: "No usage yet." })),
      section("Lines hitting the volume limit most", table([
        { key: "phone", title: "Line", cell: (l) => l.phone_number || l.line_id },
        { key: "status", title: "Status", cell: (l) => statusBadge(l.status) },
        { key: "hits", title: "Hits", num: true, cell: (l) => count(l.volume_limit_hits) },
      ], hits.top_lines, { id: "top-lines", empty: "No line hit the volume limit." })));
  }

  // ---------------------------------------------------------------- pages: audit -----

  function auditColumns() {
    return [
      { key: "position", title: "#", num: true, cell: (e) => String(e.position) },
      { key: "at", title: "When", cell: (e) => time(e.occurred_at) },
      { key: "event", title: "Event", cell: (e) => e.event_type },
      { key: "entity", title: "Entity", cell: (e) => h("span", { title: e.entity_id }, `${e.entity_type} ${String(e.entity_id).slice(0, 8)}`) },
      { key: "actor", title: "By", cell: (e) => actorText(e.actor) },
      { key: "data", title: "Data", cell: (e) => h("code", { class: "data" }, dataText(e.data)) },
    ];
  }

  // Who caused an event: a partner key's role ("billing"), a platform key's role with its
  // scope ("support (platform)"), or a policy by name ("auto_pause (policy)").
  function actorText(actor) {
    if (!actor) return "";
    if (actor.scope === "policy") return `${actor.key_id} (policy)`;
    return actor.scope === "platform" ? `${actor.role} (platform)` : actor.role;
  }

  // An event's data as "key: value" pairs, nested values as compact JSON.
  function dataText(data) {
    return Object.entries(data || {}).map(([key, value]) => `${key}: ${
      value !== null && typeof value === "object" ? JSON.stringify(value) : value}`).join(" · ");
  }

  async function renderAudit(ctx) {
    const filters = { event_type: ctx.query.get("event_type") || "", entity_id: ctx.query.get("entity_id") || "" };
    const params = { ...ctx.params, ...filters, limit: 100 };
    const first = await api("/audit-trail", params);
    const rows = [...first.data];
    let cursor = first.next_cursor;
    const holder = h("div", { id: "audit-holder" });
    const more = h("button", { type: "button", id: "audit-more", class: "secondary", hidden: !cursor }, "Load more");
    const redraw = () => holder.replaceChildren(table(auditColumns(), rows, { id: "audit", rowId: (e) => String(e.position), empty: "No events." }));
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        const page = await api("/audit-trail", { ...params, cursor });
        rows.push(...page.data);
        cursor = page.next_cursor;
        redraw();
        more.hidden = !cursor;
      } finally {
        more.disabled = false;
      }
    });
    redraw();
    const eventType = h("input", { id: "filter-event-type", value: filters.event_type, placeholder: "e.g. Line.Flagged" });
    const entity = h("input", { id: "filter-entity-id", value: filters.entity_id, placeholder: "entity id" });
    const apply = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); setQuery({ event_type: eventType.value.trim(), entity_id: entity.value.trim() }); } },
      h("label", null, "Event type ", eventType), h("label", null, "Entity ", entity),
      h("button", { type: "submit", class: "secondary" }, "Filter"));
    const verifyBox = h("div", { id: "verify-result", dataset: { state: "empty" } });
    return h("div", null,
      section("Verification",
        h("p", { class: "muted" }, "Auditors: re-derive every issued invoice from the event log, compare it with what was issued, and check the hash chain over the stored log."),
        h("button", { type: "button", id: "verify", onclick: () => runVerify(verifyBox, null) }, "Verify the log and every invoice"),
        verifyBox),
      section("Events, in log order", apply, holder, more));
  }

  const VERIFY_POLL_MS = 500;

  // Verification runs as a job on the service (one at a time): start it, or join the one
  // running, then poll it until it has ended.
  async function runVerify(box, invoice) {
    box.dataset.state = "loading";
    box.replaceChildren(h("p", { class: "muted" }, "Verifying…"));
    let job;
    try {
      job = await request("/v1/admin/verify", null, session.token);
      box.dataset.job = job.id;
      while (job.status === "running") {
        const { done, total } = job.progress || {};
        box.replaceChildren(h("p", { class: "muted" }, total
          ? `Verifying… ${Math.min(100, Math.floor((100 * done) / total))}% of the log walked.`
          : "Verifying…"));
        await new Promise((resolve) => { setTimeout(resolve, VERIFY_POLL_MS); });
        job = await request(`/v1/admin/verify/${encodeURIComponent(job.id)}`, null, session.token);
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        signOut("Your API key is no longer accepted (unknown or revoked). Sign in again.");
        return;
      }
      box.replaceChildren(note(e instanceof ApiError && e.status === 403
        ? "Only auditor keys may run verification; this key may not."
        : problemText(e), "error"));
      box.dataset.state = "error";
      return;
    }
    if (!job.result) {
      box.replaceChildren(note(`The verification stopped before it ended: ${job.error || "no reason given"}.`, "error"));
      box.dataset.state = "error";
      return;
    }
    const report = job.result;
    const mismatches = invoice
      ? report.mismatches.filter((m) => m.invoice_id === invoice.id) : report.mismatches;
    const ok = invoice ? mismatches.length === 0 && !report.chain : report.ok;
    const summary = invoice
      ? (ok ? `Verified: invoice ${invoice.number} re-derives from the log to the cent, and the views hold the same.`
        : `Invoice ${invoice.number} does not match what the log says.`)
      : (ok ? `Verified: ${count(report.invoices_checked)} invoices re-derived from ${count(report.events_checked)} events, no mismatch, hash chain intact.`
        : `Verification found problems: ${report.mismatches.length} mismatches${report.chain ? `, hash chain broken at position ${report.chain.position}` : ""}.`);
    box.replaceChildren(h("div", null,
      note(summary, ok ? "ok" : "error"),
      mismatches.length ? h("ul", { class: "mismatches" }, mismatches.map((m) => h("li", null, m.message))) : null,
      report.chain ? h("p", null, `Hash chain: ${report.chain.problem} at position ${report.chain.position}.`) : null));
    box.dataset.state = ok ? "ok" : "failed";
  }

  // ---------------------------------------------------------------- start ------------

  function start() {
    $("signin-form").addEventListener("submit", onSignIn);
    $("sign-out").addEventListener("click", () => signOut());
    $("as-of").addEventListener("change", (e) => setQuery({ as_of: e.target.value }));
    $("as-of-live").addEventListener("click", () => setQuery({ as_of: null }));
    window.addEventListener("hashchange", route);
    route();
  }

  start();
})();
