"""The `PricingChangeRequest` aggregate: a partner asks the platform for another price.

A partner may not set its own price (only support and the platform admin change pricing);
it records a request with the plan it wants and why, and support is alerted to decide.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.alerts import Alert, pricing_change_requested_alert
from aggregates.base import Actor, LedgerAggregate
from aggregates.pricing import pricing_from_dict, pricing_to_dict
from aggregates.text import clean_text

OPEN = "open"
MAX_REASON_LENGTH = 1000


class PricingChangeRequest(LedgerAggregate):
    class Requested(LedgerAggregate.Created):
        partner_id: UUID
        pricing: dict[str, Any]
        reason: str

    def __init__(self, partner_id: UUID, pricing: dict[str, Any], reason: str) -> None:
        self.partner_id = partner_id
        self.pricing = pricing
        self.reason = reason
        self.status = OPEN

    @classmethod
    def request(cls, *, id: UUID, partner_id: UUID, pricing: dict[str, Any], reason: str,
                actor: Actor, at: datetime) -> PricingChangeRequest:
        """A plan the pricing rules accept (the same check as a change of pricing) and a
        reason of 1 to 1000 characters."""
        plan = pricing_to_dict(pricing_from_dict(pricing))
        cleaned = clean_text(reason, what="reason", max_length=MAX_REASON_LENGTH)
        return cls._start(cls.Requested, id=id, actor=actor, at=at, partner_id=partner_id,
                          pricing=plan, reason=cleaned)

    @property
    def alert(self) -> Alert:
        """What support is told."""
        return pricing_change_requested_alert(request_id=str(self.id), pricing=self.pricing,
                                              reason=self.reason)
