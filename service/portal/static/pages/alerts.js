// Alerts: the open ones, or the resolved ones, or all.
import { apiAll } from "../api.js";
import { badge, cards, figure, h, section, table } from "../dom.js";
import { count, moneyInText, time } from "../format.js";
import { setQuery } from "../router.js";

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
        { key: "message", title: "Message", cell: (a) => moneyInText(a.message, (a.data || {}).balance_due, (a.data || {}).currency) },
        { key: "raised", title: "Raised", cell: (a) => time(a.raised_at) },
        { key: "status", title: "Status", cell: (a) => a.status },
        { key: "resolved", title: "Resolved", cell: (a) => (a.resolved_at ? `${time(a.resolved_at)}${a.resolution ? ` (${a.resolution})` : ""}` : "") },
      ], alerts, { id: "alerts", rowId: (a) => a.key, empty: status === "open" ? "No open alerts." : "No alerts." })));
}

export const page = { id: "alerts", title: "Alerts", needs: "alerts", render: renderAlerts };
