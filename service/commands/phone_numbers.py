"""Phone numbers: E.164 validation (with `phonenumbers`) and allocation of new numbers."""

from __future__ import annotations

import re
import secrets

import phonenumbers

from aggregates.errors import InvalidInput

# Allocated numbers come from the 555-01xx-style fictional exchanges of a few US area
# codes, so a demo never hands out a real subscriber's number.
_ALLOCATION_AREAS = ("415", "628", "510", "650", "925")


_E164 = re.compile(r"\+[1-9][0-9]{7,14}", re.ASCII)


def to_e164(raw: str) -> str:
    """The number itself; 422 unless it is written in E.164 (+ and 8 to 15 ASCII digits,
    nothing else: `phonenumbers` alone would read vanity letters, extensions and other
    spellings leniently into some other number) and is a valid number."""
    text = raw.strip()
    if not _E164.fullmatch(text):
        raise InvalidInput("phone_number must be in E.164 form, e.g. +14155550123")
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as e:
        raise InvalidInput(f"phone_number is not a phone number: {e}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"phone_number {text!r} is not a valid number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def candidate_number() -> str:
    area = secrets.choice(_ALLOCATION_AREAS)
    return f"+1{area}555{secrets.randbelow(10_000):04d}"
