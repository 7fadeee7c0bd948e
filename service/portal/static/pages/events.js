// Events: the partner's public events feed (what webhooks send), newest last, filterable
// by type (`invoice.*`), as of a past moment too.
import { api } from "../api.js";
import { h, section, table } from "../dom.js";
import { time } from "../format.js";
import { loadMore } from "../more.js";
import { setQuery } from "../router.js";

// The resource an event carries, in one line: its id and status where it has them.
function summary(data) {
  if (!data) return "";
  const parts = [];
  if (data.id) parts.push(String(data.id).slice(0, 8));
  if (data.number) parts.push(data.number);
  if (data.phone_number) parts.push(data.phone_number);
  if (data.status) parts.push(data.status);
  if (data.kind) parts.push(data.kind);
  if (data.amount !== undefined && data.amount !== null) parts.push(`amount ${data.amount}`);
  if (data.rows !== undefined) parts.push(`${data.rows} usage rows`);
  return parts.join(" · ");
}

async function renderEvents(ctx) {
  const type = ctx.query.get("type") || "";
  const params = { ...ctx.params, type, limit: 100 };
  const first = await api("/events", params);
  const rows = [...first.data];
  const holder = h("div", { id: "events-holder" });
  const more = loadMore({
    id: "events-more", rows, cursor: first.next_cursor,
    next: (cursor) => api("/events", { ...params, cursor }),
    draw: () => holder.replaceChildren(table([
      { key: "created", title: "When", cell: (e) => time(e.created) },
      { key: "type", title: "Type", cell: (e) => h("code", null, e.type) },
      { key: "resource", title: "Resource", cell: (e) => summary(e.data) },
      { key: "id", title: "Event id", cell: (e) => h("code", { class: "data" }, e.id) },
    ], rows, { id: "events", rowId: (e) => e.id, empty: "No events." })),
  });
  const input = h("input", { id: "filter-event-type", value: type, placeholder: "e.g. invoice.* or line.flagged" });
  const filter = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); setQuery({ type: input.value.trim() }); } },
    h("label", null, "Type ", input), h("button", { type: "submit", class: "secondary" }, "Filter"));
  return h("div", null, section("Events, in the order they happened", filter, holder, more));
}

export const page = { id: "events", title: "Events", needs: "events", render: renderEvents };
