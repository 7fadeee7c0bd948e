"""An invoice's figures, from the period's line counts and the partner's billing terms.

One function serves the cycle close, the upcoming-invoice preview, the charge
explanation and the auditor's re-derivation, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from aggregates.charges import ChargeResult, period_charges
from aggregates.discounts import Discount, application_order, discounted_items
from aggregates.invoice_figures import InvoiceFigures
from aggregates.pricing import pricing_from_dict
from aggregates.tax import invoice_tax, tax_terms_from_dict

UNASSIGNED_NAME = "Unassigned"
# The rule every discount line states, so the invoice explains its own figure.
ORDER_RULE = "sub-account discounts apply first, then partner-wide ones, whatever the order added"
EMPTY_RULE = "a sub-account discount with nothing to discount is skipped and uses no cycle"


@dataclass(frozen=True, kw_only=True)
class Draft(InvoiceFigures):
    """The figures an invoice would have, with the charges they come from."""

    charges: ChargeResult


def _item_order(bucket: str | None, names: Mapping[str | None, str]) -> tuple[int, str, str]:
    # Sub-accounts by name, the Available pool last: how the portal lists them.
    return (1, "", "") if bucket is None else (0, names.get(bucket, "").casefold(), bucket)


def _percent_text(discount: Discount) -> str:
    return f"{discount.value}%" if discount.kind == "percent" else f"{discount.value} off"


def discount_note(discount: Discount, names: Mapping[str | None, str]) -> str:
    """What the discount line says: what it took from, and the order rule."""
    if discount.sub_account_id is None:
        return f"{_percent_text(discount)} partner-wide, after sub-account discounts ({ORDER_RULE})"
    name = names.get(discount.sub_account_id, discount.sub_account_id)
    return f"{_percent_text(discount)} on {name} ({ORDER_RULE}; {EMPTY_RULE})"


def minimum_days(*, period_start: date, days_in_period: int,
                 billable_from: date | None) -> list[date]:
    """The period's days on which the plan's minimum holds: from the partner's first day
    (a partner starting mid-period owes the commitment prorated)."""
    days = [period_start + timedelta(days=i) for i in range(days_in_period)]
    return [d for d in days if billable_from is None or d >= billable_from]


def draft_invoice(*, counts: Mapping[date, Mapping[str | None, int]],
                  days_in_period: int, pricing: Mapping[str, Any],
                  names: Mapping[str | None, str], discounts: Sequence[Discount],
                  credit_balance: int, tax: Mapping[str, Any] | None = None,
                  period_start: date | None = None, billable_from: date | None = None,
                  ) -> Draft:
    """`tax` is the partner's tax terms in force (None: no tax); `period_start` and
    `billable_from` (the partner's first day) place the plan's minimum, if it has one."""
    floor_days = [] if period_start is None else minimum_days(
        period_start=period_start, days_in_period=days_in_period, billable_from=billable_from)
    charges = period_charges(counts=counts, pricing=pricing_from_dict(pricing),
                             days_in_period=days_in_period, minimum_days=floor_days)
    buckets = sorted((b for b in charges.line_days
                      if charges.line_days[b] > 0 or charges.items[b] > 0),
                     key=lambda b: _item_order(b, names))
    items = [
        {"sub_account_id": bucket, "name": UNASSIGNED_NAME if bucket is None else
         names.get(bucket, bucket), "line_days": charges.line_days[bucket],
         "amount": charges.items[bucket]}
        for bucket in buckets
    ]
    charged = {b: charges.items[b] for b in buckets}
    # A sub-account discount whose item has nothing to discount is left out: no line, no
    # cycle used (the cycle close counts a cycle for each line).
    live = [d for d in discounts if d.sub_account_id is None or charged.get(d.sub_account_id)]
    applied, taxable = discounted_items(items=charged, discounts=live)
    amounts = {d.id: amount for d, amount in applied}  # a partner's discount ids are unique
    # Listed in the order applied, each line stating the rule.
    discount_lines: list[dict[str, Any]] = [
        {"discount_id": d.id, "amount": amounts[d.id], "note": discount_note(d, names)}
        for d in application_order(live)]
    terms = None if tax is None else tax_terms_from_dict(tax)
    tax_line = invoice_tax(terms, items=items, taxable=taxable)
    return Draft.priced(items=items, discounts=discount_lines, tax=tax_line,
                        credit_balance=credit_balance, charges=charges)
