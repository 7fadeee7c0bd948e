"""Billing commands: payment methods, credits, discounts, cycle close, payments, refunds,
disputes.

Cycle close reads the period's line counts from the caught-up `line_day_counts` view and
issues the invoice under a deterministic id, so a second run (or a second scheduler)
finds it issued and does nothing.

A payment is an intent, then an effect. The attempt is recorded on the invoice first
(a lost version race is retried: nothing has left the ledger yet); the gateway is then
called once, outside any retry, with the attempt id as its idempotency key; its answer is
recorded against the attempt (retried again). While the attempt is open every other
payer (a second pay, dunning, another process) is refused with `payment_in_progress`, so
a card is charged once however many ask. An attempt left open (a crash, a gateway that
did not answer) is settled by asking the gateway about its id (`settle_open_attempts`, at
start and in every dunning run), never by charging again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from aggregates.base import Actor, policy_actor
from aggregates.charges import billing_period, next_period
from aggregates.errors import AlreadyPaid, InvalidTransition, NotFound, PaymentInProgress
from aggregates.invoice import OPEN, PAID, PAST_DUE, Invoice
from aggregates.invoice_draft import Draft
from aggregates.partner import Partner, PaymentMethod
from aggregates.payments import PaymentGateway, PaymentResult
from policies.partner_isolation import PartnerSteps, unguarded
from projections import aggregate_states
from projections.billing import period_draft
from projections.read_model import ReadModel
from projections.times import stored
from service.commands.application import LedgerApplication
from service.commands.billing import ClosePartnerCycles, DunInvoice
from service.commands.invoice_numbers import claim_invoice_number
from service.commands.version_races import with_retries

if TYPE_CHECKING:
    from service.commands.base import CommandRunner

log = logging.getLogger(__name__)
CYCLE_CLOSE = policy_actor("cycle_close")
DUNNING = policy_actor("dunning")
RECOVERY = policy_actor("payment_recovery")
NO_METHOD = "no_payment_method"
# How long (wall clock) a payer may take to call the gateway after recording an attempt,
# and again for the call to finish (settings: PORTAL_PAYMENT_LEASE_SECONDS).
DEFAULT_LEASE = timedelta(seconds=60)


def wall_now() -> datetime:
    """Real time, for leases between processes: the service clock may be a manual one
    that a test moves by days in an instant."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Attempt:
    """A recorded attempt, as its payer holds it between intent and effect."""

    partner_id: UUID
    invoice_id: UUID
    attempt_id: UUID
    method: PaymentMethod
    amount: int
    currency: str
    at: datetime
    charge_by: datetime


class Billing:
    def __init__(self, *, app: LedgerApplication, read_model: ReadModel,
                 gateway: PaymentGateway, caught_up: Callable[[], None],
                 lease: timedelta = DEFAULT_LEASE,
                 wall: Callable[[], datetime] = wall_now) -> None:
        self.app = app
        self.read_model = read_model
        self.gateway = gateway
        self.caught_up = caught_up
        self.lease = lease
        self.wall = wall
        # The command path (service/commands/execute.py) the jobs' per-partner steps take;
        # wired by service/runtime/bootstrap.py once the service exists.
        self.commands: CommandRunner | None = None

    def execute(self, command: Any, *, actor: Actor) -> Any:
        if self.commands is None:
            raise RuntimeError("Billing's command path is wired by service.runtime.bootstrap")
        return self.commands(command, actor=actor)

    @property
    def now(self) -> datetime:
        return self.app.clock.now()

    # -- account terms ---------------------------------------------------------------------

    def add_payment_method(self, *, partner_id: UUID, actor: Actor,
                           at: datetime | None = None, **card: Any) -> tuple[Partner, UUID]:
        """Run as `AddPaymentMethod` (service/commands/billing.py); `at` defaults to the
        service clock for a direct, single-threaded caller (a test's set-up)."""
        partner = self.app.partner(partner_id)
        method_id = uuid4()
        partner.add_payment_method(method_id=method_id, actor=actor, at=at or self.now, **card)
        self.app.save(partner)
        return partner, method_id

    # -- invoices --------------------------------------------------------------------------

    def invoice(self, partner_id: UUID, invoice_id: UUID) -> Invoice:
        return self.app.load(Invoice, invoice_id, partner_id=partner_id)

    def draft(self, partner: Partner, *, start: datetime, end: datetime,
              credit_balance: int | None = None) -> Draft:
        """The invoice the period's counts (as the view has them now) would give."""
        with self.read_model.reading() as sql:
            return period_draft(sql, partner, start=start, end=end,
                                credit_balance=credit_balance)

    def close_cycle(self, *, partner_id: UUID, period_start: datetime,
                    period_end: datetime) -> Invoice:
        """Issues the period's invoice (once) and attempts its payment."""
        invoice_id = Invoice.id_for(partner_id=partner_id, period_start=period_start)
        try:
            return self.app.load(Invoice, invoice_id)
        except NotFound:
            pass
        self.caught_up()

        def issue_once(_: int) -> None:
            # A lost race is retried: another scheduler issued this invoice (then it is
            # found), or another invoice of the partner took the next number first.
            with contextlib.suppress(NotFound):
                self.app.load(Invoice, invoice_id)
                return
            self._issue(partner_id=partner_id, period_start=period_start,
                        period_end=period_end)

        with_retries(issue_once)
        invoice = self.app.load(Invoice, invoice_id)
        if invoice.awaiting_first_charge:
            # A concurrent payer (dunning, a pay) may be charging it: that one charge is
            # enough; the open attempt is settled by asking the gateway.
            with contextlib.suppress(PaymentInProgress, AlreadyPaid):
                self.attempt_payment(partner_id=partner_id, invoice_id=invoice_id,
                                     actor=CYCLE_CLOSE)
        return self.app.load(Invoice, invoice_id)

    def _issue(self, *, partner_id: UUID, period_start: datetime, period_end: datetime) -> None:
        partner = self.app.partner(partner_id)
        at = self.now
        draft = self.draft(partner, start=period_start, end=period_end)
        invoice_id = Invoice.id_for(partner_id=partner_id, period_start=period_start)
        number = partner.number_invoice(invoice_id=invoice_id, actor=CYCLE_CLOSE, at=at)
        claim = claim_invoice_number(self.app, number=number, invoice_id=invoice_id,
                                     actor=CYCLE_CLOSE, at=at)
        invoice = Invoice.issue(
            partner_id=partner_id, number=number,
            period_start=period_start, period_end=period_end, currency=partner.currency,
            figures=draft, actor=CYCLE_CLOSE, at=at)
        partner.apply_credit(invoice_id=invoice.id, amount=draft.credit_applied,
                             actor=CYCLE_CLOSE, at=at)
        for line in draft.discounts:
            partner.discount_used(discount_id=line["discount_id"], invoice_id=invoice.id,
                                  actor=CYCLE_CLOSE, at=at)
        self.app.save(invoice, partner, claim)

    def close_due_cycles(self, at: datetime, *, steps: PartnerSteps = unguarded,
                         partners: Collection[UUID] | None = None) -> list[Invoice]:
        """Every partner's ended periods, from the one it was created in, get an invoice.
        Each partner is one of `steps` (the scheduled job isolates them). `partners` keeps
        to those (the ones whose cycle-close timer fell due); None: every partner."""
        self.caught_up()
        issued: list[Invoice] = []
        with self.read_model.reading() as sql:
            if partners is None:
                visited = aggregate_states.partner_ids(sql)
                rows = sql.all("SELECT partner_id, period_start FROM v_invoices")
            else:
                visited = sorted(str(p) for p in partners)
                rows = [r for pid in visited for r in sql.all(
                    "SELECT partner_id, period_start FROM v_invoices WHERE partner_id = ?",
                    pid)]
            invoiced = frozenset((r["partner_id"], r["period_start"]) for r in rows)
        for pid in visited:
            issued += steps.step(UUID(pid), partial(self._close_partner, pid, until=at,
                                                    invoiced=invoiced)) or []
        return issued

    def _close_partner(self, pid: str, *, until: datetime,
                       invoiced: frozenset[tuple[str, str]]) -> list[Invoice]:
        return self.execute(ClosePartnerCycles(partner_id=UUID(pid), until=until,
                                               invoiced=invoiced), actor=CYCLE_CLOSE)

    def close_partner_cycles(self, partner_id: UUID, *, at: datetime,
                             invoiced: frozenset[tuple[str, str]]) -> list[Invoice]:
        """Run as `ClosePartnerCycles` (service/commands/billing.py)."""
        pid = str(partner_id)
        partner = self.app.partner(partner_id)
        issued = []
        start, end = billing_period(anchor_day=partner.billing_anchor_day,
                                    containing=partner.created_on)
        while end <= at:
            if (pid, stored(start)) not in invoiced:
                issued.append(self.close_cycle(partner_id=partner.id, period_start=start,
                                               period_end=end))
            start, end = next_period(start, partner.billing_anchor_day)
        return issued

    # -- payments --------------------------------------------------------------------------

    def attempt_payment(self, *, partner_id: UUID, invoice_id: UUID, actor: Actor) -> Invoice:
        """Charges the balance due on the default payment method, once.

        Refused with `invoice_already_paid` when the invoice is paid before this begins,
        and with `payment_in_progress` while another attempt is open (or when the
        gateway's answer did not come back: the attempt is settled later by asking). A
        payer that meets a concurrent attempt makes no charge of its own: once that
        attempt is settled it answers the invoice as the attempt left it.
        """
        begun = with_retries(lambda lost: self._begin(partner_id=partner_id,
                                                      invoice_id=invoice_id, actor=actor,
                                                      raced=lost > 0))
        if isinstance(begun, Invoice):
            return begun
        result = self._charge(begun)
        if result is None:
            raise PaymentInProgress(
                f"the gateway's answer for payment attempt {begun.attempt_id} is not known "
                "yet; it will be recorded once the gateway is asked")
        return self._record_outcome(begun.partner_id, begun.invoice_id, begun.attempt_id,
                                    result, actor)

    def _begin(self, *, partner_id: UUID, invoice_id: UUID, actor: Actor,
               raced: bool) -> Invoice | _Attempt:
        """The intent: records the attempt (or, with no payment method, the failure) and
        answers it; or answers the invoice when there is nothing for this payer to do."""
        invoice = self.invoice(partner_id, invoice_id)
        open_attempt = invoice.open_attempt
        if open_attempt is not None:
            status = self._settle(invoice, open_attempt, actor)
            if status == "open":
                raise PaymentInProgress(f"a payment of invoice {invoice.number} is under way")
            if status != "abandoned":
                return invoice  # that attempt charged (or was declined): no second charge
        elif raced and invoice.status == PAID:
            return invoice  # paid by the attempt this payer lost the race to
        partner = self.app.partner(partner_id)
        method = partner.default_payment_method
        at = self.now
        if method is None:
            invoice.record_payment_attempt(payment_method_id=None, succeeded=False,
                                           reason=NO_METHOD, amount=invoice.balance_due,
                                           actor=actor, at=at)
            self.app.save(invoice)
            return invoice
        attempt_id = uuid4()
        charge_by = self.wall() + self.lease
        invoice.start_payment_attempt(attempt_id=attempt_id, payment_method_id=method.id,
                                      charge_by=charge_by, actor=actor, at=at)
        self.app.save(invoice)
        return _Attempt(partner_id=partner_id, invoice_id=invoice_id, attempt_id=attempt_id,
                        method=method, amount=invoice.attempts[str(attempt_id)]["amount"],
                        currency=invoice.currency, at=at, charge_by=charge_by)

    def _charge(self, attempt: _Attempt) -> PaymentResult | None:
        """The effect: one gateway call, never retried here. None when the answer is not
        known (too late to call, or the call failed): the attempt stays open."""
        if self.wall() >= attempt.charge_by:
            log.warning("payment attempt %s: its lease ran out before the gateway was called",
                        attempt.attempt_id)
            return None
        try:
            return self.gateway.charge(attempt_id=attempt.attempt_id, method=attempt.method,
                                       amount=attempt.amount, currency=attempt.currency,
                                       at=attempt.at)
        except Exception:
            log.exception("payment attempt %s: the gateway call failed", attempt.attempt_id)
            return None

    def _record_outcome(self, partner_id: UUID, invoice_id: UUID, attempt_id: UUID,
                        result: PaymentResult, actor: Actor) -> Invoice:
        def step(_: int) -> Invoice:
            invoice = self.invoice(partner_id, invoice_id)
            if invoice.record_attempt_outcome(attempt_id=attempt_id,
                                              succeeded=result.succeeded,
                                              reason=result.reason, actor=actor, at=self.now):
                self.app.save(invoice)
            return invoice

        try:
            return with_retries(step)
        except InvalidTransition:
            # The attempt was closed otherwise (abandoned after a call slower than the
            # lease): the gateway's books and ours disagree; reconciliation lists it.
            log.error("payment attempt %s: the gateway answered %s after the attempt was "
                      "closed", attempt_id, result)
            raise

    def _settle(self, invoice: Invoice, attempt: dict[str, Any], actor: Actor) -> str:
        """Settles an open attempt by asking the gateway about its id: records the answer
        the gateway gives, or abandons an attempt the gateway never saw once its lease
        (time to call, then time for the call) is over. Answers the attempt's status."""
        try:
            result = self.gateway.lookup(attempt["id"])
        except Exception:
            log.exception("payment attempt %s: the gateway lookup failed", attempt["id"])
            return "open"
        if result is not None:
            if invoice.record_attempt_outcome(attempt_id=attempt["id"],
                                              succeeded=result.succeeded, reason=result.reason,
                                              actor=actor, at=self.now):
                self.app.save(invoice)
            return "succeeded" if result.succeeded else "failed"
        if self.wall() <= attempt["charge_by"] + self.lease:
            return "open"
        invoice.abandon_payment_attempt(attempt_id=attempt["id"], actor=actor, at=self.now)
        self.app.save(invoice)
        return "abandoned"

    def settle_open_attempt(self, *, partner_id: UUID, invoice_id: UUID,
                            actor: Actor) -> bool:
        """Settles the invoice's open attempt, if any; True when it recorded something."""
        def step(_: int) -> bool:
            invoice = self.invoice(partner_id, invoice_id)
            attempt = invoice.open_attempt
            return attempt is not None and self._settle(invoice, attempt, actor) != "open"

        return with_retries(step)

    def _unpaid(self) -> list[tuple[UUID, UUID]]:
        with self.read_model.reading() as sql:
            return [(UUID(r["partner_id"]), UUID(r["id"])) for r in sql.all(
                "SELECT id, partner_id FROM v_invoices WHERE status IN (?, ?)", OPEN, PAST_DUE)]

    def settle_open_attempts(self, actor: Actor = RECOVERY) -> int:
        """Asks the gateway about every open attempt (at start: a crash may have left
        some); each invoice on its own, so one failure stops no other, and a store that
        cannot be read is logged, not raised: the dunning run settles them later. How
        many were settled."""
        settled = 0
        try:
            self.caught_up()
            unpaid = self._unpaid()
        except Exception:
            log.exception("could not look for open payment attempts")
            return settled
        for partner_id, invoice_id in unpaid:
            try:
                settled += self.settle_open_attempt(partner_id=partner_id,
                                                    invoice_id=invoice_id, actor=actor)
            except Exception:
                log.exception("settling the payment attempt of invoice %s failed", invoice_id)
        return settled

    def retry_due_payments(self, at: datetime, *, steps: PartnerSteps = unguarded,
                           invoices: Collection[tuple[UUID, UUID]] | None = None
                           ) -> list[Invoice]:
        """Dunning: settles open attempts, charges past-due invoices whose next retry (1,
        3, 7 days) has come and issued invoices whose first charge never happened. Each
        invoice is one of its partner's `steps` (the scheduled job isolates them).
        `invoices` keeps to those (partner, invoice) pairs (the ones whose dunning timer
        fell due); None: every unpaid invoice."""
        self.caught_up()
        retried_: list[Invoice] = []
        for partner_id, invoice_id in (self._unpaid() if invoices is None else invoices):
            retried_ += steps.step(partner_id, partial(self._dun_one, partner_id, invoice_id,
                                                       due_by=at)) or []
        return retried_

    def _dun_one(self, partner_id: UUID, invoice_id: UUID, *, due_by: datetime
                 ) -> list[Invoice]:
        return self.execute(DunInvoice(partner_id=partner_id, invoice_id=invoice_id,
                                       due_by=due_by), actor=DUNNING)

    def dun(self, *, partner_id: UUID, invoice_id: UUID, at: datetime) -> list[Invoice]:
        """One invoice's dunning step: settle its open attempt, then charge when due. Run
        as `DunInvoice` (service/commands/billing.py)."""
        done: list[Invoice] = []
        invoice = self.invoice(partner_id, invoice_id)
        if invoice.open_attempt is not None:
            if not self.settle_open_attempt(partner_id=partner_id, invoice_id=invoice_id,
                                            actor=DUNNING):
                return done  # still under way
            invoice = self.invoice(partner_id, invoice_id)
            done.append(invoice)
            # Settled: paid or declined (no retry due yet), or abandoned uncharged
            # (then the charge it was meant to make is due, and is made below).
        next_at = invoice.next_retry_at()
        if invoice.awaiting_first_charge or (next_at is not None and next_at <= at):
            # A concurrent payer got there first: its one charge is the retry.
            with contextlib.suppress(PaymentInProgress, AlreadyPaid):
                done.append(self.attempt_payment(partner_id=partner_id,
                                                 invoice_id=invoice_id, actor=DUNNING))
        return done
