"""`ledger seed-demo`: a realistic demo partner in an empty database, so a new user sees
every view populated.

Three months of history are played forward on a manual clock through the ordinary
commands: sub-accounts named "Client – Purpose" (and one that is not, for the naming
hint), lines in every status, a merge, a deleted sub-account, a credit and a discount,
invoices issued at each period end by the billing service's cycle close, the last one
declined by an expiring card, hourly usage ingested weekly (with one spike that the
auto-flag policy catches), and the alerts job at the end.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from aggregates.base import Actor
from service.commands.billing import (
    AddDiscount,
    AddPaymentMethod,
    GrantCredit,
    MakeDefaultPaymentMethod,
)
from service.commands.lines import (
    ApproveLineDelete,
    AssignLine,
    FlagLine,
    PauseSending,
    ProvisionLine,
    RequestLineDelete,
    RequestLineMove,
    UnassignLine,
)
from service.commands.partners import CreatePartner, IssueKey
from service.commands.sub_accounts import (
    ApproveMerge,
    ApproveSubAccountDelete,
    CreateSubAccount,
    RequestMerge,
    RequestSubAccountDelete,
    StartCampaign,
)
from service.commands.usage import IngestUsage
from service.runtime.bootstrap import Ledger
from service.runtime.clock import ManualClock

DAYS = 91
PLATFORM = Actor(key_id="seed-demo", role="platform:admin")
PRICING = {"structure": "tiered", "mode": "graduated",
           "tiers": [{"up_to": 10, "unit_amount": 3000}, {"up_to": None, "unit_amount": 2500}]}
# Sub-account → (lines at the start, how well its agents answer: responded / new).
SUB_ACCOUNTS = {
    "Acme Dental – Appointment Reminders": (5, 0.92),
    "Acme Dental – Billing Support": (3, 0.78),
    "Northwind Realty – Lead Follow-up": (4, 0.64),
    "Harbor Fitness – Membership Sales": (4, 0.71),
    "Harbor Fitness – Class Updates": (2, 0.85),
}
UNNAMED = "marketing test"
BUSY_HOURS = range(13, 24)  # 8am–7pm US Eastern, in UTC


class DatabaseNotEmpty(Exception):
    """seed-demo only fills an empty database."""


@dataclass
class Seeded:
    partner_id: UUID
    admin_token: str
    start: datetime
    until: datetime
    events: int = 0
    invoices: int = 0


@dataclass
class _Line:
    sub: UUID | None
    sending: bool = True
    rate: float = 0.8


@dataclass
class _Demo:
    ledger: Ledger
    clock: ManualClock
    partner_id: UUID
    admin: Actor
    support: Actor
    rng: random.Random
    subs: dict[str, UUID] = field(default_factory=dict)
    lines: dict[UUID, _Line] = field(default_factory=dict)
    pending_usage: list[dict[str, Any]] = field(default_factory=list)

    @property
    def app(self) -> Any:
        return self.ledger.app

    def at(self, when: datetime) -> None:
        if when > self.clock.now():
            self.clock.set(when)

    def provision(self, sub: str | None) -> UUID:
        sub_id = self.subs[sub] if sub else None
        line = self.ledger.execute(ProvisionLine(partner_id=self.partner_id,
                                                 sub_account_id=sub_id), actor=self.admin)
        rate = SUB_ACCOUNTS[sub][1] if sub else 0.0
        self.lines[line.id] = _Line(sub=sub_id, rate=rate)
        return line.id

    def in_sub(self, name: str) -> list[UUID]:
        return [lid for lid, line in self.lines.items() if line.sub == self.subs[name]]

    def usage_for_day(self, day: datetime, *, spike: UUID | None = None) -> None:
        weekend = day.weekday() >= 5
        for line_id, line in self.lines.items():
            if line.sub is None or not line.sending:
                continue
            for hour in BUSY_HOURS:
                if weekend and self.rng.random() < 0.6:
                    continue
                new = self.rng.randint(0, 6 if weekend else 12)
                responded = sum(1 for _ in range(new) if self.rng.random() < line.rate)
                hits = 1 if self.rng.random() < 0.01 else 0
                if spike == line_id and hour == 16:
                    hits = 14
                self.pending_usage.append({
                    "line_id": str(line_id), "hour": day.replace(hour=hour),
                    "messages_sent": self.rng.randint(new, 40 + new),
                    "messages_received": self.rng.randint(responded, 30 + responded),
                    "new_conversations": new, "responded_conversations": responded,
                    "volume_limit_hits": hits})

    def flush_usage(self) -> None:
        now = self.clock.now()
        due = [r for r in self.pending_usage if r["hour"] <= now]
        self.pending_usage = [r for r in self.pending_usage if r["hour"] > now]
        for start in range(0, len(due), 10_000):
            self.ledger.execute(IngestUsage(partner_id=self.partner_id,
                                            rows=due[start:start + 10_000]), actor=self.admin)


def database_is_empty(ledger: Ledger) -> bool:
    return not (ledger.app.recorder.max_notification_id() or 0)


def _next_midnight(at: datetime) -> datetime:
    midnight = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == at else midnight + timedelta(days=1)


def seed_demo(ledger: Ledger, *, until: datetime | None = None, seed: int = 2026,
              progress: Callable[[str], None] | None = None,
              partner_id: UUID | None = None) -> Seeded:
    """Plays three months of a demo partner's life from the manual clock's next midnight
    to `until` (default: 91 days later); the clock ends at `until`."""
    clock = ledger.clock
    if not isinstance(clock, ManualClock):
        raise TypeError("seed-demo plays history forward on a manual clock")
    if not database_is_empty(ledger):
        raise DatabaseNotEmpty(
            f"the database already holds {ledger.app.recorder.max_notification_id()} events; "
            "seed-demo only fills an empty database (point PORTAL_DATABASE_URL at a new one)")
    say = progress or (lambda _: None)
    start = _next_midnight(clock.now())
    until = until or start + timedelta(days=DAYS)
    if until < start + timedelta(days=DAYS):
        raise ValueError(f"until must be at least {DAYS} days after {start.isoformat()}")
    clock.set(start)
    run = ledger.execute
    partner = run(CreatePartner(name="Brightwave Messaging", currency="USD",
                                billing_anchor_day=1, pricing=PRICING,
                                partner_id=partner_id or uuid4()),
                  actor=PLATFORM)
    admin_key, admin_token = run(IssueKey(partner_id=partner.id, role="admin",
                                          name="Demo admin"), actor=PLATFORM)
    support_key, _ = run(IssueKey(partner_id=None, role="support", name="Demo support"),
                         actor=PLATFORM)
    run(IssueKey(partner_id=partner.id, role="reporting", name="Demo reporting"),
        actor=Actor(key_id=str(admin_key.id), role="admin"))
    demo = _Demo(ledger=ledger, clock=clock, partner_id=partner.id,
                 admin=Actor(key_id=str(admin_key.id), role="admin"),
                 support=Actor(key_id=str(support_key.id), role="platform:support"),
                 rng=random.Random(seed))
    pid = partner.id
    billing = ledger.billing
    run(AddPaymentMethod(partner_id=pid, brand="visa", last4="4242", exp_month=12,
                         exp_year=start.year + 3, token="tok_visa"), actor=demo.admin)
    for name, (count, _) in SUB_ACCOUNTS.items():
        demo.subs[name] = run(CreateSubAccount(partner_id=pid, name=name),
                              actor=demo.admin).id
        for _ in range(count):
            demo.provision(name)
    demo.subs[UNNAMED] = run(CreateSubAccount(partner_id=pid, name=UNNAMED),
                             actor=demo.admin).id
    for _ in range(3):  # never assigned: idle in the pool for the whole history
        demo.provision(None)
    period_ends = [start.replace(day=1, month=m % 12 + 1, year=start.year + (m // 12))
                   for m in range(start.month, start.month + 5)]
    last_end = max(end for end in period_ends if end <= until)
    declining_on = last_end - timedelta(days=5)
    northwind = "Northwind Realty – Lead Follow-up"
    harbor_sales, harbor_classes = ("Harbor Fitness – Membership Sales",
                                    "Harbor Fitness – Class Updates")
    acme_support = "Acme Dental – Billing Support"
    roaming = demo.in_sub(acme_support)[0]
    spike_line = demo.in_sub(northwind)[1]

    for day_index in range(DAYS):
        day = start + timedelta(days=day_index)
        demo.at(day)
        if day in period_ends:
            billing.close_due_cycles(day)
        demo.at(day + timedelta(hours=9))
        if day_index and day_index % 7 == 0:
            demo.flush_usage()
            say(f"{day:%Y-%m-%d}: usage ingested")
        if day_index == 3:
            run(StartCampaign(partner_id=pid, sub_account_id=demo.subs[northwind],
                              name="Spring open house"), actor=demo.admin)
        if day_index == 10:
            run(GrantCredit(partner_id=pid, amount=1500, reason="goodwill"),
                actor=demo.support)
            run(AddDiscount(partner_id=pid, discount_id="welcome-10", kind="percent", value=10,
                            sub_account_id=None, cycles=2), actor=PLATFORM)
        if day_index == 20:
            run(UnassignLine(partner_id=pid, line_id=roaming), actor=demo.admin)
            demo.lines[roaming].sub = None
        if day_index == 25:
            run(RequestSubAccountDelete(partner_id=pid, sub_account_id=demo.subs[UNNAMED]),
                actor=demo.admin)
            run(ApproveSubAccountDelete(partner_id=pid, sub_account_id=demo.subs[UNNAMED]),
                actor=demo.support)
        if day_index == 30:
            quiet = demo.in_sub("Acme Dental – Appointment Reminders")[4]
            run(PauseSending(partner_id=pid, line_id=quiet), actor=demo.admin)
            demo.lines[quiet].sending = False
        if day_index == 35:
            run(AssignLine(partner_id=pid, line_id=roaming,
                           sub_account_id=demo.subs[northwind]), actor=demo.admin)
            demo.lines[roaming].sub = demo.subs[northwind]
            demo.lines[roaming].rate = SUB_ACCOUNTS[northwind][1]
            demo.provision(northwind)
        if day_index == 45:
            demo.flush_usage()  # a deleted line takes no more usage, even for past hours
            retired = demo.in_sub(harbor_sales)[3]
            run(RequestLineDelete(partner_id=pid, line_id=retired), actor=demo.admin)
            run(ApproveLineDelete(partner_id=pid, line_id=retired), actor=demo.support)
            del demo.lines[retired]
        if day_index == 60:
            run(RequestMerge(partner_id=pid, sub_account_id=demo.subs[harbor_classes],
                             primary_id=demo.subs[harbor_sales]), actor=demo.admin)
            run(ApproveMerge(partner_id=pid, sub_account_id=demo.subs[harbor_classes]),
                actor=demo.support)
            for line_id in demo.in_sub(harbor_classes):
                demo.lines[line_id].sub = demo.subs[harbor_sales]
        if day_index == 70:
            flagged = demo.in_sub(acme_support)[0]
            run(FlagLine(partner_id=pid, line_id=flagged, reason="carrier spam complaints"),
                actor=demo.support)
            demo.lines[flagged].sending = False
        if day == declining_on.replace(hour=0):
            _, declining = run(AddPaymentMethod(
                partner_id=pid, brand="mastercard", last4="0002", exp_month=last_end.month,
                exp_year=last_end.year, token="tok_decline"), actor=demo.admin)
            run(MakeDefaultPaymentMethod(partner_id=pid, method_id=declining),
                actor=demo.admin)
        if day_index == 80:
            demo.provision(None)
        if day_index == 85:
            leaving = demo.in_sub("Acme Dental – Appointment Reminders")[0]
            run(RequestLineDelete(partner_id=pid, line_id=leaving), actor=demo.admin)
        if day_index == 86:
            mover = demo.in_sub(harbor_sales)[0]
            run(RequestLineMove(partner_id=pid, line_id=mover,
                                sub_account_id=demo.subs[northwind]), actor=demo.admin)
        demo.usage_for_day(day, spike=spike_line if day_index == DAYS - 3 else None)
    demo.at(until)
    demo.flush_usage()
    ledger.alerts.check(until)
    ledger.caught_up()
    with ledger.read_model.reading() as sql:
        invoices = int(sql.scalar("SELECT COUNT(*) FROM v_invoices WHERE partner_id = ?",
                                  str(pid)) or 0)
    return Seeded(partner_id=pid, admin_token=admin_token, start=start, until=until,
                  events=ledger.app.recorder.max_notification_id() or 0, invoices=invoices)
