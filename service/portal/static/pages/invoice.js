// One invoice (`#/invoices/<id>`): figures, items with their explanation, payments, refunds,
// disputes and, for auditors, its verification.
import { api, apiAll, download, problemText } from "../api.js";
import { badge, cards, figure, fractionMoney, h, note, section, table } from "../dom.js";
import { auditColumns } from "../events.js";
import { loadMore } from "../more.js";
import {
  count, currencyOf, day, label, lastDay, longDay, money, period, pricingText, time,
} from "../format.js";
import { itemsTable } from "../items.js";
import { link } from "../router.js";
import { can } from "../session.js";
import { runVerify } from "../verify.js";

export async function renderInvoice(ctx) {
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
      const [x, lines] = await Promise.all([api(path, { limit: EXPLAIN_EVENTS }), apiAll("/lines")]);
      const phones = Object.fromEntries(lines.filter((l) => l.phone_number).map((l) => [l.id, l.phone_number]));
      panel.replaceChildren(explanation(x, cur, phones, (cursor) => api(path, { limit: EXPLAIN_EVENTS, cursor })));
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
    inv.tax ? section("Tax", h("p", { id: "tax" },
      inv.tax.reverse_charge
        ? `${inv.tax.name} (${inv.tax.rate} %): reverse charge, the customer accounts for the tax.`
        : `${inv.tax.name} (${inv.tax.rate} %): ${money(inv.tax.amount, cur)}.`)) : null,
    section("Items per sub-account", itemsTable(inv, { id: "items", explain })),
    (inv.credit_notes || []).length ? section("Credit notes", table([
      { key: "number", title: "Number", cell: (c) => c.number },
      { key: "issued_at", title: "Issued", cell: (c) => day(c.issued_at) },
      { key: "amount", title: "Amount", num: true, cell: (c) => money(c.amount, cur) },
      { key: "reason", title: "Reason", cell: (c) => c.reason },
    ], inv.credit_notes, { id: "credit-notes" })) : null,
    documents(inv, iid),
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
    can("verify.run") ? section("Verification",
      h("p", { class: "muted" }, "Auditors: re-derive this invoice from the event log and compare it cent by cent."),
      h("button", { type: "button", id: "verify-invoice", onclick: () => runVerify(verifyBox, inv) }, "Verify this invoice"),
      verifyBox) : null,
    section("Why each item costs what it does", panel));
}

// The invoice as a PDF, and each sub-account's share (PDF or CSV) to forward to that client.
function documents(inv, iid) {
  const status = h("p", { id: "documents-status", class: "muted", role: "status" });
  const base = `/invoices/${encodeURIComponent(iid)}`;
  const fetchFile = async (path, params, filename) => {
    status.replaceChildren("Preparing the document…");
    try {
      await download(path, params, filename);
      status.replaceChildren("");
    } catch (e) {
      status.replaceChildren(note(problemText(e), "error"));
    }
  };
  const shares = (inv.items || []).filter((item) => item.sub_account_id !== undefined);
  return section("Documents",
    h("button", { type: "button", id: "invoice-pdf", class: "secondary",
      onclick: () => fetchFile(`${base}/pdf`, null, `${inv.number}.pdf`) }, "Invoice PDF"),
    shares.length ? table([
      { key: "name", title: "Sub-account", cell: (item) => item.name },
      { key: "pdf", title: "Statement", cell: (item) => h("button", { type: "button", class: "secondary",
        onclick: () => fetchFile(`${base}/statement`, { sub_account_id: item.sub_account_id ?? "unassigned", format: "pdf" },
          `${inv.number}-${item.name}.pdf`) }, "PDF") },
      { key: "csv", title: "Data", cell: (item) => h("button", { type: "button", class: "secondary",
        onclick: () => fetchFile(`${base}/statement`, { sub_account_id: item.sub_account_id ?? "unassigned", format: "csv" },
          `${inv.number}-${item.name}.csv`) }, "CSV") },
    ], shares, { id: "statements" }) : null,
    status);
}

// The explanation pages the period's events; its arithmetic comes whole with each page.
const EXPLAIN_EVENTS = 100;

// "3 lines × 10 days + 1 line × 4 days": the item's line-days grouped by how many days each
// line counted.
function lineDaysInWords(lines) {
  const byDays = new Map();
  for (const l of lines) byDays.set(l.line_days, (byDays.get(l.line_days) || 0) + 1);
  return [...byDays.entries()].sort((a, b) => b[0] - a[0])
    .map(([days, n]) => `${count(n)} ${n === 1 ? "line" : "lines"} × ${count(days)} ${days === 1 ? "day" : "days"}`)
    .join(" + ");
}

function explanation(x, cur, phones, nextPage) {
  const events = [...x.events];
  const holder = h("div", { id: "explain-events-holder" });
  const heading = h("h4", null);
  const more = loadMore({
    id: "explain-more", label: "Load more events", rows: events, cursor: x.next_cursor,
    next: nextPage, key: "events",
    draw: () => {
      heading.replaceChildren(`Events that placed those lines during the period (${count(events.length)} of ${count(x.events_total ?? events.length)})`);
      holder.replaceChildren(table(auditColumns(phones), events, { id: "explain-events", empty: "No event." }));
    },
    failed: (button, e) => button.replaceWith(note(problemText(e), "error")),
  });
  const [p, q] = String(x.exact_amount).split("/").map(Number);
  const exact = q ? p / q : p;
  return h("div", { class: "explanation" },
    h("h3", null, `${x.item.name}: ${money(x.item.amount, cur)} for ${count(x.item.line_days)} line-days`),
    x.lines.length ? h("p", { id: "explain-words" },
      `${lineDaysInWords(x.lines)} = ${count(x.item.line_days)} line-days, from ${longDay(x.period.start)} to ${longDay(lastDay(x.period.end))} (${x.days_in_period} days in the period).`) : null,
    h("p", { class: "rule", dataset: { rule: "" } }, `Rule: ${x.rule}.`),
    h("p", null, `Exactly ${money(exact, cur, 4)}, rounded to ${money(x.item.amount, cur)}.`),
    h("p", null, `Pricing: ${pricingText(x.pricing, cur)}.`),
    table([
      { key: "day", title: "Day", cell: (d) => longDay(d.day) },
      { key: "lines_total", title: "Lines (all)", num: true, cell: (d) => count(d.lines_total) },
      { key: "price", title: "Monthly price of all lines", num: true, cell: (d) => money(d.monthly_price_of_all_lines, cur) },
      { key: "day_amount", title: "Day's cost", num: true, cell: (d) => fractionMoney(d.day_amount, cur) },
      { key: "line_days", title: "Item's lines that day", num: true, cell: (d) => count(d.line_days) },
      { key: "share", title: "Item's share", num: true, cell: (d) => fractionMoney(d.item_share, cur) },
    ], x.days, { id: "explain-days", rowId: (d) => d.day, empty: "No day contributes to this item." }),
    h("h4", null, "Lines that contributed"),
    table([
      { key: "line", title: "Line", cell: (l) => h("span", { title: l.line_id }, phones[l.line_id] || l.line_id) },
      { key: "line_days", title: "Days counted", num: true, cell: (l) => `${count(l.line_days)} ${l.line_days === 1 ? "day" : "days"}` },
    ], x.lines, { id: "explain-lines", rowId: (l) => l.line_id, empty: "No line." }),
    heading, holder, more);
}
