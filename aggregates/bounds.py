"""The bounds every stored number and time keeps, and the guards that hold them.

The API refuses what lies outside them at the boundary; the aggregates refuse it again, so
that the CLI, the seed and the policies cannot store what the API refuses. The bounds keep
every figure, sum and product the views compute inside a 64-bit integer (PostgreSQL BIGINT,
SQLite INTEGER), and every time inside the years Python's datetime can shift by any offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeGuard

from aggregates.errors import InvalidInput

# An amount of money in minor units: 10^12 cents is ten billion dollars. A cycle's total
# (unit amount x lines x days) stays far below 2^63 with it.
MAX_AMOUNT = 10**12
# A usage figure of one line for one hour: a billion messages an hour is far above any
# carrier's limit; years of hourly sums of it stay below 2^63.
MAX_FIGURE = 10**9
# A count of lines (a tier's `up_to`).
MAX_LINE_COUNT = 10**9
# Tiers in one pricing plan.
MAX_TIERS = 50
# Times the service accepts: the years a partner's billing can concern.
MIN_YEAR, MAX_YEAR = 2000, 2100
# A global log position is a BIGINT.
MAX_POSITION = 2**63 - 1


def is_int(value: object) -> TypeGuard[int]:
    """An integer and not a bool: `true` is never an amount, a count or an index."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_amount(value: object, what: str, *, positive: bool = False) -> int:
    """`value` as an amount of minor units, 0 (or 1 when `positive`) to MAX_AMOUNT."""
    if not is_int(value):
        raise InvalidInput(f"{what} must be an integer number of minor units, got {value!r}")
    if value < 0:
        raise InvalidInput(f"{what} must not be negative, got {value}")
    if positive and value == 0:
        raise InvalidInput(f"{what} must be positive, got 0")
    if value > MAX_AMOUNT:
        raise InvalidInput(f"{what} must be at most {MAX_AMOUNT} minor units, got {value}")
    return value


def year_problem(at: datetime, what: str) -> str | None:
    """Why `at` lies outside MIN_YEAR..MAX_YEAR (None when it does not). Judged on the
    written fields before any conversion: shifting year 1 or 9999 by an offset overflows."""
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        return f"{what} must lie in the years {MIN_YEAR} to {MAX_YEAR}, got year {at.year}"
    return None
