"""The billing summary's reads: the day counts of a period (one query over the views)
equal the counts the log gives, with lines placed before the period carried into it; the
accrued subtotal, remembered, equals the draft's for each of its inputs."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from aggregates.base import Actor
from aggregates.charges import billing_period
from aggregates.invoice_draft import draft_invoice
from aggregates.line_days import day_counts as log_day_counts
from projections import line_day_counts
from projections.billing import accrued_charges
from service.commands.lines import AssignLine, UnassignLine
from service.ops.verification import _LogState
from service.runtime.bootstrap import Ledger

OPS = Actor(key_id="ops", role="operations")
STANDARD = {"structure": "standard", "unit_amount": 3000}


def test_the_views_day_counts_carry_earlier_days_into_the_period(ledger: Ledger) -> None:
    app = ledger.app
    begin = ledger.clock.now()
    pid = app.create_partner(name="Counts", currency="USD", billing_anchor_day=1,
                             pricing=STANDARD, actor=OPS).id
    subs = [app.create_sub_account(partner_id=pid, name=f"C{i} – Sales", actor=OPS).id
            for i in range(2)]
    lines = [app.provision_line(partner_id=pid, phone_number=None, actor=OPS,
                                sub_account_id=subs[i % 2] if i else None).id
             for i in range(4)]
    # The next period: every line was placed before it, and some move during it.
    start, end = billing_period(anchor_day=1, containing=begin + timedelta(days=40))
    ledger.manual_clock.set(start + timedelta(days=3))
    ledger.execute(UnassignLine(partner_id=pid, line_id=lines[1]), actor=OPS)
    ledger.manual_clock.set(start + timedelta(days=9))
    ledger.execute(AssignLine(partner_id=pid, line_id=lines[0], sub_account_id=subs[1]),
                   actor=OPS)
    ledger.caught_up()

    views = ledger.read_model.read(line_day_counts.day_counts, partner_id=str(pid),
                                   start=start.date(), end=end.date())
    state = _LogState()
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        state.follow(app.mapper.to_domain_event(notification))
    from_log = log_day_counts(state.lines[str(pid)].values(), period_start=start.date(),
                              period_end=end.date())

    assert views == from_log
    first = views[start.date()]
    assert sum(first.values()) == 4  # the lines placed before the period count on its day 1
    assert views[start.date() + timedelta(days=3)][None] == 2


def test_the_accrued_subtotal_is_the_drafts_for_each_input() -> None:
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(10)]
    tiered = {"structure": "tiered", "mode": "graduated",
              "tiers": [{"up_to": 2, "unit_amount": 3100}, {"up_to": None, "unit_amount": 1700}]}
    cases = [
        ({day: Counter({None: 1, "a": n % 3}) for n, day in enumerate(days)}, STANDARD),
        ({day: Counter({None: 1, "a": n % 3}) for n, day in enumerate(days)}, tiered),
        ({day: Counter({"a": 2, "b": 5}) for day in days}, tiered),
    ]
    figures = []
    for counts, pricing in cases * 2:  # the second round answers from memory
        expected = draft_invoice(counts=counts, days_in_period=31, pricing=pricing, names={},
                                 discounts=[], credit_balance=0).subtotal
        assert accrued_charges(counts, days_in_period=31, pricing=pricing) == expected
        figures.append(expected)
    assert len(set(figures[:3])) == 3  # the inputs differ, and so do their subtotals
