// Lines: counts per status and per sub-account, and the filterable line list.
import { api, apiAll } from "../api.js";
import { cards, figure, h, note, section, statusBadge, table } from "../dom.js";
import { count, label, time } from "../format.js";
import { setQuery } from "../router.js";
import { subAccountNames } from "./sub-accounts.js";

const LINE_STATUSES = ["available", "active", "flagged", "move_requested", "delete_requested"];
// Lines that need attention are listed first, in this order.
const ATTENTION = { flagged: 0, move_requested: 1, delete_requested: 2 };

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

export const page = { id: "lines", title: "Lines", needs: "lines", render: renderLines };
