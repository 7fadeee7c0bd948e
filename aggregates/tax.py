"""Tax on an invoice: the partner's tax terms and the per-item arithmetic.

Exclusive tax on the discounted amount of each item, each item's tax rounded half-even and
the roundings summed (so every item's tax is one a reader can check on its own). Reverse
charge: the invoice names the tax and carries the note, and charges none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from aggregates.errors import InvalidInput
from aggregates.money import round_half_even
from aggregates.text import clean_name, clean_text

MAX_RATE = 100
MAX_TAX_ID_LENGTH = 40
# A decimal percent, e.g. "20", "8.875": at most three digits before the point and four
# after; never a float.
_RATE_TEXT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,4})?", re.ASCII)
REVERSE_CHARGE_NOTE = ("Reverse charge: no tax is charged; the recipient accounts for the tax "
                       "(e.g. EU VAT Directive, Article 196).")


def rate_value(rate: object) -> Fraction:
    """The exact percent a rate string names; `InvalidInput` unless 0 <= rate <= 100."""
    if not isinstance(rate, str) or not _RATE_TEXT.fullmatch(rate):
        raise InvalidInput(f"rate must be a decimal percent string like \"20\" or \"8.875\" "
                           f"(at most 4 decimals), got {rate!r}", field="rate")
    exact = Fraction(Decimal(rate))
    if exact > MAX_RATE:
        raise InvalidInput(f"rate must be at most {MAX_RATE} percent, got {rate!r}",
                           field="rate")
    return exact


def canonical_rate(rate: object) -> str:
    """One spelling per rate: "20.0" and "20" are both "20", "8.8750" is "8.875"."""
    exact = rate_value(rate)
    text = format(Decimal(exact.numerator) / Decimal(exact.denominator), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class TaxTerms:
    """A partner's tax: its name ("VAT"), rate, the partner's tax id, and whether the
    recipient accounts for it (reverse charge)."""

    name: str
    rate: str
    tax_id: str | None
    reverse_charge: bool

    def __post_init__(self) -> None:
        if canonical_rate(self.rate) != self.rate:
            raise InvalidInput(f"rate {self.rate!r} is not in its canonical spelling")
        if not isinstance(self.reverse_charge, bool):
            raise InvalidInput("reverse_charge must be true or false", field="reverse_charge")


def tax_terms_from_dict(d: Mapping[str, Any]) -> TaxTerms:
    """Parse `{name, rate, tax_id?, reverse_charge}`, raising `InvalidInput`."""
    if not isinstance(d, Mapping):
        raise InvalidInput("tax must be an object")
    unknown = set(d) - {"name", "rate", "tax_id", "reverse_charge"}
    if unknown:
        raise InvalidInput(f"tax has unknown fields: {', '.join(sorted(map(str, unknown)))}")
    tax_id = d.get("tax_id")
    return TaxTerms(
        name=clean_name(d.get("name")),
        rate=canonical_rate(d.get("rate")),
        tax_id=None if tax_id is None else clean_text(tax_id, what="tax_id",
                                                      max_length=MAX_TAX_ID_LENGTH),
        reverse_charge=d.get("reverse_charge", False),
    )


def tax_terms_to_dict(terms: TaxTerms) -> dict[str, Any]:
    return {"name": terms.name, "rate": terms.rate, "tax_id": terms.tax_id,
            "reverse_charge": terms.reverse_charge}


def invoice_tax(terms: TaxTerms | None, *, items: Sequence[Mapping[str, Any]],
                taxable: Mapping[str | None, int]) -> dict[str, Any] | None:
    """The invoice's `tax` (None without tax terms): each item's taxable amount (what the
    discounts left of it) and its tax, rounded half-even per item, and their sum.

    `items` are the invoice's items in invoice order; `taxable` maps each item's
    sub-account id (None: Unassigned) to its discounted amount.
    """
    if terms is None:
        return None
    rate = rate_value(terms.rate)
    lines = []
    for item in items:
        base = taxable.get(item["sub_account_id"], 0)
        amount = 0 if terms.reverse_charge else round_half_even(base * rate / 100)
        lines.append({"sub_account_id": item["sub_account_id"], "taxable_amount": base,
                      "amount": amount})
    return {
        "name": terms.name, "rate": terms.rate, "tax_id": terms.tax_id,
        "reverse_charge": terms.reverse_charge,
        "amount": sum(line["amount"] for line in lines),
        "note": REVERSE_CHARGE_NOTE if terms.reverse_charge else None,
        "lines": lines,
    }
