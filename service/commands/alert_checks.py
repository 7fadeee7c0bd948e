"""Alert commands: check every partner's conditions and reconcile its `PartnerAlerts`.

The facts come from the caught-up views (flagged and pooled lines, past-due invoices) and
the partner aggregate (default card, billing anchor); the rules that turn facts into
alerts live in `aggregates/alerts.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aggregates.alerts import (
    Alert,
    PartnerAlerts,
    card_expiring_alert,
    flagged_line_alert,
    idle_line_alert,
    payment_failed_alert,
)
from aggregates.base import Actor, policy_actor
from aggregates.charges import billing_period
from aggregates.errors import NotFound
from policies.partner_isolation import PartnerSteps, unguarded
from projections import aggregate_states
from projections import alerts as view
from projections.read_model import ReadModel
from service.commands.alerts import ReconcileAlerts, RecordJobFailure, RecordJobSuccess
from service.commands.application import LedgerApplication

if TYPE_CHECKING:
    from service.commands.base import CommandRunner

ACTOR = policy_actor("alerts")


class Alerts:
    def __init__(self, *, app: LedgerApplication, read_model: ReadModel,
                 caught_up: Callable[[], None]) -> None:
        self.app = app
        self.read_model = read_model
        self.caught_up = caught_up
        # The command path (service/commands/execute.py) the alerts job's per-partner steps
        # and the jobs' failure alerts take; wired by service/runtime/bootstrap.py.
        self.commands: CommandRunner | None = None

    def execute(self, command: Any) -> Any:
        if self.commands is None:
            raise RuntimeError("Alerts' command path is wired by service.runtime.bootstrap")
        return self.commands(command, actor=ACTOR)

    def due(self, partner_id: UUID, at: datetime) -> list[Alert]:
        """Every alert whose condition holds for the partner at `at`."""
        partner = self.app.partner(partner_id)
        pid = str(partner_id)
        with self.read_model.reading() as sql:
            flagged = view.flagged_lines(sql, partner_id=pid)
            idle = view.idle_lines(sql, partner_id=pid)
            past_due = view.past_due_invoices(sql, partner_id=pid)
        _, next_billing = billing_period(anchor_day=partner.billing_anchor_day, containing=at)
        candidates = [
            card_expiring_alert(method=partner.default_payment_method,
                                next_billing=next_billing),
            *(flagged_line_alert(line_id=f.line_id, phone_number=f.phone_number,
                                 flagged_at=f.since, reason=f.reason, now=at)
              for f in flagged),
            *(idle_line_alert(line_id=f.line_id, phone_number=f.phone_number,
                              available_since=f.since, now=at) for f in idle),
        ]
        for invoice in past_due:
            failures = invoice.failures
            if failures:
                failed_at, reason = failures[-1]
                candidates.append(payment_failed_alert(
                    invoice_id=str(invoice.id), number=invoice.number,
                    balance_due=invoice.balance_due, currency=invoice.currency,
                    failed_at=failed_at, reason=reason))
        return [alert for alert in candidates if alert is not None]

    def reconcile(self, *, partner_id: UUID, at: datetime,
                  actor: Actor = ACTOR) -> tuple[int, int]:
        """Raises the partner's due alerts (once each) and resolves the ended ones. Run as
        `ReconcileAlerts` (service/commands/alerts.py)."""
        due = self.due(partner_id, at)
        try:
            alerts = self.app.load(PartnerAlerts, PartnerAlerts.id_for(partner_id))
        except NotFound:
            if not due:
                return 0, 0
            alerts = PartnerAlerts.start(partner_id=partner_id, actor=actor, at=at)
        raised, resolved = alerts.reconcile(due, actor=actor, at=at)
        if raised or resolved:
            self.app.save(alerts)
        return raised, resolved

    # -- scheduled jobs' failures (policies/partner_isolation.py) --------------------------

    def open_job_failures(self, job: str) -> set[UUID]:
        """The partners with an open `job_failed` alert for `job` (one read per run, so a
        run that succeeds everywhere loads no alerts aggregate)."""
        with self.read_model.reading() as sql:
            return {UUID(pid) for pid in view.partners_with_open_job_failure(sql, job=job)}

    def job_failed(self, *, partner_id: UUID, job: str, error: str, at: datetime) -> bool:
        """Raises the partner's `job_failed` alert for `job`, unless one is open."""
        return bool(self.execute(RecordJobFailure(partner_id=partner_id, job=job, error=error,
                                                  at=at)))

    def job_succeeded(self, *, partner_id: UUID, job: str, at: datetime) -> bool:
        """Resolves the partner's open `job_failed` alert for `job`, if any."""
        return bool(self.execute(RecordJobSuccess(partner_id=partner_id, job=job, at=at)))

    def record_job_outcome(self, *, partner_id: UUID, at: datetime, actor: Actor,
                           decide: Callable[[PartnerAlerts], bool]) -> bool:
        """Run as `RecordJobFailure` and `RecordJobSuccess` (service/commands/alerts.py):
        the partner's alerts decide (`decide` answers whether they changed); saved only
        when they did."""
        alerts = self._alerts_of(partner_id, at=at, actor=actor)
        if decide(alerts):
            self.app.save(alerts)
            return True
        return False

    def _alerts_of(self, partner_id: UUID, *, at: datetime, actor: Actor) -> PartnerAlerts:
        try:
            return self.app.load(PartnerAlerts, PartnerAlerts.id_for(partner_id))
        except NotFound:
            return PartnerAlerts.start(partner_id=partner_id, actor=actor, at=at)

    def check(self, at: datetime, *, steps: PartnerSteps = unguarded,
              partners: Collection[UUID] | None = None) -> dict[str, int]:
        """The alerts job: every partner (or those of `partners`, whose alerts timer fell
        due), at `at`, each one of `steps` (the scheduled job isolates them)."""
        self.caught_up()
        if partners is None:
            with self.read_model.reading() as sql:
                visited = aggregate_states.partner_ids(sql)
        else:
            visited = sorted(str(p) for p in partners)
        raised = resolved = 0
        for pid in visited:
            r, s = steps.step(UUID(pid), partial(self._reconcile_one, pid, at=at)) or (0, 0)
            raised, resolved = raised + r, resolved + s
        return {"raised": raised, "resolved": resolved}

    def _reconcile_one(self, pid: str, *, at: datetime) -> tuple[int, int]:
        return self.execute(ReconcileAlerts(partner_id=UUID(pid), at=at))
