// The billing summary: the current cycle, balances, the default card and card failures.
import { api } from "../api.js";
import { badge, cards, figure, h, note, section, table } from "../dom.js";
import { count, currencyOf, day, money, period, time } from "../format.js";
import { link } from "../router.js";

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

export const page = { id: "billing", title: "Billing summary", needs: "billing", render: renderBilling };
