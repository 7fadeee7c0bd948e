// My status: line count, pricing and credit balance.
import { api } from "../api.js";
import { cards, figure, h, note, section, table } from "../dom.js";
import { count, currencyOf, money, pricingText } from "../format.js";

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

export const page = { id: "my-status", title: "My status", needs: "billing", render: renderMyStatus };
