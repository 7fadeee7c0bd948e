"""Scheduled job: retry failed payments 1, 3 and 7 days after the first failure.

Runs hourly; an invoice is retried only when its own next retry time has come
(`Invoice.next_retry_at`), so reruns within the hour change nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from apscheduler.triggers.cron import CronTrigger

NAME = "dunning"
TRIGGER = CronTrigger(minute=0, timezone="UTC")


class RetriesPayments(Protocol):
    def retry_due_payments(self, at: datetime) -> list[Any]: ...


def run(billing: RetriesPayments, at: datetime) -> bool:
    """True when it changed something."""
    return bool(billing.retry_due_payments(at))
