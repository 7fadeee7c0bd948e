"""Scheduled jobs isolate partners: one partner's failure in cycle close, dunning or the
alerts job is logged and alerted, never stops the others, and is retried at the next run;
a jump of the manual clock runs every firing on the way, whatever fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from aggregates.base import Actor
from projections import aggregate_states
from projections import alerts as alerts_view
from service.commands.alert_checks import Alerts
from service.commands.billing_operations import Billing
from service.runtime.bootstrap import Ledger

OPS = Actor(key_id="ops-key", role="operations")
CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2031, "token": "tok_ok"}
DECLINING = {**CARD, "last4": "0002", "token": "tok_decline"}
OVERFLOW = "Python int too large to convert to SQLite INTEGER"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def partners(ledger: Ledger, *, count: int = 3, card: dict[str, Any] = CARD) -> list[UUID]:
    """Partners with one line and a card each, in id order (the order the jobs walk)."""
    ids = []
    for n in range(count):
        pid = ledger.app.create_partner(name=f"Partner {n}", currency="USD",
                                        billing_anchor_day=1,
                                        pricing={"structure": "standard", "unit_amount": 3000},
                                        actor=OPS).id
        ledger.app.provision_line(partner_id=pid, phone_number=None, sub_account_id=None,
                                  actor=OPS)
        ledger.billing.add_payment_method(partner_id=pid, actor=OPS, **card)
        ids.append(pid)
    ledger.caught_up()
    return sorted(ids, key=str)


def invoice_periods(ledger: Ledger, partner_id: UUID) -> list[str]:
    with ledger.read_model.reading() as sql:
        return [r["period_start"][:10] for r in sql.all(
            "SELECT period_start FROM v_invoices WHERE partner_id = ? ORDER BY period_start",
            str(partner_id))]


def payment_attempts(ledger: Ledger, partner_id: UUID) -> int:
    invoices = ledger.read_model.read(aggregate_states.invoices, partner_id=str(partner_id))
    return sum(len(invoice.payments) for invoice in invoices)


def job_alerts(ledger: Ledger, partner_id: UUID) -> list[dict[str, Any]]:
    rows, _ = ledger.read_model.read(alerts_view.list_alerts, partner_id=str(partner_id),
                                     status="all", limit=500)
    return [row for row in rows if row["kind"] == "job_failed"]


class Breaks:
    """Makes one partner fail while `broken`; `fix()` removes the cause."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.broken = True

    def method(self, cls: type, name: str, *, fails: Callable[..., bool],
               error: Exception) -> None:
        original = getattr(cls, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self.broken and fails(*args, **kwargs):
                raise error
            return original(*args, **kwargs)

        self.monkeypatch.setattr(cls, name, wrapper)

    def fix(self) -> None:
        self.broken = False


@pytest.fixture
def breaks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Breaks]:
    yield Breaks(monkeypatch)


def test_a_partner_cycle_close_cannot_bill_is_alerted_and_invoiced_once_fixed(
    ledger: Ledger, breaks: Breaks, caplog: pytest.LogCaptureFixture,
) -> None:
    first, middle, last = partners(ledger)
    breaks.method(Billing, "_issue", fails=lambda _self, **kw: kw["partner_id"] == first,
                  error=OverflowError(OVERFLOW))

    ran = ledger.scheduler.advance(at("2026-02-01T06:00:00"))

    assert invoice_periods(ledger, first) == []
    assert invoice_periods(ledger, middle) == invoice_periods(ledger, last) == ["2026-01-01"]
    [alert] = job_alerts(ledger, first)
    assert alert["status"] == "open"
    assert alert["subject_id"] == "cycle_close"
    assert alert["data"]["error"] == f"OverflowError: {OVERFLOW}"
    assert alert["data"]["failed_at"] == "2026-02-01T00:00:00Z"
    assert job_alerts(ledger, middle) == job_alerts(ledger, last) == []
    assert any(str(first) in r.getMessage() and OVERFLOW in r.getMessage()
               for r in caplog.records if r.levelname == "ERROR")
    assert ("alerts", at("2026-02-01T00:00:00")) in ran  # the firing went on after it

    ledger.scheduler.advance(at("2026-02-01T18:00:00"))  # no firing in between
    breaks.fix()
    ledger.scheduler.advance(at("2026-02-02T06:00:00"))

    assert invoice_periods(ledger, first) == ["2026-01-01"]
    [resolved] = job_alerts(ledger, first)
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] == "2026-02-02T00:00:00Z"
    assert resolved["resolution"] == "the cycle close job succeeded"


def test_a_clock_jump_runs_every_firing_for_every_partner_while_one_keeps_failing(
    ledger: Ledger, breaks: Breaks,
) -> None:
    first, middle, last = partners(ledger)
    breaks.method(Billing, "_issue", fails=lambda _self, **kw: kw["partner_id"] == middle,
                  error=RuntimeError("bigint out of range"))

    ran = ledger.scheduler.advance(at("2026-04-01T12:00:00"))

    months = ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert invoice_periods(ledger, first) == invoice_periods(ledger, last) == months
    assert invoice_periods(ledger, middle) == []
    assert ledger.clock.now() == at("2026-04-01T12:00:00")
    [alert] = job_alerts(ledger, middle)  # one open alert, not one per firing
    assert alert["data"]["failed_at"] == "2026-02-01T00:00:00Z"
    assert {("cycle_close", at(f"{m}T00:00:00")) for m in months[1:]} <= set(ran)

    breaks.fix()
    ledger.scheduler.advance(at("2026-04-02T00:00:00"))

    assert invoice_periods(ledger, middle) == months
    assert [a["status"] for a in job_alerts(ledger, middle)] == ["resolved"]


def test_a_payment_retry_that_fails_for_one_partner_leaves_the_others_retried(
    ledger: Ledger, breaks: Breaks,
) -> None:
    first, middle, last = partners(ledger, card=DECLINING)
    ledger.scheduler.advance(at("2026-02-01T06:00:00"))  # every first attempt declines
    # A gateway that does not answer leaves the attempt open (its outcome is unknown, so
    # it is settled by asking the gateway later, never charged again): the failure here is
    # the partner's own dunning step, before any attempt is recorded.
    breaks.method(type(ledger.billing), "attempt_payment",
                  fails=lambda *args, **kw: kw["partner_id"] == last,
                  error=ConnectionError("gateway unreachable"))

    ledger.scheduler.advance(at("2026-02-02T06:00:00"))  # the 1-day retry

    assert payment_attempts(ledger, first) == payment_attempts(ledger, middle) == 2
    assert payment_attempts(ledger, last) == 1
    [alert] = job_alerts(ledger, last)
    assert (alert["subject_id"], alert["status"]) == ("dunning", "open")
    assert alert["data"]["error"] == "ConnectionError: gateway unreachable"

    breaks.fix()
    ledger.scheduler.advance(at("2026-02-02T08:00:00"))

    assert payment_attempts(ledger, last) == 2
    assert [a["status"] for a in job_alerts(ledger, last)] == ["resolved"]
    assert payment_attempts(ledger, first) == 2  # its next retry is not due yet


def test_the_alerts_job_checks_every_other_partner_when_one_fails(
    ledger: Ledger, breaks: Breaks,
) -> None:
    first, middle, last = partners(ledger, card={**CARD, "exp_month": 1, "exp_year": 2026})
    breaks.method(Alerts, "due", fails=lambda _self, partner_id, _at: partner_id == first,
                  error=KeyError("line"))

    ledger.scheduler.advance(at("2026-01-02T06:00:00"))

    def kinds(pid: UUID) -> list[str]:
        rows, _ = ledger.read_model.read(alerts_view.list_alerts, partner_id=str(pid),
                                         status="open", limit=50)
        return [row["kind"] for row in rows]

    assert kinds(middle) == kinds(last) == ["card_expiring"]
    assert kinds(first) == ["job_failed"]
    assert job_alerts(ledger, first)[0]["subject_id"] == "alerts"

    breaks.fix()
    ledger.scheduler.advance(at("2026-01-03T06:00:00"))

    # The job's own failure alert is resolved by its success, not by the condition check.
    assert kinds(first) == ["card_expiring"]
    assert [a["status"] for a in job_alerts(ledger, first)] == ["resolved"]


def test_a_job_that_fails_as_a_whole_does_not_stop_the_firings_after_it(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    first, _, last = partners(ledger)

    def unreachable(self: Alerts, at: datetime, **_: Any) -> None:
        raise ConnectionError("the views are unreachable")

    monkeypatch.setattr(Alerts, "check", unreachable)

    ran = ledger.scheduler.advance(at("2026-03-01T12:00:00"))

    assert invoice_periods(ledger, first) == invoice_periods(ledger, last) == [
        "2026-01-01", "2026-02-01"]
    assert ("cycle_close", at("2026-03-01T00:00:00")) in ran
    assert ledger.clock.now() == at("2026-03-01T12:00:00")
    assert any("job alerts failed" in r.getMessage() for r in caplog.records)
