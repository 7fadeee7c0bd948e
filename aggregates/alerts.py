"""Alerts: the conditions a partner should act on, and the `PartnerAlerts` aggregate that
raises each once.

The rules say when a condition deserves an alert (a line flagged for over 7 days, a line
idle in the pool for over 30 days, a default card that expires before the next billing
date, an invoice whose payment failed). Each alert has a key naming the condition's
occurrence (`line_flagged:<line>:<flagged at>`), so checking again raises nothing new, and
a condition that ends and comes back later is a new alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate, stable_id
from aggregates.partner import PaymentMethod, card_expired

FLAGGED_FOR = timedelta(days=7)
IDLE_FOR = timedelta(days=30)

LINE_FLAGGED = "line_flagged"
LINE_IDLE = "line_idle"
CARD_EXPIRING = "card_expiring"
PAYMENT_FAILED = "payment_failed"
# The conditions the daily job checks: it resolves an alert of these kinds once its
# condition has ended. Alerts of other kinds are raised by a command and stay open.
KINDS = (CARD_EXPIRING, LINE_FLAGGED, LINE_IDLE, PAYMENT_FAILED)
# Raised by a scheduled job that failed for the partner; resolved when that job next
# succeeds for it, never by the alerts job's condition check.
JOB_FAILED = "job_failed"
PRICING_CHANGE_REQUESTED = "pricing_change_requested"

OPEN = "open"
RESOLVED = "resolved"


def _time(at: datetime) -> str:
    return f"{at:%Y-%m-%dT%H:%M:%SZ}"


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    subject_id: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def flagged_line_alert(*, line_id: str, phone_number: str, flagged_at: datetime,
                       reason: str | None, now: datetime) -> Alert | None:
    if now - flagged_at <= FLAGGED_FOR:
        return None
    days = (now - flagged_at).days
    return Alert(key=f"{LINE_FLAGGED}:{line_id}:{_time(flagged_at)}", kind=LINE_FLAGGED,
                 subject_id=line_id,
                 message=f"line {phone_number} has been flagged for {days} days",
                 data={"phone_number": phone_number, "flagged_at": _time(flagged_at),
                       "flag_reason": reason})


def idle_line_alert(*, line_id: str, phone_number: str, available_since: datetime,
                    now: datetime) -> Alert | None:
    if now - available_since <= IDLE_FOR:
        return None
    days = (now - available_since).days
    return Alert(key=f"{LINE_IDLE}:{line_id}:{_time(available_since)}", kind=LINE_IDLE,
                 subject_id=line_id,
                 message=f"line {phone_number} has been idle in the Available pool for "
                         f"{days} days",
                 data={"phone_number": phone_number,
                       "available_since": _time(available_since)})


def card_expiring_alert(*, method: PaymentMethod | None,
                        next_billing: datetime) -> Alert | None:
    if method is None or not card_expired(method, next_billing):
        return None
    return Alert(key=f"{CARD_EXPIRING}:{method.id}:{_time(next_billing)}", kind=CARD_EXPIRING,
                 subject_id=str(method.id),
                 message=f"the default card {method.brand} …{method.last4} expires "
                         f"{method.exp_month:02d}/{method.exp_year}, before the next billing "
                         f"date {next_billing:%Y-%m-%d}",
                 data={"brand": method.brand, "last4": method.last4,
                       "exp_month": method.exp_month, "exp_year": method.exp_year,
                       "next_billing_date": _time(next_billing)})


def payment_failed_alert(*, invoice_id: str, number: str, balance_due: int, currency: str,
                         failed_at: datetime, reason: str | None) -> Alert:
    return Alert(key=f"{PAYMENT_FAILED}:{invoice_id}", kind=PAYMENT_FAILED,
                 subject_id=invoice_id,
                 message=f"payment of invoice {number} failed ({reason or 'declined'}); "
                         f"{balance_due} {currency} is past due",
                 data={"number": number, "balance_due": balance_due, "currency": currency,
                       "failed_at": _time(failed_at), "reason": reason})


def job_failed_alert(*, job: str, error: str, at: datetime) -> Alert:
    """A scheduled job failed for the partner at `at`; `error` names the cause. Keyed by
    the first failure, so a job that keeps failing keeps one alert open."""
    return Alert(key=f"{JOB_FAILED}:{job}:{_time(at)}", kind=JOB_FAILED, subject_id=job,
                 message=f"the {job.replace('_', ' ')} job failed for this partner at "
                         f"{_time(at)}; it is retried at each run until it succeeds",
                 data={"job": job, "failed_at": _time(at), "error": error})



def pricing_change_requested_alert(*, request_id: str, pricing: dict[str, Any],
                                   reason: str) -> Alert:
    """For support: the partner asks for another price (support or the platform admin set
    it with `PUT /pricing`)."""
    return Alert(key=f"{PRICING_CHANGE_REQUESTED}:{request_id}", kind=PRICING_CHANGE_REQUESTED,
                 subject_id=request_id,
                 message=f"the partner asks for a change of pricing: {reason}",
                 data={"pricing": pricing, "reason": reason})


def _condition(key: str) -> bool:
    return key.partition(":")[0] in KINDS


class PartnerAlerts(LedgerAggregate):
    """The alerts raised for one partner, open or resolved; each key is raised once."""

    class Started(LedgerAggregate.Created):
        partner_id: UUID

    class AlertRaised(LedgerAggregate.Event):
        partner_id: UUID
        key: str
        kind: str
        subject_id: str
        message: str
        data: dict[str, Any]

        def apply(self, alerts: PartnerAlerts) -> None:
            alerts.alerts[self.key] = OPEN

    class AlertResolved(LedgerAggregate.Event):
        partner_id: UUID
        key: str
        reason: str

        def apply(self, alerts: PartnerAlerts) -> None:
            alerts.alerts[self.key] = RESOLVED

    def __init__(self, partner_id: UUID) -> None:
        self.partner_id = partner_id
        self.alerts: dict[str, str] = {}

    @staticmethod
    def id_for(partner_id: UUID) -> UUID:
        return stable_id("alerts", partner_id)

    @classmethod
    def start(cls, *, partner_id: UUID, actor: Actor, at: datetime) -> PartnerAlerts:
        return cls._start(cls.Started, id=cls.id_for(partner_id), actor=actor, at=at,
                          partner_id=partner_id)

    @property
    def open_keys(self) -> list[str]:
        return [key for key, status in self.alerts.items() if status == OPEN]

    def raise_alert(self, alert: Alert, *, actor: Actor, at: datetime) -> bool:
        """Raises the alert unless its key was raised before; True when it did."""
        if alert.key in self.alerts:
            return False
        self._trigger(self.AlertRaised, actor=actor, at=at, partner_id=self.partner_id,
                      key=alert.key, kind=alert.kind,
                      subject_id=alert.subject_id, message=alert.message, data=alert.data)
        return True

    def resolve(self, *, key: str, reason: str, actor: Actor, at: datetime) -> bool:
        """Resolves an open alert; False when it is not open."""
        if self.alerts.get(key) != OPEN:
            return False
        self._trigger(self.AlertResolved, actor=actor, at=at, partner_id=self.partner_id,
                      key=key, reason=reason)
        return True

    def open_job_failure(self, job: str) -> str | None:
        """The key of the job's open failure alert, if any."""
        prefix = f"{JOB_FAILED}:{job}:"
        return next((key for key in self.open_keys if key.startswith(prefix)), None)

    def job_failed(self, *, job: str, error: str, actor: Actor, at: datetime) -> bool:
        """Raises a `job_failed` alert unless one is open for the job; True when it did."""
        if self.open_job_failure(job) is not None:
            return False
        return self.raise_alert(job_failed_alert(job=job, error=error, at=at), actor=actor,
                                at=at)

    def job_succeeded(self, *, job: str, actor: Actor, at: datetime) -> bool:
        """Resolves the job's open failure alert; True when there was one."""
        key = self.open_job_failure(job)
        if key is None:
            return False
        return self.resolve(key=key, reason=f"the {job.replace('_', ' ')} job succeeded",
                            actor=actor, at=at)

    def reconcile(self, due: list[Alert], *, actor: Actor, at: datetime) -> tuple[int, int]:
        """Raises the due alerts not raised yet and resolves the open condition alerts
        (`KINDS`) no longer due; returns (raised, resolved)."""
        due_keys = {alert.key for alert in due}
        resolved = sum(self.resolve(key=key, reason="the condition has ended", actor=actor,
                                    at=at)
                       for key in self.open_keys if key not in due_keys and _condition(key))
        raised = sum(self.raise_alert(alert, actor=actor, at=at) for alert in due)
        return raised, resolved
