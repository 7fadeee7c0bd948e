"""An invoice's figures, from the period's line counts and the partner's billing terms.

One function serves the cycle close, the upcoming-invoice preview, the charge
explanation and the auditor's re-derivation, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from aggregates.charges import ChargeResult, invoice_totals, period_charges
from aggregates.discounts import Discount, apply_discounts
from aggregates.pricing import pricing_from_dict

UNASSIGNED_NAME = "Unassigned"


@dataclass(frozen=True)
class Draft:
    items: list[dict[str, Any]]
    subtotal: int
    discounts: list[dict[str, Any]]
    discount: int
    credit_applied: int
    total: int
    amount_due: int
    charges: ChargeResult


def _item_order(bucket: str | None, names: Mapping[str | None, str]) -> tuple[int, str, str]:
    # Sub-accounts by name, the Available pool last: how the portal lists them.
    return (1, "", "") if bucket is None else (0, names.get(bucket, "").casefold(), bucket)


def draft_invoice(*, counts: Mapping[date, Mapping[str | None, int]],
                  days_in_period: int, pricing: Mapping[str, Any],
                  names: Mapping[str | None, str], discounts: Sequence[Discount],
                  credit_balance: int) -> Draft:
    charges = period_charges(counts=counts, pricing=pricing_from_dict(pricing),
                             days_in_period=days_in_period)
    buckets = sorted((b for b, n in charges.line_days.items() if n > 0),
                     key=lambda b: _item_order(b, names))
    items = [
        {"sub_account_id": bucket, "name": UNASSIGNED_NAME if bucket is None else
         names.get(bucket, bucket), "line_days": charges.line_days[bucket],
         "amount": charges.items[bucket]}
        for bucket in buckets
    ]
    applied = apply_discounts(items={b: charges.items[b] for b in buckets}, discounts=discounts)
    discount_lines = [{"discount_id": d.id, "amount": amount} for d, amount in applied]
    discount = sum(amount for _, amount in applied)
    total, credit_applied, amount_due = invoice_totals(
        subtotal=charges.subtotal, discount=discount, credit_balance=credit_balance)
    return Draft(items=items, subtotal=charges.subtotal, discounts=discount_lines,
                 discount=discount, credit_applied=credit_applied, total=total,
                 amount_due=amount_due, charges=charges)
