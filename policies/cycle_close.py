"""Scheduled job: close every billing period that has ended, and charge its invoice.

Fires at 00:00 UTC (every anchor day starts at midnight), for the partners whose
cycle-close timer fell due (projections/timers.py: the end of the partner's earliest
period without an invoice), never scanning the others. Keyed by
(partner, period) through the invoice's deterministic id, so reruns change nothing.
A partner whose close fails is alerted (`job_failed`) and left out; its period still has
no invoice, so the next run closes it (policies/partner_isolation.py).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from apscheduler.triggers.cron import CronTrigger

from policies.partner_isolation import PartnerIsolation, PartnerSteps, RecordsJobOutcomes
from projections.timers import Timer

NAME = "cycle_close"
TRIGGER = CronTrigger(hour=0, minute=0, timezone="UTC")


class ClosesCycles(Protocol):
    def close_due_cycles(self, at: datetime, *, steps: PartnerSteps,
                         partners: Collection[UUID] | None = None) -> list[Any]: ...


def run(billing: ClosesCycles, at: datetime, *, outcomes: RecordsJobOutcomes,
        partners: Collection[UUID] | None = None) -> bool:
    """True when it changed something. One partner's failure is alerted and retried at the
    next run; it never stops the others. `partners`: only those (None: every partner)."""
    return run_timers(billing, at, outcomes=outcomes, partners=partners)[0]


def run_timers(billing: ClosesCycles, at: datetime, *, outcomes: RecordsJobOutcomes,
               partners: Collection[UUID] | None) -> tuple[bool, set[UUID]]:
    isolation = PartnerIsolation(job=NAME, at=at, outcomes=outcomes)
    changed = bool(billing.close_due_cycles(at, steps=isolation, partners=partners))
    return isolation.finish() or changed, set(isolation.failed)


def fire(billing: ClosesCycles, at: datetime, timers: list[Timer], *,
         outcomes: RecordsJobOutcomes) -> tuple[bool, set[UUID]]:
    """The scheduler's entry: closes the cycles of the partners whose timer fell due."""
    return run_timers(billing, at, outcomes=outcomes,
                      partners={UUID(t.partner_id) for t in timers})
