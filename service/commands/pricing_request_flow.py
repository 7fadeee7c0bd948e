"""Pricing change requests: a partner admin asks for another price; support is alerted.

The request and its alert are saved in one transaction, so there is never a request that
support was not told of, nor an alert without its request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from aggregates.alerts import PartnerAlerts
from aggregates.base import Actor
from aggregates.errors import NotFound
from aggregates.pricing_change_request import PricingChangeRequest
from service.commands.application import LedgerApplication


class PricingRequests:
    def __init__(self, app: LedgerApplication) -> None:
        self.app = app

    def request(self, *, partner_id: UUID, pricing: dict[str, Any], reason: str,
                actor: Actor, at: datetime) -> PricingChangeRequest:
        """Run as `RequestPricingChange` (service/commands/partners.py)."""
        self.app.partner(partner_id)
        now = at
        request = PricingChangeRequest.request(id=uuid4(), partner_id=partner_id,
                                               pricing=pricing, reason=reason, actor=actor,
                                               at=now)
        try:
            alerts = self.app.load(PartnerAlerts, PartnerAlerts.id_for(partner_id))
        except NotFound:
            alerts = PartnerAlerts.start(partner_id=partner_id, actor=actor, at=now)
        alerts.raise_alert(request.alert, actor=actor, at=now)
        self.app.save(request, alerts)
        return request
