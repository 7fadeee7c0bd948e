"""A period's charges from its line-days, invoice totals, and billing-period dates.

Charge for a period of `D` days: `Σ over days d of price(n_d) / D`, `n_d` the lines
counted on day `d`. Each day's amount is shared equally among that day's line-days;
each bucket (sub-account id, None for `unassigned`) sums its shares exactly, and the
items are rounded with `allocate` so that they sum exactly to the rounded subtotal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from functools import cached_property

from aggregates.errors import InvalidInput
from aggregates.money import allocate, round_half_even
from aggregates.pricing import Pricing, monthly_price

Bucket = str | None


def _canonical(buckets: Iterable[Bucket]) -> list[Bucket]:
    # Unassigned first, then sub-accounts by id: the rounding's tie-breaks then do not
    # depend on the order in which lines happened to be read, so a re-derived invoice
    # matches the issued one to the cent.
    return sorted(set(buckets), key=lambda b: (b is not None, b or ""))


@dataclass(frozen=True)
class DayCharge:
    """One day of the arithmetic: `amount = price / D`, shared among the day's lines."""

    day: date
    lines: int
    price: int
    amount: Fraction
    counts: Mapping[Bucket, int]

    @cached_property
    def shares(self) -> dict[Bucket, Fraction]:
        """Each bucket's exact share of the day's amount (worked out when asked for: only
        the charge explanation needs it)."""
        return {bucket: self.amount * c / self.lines for bucket, c in self.counts.items()}


@dataclass(frozen=True)
class ChargeResult:
    """A period's items in minor units, with the exact amounts and day-by-day workings."""

    items: dict[Bucket, int]
    exact: dict[Bucket, Fraction]
    line_days: dict[Bucket, int]
    subtotal: int
    per_day: list[DayCharge]
    days_in_period: int


def period_charges(
    *, counts: Mapping[date, Mapping[Bucket, int]], pricing: Pricing, days_in_period: int
) -> ChargeResult:
    """Charge a period from its per-day, per-bucket line counts (see `day_counts`)."""
    if days_in_period <= 0:
        raise ValueError(f"days_in_period must be positive, got {days_in_period}")
    if len(counts) > days_in_period:
        raise ValueError(f"{len(counts)} days of counts for a {days_in_period}-day period")
    line_days: dict[Bucket, int] = {}
    per_day: list[DayCharge] = []
    # Bucket b's exact amount is Σ_d price_d · c_db / (n_d · D). Summed in integers over
    # the common denominator L · D (L = lcm of the day's line counts), it needs one
    # Fraction per bucket instead of several per day and bucket.
    terms: list[tuple[int, int, dict[Bucket, int]]] = []
    for day in sorted(counts):
        day_counts = {bucket: c for bucket, c in counts[day].items() if c}
        if any(c < 0 for c in day_counts.values()):
            raise ValueError(f"negative line count on {day}")
        lines = sum(day_counts.values())
        price = monthly_price(pricing, lines)
        for bucket, c in day_counts.items():
            line_days[bucket] = line_days.get(bucket, 0) + c
        if lines:
            terms.append((price, lines, day_counts))
        per_day.append(DayCharge(day=day, lines=lines, price=price,
                                 amount=Fraction(price, days_in_period), counts=day_counts))
    common = math.lcm(*(lines for _, lines, _ in terms)) if terms else 1
    numerators: dict[Bucket, int] = {}
    for price, lines, day_counts in terms:
        scale = price * (common // lines)
        for bucket, c in day_counts.items():
            numerators[bucket] = numerators.get(bucket, 0) + scale * c
    exact = {bucket: Fraction(n, common * days_in_period) for bucket, n in numerators.items()}
    order = _canonical(exact)
    exact = {bucket: exact[bucket] for bucket in order}
    line_days = {bucket: line_days[bucket] for bucket in order}
    items = allocate(exact)
    return ChargeResult(
        items=items,
        exact=exact,
        line_days=line_days,
        subtotal=round_half_even(sum(exact.values(), Fraction(0))),
        per_day=per_day,
        days_in_period=days_in_period,
    )


def invoice_totals(*, subtotal: int, discount: int, credit_balance: int) -> tuple[int, int, int]:
    """`(total, credit_applied, amount_due)`: discounts first, then credit, never below 0."""
    if subtotal < 0 or discount < 0:
        raise ValueError("subtotal and discount must not be negative")
    if discount > subtotal:
        raise ValueError(f"discount {discount} exceeds subtotal {subtotal}")
    total = subtotal - discount
    # A negative balance (should one ever be recorded) is no credit to apply.
    credit_applied = max(0, min(credit_balance, total))
    return total, credit_applied, total - credit_applied


def _add_month(start: datetime) -> datetime:
    # Anchor days are at most 28, so every month has the day: no clamping needed.
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


def _sub_month(start: datetime) -> datetime:
    year, month = (start.year - 1, 12) if start.month == 1 else (start.year, start.month - 1)
    return start.replace(year=year, month=month)


def billing_period(*, anchor_day: int, containing: datetime) -> tuple[datetime, datetime]:
    """The monthly period `[anchor, next anchor)`, midnight UTC, that holds `containing`."""
    if isinstance(anchor_day, bool) or not isinstance(anchor_day, int) or not 1 <= anchor_day <= 28:
        raise InvalidInput(f"billing anchor day must be 1..28, got {anchor_day!r}")
    if containing.tzinfo is None or containing.utcoffset() is None:
        raise ValueError(f"containing must be timezone-aware, got {containing!r}")
    moment = containing.astimezone(UTC)
    start = datetime(moment.year, moment.month, anchor_day, tzinfo=UTC)
    if moment < start:
        start = _sub_month(start)
    return start, _add_month(start)


def next_period(start: datetime) -> tuple[datetime, datetime]:
    """The period that follows the one starting at `start`."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start must be timezone-aware, got {start!r}")
    start = start.astimezone(UTC)
    if start != datetime(start.year, start.month, start.day, tzinfo=UTC) or start.day > 28:
        raise ValueError(f"{start!r} is not a period start (midnight UTC on day 1..28)")
    following = _add_month(start)
    return following, _add_month(following)


def period_days(start: datetime, end: datetime) -> list[date]:
    """The UTC calendar days of `[start, end)`; `len()` of it is the period's `D`."""
    first, stop = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [first + timedelta(days=i) for i in range((stop - first).days)]
