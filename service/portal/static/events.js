// Event-log rows (the audit trail and an item's explanation) as table columns. An event's
// data is summed up in a line (its first few plain fields, shortened); the rest opens on
// demand; fields that could carry a secret are never shown.
import { h } from "./dom.js";
import { time } from "./format.js";

const SUMMARY_FIELDS = 3;
const SUMMARY_CHARS = 40;
const DETAIL_CHARS = 4000;
// Card gateway tokens, key hashes and webhook secrets never reach the page, whatever an
// event carries.
const SECRET = /token|secret|hash|password|card_ref|gateway_ref/i;

export function auditColumns(names = {}) {
  return [
    { key: "position", title: "#", num: true, cell: (e) => String(e.position) },
    { key: "at", title: "When", cell: (e) => time(e.occurred_at) },
    { key: "event", title: "Event", cell: (e) => e.event_type },
    { key: "entity", title: "Entity", cell: (e) => entityText(e, names) },
    { key: "actor", title: "By", cell: (e) => actorText(e.actor) },
    { key: "data", title: "Data", cell: (e) => dataCell(e.data) },
  ];
}

// A line by its phone number when known, else the entity's kind and short id (the full
// id on hover).
function entityText(e, names) {
  const known = names[e.entity_id];
  return h("span", { title: e.entity_id },
    known ? `${e.entity_type} ${known}` : `${e.entity_type} ${String(e.entity_id).slice(0, 8)}`);
}

// Who caused an event: a partner key's role ("billing"), a platform key's role with its
// scope ("support (platform)"), or a policy by name ("auto_pause (policy)").
function actorText(actor) {
  if (!actor) return "";
  if (actor.scope === "policy") return `${actor.key_id} (policy)`;
  return actor.scope === "platform" ? `${actor.role} (platform)` : actor.role;
}

function shorten(text, limit) {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

// The data without secrets, nested values kept as they are.
export function visibleData(data) {
  return Object.fromEntries(Object.entries(data || {}).filter(([key]) => !SECRET.test(key)));
}

function plain(value) {
  return value === null || ["string", "number", "boolean"].includes(typeof value);
}

// "phone_number: +1… · sending: on" and, when there is more, "+4 more" with the whole data
// (shortened past a few thousand characters) in a closed <details>.
function dataCell(data) {
  const entries = Object.entries(visibleData(data));
  if (!entries.length) return "";
  const shown = entries.filter(([, v]) => plain(v)).slice(0, SUMMARY_FIELDS);
  const summary = shown.map(([k, v]) => `${k.replaceAll("_", " ")}: ${shorten(String(v), SUMMARY_CHARS)}`)
    .join(" · ");
  const rest = entries.length - shown.length;
  if (!rest && shown.every(([, v]) => String(v).length <= SUMMARY_CHARS)) {
    return h("span", { class: "data" }, summary);
  }
  return h("details", { class: "data" },
    h("summary", null, summary || `${entries.length} fields`, rest ? ` (+${rest} more)` : ""),
    h("pre", null, shorten(JSON.stringify(Object.fromEntries(entries), null, 2), DETAIL_CHARS)));
}
