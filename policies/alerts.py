"""Scheduled job: raise the time-driven alerts (flagged over 7 days, idle in the pool over
30 days, default card expiring before the next billing date, failed payment) and resolve
those whose condition has ended.

Fires at 00:00 UTC, after cycle close and dunning at the same moment (so a payment that
failed at the cycle close is alerted at once), for the partners whose alerts timer fell due
(projections/timers.py: the first midnight at or after an event that may start or end a
condition, after a line's 7 days flagged or 30 days idle, and at each period boundary for
the card expiring before the next billing date), never scanning the others. Each alert
is keyed by the condition's occurrence on the partner's `PartnerAlerts` aggregate, so
reruns change nothing. A partner whose check fails is alerted (`job_failed`) and checked
again at the next run.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from apscheduler.triggers.cron import CronTrigger

from policies.partner_isolation import PartnerIsolation, PartnerSteps, RecordsJobOutcomes
from projections.timers import Timer

NAME = "alerts"
TRIGGER = CronTrigger(hour=0, minute=0, timezone="UTC")


class ChecksAlerts(RecordsJobOutcomes, Protocol):
    def check(self, at: datetime, *, steps: PartnerSteps,
              partners: Collection[UUID] | None = None) -> Any: ...


def run(alerts: ChecksAlerts, at: datetime, *,
        partners: Collection[UUID] | None = None) -> set[UUID]:
    """One partner's failure is alerted and retried at the next run; it never stops the
    others. `partners`: only those (None: every partner). Answers the failed partners."""
    isolation = PartnerIsolation(job=NAME, at=at, outcomes=alerts)
    alerts.check(at, steps=isolation, partners=partners)
    isolation.finish()
    return set(isolation.failed)


def fire(alerts: ChecksAlerts, at: datetime, timers: list[Timer]) -> tuple[bool, set[UUID]]:
    """The scheduler's entry: checks the partners whose timer fell due. Counted as a run
    that recorded something, as the daily job always was; the failed partners keep their
    timers, so they are checked again at the next firing."""
    return True, run(alerts, at, partners={UUID(t.partner_id) for t in timers})
