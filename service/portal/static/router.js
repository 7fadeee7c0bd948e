// The address is the state: `#/<page>[/<id>]?<query>`, with `as_of` kept across pages.
import { h } from "./dom.js";

export function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  const parts = (path || "").split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "lines", rest: parts.slice(1), query: new URLSearchParams(query || "") };
}

export function hashFor(page, query) {
  const q = new URLSearchParams(query);
  for (const [key, value] of [...q.entries()]) if (!value) q.delete(key);
  const text = q.toString();
  return `#/${page}${text ? `?${text}` : ""}`;
}

// Keeps the as-of date when moving between pages.
export function link(page, text, extra) {
  const { query } = parseHash();
  const q = { ...(extra || {}) };
  if (query.get("as_of")) q.as_of = query.get("as_of");
  return h("a", { href: hashFor(page, q) }, text);
}

export function setQuery(changes) {
  const { page, rest, query } = parseHash();
  for (const [key, value] of Object.entries(changes)) {
    if (value) query.set(key, value);
    else query.delete(key);
  }
  window.location.hash = hashFor([page, ...rest].map(encodeURIComponent).join("/"), query);
}

// The as-of picker names a day; the view is read as it stood at that day's end (UTC).
export function asOfParam(query) {
  const date = query.get("as_of");
  return date && /^\d{4}-\d{2}-\d{2}$/.test(date) ? `${date}T23:59:59Z` : null;
}
