"""Tax commands: a partner's tax terms, effective from its next billing period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.base import Actor
from aggregates.partner import Partner
from service.commands.base import Command, Services, handles


@dataclass(frozen=True)
class ChangeTax(Command[Partner]):
    """New tax terms `{name, rate, tax_id?, reverse_charge}`; like a pricing change they
    take effect at the start of the next billing period (an issued or running period
    keeps the terms it began with)."""

    partner_id: UUID
    tax: dict[str, Any]


@handles(ChangeTax)
def change_tax(s: Services, c: ChangeTax, actor: Actor, now: datetime) -> Partner:
    partner = s.app.partner(c.partner_id)
    partner.change_tax(tax=c.tax, effective_from=partner.next_period_start(now), actor=actor,
                       at=now)
    s.app.save(partner)
    return partner
