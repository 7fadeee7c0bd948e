"""Scheduled job: close every billing period that has ended, and charge its invoice.

Runs at 00:00 UTC each day (every anchor day starts at midnight). Keyed by
(partner, period) through the invoice's deterministic id, so reruns change nothing.
A partner whose close fails is alerted (`job_failed`) and left out; its period still has
no invoice, so the next run closes it (policies/partner_isolation.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from apscheduler.triggers.cron import CronTrigger

from policies.partner_isolation import PartnerIsolation, PartnerSteps, RecordsJobOutcomes

NAME = "cycle_close"
TRIGGER = CronTrigger(hour=0, minute=0, timezone="UTC")


class ClosesCycles(Protocol):
    def close_due_cycles(self, at: datetime, *, steps: PartnerSteps) -> list[Any]: ...


def run(billing: ClosesCycles, at: datetime, *, outcomes: RecordsJobOutcomes) -> bool:
    """True when it changed something. One partner's failure is alerted and retried at the
    next run; it never stops the others."""
    isolation = PartnerIsolation(job=NAME, at=at, outcomes=outcomes)
    changed = bool(billing.close_due_cycles(at, steps=isolation))
    return isolation.finish() or changed
