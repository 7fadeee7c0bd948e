"""Scheduled job: retry failed payments 1, 3 and 7 days after the first failure.

Fires on the hour, for the invoices whose dunning timer fell due (projections/timers.py:
the hour at or after its next retry, or after an attempt was left open or a first charge
never made), never scanning the others; an invoice is retried only when its own next retry
time has come (`Invoice.next_retry_at`), so reruns within the hour change nothing. A partner whose
retry fails is alerted (`job_failed`); its retry time has still come at the next run.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from apscheduler.triggers.cron import CronTrigger

from policies.partner_isolation import PartnerIsolation, PartnerSteps, RecordsJobOutcomes
from projections.timers import Timer

NAME = "dunning"
TRIGGER = CronTrigger(minute=0, timezone="UTC")


class RetriesPayments(Protocol):
    def retry_due_payments(self, at: datetime, *, steps: PartnerSteps,
                           invoices: Collection[tuple[UUID, UUID]] | None = None
                           ) -> list[Any]: ...


def run(billing: RetriesPayments, at: datetime, *, outcomes: RecordsJobOutcomes,
        invoices: Collection[tuple[UUID, UUID]] | None = None) -> bool:
    """True when it changed something. One partner's failure is alerted and retried at the
    next run; it never stops the others. `invoices`: only those (None: every unpaid one)."""
    return run_timers(billing, at, outcomes=outcomes, invoices=invoices)[0]


def run_timers(billing: RetriesPayments, at: datetime, *, outcomes: RecordsJobOutcomes,
               invoices: Collection[tuple[UUID, UUID]] | None) -> tuple[bool, set[UUID]]:
    isolation = PartnerIsolation(job=NAME, at=at, outcomes=outcomes)
    changed = bool(billing.retry_due_payments(at, steps=isolation, invoices=invoices))
    return isolation.finish() or changed, set(isolation.failed)


def fire(billing: RetriesPayments, at: datetime, timers: list[Timer], *,
         outcomes: RecordsJobOutcomes) -> tuple[bool, set[UUID]]:
    """The scheduler's entry: one dunning step for each invoice whose timer fell due."""
    return run_timers(billing, at, outcomes=outcomes,
                      invoices=[(UUID(t.partner_id), UUID(t.subject)) for t in timers])
