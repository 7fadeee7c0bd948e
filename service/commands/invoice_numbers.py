"""Claims on invoice prefixes and document numbers (aggregates/invoice_numbers.py).

A prefix given in `POST /v1/partners` is claimed or refused (`duplicate_invoice_prefix`);
one derived from the partner's name is claimed too, trying the next suffix while a
candidate is taken. Claims on platform-wide values are recorded under the platform's
partner id, so a value is one claim aggregate whatever partner asks: two concurrent first
claims collide on the store's version constraint and the loser's command is retried.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from aggregates.base import Actor
from aggregates.claim import Claim
from aggregates.errors import DuplicateInvoicePrefix
from aggregates.invoice_numbers import (
    CREDIT_NOTE_CLAIM,
    NUMBER_CLAIM,
    PLATFORM,
    PREFIX_CLAIM,
    check_prefix,
    derived_prefixes,
)

if TYPE_CHECKING:
    from service.commands.application import LedgerApplication

# Candidates tried for a derived prefix before giving up (each taken one is a read).
MAX_DERIVED_TRIES = 200


def claim_prefix(app: LedgerApplication, *, partner_id: UUID, name: str,
                 requested: str | None, actor: Actor, at: datetime) -> tuple[str, Claim]:
    """The partner's prefix and the (unsaved) claim on it: `requested`, or the first
    derived candidate nobody holds."""
    if requested is not None:
        prefix = check_prefix(requested)
        return prefix, app.claim(kind=PREFIX_CLAIM, partner_id=PLATFORM, value=prefix,
                                 holder_id=partner_id, refusal=DuplicateInvoicePrefix,
                                 actor=actor, at=at)
    for tries, prefix in enumerate(derived_prefixes(name)):
        if tries >= MAX_DERIVED_TRIES:
            break
        try:
            return prefix, app.claim(kind=PREFIX_CLAIM, partner_id=PLATFORM, value=prefix,
                                     holder_id=partner_id, refusal=DuplicateInvoicePrefix,
                                     actor=actor, at=at)
        except DuplicateInvoicePrefix:
            continue
    raise DuplicateInvoicePrefix("no free invoice prefix could be derived from the name; "
                                 "give invoice_prefix")


def claim_invoice_number(app: LedgerApplication, *, number: str, invoice_id: UUID,
                         actor: Actor, at: datetime) -> Claim:
    """A new claim on the number, never a renewal: a number is given once. Should it be
    held already, the save fails on the claim's version and the issue is retried on fresh
    state (the holder took the partner's counter past it: a lost race, not a refusal)."""
    return Claim.make(kind=NUMBER_CLAIM, partner_id=PLATFORM, value=number,
                      holder_id=invoice_id, actor=actor, at=at)


def claim_credit_note_number(app: LedgerApplication, *, number: str, credit_note_id: UUID,
                             actor: Actor, at: datetime) -> Claim:
    """As `claim_invoice_number`, for a credit note's number."""
    return Claim.make(kind=CREDIT_NOTE_CLAIM, partner_id=PLATFORM, value=number,
                      holder_id=credit_note_id, actor=actor, at=at)
