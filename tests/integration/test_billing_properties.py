"""Random line histories within a period: the invoice the views give equals the billing
engine run over the log, live and after a rebuild, and the items sum to the subtotal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.base import Actor
from aggregates.charges import billing_period
from aggregates.errors import DomainError
from aggregates.invoice_draft import draft_invoice
from aggregates.line_days import day_counts
from projections.billing import billing_terms
from service.commands.lines import (
    ApproveLineDelete,
    ApproveLineMove,
    AssignLine,
    RequestLineDelete,
    RequestLineMove,
    UnassignLine,
)
from service.ops.verification import _LogState
from service.runtime.bootstrap import Ledger
from tests.conftest import START

OPS = Actor(key_id="ops", role="operations")
SUPPORT = Actor(key_id="support", role="platform:support")
PRICING = st.sampled_from([
    {"structure": "standard", "unit_amount": 3000},
    {"structure": "tiered", "mode": "graduated",
     "tiers": [{"up_to": 2, "unit_amount": 3100}, {"up_to": None, "unit_amount": 1700}]},
    {"structure": "tiered", "mode": "volume",
     "tiers": [{"up_to": 3, "unit_amount": 2999}, {"up_to": None, "unit_amount": 1999}]},
    # Flat fees per tier and a monthly minimum (issue 15).
    {"structure": "tiered", "mode": "graduated", "minimum_amount": 9000,
     "tiers": [{"up_to": 2, "unit_amount": 3100, "flat_amount": 1000},
               {"up_to": None, "unit_amount": 1700, "flat_amount": 333}]},
    {"structure": "tiered", "mode": "volume",
     "tiers": [{"up_to": 3, "unit_amount": 2999, "flat_amount": 777},
               {"up_to": None, "unit_amount": 1999, "flat_amount": 5}]},
])
TAX = st.sampled_from([None, {"name": "VAT", "rate": "20", "reverse_charge": False},
                       {"name": "Sales tax", "rate": "8.875", "reverse_charge": False},
                       {"name": "VAT", "rate": "19", "reverse_charge": True}])
STEP = st.tuples(st.integers(0, 30 * 24 - 1), st.sampled_from(
    ["provision", "provision_into", "assign", "unassign", "move", "delete"]),
    st.integers(0, 9), st.integers(0, 2))


def _log_draft(ledger: Ledger, pid: Any, start: Any, end: Any) -> Any:
    state = _LogState()
    after = 0
    while batch := ledger.app.recorder.select_notifications(start=after, limit=500,
                                                            inclusive_of_start=False):
        for notification in batch:
            state.follow(ledger.app.mapper.to_domain_event(notification))
        after = batch[-1].id
    partner = state.partners[str(pid)]
    counts = day_counts(state.lines.get(str(pid), {}).values(), period_start=start.date(),
                        period_end=end.date())
    return draft_invoice(counts=counts, days_in_period=(end - start).days,
                         pricing=partner.pricing_at(start), names=state.names,
                         discounts=partner.active_discounts(),
                         credit_balance=partner.credit_balance,
                         **billing_terms(partner, start))


def test_the_views_invoice_equals_the_engine_over_the_log_live_and_rebuilt(
    ledger: Ledger,
) -> None:
    @given(pricing=PRICING, tax=TAX, steps=st.lists(STEP, min_size=1, max_size=25))
    @settings(max_examples=8, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(pricing: dict[str, Any], tax: dict[str, Any] | None,
              steps: list[tuple[int, str, int, int]]) -> None:
        app = ledger.app
        begin = ledger.clock.now()
        pid = app.create_partner(name="Prop", currency="USD",
                                 billing_anchor_day=begin.day if begin.day <= 28 else 1,
                                 pricing=pricing, actor=OPS).id
        partner = app.partner(pid)
        start, end = billing_period(anchor_day=partner.billing_anchor_day, containing=begin)
        if tax is not None:  # in force from this period on, to see it on this invoice
            partner.change_tax(tax=tax, effective_from=start, actor=SUPPORT, at=begin)
            app.save(partner)
        subs = [app.create_sub_account(partner_id=pid, name=f"C{i} – Sales", actor=OPS).id
                for i in range(3)]
        lines: list[Any] = []
        for hour, action, line_index, sub_index in sorted(steps):
            moment = begin + timedelta(hours=hour)
            if moment >= end:
                continue
            if moment > ledger.clock.now():
                ledger.manual_clock.set(moment)
            line = lines[line_index % len(lines)] if lines else None
            try:
                if action.startswith("provision") or line is None:
                    lines.append(app.provision_line(
                        partner_id=pid, phone_number=None, actor=OPS,
                        sub_account_id=subs[sub_index] if action == "provision_into" else None,
                    ).id)
                elif action == "assign":
                    ledger.execute(AssignLine(partner_id=pid, line_id=line,
                                              sub_account_id=subs[sub_index]), actor=OPS)
                elif action == "unassign":
                    ledger.execute(UnassignLine(partner_id=pid, line_id=line), actor=OPS)
                elif action == "move":
                    ledger.execute(RequestLineMove(partner_id=pid, line_id=line,
                                                   sub_account_id=subs[sub_index]), actor=OPS)
                    ledger.execute(ApproveLineMove(partner_id=pid, line_id=line),
                                   actor=SUPPORT)
                else:
                    ledger.execute(RequestLineDelete(partner_id=pid, line_id=line),
                                   actor=OPS)
                    ledger.execute(ApproveLineDelete(partner_id=pid, line_id=line),
                                   actor=SUPPORT)
            except DomainError:
                pass
        ledger.caught_up()

        live = ledger.billing.draft(app.partner(pid), start=start, end=end)
        from_log = _log_draft(ledger, pid, start, end)
        ledger.processor.rebuild()
        rebuilt = ledger.billing.draft(app.partner(pid), start=start, end=end)

        assert live.items == from_log.items == rebuilt.items
        assert live.subtotal == from_log.subtotal == rebuilt.subtotal
        assert sum(item["amount"] for item in live.items) == live.subtotal
        assert live.tax == from_log.tax == rebuilt.tax
        assert live.total == from_log.total == rebuilt.total
        taxed = 0 if live.tax is None else live.tax["amount"]
        assert live.total == live.subtotal - live.discount + taxed
        ledger.manual_clock.set(end + timedelta(days=1))

    check()
    assert ledger.clock.now() >= START
