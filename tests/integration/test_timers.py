"""Timers against the old cron walk: for the same history, the timer queue records the same
events at the same instants as walking every firing of every job did; a rebuild of the
timers view gives the same timers; an empty ledger's long jump runs nothing."""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.base import Actor
from projections import timers as timers_view
from projections.times import stored
from service.commands.lines import AssignLine, FlagLine, UnassignLine, UnflagLine
from service.runtime.bootstrap import Ledger
from tests.conftest import START, start_ledger
from tests.integration.cron_walk import cron_walk

OPS = Actor(key_id="ops-key", role="operations")
SUPPORT = Actor(key_id="support-key", role="platform:support")
CARDS = {
    "ok": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2031,
           "token": "tok_ok"},
    "decline": {"brand": "visa", "last4": "0002", "exp_month": 12, "exp_year": 2031,
                "token": "tok_decline"},
    "expiring": {"brand": "visa", "last4": "4444", "exp_month": 2, "exp_year": 2026,
                 "token": "tok_ok"},
}
ACTIONS = ("flag", "unflag", "pool", "assign", "card_ok", "card_decline", "pay")


@dataclass(frozen=True)
class Step:
    action: str
    partner: int
    hours: int  # how far the clock moves after the action


@dataclass(frozen=True)
class History:
    partners: list[tuple[int, str | None]]  # (anchor day, card)
    steps: list[Step]


class World:
    """One ledger playing a history: its partners, their sub-account and two lines."""

    def __init__(self, ledger: Ledger, history: History) -> None:
        self.ledger = ledger
        self.partners: list[UUID] = []
        self.subs: list[UUID] = []
        self.lines: list[list[UUID]] = []
        app = ledger.app
        for n, (anchor, card) in enumerate(history.partners):
            pid = app.create_partner(name=f"P{n}", currency="USD", billing_anchor_day=anchor,
                                     pricing={"structure": "standard", "unit_amount": 3000},
                                     actor=OPS).id
            sub = app.create_sub_account(partner_id=pid, name="Sales", actor=OPS).id
            lines = [app.provision_line(partner_id=pid, phone_number=None,
                                        sub_account_id=sub, actor=OPS).id,
                     app.provision_line(partner_id=pid, phone_number=None,
                                        sub_account_id=None, actor=OPS).id]
            if card is not None:
                ledger.billing.add_payment_method(partner_id=pid, actor=OPS, **CARDS[card])
            self.partners.append(pid)
            self.subs.append(sub)
            self.lines.append(lines)
        ledger.caught_up()

    def act(self, step: Step) -> str:
        """Runs the step's command; its outcome's name (a refused command is an outcome)."""
        n = step.partner % len(self.partners)
        pid, sub, (first, second) = self.partners[n], self.subs[n], self.lines[n]
        run, billing = self.ledger.execute, self.ledger.billing
        commands: dict[str, Callable[[], Any]] = {
            "flag": lambda: run(FlagLine(partner_id=pid, line_id=first, reason="spam"),
                                actor=SUPPORT),
            "unflag": lambda: run(UnflagLine(partner_id=pid, line_id=first), actor=SUPPORT),
            "pool": lambda: run(UnassignLine(partner_id=pid, line_id=first), actor=OPS),
            "assign": lambda: run(AssignLine(partner_id=pid, line_id=second,
                                             sub_account_id=sub), actor=OPS),
            "card_ok": lambda: billing.add_payment_method(partner_id=pid, actor=OPS,
                                                          **CARDS["ok"]),
            "card_decline": lambda: billing.add_payment_method(partner_id=pid, actor=OPS,
                                                               **CARDS["decline"]),
            "pay": lambda: self._pay(pid),
        }
        try:
            commands[step.action]()
            outcome = "done"
        except Exception as error:  # both designs must refuse alike
            outcome = type(error).__name__
        self.ledger.caught_up()
        return outcome

    def _pay(self, pid: UUID) -> None:
        with self.ledger.read_model.reading() as sql:
            row = sql.one("SELECT id FROM v_invoices WHERE partner_id = ? AND status IN "
                          "('open', 'past_due') ORDER BY seq LIMIT 1", str(pid))
        if row is None:
            raise LookupError("nothing to pay")
        self.ledger.billing.attempt_payment(partner_id=pid, invoice_id=UUID(row["id"]),
                                            actor=OPS)

    def log(self) -> list[list[tuple[str, int, str, str]]]:
        """Each partner's events in log order: (entity type, entity's ordinal within the
        partner, event type, time). Ids differ between two ledgers; ordinals do not."""
        with self.ledger.read_model.reading() as sql:
            rows = sql.all("SELECT partner_id, entity_type, entity_id, event_type, "
                           "occurred_at FROM v_audit ORDER BY position")
        per: dict[str, list[tuple[str, int, str, str]]] = {str(p): [] for p in self.partners}
        ordinals: dict[str, dict[str, int]] = {str(p): {} for p in self.partners}
        for r in rows:
            pid = r["partner_id"]
            if pid not in per:
                continue
            seen = ordinals[pid]
            ordinal = seen.setdefault(r["entity_id"], len(seen))
            per[pid].append((r["entity_type"], ordinal, r["event_type"], r["occurred_at"]))
        return [per[str(p)] for p in self.partners]


def play(ledger: Ledger, history: History,
         advance: Callable[[Ledger, datetime], list[tuple[str, datetime]]]
         ) -> tuple[list[str], World]:
    """Plays the history; the outcomes are each command's and the (job, time) firings of
    cycle close and dunning that recorded something, in order."""
    world = World(ledger, history)
    outcomes = []
    for step in history.steps:
        outcomes.append(world.act(step))
        ran = advance(ledger, ledger.clock.now() + timedelta(hours=step.hours))
        outcomes += [f"{job}@{at.isoformat()}" for job, at in ran if job != "alerts"]
    return outcomes, world


def by_timers(ledger: Ledger, to: datetime) -> list[tuple[str, datetime]]:
    return ledger.scheduler.advance(to)


@contextmanager
def sqlite_ledger() -> Iterator[Ledger]:
    with tempfile.TemporaryDirectory() as folder:
        ledger = start_ledger(f"sqlite:///{Path(folder) / 'ledger.db'}")
        try:
            yield ledger
        finally:
            ledger.close()


def assert_same(history: History, make: Callable[[], contextlib.AbstractContextManager[Ledger]]
                ) -> None:
    with make() as timed, make() as walked:
        timed_outcomes, timed_world = play(timed, history, by_timers)
        walked_outcomes, walked_world = play(walked, history, cron_walk)
        assert timed_outcomes == walked_outcomes
        assert timed_world.log() == walked_world.log()


histories = st.builds(
    History,
    partners=st.lists(st.tuples(st.sampled_from([1, 12, 28]),
                                st.sampled_from([None, "ok", "decline", "expiring"])),
                      min_size=1, max_size=2),
    steps=st.lists(st.builds(Step, action=st.sampled_from(ACTIONS),
                             partner=st.integers(0, 1),
                             # whole days too: commands right after a midnight's jobs
                             hours=st.one_of(st.integers(1, 24 * 10),
                                             st.integers(1, 10).map(lambda d: 24 * d))),
                   min_size=1, max_size=4),
)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=histories)
def test_the_timer_queue_records_what_walking_every_cron_firing_records(
    history: History,
) -> None:
    assert_same(history, sqlite_ledger)


# A history that meets every timer: a declined first charge and its three retries, a line
# flagged past 7 days then unflagged, a line idle past 30 days then assigned, an expiring
# card, anchors on different days, a payment by hand between two firings.
FIXED = History(
    partners=[(1, "decline"), (12, "expiring")],
    steps=[Step("flag", 0, 24 * 9 + 5), Step("unflag", 0, 24 * 25), Step("pay", 0, 7),
           Step("assign", 1, 24 * 20), Step("card_ok", 1, 24 * 12),
           Step("pool", 0, 24 * 33 + 3)],
)


# Commands at exactly midnight, after that midnight's jobs ran: the cron walk saw them
# at the next midnight; the timers they set must wait for it too.
MIDNIGHT = History(
    partners=[(1, "decline")],
    steps=[Step("flag", 0, 24 * 8 + 10), Step("card_ok", 0, 14), Step("unflag", 0, 24 * 2),
           Step("pool", 0, 24 * 31), Step("assign", 0, 24 * 2), Step("pay", 0, 24)],
)
HISTORIES = {"fixed": FIXED, "midnight": MIDNIGHT}


@functools.cache
def walked(name: str) -> tuple[list[str], list[list[tuple[str, int, str, str]]]]:
    """The oracle's answer for a named history, walked once for both backends' tests."""
    with sqlite_ledger() as ledger:
        outcomes, world = play(ledger, HISTORIES[name], cron_walk)
        return outcomes, world.log()


def test_a_history_that_meets_every_timer_matches_the_cron_walk(ledger: Ledger) -> None:
    """On each backend, the timers; the oracle walks a SQLite ledger."""
    timed_outcomes, timed_world = play(ledger, FIXED, by_timers)
    timed_log = timed_world.log()

    assert (timed_outcomes, timed_log) == walked("fixed")
    events = {event for partner in timed_log for _, _, event, _ in partner}
    assert {"Invoice.PaymentFailed", "Invoice.PaymentSucceeded", "PartnerAlerts.AlertRaised",
            "PartnerAlerts.AlertResolved", "Line.Flagged", "Line.Unassigned"} <= events


def test_commands_at_midnight_after_its_jobs_are_seen_at_the_next_one(ledger: Ledger) -> None:
    timed_outcomes, timed_world = play(ledger, MIDNIGHT, by_timers)
    timed_log = timed_world.log()

    assert (timed_outcomes, timed_log) == walked("midnight")
    resolved = [at for _, _, event, at in timed_log[0] if event == "PartnerAlerts.AlertResolved"]
    # The card's check ran at 01-10's midnight; the unflag came right after it.
    assert resolved[0].startswith("2026-01-11T00:00:00")


def all_timers(ledger: Ledger) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The view's rows and the pending list the scheduler and the API read."""
    with ledger.read_model.reading() as sql:
        rows = sql.all("SELECT * FROM v_timers ORDER BY kind, partner_id, subject")
    return rows, ledger.read_model.read(timers_view.listing, offset=0, limit=1000)


def test_a_rebuild_of_the_timers_view_gives_the_same_timers(ledger: Ledger) -> None:
    play(ledger, FIXED, by_timers)
    live = all_timers(ledger)
    now = stored(ledger.clock.now())
    assert {r["kind"] for r in live[1]} == {"cycle_close", "alerts"}
    assert all(r["due_at"] > now for r in live[1])  # what ran is not listed again

    ledger.processor.rebuild()

    assert all_timers(ledger) == live


def test_the_system_clock_runs_what_fell_due_at_its_own_instants(ledger: Ledger) -> None:
    pid = ledger.app.create_partner(name="Due", currency="USD", billing_anchor_day=1,
                                    pricing={"structure": "standard", "unit_amount": 3000},
                                    actor=OPS).id
    ledger.caught_up()
    ledger.scheduler.resume_from(START)
    ledger.manual_clock.set(START + timedelta(days=40))

    passed = ledger.scheduler.run_due()

    assert ("cycle_close", str(pid), START + timedelta(days=31)) in {
        (f.kind, f.partner_id, f.at) for f in passed.fired}
    assert ledger.scheduler.run_due().fired == []  # nothing runs twice
    with ledger.read_model.reading() as sql:
        assert sql.scalar("SELECT COUNT(*) FROM v_invoices WHERE partner_id = ?",
                          str(pid)) == 1


def test_an_empty_ledger_moved_ten_years_runs_no_job(ledger: Ledger) -> None:
    passed = ledger.scheduler.advance_pass(START + timedelta(days=3653))

    assert passed.ran == [] and passed.fired == []
    assert ledger.clock.now() == START + timedelta(days=3653)


def test_a_partner_timers_fire_for_that_partner_only(ledger: Ledger) -> None:
    early = ledger.app.create_partner(name="Early", currency="USD", billing_anchor_day=5,
                                      pricing={"structure": "standard", "unit_amount": 3000},
                                      actor=OPS).id
    late = ledger.app.create_partner(name="Late", currency="USD", billing_anchor_day=20,
                                     pricing={"structure": "standard", "unit_amount": 3000},
                                     actor=OPS).id
    ledger.caught_up()

    passed = ledger.scheduler.advance_pass(START + timedelta(days=10))

    assert {(f.kind, f.partner_id) for f in passed.fired} == {
        ("cycle_close", str(early)), ("alerts", str(early))}
    assert {f.at for f in passed.fired} == {START + timedelta(days=4)}
    with ledger.read_model.reading() as sql:
        due = {r["partner_id"]: r["due_at"][:10] for r in sql.all(
            "SELECT partner_id, due_at FROM v_timers WHERE kind = 'cycle_close'")}
    assert due == {str(early): "2026-02-05", str(late): "2026-01-20"}
