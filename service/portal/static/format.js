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

// The currency's minor-unit exponent (USD 2, JPY 0, KWD 3), as Intl knows it.
const EXPONENTS = new Map();
export function exponentOf(currency) {
  if (!EXPONENTS.has(currency)) {
    EXPONENTS.set(currency, new Intl.NumberFormat("en-US", { style: "currency", currency })
      .resolvedOptions().maximumFractionDigits);
  }
  return EXPONENTS.get(currency);
}

// Money arrives as integer minor units of its currency; shown in major units with the
// currency's own number of decimals (plus `extra` digits for an exact, unrounded amount).
export function money(minor, currency, extra = 0) {
  if (minor === null || minor === undefined) return "—";
  const cur = currency || currencyOf(null);
  const exponent = exponentOf(cur);
  return new Intl.NumberFormat("en-US", {
    style: "currency", currency: cur,
    minimumFractionDigits: exponent + extra, maximumFractionDigits: exponent + extra,
  }).format(Number(minor) / 10 ** exponent);
}

// A sentence from the service that names a raw amount ("52548 USD is past due") reads
// with the amount formatted ("$525.48 is past due").
export function moneyInText(text, amount, currency) {
  if (amount === null || amount === undefined || !currency) return text;
  return String(text).replace(`${amount} ${currency}`, money(amount, currency));
}

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

// "Jan 5, 2026" for "2026-01-05" (or a time on that day, UTC).
const LONG_DAY = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeZone: "UTC" });
export const longDay = (iso) => (iso ? LONG_DAY.format(new Date(`${iso.slice(0, 10)}T00:00:00Z`)) : "—");

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
