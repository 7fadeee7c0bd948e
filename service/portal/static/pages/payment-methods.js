// Payment methods: every card on file with its expiry; billing and admin keys make one the
// default or remove one.
import { apiAll, apiSend, problemText, request } from "../api.js";
import { badge, cards, figure, h, note, section, table } from "../dom.js";
import { count } from "../format.js";
import { can, session } from "../session.js";

const expiry = (m) => `${String(m.exp_month).padStart(2, "0")}/${m.exp_year}`;

// A card is good through the last day of its expiry month.
function expired(m, today) {
  const [year, month] = [Number(today.slice(0, 4)), Number(today.slice(5, 7))];
  return m.exp_year < year || (m.exp_year === year && m.exp_month < month);
}

async function renderPaymentMethods(ctx) {
  // Expiry is judged against the service's date, not this computer's.
  const [methods, me] = await Promise.all([
    apiAll("/payment-methods"), request("/v1/me", null, session.token),
  ]);
  const today = me.now.slice(0, 10);
  const writable = can("billing.write");
  const status = h("div", { id: "payment-method-status", role: "status" });
  // Each change re-reads the page, so the list always shows what the service holds.
  const act = async (button, method, path, done) => {
    button.disabled = true;
    try {
      await apiSend(method, path);
      ctx.reload(done);
    } catch (e) {
      status.replaceChildren(note(problemText(e), "error"));
      button.disabled = false;
    }
  };
  const columns = [
    { key: "card", title: "Card", cell: (m) => `${m.brand} •••• ${m.last4}` },
    { key: "expiry", title: "Expires", cell: (m) => [expiry(m), expired(m, today) ? badge("expired", "bad") : null] },
    { key: "default", title: "Default", cell: (m) => (m.is_default ? badge("default", "ok") : "") },
  ];
  if (writable) {
    columns.push({
      key: "actions", title: "Actions", cell: (m) => (m.is_default ? h("span", { class: "muted" }, "In use for payments") : h("div", { class: "actions" },
        h("button", {
          type: "button", class: "secondary", dataset: { makeDefault: m.id },
          "aria-label": `Make ${m.brand} ending ${m.last4} the default`,
          onclick: (e) => act(e.currentTarget, "POST", `/payment-methods/${encodeURIComponent(m.id)}/make-default`, `${m.brand} •••• ${m.last4} is now the default.`),
        }, "Make default"),
        h("button", {
          type: "button", class: "danger", dataset: { remove: m.id },
          "aria-label": `Remove ${m.brand} ending ${m.last4}`,
          onclick: (e) => act(e.currentTarget, "DELETE", `/payment-methods/${encodeURIComponent(m.id)}`, `${m.brand} •••• ${m.last4} was removed.`),
        }, "Remove"))),
    });
  }
  return h("div", null,
    ctx.flash ? note(ctx.flash, "ok") : null,
    cards(
      figure("method-count", "Payment methods", count(methods.length)),
      figure("expired-count", "Expired", count(methods.filter((m) => expired(m, today)).length)),
    ),
    writable ? null : note("This key may read payment methods but not change them (billing and admin keys may)."),
    status,
    section("Payment methods", table(columns, methods, {
      id: "payment-methods", rowId: (m) => m.id, empty: "No payment method on file.",
    })));
}

export const page = {
  id: "payment-methods", title: "Payment methods", needs: "billing", render: renderPaymentMethods,
};
