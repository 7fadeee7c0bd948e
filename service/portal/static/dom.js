// Builds the DOM: the element helper and the pieces every page uses (cards, tables, notes).
import { label, money } from "./format.js";

// Builds an element; strings become text nodes, so API data is never parsed as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);

// An exact amount "p/q" in minor units (the charge explanation's rationals): shown rounded
// like all money, the exact value to four more places on hover.
export function fractionMoney(text, currency) {
  const [p, q] = String(text).split("/").map(Number);
  const value = q ? p / q : p;
  return h("span", { title: `exactly ${money(value, currency, 4)}` }, money(value, currency));
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || ""}` }, text);
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, dataset: { status } }, label(status));
}

export function figure(key, title, value, note) {
  return h("div", { class: "card", dataset: { figure: key } },
    h("div", { class: "card-label" }, title),
    h("div", { class: String(value).length > 14 ? "value long" : "value" }, value),
    note ? h("div", { class: "card-note" }, note) : null);
}

export function cards(...items) {
  return h("div", { class: "cards" }, items);
}

// columns: [{key, title, cell(row) → node|string, num?: true}]
export function table(columns, rows, { id, rowId, rowClass, empty, foot } = {}) {
  if (!rows.length && empty) return h("p", { class: "muted empty", id }, empty);
  return h("table", { id },
    h("thead", null, h("tr", null, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.title)))),
    h("tbody", null, rows.map((row) => h("tr", {
      dataset: rowId ? { id: rowId(row) } : {}, class: rowClass ? rowClass(row) : null,
    }, columns.map((c) => h("td", { class: c.num ? "num" : null, dataset: { col: c.key } }, c.cell(row)))))),
    foot ? h("tfoot", null, foot) : null);
}

// A panel scrolls sideways when its table is wider than the window: it takes the keyboard
// focus so that it can be scrolled without a mouse, and is named by its title.
export function section(title, ...children) {
  return h("section", { class: "panel", tabindex: "0", "aria-label": title || null },
    title ? h("h2", null, title) : null, children);
}

export function note(text, kind = "info") {
  return h("div", { class: `note ${kind}` }, text);
}
