// Billing history: every invoice, newest first; one opens at `#/invoices/<id>`.
import { apiAll } from "../api.js";
import { badge, cards, figure, h, section, table } from "../dom.js";
import { count, currencyOf, day, label, money, period } from "../format.js";
import { link } from "../router.js";
import { renderInvoice } from "./invoice.js";

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

export const page = {
  id: "invoices", title: "Billing history", needs: "billing", render: renderInvoices,
  detail: { view: "invoice", title: "Invoice", render: renderInvoice },
};
