// The audit trail in log order, filterable, and the auditor's verification of the log.
import { api } from "../api.js";
import { h, section, table } from "../dom.js";
import { auditColumns } from "../events.js";
import { setQuery } from "../router.js";
import { runVerify } from "../verify.js";

async function renderAudit(ctx) {
  const filters = { event_type: ctx.query.get("event_type") || "", entity_id: ctx.query.get("entity_id") || "" };
  const params = { ...ctx.params, ...filters, limit: 100 };
  const first = await api("/audit-trail", params);
  const rows = [...first.data];
  let cursor = first.next_cursor;
  const holder = h("div", { id: "audit-holder" });
  const more = h("button", { type: "button", id: "audit-more", class: "secondary", hidden: !cursor }, "Load more");
  const redraw = () => holder.replaceChildren(table(auditColumns(), rows, { id: "audit", rowId: (e) => String(e.position), empty: "No events." }));
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await api("/audit-trail", { ...params, cursor });
      rows.push(...page.data);
      cursor = page.next_cursor;
      redraw();
      more.hidden = !cursor;
    } finally {
      more.disabled = false;
    }
  });
  redraw();
  const eventType = h("input", { id: "filter-event-type", value: filters.event_type, placeholder: "e.g. Line.Flagged" });
  const entity = h("input", { id: "filter-entity-id", value: filters.entity_id, placeholder: "entity id" });
  const apply = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); setQuery({ event_type: eventType.value.trim(), entity_id: entity.value.trim() }); } },
    h("label", null, "Event type ", eventType), h("label", null, "Entity ", entity),
    h("button", { type: "submit", class: "secondary" }, "Filter"));
  const verifyBox = h("div", { id: "verify-result", dataset: { state: "empty" } });
  return h("div", null,
    section("Verification",
      h("p", { class: "muted" }, "Auditors: re-derive every issued invoice from the event log, compare it with what was issued, and check the hash chain over the stored log."),
      h("button", { type: "button", id: "verify", onclick: () => runVerify(verifyBox, null) }, "Verify the log and every invoice"),
      verifyBox),
    section("Events, in log order", apply, holder, more));
}

export const page = { id: "audit", title: "Audit trail", needs: "audit", render: renderAudit };
