"""A period's charges from its line-days, invoice totals, and billing-period dates.

Charge for a period of `D` days: `Σ over days d of price(n_d) / D`, `n_d` the lines
counted on day `d`. Each day's amount is shared equally among that day's line-days;
each bucket (sub-account id, None for `unassigned`) sums its shares exactly, and the
items are rounded with `allocate` so that they sum exactly to the rounded subtotal.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from functools import cached_property

from aggregates.errors import InvalidInput

# The totals are the figures' identities; kept importable from here for its callers.
from aggregates.invoice_figures import invoice_totals as invoice_totals
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
        the charge explanation needs it). A day without lines whose minimum still costs
        puts it in the Unassigned bucket."""
        if not self.lines:
            return {None: self.amount} if self.amount else {}
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
    *, counts: Mapping[date, Mapping[Bucket, int]], pricing: Pricing, days_in_period: int,
    minimum_days: Collection[date] = (),
) -> ChargeResult:
    """Charge a period from its per-day, per-bucket line counts (see `day_counts`).

    On `minimum_days` (the period's days the partner existed) a day costs at least the
    plan's `minimum_amount / D`: a monthly commitment, prorated like the rest. A day with
    no line at all puts its minimum in the Unassigned bucket (no line-days).
    """
    if days_in_period <= 0:
        raise ValueError(f"days_in_period must be positive, got {days_in_period}")
    if len(counts) > days_in_period:
        raise ValueError(f"{len(counts)} days of counts for a {days_in_period}-day period")
    minimum = pricing.minimum_amount
    floored = frozenset(minimum_days) if minimum else frozenset()
    if len(floored | set(counts)) > days_in_period:
        raise ValueError(f"more billed days than the period's {days_in_period}")
    line_days: dict[Bucket, int] = {}
    per_day: list[DayCharge] = []
    # Bucket b's exact amount is Σ_d price_d · c_db / (n_d · D). Summed in integers over
    # the common denominator L · D (L = lcm of the day's line counts), it needs one
    # Fraction per bucket instead of several per day and bucket.
    terms: list[tuple[int, int, dict[Bucket, int]]] = []
    for day in sorted(floored | set(counts)):
        day_counts = {bucket: c for bucket, c in counts.get(day, {}).items() if c}
        if any(c < 0 for c in day_counts.values()):
            raise ValueError(f"negative line count on {day}")
        lines = sum(day_counts.values())
        price = monthly_price(pricing, lines)
        if day in floored:
            price = max(price, minimum)
        for bucket, c in day_counts.items():
            line_days[bucket] = line_days.get(bucket, 0) + c
        if lines:
            terms.append((price, lines, day_counts))
        elif price:
            line_days.setdefault(None, 0)
            terms.append((price, 1, {None: 1}))
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


MAX_ANCHOR_DAY = 31


def check_anchor_day(anchor_day: object) -> int:
    """An anchor day 1..31 (past a month's end, the period starts on its last day)."""
    if isinstance(anchor_day, bool) or not isinstance(anchor_day, int) \
            or not 1 <= anchor_day <= MAX_ANCHOR_DAY:
        raise InvalidInput(f"billing anchor day must be 1..{MAX_ANCHOR_DAY}, got {anchor_day!r}")
    return anchor_day


def anchor_in(year: int, month: int, anchor_day: int) -> datetime:
    """Midnight UTC of the anchor day in that month, clamped to its last day (Stripe's
    rule: an anchor of the 31st bills on Feb 28/29, Apr 30)."""
    last = calendar.monthrange(year, month)[1]
    return datetime(year, month, min(anchor_day, last), tzinfo=UTC)


def _shift(moment: datetime, months: int) -> tuple[int, int]:
    index = moment.year * 12 + (moment.month - 1) + months
    return index // 12, index % 12 + 1


def billing_period(*, anchor_day: int, containing: datetime) -> tuple[datetime, datetime]:
    """The monthly period `[anchor, next anchor)`, midnight UTC, that holds `containing`."""
    check_anchor_day(anchor_day)
    if containing.tzinfo is None or containing.utcoffset() is None:
        raise ValueError(f"containing must be timezone-aware, got {containing!r}")
    moment = containing.astimezone(UTC)
    start = anchor_in(moment.year, moment.month, anchor_day)
    if moment < start:
        start = anchor_in(*_shift(moment, -1), anchor_day)
    return start, anchor_in(*_shift(start, 1), anchor_day)


def next_period(start: datetime, anchor_day: int | None = None) -> tuple[datetime, datetime]:
    """The period that follows the one starting at `start`. `anchor_day` (needed from the
    29th on, where a clamped start does not name its anchor) defaults to `start`'s day."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start must be timezone-aware, got {start!r}")
    start = start.astimezone(UTC)
    anchor = start.day if anchor_day is None else check_anchor_day(anchor_day)
    if start != datetime(start.year, start.month, start.day, tzinfo=UTC) \
            or start != anchor_in(start.year, start.month, anchor):
        raise ValueError(f"{start!r} is not a period start (midnight UTC on anchor day {anchor})")
    following = anchor_in(*_shift(start, 1), anchor)
    return following, anchor_in(*_shift(start, 2), anchor)


def period_days(start: datetime, end: datetime) -> list[date]:
    """The UTC calendar days of `[start, end)`; `len()` of it is the period's `D`."""
    first, stop = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [first + timedelta(days=i) for i in range((stop - first).days)]
