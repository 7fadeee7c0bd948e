"""Billing views: summary, upcoming invoice, invoice list and detail, charge explanation,
my status. Each reads the caught-up views (`line_day_counts`, `aggregate_states`) and the
pure billing arithmetic; nothing here walks every line for every day.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from aggregates.charges import billing_period
from aggregates.errors import NotFound
from aggregates.invoice import PAST_DUE, Invoice
from aggregates.invoice_draft import Draft, draft_invoice
from aggregates.invoice_figures import InvoiceFigures
from aggregates.line_days import Placement, line_day_buckets
from aggregates.partner import Partner, card_expired
from projections import aggregate_states, line_day_counts
from projections.audit import audit_item
from projections.credit_notes import invoice_credit_notes, item_credit_notes
from projections.events import uuid_text
from projections.paging import keyset, split
from projections.sql import Sql
from projections.times import api_time, from_stored, stored

OUTSTANDING = ("open", PAST_DUE)


def sub_account_names(sql: Sql, partner_id: str) -> dict[str | None, str]:
    return {r["id"]: r["name"] for r in sql.all(
        "SELECT id, name FROM v_sub_accounts WHERE partner_id = ?", partner_id)}


def period_draft(sql: Sql, partner: Partner, *, start: datetime, end: datetime,
                 credit_balance: int | None = None) -> Draft:
    """The invoice for [start, end) from the counts the view holds now; days after today
    carry today's lines, as the upcoming invoice promises."""
    pid = str(partner.id)
    counts = line_day_counts.day_counts(sql, partner_id=pid, start=start.date(), end=end.date())
    return draft_invoice(
        counts=counts, days_in_period=(end - start).days, pricing=partner.pricing_at(start),
        names=sub_account_names(sql, pid), discounts=partner.active_discounts(),
        credit_balance=partner.credit_balance if credit_balance is None else credit_balance,
        **billing_terms(partner, start),
    )


def billing_terms(partner: Partner, start: datetime) -> dict[str, Any]:
    """The terms besides pricing and discounts that shape a period's invoice: the tax in
    force when the period began, and the partner's first day (the plan's minimum is
    prorated from it)."""
    return {"tax": partner.tax_at(start), "period_start": start.date(),
            "billable_from": partner.created_on.date()}


def tax_json(tax: dict[str, Any] | None) -> dict[str, Any] | None:
    """The public `tax` of an invoice: `{name, rate, amount, reverse_charge}`, with the
    partner's tax id, the reverse-charge note and each item's taxable amount and tax."""
    if tax is None:
        return None
    return {key: tax.get(key) for key in ("name", "rate", "amount", "reverse_charge", "tax_id",
                                          "note", "lines")}


def figures_json(figures: InvoiceFigures) -> dict[str, Any]:
    """The figures as an invoice's JSON (and the upcoming one's) lists them."""
    return {**figures.as_dict(), "tax": tax_json(figures.tax)}


def _partner(sql: Sql, partner_id: str) -> Partner:
    partner = aggregate_states.load(sql, Partner, partner_id)
    if partner is None:
        # Only an as-of read before the partner existed finds none: nothing to show then.
        raise NotFound(f"partner {partner_id} did not exist at that moment")
    return partner


def _period(partner: Partner, now: datetime) -> tuple[datetime, datetime]:
    return billing_period(anchor_day=partner.billing_anchor_day, containing=now)


def _period_json(start: datetime, end: datetime) -> dict[str, Any]:
    return {"start": api_time(start), "end": api_time(end)}


def live_line_count(sql: Sql, partner_id: str) -> int:
    return int(sql.scalar("SELECT COUNT(*) FROM v_lines WHERE partner_id = ? "
                          "AND status <> 'deleted'", partner_id) or 0)


def upcoming_invoice(sql: Sql, *, partner_id: str, now: datetime) -> dict[str, Any]:
    partner = _partner(sql, partner_id)
    start, end = _period(partner, now)
    draft = period_draft(sql, partner, start=start, end=end)
    return {
        "period": _period_json(start, end),
        "line_count": live_line_count(sql, partner_id),
        **figures_json(draft),
        "currency": partner.currency,
        "credit_notes": [],  # a preview has none; the key is always there
    }


def _method_json(method: Any, *, default_id: UUID | None,
                 next_billing: datetime | None = None) -> dict[str, Any]:
    body = {"id": str(method.id), "brand": method.brand, "last4": method.last4,
            "exp_month": method.exp_month, "exp_year": method.exp_year,
            "is_default": method.id == default_id}
    if next_billing is not None:
        body["expires_before_next_billing"] = card_expired(method, next_billing)
    return body


def payment_method_json(partner: Partner, method_id: UUID) -> dict[str, Any]:
    return _method_json(partner.payment_methods[method_id],
                        default_id=partner.default_payment_method_id)


# The accrued subtotal of each summary read, by what it is a function of. Between two
# changes of a partner's lines every summary of a day computes the same one (the day-by-
# day arithmetic is most of a summary's Python); the memory stays bounded.
_ACCRUED: dict[tuple[Any, ...], int] = {}
_ACCRUED_SIZE = 4096


def accrued_charges(counts: Mapping[date, Mapping[str | None, int]], *, days_in_period: int,
                    pricing: dict[str, Any]) -> int:
    """The subtotal of the charges `counts` make (no discount, credit or tax): what
    `draft_invoice` gives for them, remembered."""
    key = (days_in_period, json.dumps(pricing, sort_keys=True, default=str),
           tuple((day, tuple(sorted(c.items(), key=lambda kv: kv[0] or "")))
                 for day, c in counts.items()))
    found = _ACCRUED.get(key)
    if found is None:
        found = draft_invoice(counts=counts, days_in_period=days_in_period, pricing=pricing,
                              names={}, discounts=[], credit_balance=0).subtotal
        if len(_ACCRUED) >= _ACCRUED_SIZE:
            _ACCRUED.clear()
        _ACCRUED[key] = found
    return found


def billing_summary(sql: Sql, *, partner_id: str, now: datetime) -> dict[str, Any]:
    partner = _partner(sql, partner_id)
    start, end = _period(partner, now)
    # New charges accrued so far: the period's days up to and including today.
    counts = line_day_counts.day_counts(sql, partner_id=partner_id, start=start.date(),
                                        end=end.date())
    today = now.date()
    so_far = {day: c for day, c in counts.items() if day <= today}
    new_charges = accrued_charges(so_far, days_in_period=(end - start).days,
                                  pricing=partner.pricing_at(start))
    # A card failure this period belongs to an invoice still unpaid, or to one whose
    # dunning (at most 7 days) ran into this period: its period began at most two back.
    invoices = aggregate_states.invoices(sql, partner_id=partner_id,
                                         open_or_since=start - timedelta(days=62))
    outstanding = sum(inv.balance_due for inv in invoices if inv.status in OUTSTANDING)
    failures = [
        {"invoice_id": str(inv.id), "at": api_time(at), "reason": reason}
        for inv in invoices for at, reason in inv.failures if start <= at < end
    ]
    method = partner.default_payment_method
    return {
        "currency": partner.currency,
        "period": _period_json(start, end),
        "new_charges": new_charges,
        "outstanding": outstanding,
        "credit_balance": partner.credit_balance,
        "card_failures": failures,
        "next_billing_date": api_time(end),
        "default_payment_method": _method_json(
            method, default_id=partner.default_payment_method_id, next_billing=end)
        if method else None,
    }


def my_status(sql: Sql, *, partner_id: str, now: datetime) -> dict[str, Any]:
    partner = _partner(sql, partner_id)
    return {"line_count": live_line_count(sql, partner_id),
            "pricing": partner.pricing_at(now), "credit_balance": partner.credit_balance,
            "currency": partner.currency}


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": str(invoice.id),
        "number": invoice.number,
        "period": _period_json(invoice.period_start, invoice.period_end),
        "status": invoice.status,
        **figures_json(invoice.figures),
        "amount_paid": invoice.amount_paid,
        "amount_refunded": invoice.amount_refunded,
        "payments": [{"at": api_time(p["at"]), "status": p["status"], "reason": p["reason"],
                      "amount": p["amount"],
                      "payment_method_id": uuid_text(p["payment_method_id"])}
                     for p in invoice.payments],
        "refunds": [{"at": api_time(r["at"]), "amount": r["amount"], "reason": r["reason"]}
                    for r in invoice.refunds],
        "disputes": [{**{k: v for k, v in d.items() if k not in ("id",)},
                      "id": str(d["id"]), "opened_at": api_time(d["opened_at"]),
                      "resolved_at": api_time(d["resolved_at"])}
                     for d in invoice.disputes.values()],
        "currency": invoice.currency,
        "issued_at": api_time(invoice.created_on),
        "credit_notes": invoice_credit_notes(invoice),
    }


def list_invoices(sql: Sql, *, partner_id: str, after_seq: int,
                  limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; the cursor is the seq of the last invoice on the page."""
    bound = after_seq or 2**62
    return keyset(
        sql, "SELECT i.seq, s.state FROM v_invoices i JOIN v_states s ON s.id = i.id "
        "WHERE i.partner_id = ? AND i.seq < ? ORDER BY i.period_start DESC, i.seq DESC",
        partner_id, bound, limit=limit, key="seq",
        item=lambda r: invoice_json(aggregate_states.decode(Invoice, r["state"])))


def get_invoice(sql: Sql, *, partner_id: str, invoice_id: str) -> Invoice | None:
    invoice = aggregate_states.load(sql, Invoice, invoice_id)
    return invoice if invoice is not None and str(invoice.partner_id) == partner_id else None


def _period_placements(sql: Sql, *, partner_id: str, bucket: str | None, start: datetime,
                       end: datetime) -> tuple[dict[str, tuple[list[Placement],
                                                               datetime | None]],
                                               dict[str, list[int]]]:
    """The placements and deletion up to `end` of each line ever placed in `bucket` before
    `end` (no other line can count in it), and the log positions of its placement events
    within [start, end). Narrow rows of the placements view only; the events' data is read
    for one page of positions at a time."""
    histories: dict[str, tuple[list[Placement], datetime | None]] = {}
    in_period: dict[str, list[int]] = {}
    start_text, end_text = stored(start), stored(end)
    for row in sql.all("SELECT position, line_id, at, kind, bucket FROM v_placements "
                       "WHERE partner_id = ? AND at < ? AND line_id IN (SELECT line_id FROM "
                       "v_placements WHERE partner_id = ? AND at < ? AND bucket = ?) "
                       "ORDER BY position", partner_id, end_text, partner_id, end_text,
                       bucket or line_day_counts.UNASSIGNED):
        line_id = row["line_id"]
        history, deleted_at = histories.get(line_id, ([], None))
        at = from_stored(row["at"])
        if row["kind"] == "deleted":
            deleted_at = at
        else:
            history.append(Placement(at=at, bucket=row["bucket"] or None))
        histories[line_id] = (history, deleted_at)
        if row["at"] >= start_text:
            in_period.setdefault(line_id, []).append(int(row["position"]))
    return histories, in_period


def _pricing_events(sql: Sql, *, partner_id: str, start: datetime,
                    end: datetime) -> list[dict[str, Any]]:
    """The pricing in effect when the period began (the last change recorded before it)
    and the changes recorded during it."""
    kinds = "('Partner.Created', 'Partner.PricingChanged')"
    before = sql.all(f"SELECT * FROM v_audit WHERE entity_id = ? AND event_type IN {kinds} "
                     "AND occurred_at < ? ORDER BY position DESC LIMIT 1", partner_id,
                     stored(start))
    during = sql.all(f"SELECT * FROM v_audit WHERE entity_id = ? AND event_type IN {kinds} "
                     "AND occurred_at >= ? AND occurred_at < ? ORDER BY position", partner_id,
                     stored(start), stored(end))
    return [audit_item(row) for row in (*before, *during)]


def _item_tax(invoice: Invoice, index: int) -> dict[str, Any] | None:
    """The item's tax as issued: its taxable (discounted) amount, the rate and the tax."""
    tax = getattr(invoice, "tax", None)
    if tax is None:
        return None
    line = tax["lines"][index]
    return {"name": tax["name"], "rate": tax["rate"], "reverse_charge": tax["reverse_charge"],
            "taxable_amount": line["taxable_amount"], "amount": line["amount"],
            "rule": "exclusive tax on the item's discounted amount, rounded half-even per "
                    "item; the invoice's tax is the sum of its items'; none under reverse "
                    "charge"}


def explain_item(sql: Sql, *, invoice: Invoice, index: int, after_position: int = 0,
                 limit: int = 50) -> dict[str, Any] | None:
    """Why item `index` costs what it does: the day-by-day arithmetic of the whole period,
    the lines that counted in its bucket, and a page of the events within the period that
    placed those lines (in log order, after `after_position`, at most `limit`), with the
    cursor position of the next page (None on the last)."""
    if not 0 <= index < len(invoice.items):
        return None
    item = invoice.items[index]
    bucket = item["sub_account_id"]
    pid = str(invoice.partner_id)
    partner = _partner(sql, pid)
    start, end = invoice.period_start, invoice.period_end
    counts = line_day_counts.day_counts(sql, partner_id=pid, start=start.date(), end=end.date())
    draft = draft_invoice(
        counts=counts, days_in_period=(end - start).days, pricing=partner.pricing_at(start),
        names=sub_account_names(sql, pid), discounts=partner.active_discounts(),
        credit_balance=0, **billing_terms(partner, start))
    histories, in_period = _period_placements(sql, partner_id=pid, bucket=bucket,
                                              start=start, end=end)
    contributing: dict[str, int] = {}
    for line_id, (history, deleted_at) in histories.items():
        days = line_day_buckets(placements=history, deleted_at=deleted_at,
                                period_start=start.date(), period_end=end.date())
        n = sum(1 for b in days.values() if b == bucket)
        if n:
            contributing[line_id] = n
    positions = sorted(p for line_id in contributing for p in in_period.get(line_id, ()))
    page, next_position = split([p for p in positions if p > after_position], limit,
                                key=lambda position: position)
    marks = ", ".join("?" for _ in page)
    events = [audit_item(row) for row in sql.all(
        f"SELECT * FROM v_audit WHERE position IN ({marks}) ORDER BY position", *page)
    ] if page else []
    day_items = [
        {"day": day.day.isoformat(), "lines_total": day.lines,
         "monthly_price_of_all_lines": day.price, "day_amount": str(day.amount),
         "line_days": counts[day.day].get(bucket, 0), "item_share": str(day.shares[bucket])}
        for day in draft.charges.per_day if day.shares.get(bucket)
    ]
    return {
        "invoice_id": str(invoice.id),
        "item": {**item, "index": index},
        "period": _period_json(start, end),
        "days_in_period": (end - start).days,
        "pricing": partner.pricing_at(start),
        "rule": "each day costs price(lines that day) / days in period, shared equally among "
                "that day's line-days; the item sums its shares, rounded half-even, adjusted "
                "by largest remainder so the items sum exactly to the rounded subtotal",
        "exact_amount": str(draft.charges.exact.get(bucket, 0)),
        "discounts": invoice.discounts,
        "tax": _item_tax(invoice, index),
        "lines": [{"line_id": k, "line_days": v} for k, v in sorted(contributing.items())],
        "days": day_items,
        "events": events,
        "events_total": len(positions),
        "next_position": next_position,
        "pricing_events": _pricing_events(sql, partner_id=pid, start=start, end=end),
        "credit_notes": item_credit_notes(invoice, index),
    }
