"""Scheduled job: raise the time-driven alerts (flagged over 7 days, idle in the pool over
30 days, default card expiring before the next billing date, failed payment) and resolve
those whose condition has ended.

Runs at 00:00 UTC each day, after cycle close and dunning at the same moment, so a payment
that failed at the cycle close is alerted at once. Each alert is keyed by the condition's
occurrence on the partner's `PartnerAlerts` aggregate, so reruns change nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from apscheduler.triggers.cron import CronTrigger

NAME = "alerts"
TRIGGER = CronTrigger(hour=0, minute=0, timezone="UTC")


class ChecksAlerts(Protocol):
    def check(self, at: datetime) -> Any: ...


def run(alerts: ChecksAlerts, at: datetime) -> None:
    alerts.check(at)
