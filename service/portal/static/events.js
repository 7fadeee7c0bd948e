// Event-log rows (the audit trail and an item's explanation) as table columns.
import { h } from "./dom.js";
import { time } from "./format.js";

export function auditColumns() {
  return [
    { key: "position", title: "#", num: true, cell: (e) => String(e.position) },
    { key: "at", title: "When", cell: (e) => time(e.occurred_at) },
    { key: "event", title: "Event", cell: (e) => e.event_type },
    { key: "entity", title: "Entity", cell: (e) => h("span", { title: e.entity_id }, `${e.entity_type} ${String(e.entity_id).slice(0, 8)}`) },
    { key: "actor", title: "By", cell: (e) => actorText(e.actor) },
    { key: "data", title: "Data", cell: (e) => h("code", { class: "data" }, dataText(e.data)) },
  ];
}

// Who caused an event: a partner key's role ("billing"), a platform key's role with its
// scope ("support (platform)"), or a policy by name ("auto_pause (policy)").
function actorText(actor) {
  if (!actor) return "";
  if (actor.scope === "policy") return `${actor.key_id} (policy)`;
  return actor.scope === "platform" ? `${actor.role} (platform)` : actor.role;
}

// An event's data as "key: value" pairs, nested values as compact JSON.
function dataText(data) {
  return Object.entries(data || {}).map(([key, value]) => `${key}: ${
    value !== null && typeof value === "object" ? JSON.stringify(value) : value}`).join(" · ");
}
