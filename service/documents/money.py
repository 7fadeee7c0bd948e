"""Money for people: minor units shown in the currency's major unit, by babel.

The minor-unit exponent comes from ISO 4217 (JPY 0, KWD 3), not from CLDR's display
digits, which differ for a few currencies (CLDR shows IQD and RSD without decimals): the
amounts are ISO minor units, so ISO says where the point goes.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency

# ISO 4217 exponents other than 2, for the active codes `aggregates.money` accepts.
_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                     "UGX", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
LOCALE = "en_US"


def exponent(currency: str) -> int:
    """The ISO 4217 minor-unit exponent of `currency`."""
    return _EXPONENTS.get(currency, 2)


def major_units(minor: int, currency: str) -> Decimal:
    """`minor` units as an exact decimal in the major unit: 5032 USD -> 50.32."""
    return Decimal(minor).scaleb(-exponent(currency))


def plain(minor: int, currency: str) -> str:
    """A machine-readable amount (CSV): "50.32", "5032" (JPY), "1.234" (KWD)."""
    return f"{major_units(minor, currency):.{exponent(currency)}f}"


def money(minor: int, currency: str) -> str:
    """An amount for a reader: "$50.32", "¥5,032", "KWD 1.234"."""
    digits = exponent(currency)
    pattern = "¤#,##0" + ("." + "0" * digits if digits else "")
    text = format_currency(major_units(minor, currency), currency, format=pattern,
                           locale=LOCALE, currency_digits=False)
    # A currency without a symbol shows its code: "KWD 1.234", not "KWD1.234".
    sign, rest = ("-", text[1:]) if text.startswith("-") else ("", text)
    if rest[:3].isalpha() and rest[:3].isupper() and len(rest) > 3 and rest[3] != " ":
        rest = rest[:3] + " " + rest[3:]
    return sign + rest
