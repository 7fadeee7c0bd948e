"""Scheduled job: retry failed payments 1, 3 and 7 days after the first failure.

Runs hourly; an invoice is retried only when its own next retry time has come
(`Invoice.next_retry_at`), so reruns within the hour change nothing. A partner whose
retry fails is alerted (`job_failed`); its retry time has still come at the next run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from apscheduler.triggers.cron import CronTrigger

from policies.partner_isolation import PartnerIsolation, PartnerSteps, RecordsJobOutcomes

NAME = "dunning"
TRIGGER = CronTrigger(minute=0, timezone="UTC")


class RetriesPayments(Protocol):
    def retry_due_payments(self, at: datetime, *, steps: PartnerSteps) -> list[Any]: ...


def run(billing: RetriesPayments, at: datetime, *, outcomes: RecordsJobOutcomes) -> bool:
    """True when it changed something. One partner's failure is alerted and retried at the
    next run; it never stops the others."""
    isolation = PartnerIsolation(job=NAME, at=at, outcomes=outcomes)
    changed = bool(billing.retry_due_payments(at, steps=isolation))
    return isolation.finish() or changed
