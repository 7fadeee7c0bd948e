// The upcoming invoice: a preview of the current period's invoice.
import { api } from "../api.js";
import { cards, figure, h, note, section } from "../dom.js";
import { count, currencyOf, money, period } from "../format.js";
import { itemsTable } from "../items.js";

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

export const page = { id: "upcoming", title: "Upcoming invoice", needs: "billing", render: renderUpcoming };
