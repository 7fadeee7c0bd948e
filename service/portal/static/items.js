// An invoice's (or the upcoming invoice's) items per sub-account with its totals.
import { h, table } from "./dom.js";
import { count, currencyOf, money } from "./format.js";

export function itemsTable(doc, { id, explain } = {}) {
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
