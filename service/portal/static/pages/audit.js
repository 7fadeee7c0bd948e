// The audit trail in log order, filterable, and the auditor's verification of the log.
import { api, apiAll } from "../api.js";
import { h, section, table } from "../dom.js";
import { auditColumns } from "../events.js";
import { loadMore } from "../more.js";
import { setQuery } from "../router.js";
import { can } from "../session.js";
import { runVerify } from "../verify.js";

async function renderAudit(ctx) {
  const filters = { event_type: ctx.query.get("event_type") || "", entity_id: ctx.query.get("entity_id") || "" };
  const params = { ...ctx.params, ...filters, limit: 100 };
  // Lines are named by their phone numbers; a key that may not list lines sees short ids.
  const [first, lines] = await Promise.all([
    api("/audit-trail", params), apiAll("/lines", ctx.params).catch(() => []),
  ]);
  const phones = Object.fromEntries(lines.filter((l) => l.phone_number).map((l) => [l.id, l.phone_number]));
  const rows = [...first.data];
  const holder = h("div", { id: "audit-holder" });
  const more = loadMore({
    id: "audit-more", rows, cursor: first.next_cursor,
    next: (cursor) => api("/audit-trail", { ...params, cursor }),
    draw: () => holder.replaceChildren(table(auditColumns(phones), rows, { id: "audit", rowId: (e) => String(e.position), empty: "No events." })),
  });
  const eventType = h("input", { id: "filter-event-type", value: filters.event_type, placeholder: "e.g. Line.Flagged" });
  const entity = h("input", { id: "filter-entity-id", value: filters.entity_id, placeholder: "entity id" });
  const apply = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); setQuery({ event_type: eventType.value.trim(), entity_id: entity.value.trim() }); } },
    h("label", null, "Event type ", eventType), h("label", null, "Entity ", entity),
    h("button", { type: "submit", class: "secondary" }, "Filter"));
  const verifyBox = h("div", { id: "verify-result", dataset: { state: "empty" } });
  return h("div", null,
    section("Verification", can("verify.run") ? [
      h("p", { class: "muted" }, "Re-derive every issued invoice from the event log, compare it with what was issued, and check the hash chain over the stored log."),
      h("button", { type: "button", id: "verify", onclick: () => runVerify(verifyBox, null) }, "Verify the log and every invoice"),
      verifyBox,
    ] : h("p", { class: "muted", id: "verify-not-allowed" }, "Only auditor keys may run verification; this key may not, so the button is not offered.")),
    section("Events, in log order", apply, holder, more));
}

export const page = { id: "audit", title: "Audit trail", needs: "audit", render: renderAudit };
