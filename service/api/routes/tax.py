"""Tax: a partner's tax terms (platform admin and support set them; billing readers read)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from aggregates.partner import Partner
from projections.times import api_time
from service.api.auth import Context, partner_access
from service.api.fields import Name
from service.commands import execute
from service.commands.tax import ChangeTax

router = APIRouter(prefix="/v1/partners/{pid}", tags=["tax"])

# A decimal percent string; its bounds (0..100, at most 4 decimals) are the domain's
# (aggregates/tax.py), which answers 422 validation_error beyond them.
RATE_PATTERN = r"^[0-9]{1,3}(\.[0-9]{1,4})?$"


class TaxChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description='The tax\'s name on the invoice, e.g. "VAT".')
    rate: str = Field(pattern=RATE_PATTERN, examples=["20"], description=(
        'A decimal percent string: "20", "8.875" (0 to 100, at most 4 decimals); never a '
        "JSON number."))
    tax_id: str | None = Field(default=None, max_length=40, examples=["DE123456789"],
                               description="The partner's tax id, shown on its invoices.")
    reverse_charge: bool = Field(description="The recipient accounts for the tax: the "
                                 "invoice shows the note and charges none.")


class TaxTermsOut(BaseModel):
    name: str
    rate: str
    tax_id: str | None
    reverse_charge: bool
    effective_from: str


class PartnerTax(BaseModel):
    """The tax terms in force now (`current`, null: no tax) and those set to begin at a
    later period start (`scheduled`)."""

    current: TaxTermsOut | None
    scheduled: list[TaxTermsOut]


def _terms(effective_from: datetime, tax: dict[str, object]) -> TaxTermsOut:
    return TaxTermsOut.model_validate({**tax, "effective_from": api_time(effective_from)})


def tax_answer(partner: Partner, now: datetime) -> PartnerTax:
    current = None
    scheduled = []
    for effective_from, tax in partner.tax_changes:
        if effective_from <= now:
            current = _terms(effective_from, tax)
        else:
            scheduled.append(_terms(effective_from, tax))
    return PartnerTax(current=current, scheduled=scheduled)


@router.put("/tax", response_model=PartnerTax)
def change_tax(body: TaxChange, ctx: Context = partner_access("pricing.change")) -> PartnerTax:
    partner = execute(ctx.ledger, ChangeTax(partner_id=ctx.partner_id,
                                            tax=body.model_dump()), actor=ctx.actor)
    return tax_answer(partner, ctx.ledger.clock.now())


@router.get("/tax", response_model=PartnerTax)
def read_tax(ctx: Context = partner_access("billing.read")) -> PartnerTax:
    return tax_answer(ctx.ledger.app.partner(ctx.partner_id), ctx.ledger.clock.now())
