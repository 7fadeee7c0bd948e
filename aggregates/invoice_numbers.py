"""Invoice and credit-note numbers: `<prefix>-<NNNNNN>` and `<prefix>-CN-<NNNNNN>`.

The prefix is a per-partner code fixed when the partner is created, unique on the
platform (a claim on it is recorded with the partner). The sequence numbers are the
partner's own counters (`Partner.InvoiceNumbered`, `Partner.CreditNoteNumbered`): two
issues that read the same counter race on the partner's version, so one retries and the
series has neither gap nor duplicate. A claim on each number makes the store itself
refuse a second document under one number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from uuid import UUID

from aggregates.errors import InvalidInput

PREFIX_PATTERN = r"^[A-Z0-9]{2,12}$"
_PREFIX = re.compile(PREFIX_PATTERN, re.ASCII)
MIN_PREFIX, MAX_PREFIX = 2, 12
# A derived prefix keeps this many characters of the name, leaving room for a suffix.
DERIVED_LENGTH = 6
# Claims on platform-wide values are recorded under this partner id.
PLATFORM = UUID(int=0)
PREFIX_CLAIM = "invoice_prefix"
NUMBER_CLAIM = "invoice_number"
CREDIT_NOTE_CLAIM = "credit_note_number"


def check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise InvalidInput("invoice_prefix must be 2 to 12 characters A-Z and 0-9",
                           field="invoice_prefix")
    return prefix


def legacy_prefix(partner_id: UUID) -> str:
    """The prefix of a partner created before prefixes existed: derived from its id
    alone, so every replay (and every process) gives the same one. Eleven hex digits make
    two partners sharing one vanishingly unlikely (about 3 in a million at 10,000)."""
    return "P" + partner_id.hex[:MAX_PREFIX - 1].upper()


def _base(name: str) -> str:
    # Accents dropped (Société -> SOCIETE); anything but A-Z and 0-9 left out.
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    letters = "".join(c for c in folded.upper() if c.isalnum())
    return letters[:DERIVED_LENGTH] if len(letters) >= MIN_PREFIX else "PL"


def derived_prefixes(name: str) -> Iterator[str]:
    """Candidates for a partner without a prefix of its own, in the order tried: the
    name's first letters and digits, then the same with a suffix 2, 3, ... for each one
    taken already."""
    base = _base(name)
    yield base
    for suffix in range(2, 10**6):
        yield f"{base}{suffix}"  # at most 6 + 6 characters


def invoice_number(prefix: str, sequence: int) -> str:
    return f"{prefix}-{sequence:06d}"


def credit_note_number(prefix: str, sequence: int) -> str:
    # A prefix has no "-", so no invoice number reads as a credit note's.
    return f"{prefix}-CN-{sequence:06d}"
