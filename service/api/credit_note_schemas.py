"""Request and response bodies of the invoice corrections (credit notes, void)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, Strict

from service.api.answers import Page
from service.api.fields import ItemIndex, PositiveMoney
from service.api.fields import Reason as ReasonText
from service.api.schemas import Body

MAX_CREDIT_NOTE_ITEMS = 1000


class CreditNoteItem(Body):
    index: ItemIndex
    amount: PositiveMoney


class CreditNoteCreate(Body):
    """Neither `amount` nor `items`: the whole invoice (what is left to credit on it);
    both: `amount` must be the items' sum. `refund`: what is paid goes back to the card
    (at most paid minus refunded) instead of the credit balance."""

    reason: ReasonText
    amount: PositiveMoney | None = None
    items: Annotated[list[CreditNoteItem], Field(min_length=1,
                                                 max_length=MAX_CREDIT_NOTE_ITEMS)] | None = None
    refund: Annotated[bool, Strict()] = False


class InvoiceVoid(Body):
    reason: ReasonText


class CreditNoteApplied(BaseModel):
    amount_due_reduced: int
    credit_balance_added: int
    refunded: int


class CreditNoteActor(BaseModel):
    key_id: str | None
    role: str | None


class CreditNoteItemOut(BaseModel):
    index: int
    amount: int


class CreditNoteOut(BaseModel):
    """A credit note: its own number (`<prefix>-CN-<NNNNNN>`), the invoice it corrects,
    its amount (per item when given so), and where the amount went."""

    id: str
    number: str
    invoice_id: str
    invoice_number: str
    amount: int
    currency: str
    items: list[CreditNoteItemOut]
    reason: str
    applied: CreditNoteApplied
    issued_at: str
    actor: CreditNoteActor


CreditNotePage = Page[CreditNoteOut]
