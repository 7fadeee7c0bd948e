"""The operations routes' answers as pydantic models (see `service.api.answers`): the
audit trail, the manual clock, timers, verification jobs, rebuild, health, quarantine and
reconciliation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service.api.answers import Answer, Page


class Actor(BaseModel):
    """Who recorded an event, as its key was issued (`system` and policies name
    themselves)."""

    key_id: str | None
    role: str | None
    scope: str | None


class AuditEvent(BaseModel):
    """`projections.audit.audit_item`: one event of the log as the audit trail, a line's
    history and the exports show it."""

    position: int
    occurred_at: str
    entity_type: str
    entity_id: str
    event_type: str
    actor: Actor
    # Free-form: each event type records its own fields (secrets removed); the trail
    # shows them as recorded, whatever the event's version.
    data: dict[str, Any]


class Clock(BaseModel):
    now: str
    mode: str


class JobRun(BaseModel):
    job: str
    at: str


class TimerFired(BaseModel):
    kind: str
    partner_id: str | None
    at: str


class ClockMoved(Clock):
    jobs_run: list[JobRun]
    fired: list[TimerFired]


class Timer(BaseModel):
    kind: str
    partner_id: str | None
    due_at: str


class Progress(BaseModel):
    done: int
    total: int


class VerifyJob(BaseModel):
    """A verification of the whole log; `result` once it has ended."""

    id: str
    status: str
    started_at: str | None
    finished_at: str | None
    progress: Progress
    # The report `{ok, events_checked, invoices_checked, mismatches, chain}`; mismatches
    # name whatever differs, in the shape of the record they compare.
    result: dict[str, Any] | None
    error: str | None


class Rebuilt(BaseModel):
    # Per partition and view, what the rebuild did; the views name themselves.
    views: Any


class PartitionHealth(BaseModel):
    index: int
    status: str


class Health(BaseModel):
    """`ok`, `degraded` (a partition unavailable, or events in quarantine) or, with 503,
    `unavailable` (only `status` then)."""

    status: str
    partitions: list[PartitionHealth]
    quarantined: int


class QuarantinedEvent(Answer):
    """An event the views could not apply (`failed`) or hold behind one (`held`)."""

    partition: int
    position: int
    partner_id: str | None
    status: str


class QuarantinePage(Page[QuarantinedEvent]):
    quarantined: int


class QuarantineRetried(BaseModel):
    partition: int
    partner_id: str | None
    released: bool
    applied: int
    # The event that failed again, as the quarantine lists it, with its new error.
    failed: dict[str, Any] | None


class Reconciliation(BaseModel):
    """Gateway charges without a recorded payment and payments without a charge."""

    gateway_charges: int
    recorded_payments: int
    # Each names the attempt, partner, invoice, amount and time as the gateway or the
    # ledger recorded it.
    unmatched_charges: list[dict[str, Any]]
    unmatched_payments: list[dict[str, Any]]
