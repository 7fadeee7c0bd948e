// Text formats: money, counts, days and periods, status labels. Pure functions of their
// arguments (and of the signed-in partner's currency as the fallback).
import { session } from "./session.js";

export const STATUS_LABELS = {
  available: "Available", active: "Active", flagged: "Flagged",
  move_requested: "Move requested", delete_requested: "Delete requested", deleted: "Deleted",
  merge_requested: "Merge requested", merged: "Merged", open: "Open", paid: "Paid",
  past_due: "Past due", void: "Void",
};

export function currencyOf(data) {
  return (data && data.currency) || (session && session.currency) || "USD";
}

// Money arrives as integer minor units; shown as currency with two decimals.
export function money(minor, currency, digits = 2) {
  if (minor === null || minor === undefined) return "—";
  return new Intl.NumberFormat("en-US", {
    style: "currency", currency: currency || currencyOf(null),
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  }).format(Number(minor) / 100);
}

// An exact amount "p/q" in minor units (the charge explanation's rationals): shown to the

export const count = (n) => new Intl.NumberFormat("en-US").format(n);
export const percent = (rate) => (rate === null || rate === undefined
  ? "—" : `${(rate * 100).toFixed(1)}%`);
export const day = (iso) => (iso ? iso.slice(0, 10) : "—");
export const time = (iso) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : "—");

export function lastDay(endIso) {
  const end = new Date(endIso);
  end.setUTCDate(end.getUTCDate() - 1);
  return end.toISOString().slice(0, 10);
}

// Periods are half-open [start, end): shown as first day – last day.
export const period = (p) => (p ? `${day(p.start)} – ${lastDay(p.end)}` : "—");
export const label = (status) => STATUS_LABELS[status] || String(status || "—").replaceAll("_", " ");

export function pricingText(p, cur) {
  if (!p) return "—";
  if (p.structure === "standard") return `standard, ${money(p.unit_amount, cur)} per line per month`;
  const tiers = p.tiers.map((t, i) => {
    const from = i === 0 ? 1 : p.tiers[i - 1].up_to + 1;
    const range = t.up_to === null ? `${from}+` : `${from}–${t.up_to}`;
    return `${range}: ${money(t.unit_amount, cur)}`;
  }).join("; ");
  return `tiered (${p.mode}), per line per month: ${tiers}`;
}
