"""Months of realistic history, built through the application's commands and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from aggregates.base import Actor
from service.commands.billing import AddDiscount, GrantCredit
from service.commands.lines import (
    ApproveLineDelete,
    ApproveLineMove,
    AssignLine,
    RequestLineDelete,
    RequestLineMove,
    UnassignLine,
)
from service.runtime.bootstrap import Ledger

OPS = Actor(key_id="ops-key", role="operations")
SUPPORT = Actor(key_id="support-key", role="platform:support")
CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2031, "token": "tok_ok"}


def months_of_history(ledger: Ledger, *, months: int = 3, lines: int = 6,
                      on_day: object = None) -> UUID:
    """A partner with sub-accounts, lines moving, flagged and retired, credits and a
    discount, over `months` billing periods; `on_day(ledger, day)` runs after each day."""
    app, billing = ledger.app, ledger.billing
    partner = app.create_partner(
        name="History", currency="USD", billing_anchor_day=1,
        pricing={"structure": "tiered", "mode": "graduated",
                 "tiers": [{"up_to": 3, "unit_amount": 3000}, {"up_to": None,
                                                               "unit_amount": 2000}]},
        actor=OPS)
    pid = partner.id
    billing.add_payment_method(partner_id=pid, actor=OPS, **CARD)
    ledger.execute(GrantCredit(partner_id=pid, amount=2500, reason="goodwill"), actor=SUPPORT)
    ledger.execute(AddDiscount(partner_id=pid, discount_id="d-welcome", kind="percent",
                               value=10, sub_account_id=None, cycles=2), actor=SUPPORT)
    subs = [app.create_sub_account(partner_id=pid, name=f"Client {c} – Sales", actor=OPS).id
            for c in "ABC"]
    line_ids = [app.provision_line(partner_id=pid, phone_number=None,
                                   sub_account_id=subs[i % 2] if i % 3 else None,
                                   actor=OPS).id for i in range(lines)]
    start = ledger.clock.now()
    for day in range(1, months * 30 + 3):
        ledger.scheduler.advance(start + timedelta(days=day, hours=10))
        line = line_ids[day % len(line_ids)]
        current = app.line(pid, line)
        if current.status == "available":
            ledger.execute(AssignLine(partner_id=pid, line_id=line, sub_account_id=subs[day % 3]),
                           actor=OPS)
        elif current.status == "active" and day % 4 == 0:
            target = subs[(subs.index(current.sub_account_id) + 1) % len(subs)]
            ledger.execute(RequestLineMove(partner_id=pid, line_id=line, sub_account_id=target),
                           actor=OPS)
            ledger.execute(ApproveLineMove(partner_id=pid, line_id=line), actor=SUPPORT)
        elif current.status == "active" and day % 7 == 0:
            ledger.execute(UnassignLine(partner_id=pid, line_id=line), actor=OPS)
        if day % 29 == 0:
            ledger.execute(RequestLineDelete(partner_id=pid, line_id=line_ids[0]), actor=OPS)
            ledger.execute(ApproveLineDelete(partner_id=pid, line_id=line_ids[0]), actor=SUPPORT)
            line_ids[0] = app.provision_line(partner_id=pid, phone_number=None,
                                             sub_account_id=None, actor=OPS).id
        if callable(on_day):
            on_day(ledger, day)
    ledger.caught_up()
    return pid


def at(day: int) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day)
