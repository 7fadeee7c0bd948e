"""Alert commands: the alerts job's per-partner step and the jobs' failure alerts. They
run inside a scheduled job, which catches up once after its run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from aggregates.base import Actor
from service.commands.base import Command, Services, handles


@dataclass(frozen=True)
class ReconcileAlerts(Command[tuple[int, int]]):
    """Raises the partner's alerts due at `at` (once each) and resolves the ended ones;
    answers (raised, resolved)."""

    catches_up = False
    partner_id: UUID
    at: datetime


@dataclass(frozen=True)
class RecordJobFailure(Command[bool]):
    """Raises the partner's `job_failed` alert for `job`, unless one is open."""

    catches_up = False
    partner_id: UUID
    job: str
    error: str
    at: datetime


@dataclass(frozen=True)
class RecordJobSuccess(Command[bool]):
    """Resolves the partner's open `job_failed` alert for `job`, if any."""

    catches_up = False
    partner_id: UUID
    job: str
    at: datetime


@handles(ReconcileAlerts)
def reconcile_alerts(s: Services, c: ReconcileAlerts, actor: Actor,
                     now: datetime) -> tuple[int, int]:
    return s.alerts.reconcile(partner_id=c.partner_id, at=c.at, actor=actor)


@handles(RecordJobFailure)
def record_job_failure(s: Services, c: RecordJobFailure, actor: Actor, now: datetime) -> bool:
    return s.alerts.record_job_outcome(
        partner_id=c.partner_id, at=c.at, actor=actor,
        decide=lambda alerts: alerts.job_failed(job=c.job, error=c.error, actor=actor, at=c.at))


@handles(RecordJobSuccess)
def record_job_success(s: Services, c: RecordJobSuccess, actor: Actor, now: datetime) -> bool:
    return s.alerts.record_job_outcome(
        partner_id=c.partner_id, at=c.at, actor=actor,
        decide=lambda alerts: alerts.job_succeeded(job=c.job, actor=actor, at=c.at))
