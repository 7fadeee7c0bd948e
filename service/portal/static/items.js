// An invoice's (or the upcoming invoice's) items per sub-account with its totals, each
// total under the Amount column.
import { h, table } from "./dom.js";
import { count, currencyOf, money } from "./format.js";

function taxTitle(tax) {
  const rate = tax.reverse_charge ? "reverse charge" : `${tax.rate}%`;
  return `${tax.name || "Tax"} (${rate})`;
}

export function itemsTable(doc, { id, explain } = {}) {
  const cur = currencyOf(doc);
  // total = subtotal − discount + tax; the credit then reduces what is due.
  const totals = [
    ["subtotal", "Subtotal", doc.subtotal],
    ["discount", "Discount", doc.discount ? -doc.discount : 0],
    doc.tax ? ["tax", taxTitle(doc.tax), doc.tax.amount] : null,
    ["total", "Total", doc.total],
    ["credit_applied", "Credit applied", doc.credit_applied ? -doc.credit_applied : 0],
    ["amount_due", "Amount due", doc.amount_due],
  ].filter(Boolean);
  const columns = [
    { key: "name", title: "Sub-account", cell: (i) => i.name },
    { key: "line_days", title: "Line-days", num: true, cell: (i) => count(i.line_days) },
    { key: "amount", title: "Amount", num: true, cell: (i) => money(i.amount, cur) },
  ];
  if (explain) {
    columns.push({
      key: "explain", title: h("span", { class: "sr-only" }, "Explanation"),
      cell: (i) => h("button", {
        type: "button", class: "link", dataset: { explain: i.index },
        "aria-label": `Explain ${i.name}`, onclick: () => explain(i.index),
      }, "Explain"),
    });
  }
  // The totals' labels span the columns before Amount; their figures sit under it.
  const amountAt = columns.findIndex((c) => c.key === "amount");
  return table(columns, doc.items.map((item, index) => ({ ...item, index })), {
    id, rowId: (i) => String(i.index), empty: "No items.",
    foot: totals.map(([key, title, value]) => h("tr", {
      class: key === "total" || key === "amount_due" ? "strong" : null, dataset: { total: key },
    },
    h("th", { scope: "row", colspan: amountAt }, title),
    h("td", { class: "num", dataset: { col: "amount" } }, money(value, cur)),
    columns.length > amountAt + 1 ? h("td", { colspan: columns.length - amountAt - 1 }) : null)),
  });
}
