"""Money arithmetic: accepted currencies, half-even rounding, exact allocation.

Amounts are integers in the currency's minor unit (cents for USD); anything in between
is a `fractions.Fraction`. Nothing here ever touches a float.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from fractions import Fraction
from typing import TypeVar

from aggregates.errors import InvalidInput

K = TypeVar("K", bound=Hashable)

# Active ISO 4217 currency codes. Fund codes, precious metals and testing codes
# (XAU, XDR, XTS, ...) are left out on purpose: nobody is billed in them.
_ACTIVE_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
    BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
    LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
    NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
    USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
CURRENCIES: frozenset[str] = frozenset(_ACTIVE_ISO_4217.split())

_CODE_SHAPE = re.compile(r"[A-Z]{3}")


def validate_currency(code: str) -> str:
    """Return `code` if it is an accepted ISO 4217 code, else raise `InvalidInput`."""
    if not isinstance(code, str) or not _CODE_SHAPE.fullmatch(code):
        raise InvalidInput(f"currency must be three upper-case letters, got {code!r}")
    if code not in CURRENCIES:
        raise InvalidInput(f"currency {code!r} is not an accepted ISO 4217 code")
    return code


def round_half_even(x: Fraction | int) -> int:
    """Round an exact amount to the nearest integer, ties to the even neighbour."""
    # Refuse floats outright: accepting one here would let binary rounding error
    # leak into money through the back door.
    if not isinstance(x, Fraction | int):
        raise TypeError(f"round_half_even takes a Fraction or an int, not {type(x).__name__}")
    x = Fraction(x)
    # divmod floors, so the remainder is in [0, denominator) even for negatives.
    quotient, remainder = divmod(x.numerator, x.denominator)
    twice = 2 * remainder
    if twice > x.denominator or (twice == x.denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def allocate(exact: Mapping[K, Fraction]) -> dict[K, int]:
    """Round each exact amount so that the results sum to the rounded total.

    Each value is rounded half-even; the few cents the roundings gain or lose against
    `round_half_even(sum)` are then given back by largest remainder: the values rounded
    down the most gain a cent, or those rounded up the most lose one. Ties go to the
    earlier key in the mapping's order, so the result is deterministic for a given
    order and needs no ordering on the keys themselves. Every result is the floor or
    the ceiling of its exact value.
    """
    keys = list(exact)
    values = [Fraction(exact[key]) for key in keys]
    rounded = [round_half_even(value) for value in values]
    target = round_half_even(sum(values, Fraction(0)))
    gap = target - sum(rounded)
    if gap:
        remainders = [value - r for value, r in zip(values, rounded, strict=True)]
        if gap > 0:
            # Most rounded-down first: the largest positive remainders.
            order = sorted(range(len(keys)), key=lambda i: (-remainders[i], i))
        else:
            # Most rounded-up first: the most negative remainders.
            order = sorted(range(len(keys)), key=lambda i: (remainders[i], i))
        step = 1 if gap > 0 else -1
        # |gap| <= (len + 1) / 2 because each rounding moves a value by at most 1/2,
        # so no key is ever adjusted twice.
        for i in order[: abs(gap)]:
            rounded[i] += step
    return dict(zip(keys, rounded, strict=True))
