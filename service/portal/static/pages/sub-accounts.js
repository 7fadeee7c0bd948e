// Sub-accounts with their naming hints and merges.
import { apiAll } from "../api.js";
import { badge, cards, figure, h, note, section, table } from "../dom.js";
import { count, day, label } from "../format.js";

export async function subAccountNames(params) {
  const subs = await apiAll("/sub-accounts", params);
  return { subs, names: Object.fromEntries(subs.map((s) => [s.id, s.name])) };
}

async function renderSubAccounts(ctx) {
  const { subs, names } = await subAccountNames(ctx.params);
  const live = subs.filter((s) => !["merged", "deleted"].includes(s.status));
  const hinted = subs.filter((s) => s.naming_hint && !["merged", "deleted"].includes(s.status));
  return h("div", null,
    cards(
      figure("sub-accounts", "Open sub-accounts", count(live.length)),
      figure("naming-hints", "Names to tidy", count(hinted.length)),
    ),
    note("Name sub-accounts \"Client – Purpose\" (e.g. \"Acme Dental – Sales\"): one client or use case each."),
    section("Sub-accounts", table([
      { key: "name", title: "Name", cell: (s) => s.name },
      { key: "status", title: "Status", cell: (s) => badge(label(s.status), `status-${s.status}`) },
      { key: "lines", title: "Lines", num: true, cell: (s) => count(s.line_count) },
      { key: "hint", title: "Naming hint", cell: (s) => (s.naming_hint ? h("span", { class: "hint" }, s.naming_hint) : h("span", { class: "ok" }, "Follows “Client – Purpose”")) },
      { key: "related", title: "Merge", cell: (s) => (s.merged_into ? `Merged into ${names[s.merged_into] || s.merged_into}` : s.requested_primary_id ? `Merge into ${names[s.requested_primary_id] || s.requested_primary_id} requested` : "") },
      { key: "created", title: "Created", cell: (s) => day(s.created_at) },
    ], subs, { id: "sub-accounts", rowId: (s) => s.id, empty: "No sub-accounts yet." })));
}

export const page = { id: "sub-accounts", title: "Sub-accounts", needs: "lines", render: renderSubAccounts };
