"""Scheduled job: raise the time-driven alerts (flagged over 7 days, idle in the pool over
30 days, default card expiring before the next billing date, failed payment) and resolve
those whose condition has ended.

Runs at 00:00 UTC each day, after cycle close and dunning at the same moment, so a payment
that failed at the cycle close is alerted at once. Each alert is keyed by the condition's
occurrence on the partner's `PartnerAlerts` aggregate, so reruns change nothing. A
partner whose check fails is alerted (`job_failed`) and checked again at the next run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from apscheduler.triggers.cron import CronTrigger

from policies.partner_isolation import PartnerIsolation, PartnerSteps, RecordsJobOutcomes

NAME = "alerts"
TRIGGER = CronTrigger(hour=0, minute=0, timezone="UTC")


class ChecksAlerts(RecordsJobOutcomes, Protocol):
    def check(self, at: datetime, *, steps: PartnerSteps) -> Any: ...


def run(alerts: ChecksAlerts, at: datetime) -> None:
    """One partner's failure is alerted and retried at the next run; it never stops the
    others."""
    isolation = PartnerIsolation(job=NAME, at=at, outcomes=alerts)
    alerts.check(at, steps=isolation)
    isolation.finish()
