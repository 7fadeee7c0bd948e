"""Stopping the service mid-stream and starting it again: views complete, nothing twice."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError

from aggregates.base import Actor
from projections.runner import read_events
from service.commands.lines import FlagLine, flag_line
from service.runtime.bootstrap import Ledger
from tests.conftest import start_ledger
from tests.integration.views import event_count, snapshot

OPS = Actor(key_id="ops", role="operations")
SUPPORT = Actor(key_id="support", role="platform:support")


def _history(ledger: Ledger) -> None:
    app = ledger.app
    partner = app.create_partner(name="Restart", currency="EUR", billing_anchor_day=5,
                                 pricing={"structure": "standard", "unit_amount": 900},
                                 actor=OPS)
    sub = app.create_sub_account(partner_id=partner.id, name="Acme – Sales", actor=OPS)
    for _ in range(30):
        line = app.provision_line(partner_id=partner.id, phone_number=None,
                                  sub_account_id=sub.id, actor=OPS)
        # The handler alone, without `execute`'s catch-up: the views and the auto-pause
        # policy are left behind, as in a crash.
        flag_line(ledger, FlagLine(partner_id=partner.id, line_id=line.id, reason="spam"),
                  SUPPORT, ledger.clock.now())


def test_a_restarted_service_completes_its_views_and_applies_no_event_twice(
    database_url: str,
) -> None:
    # Views applied by the catch-up only (not in the insert): left behind, as in a crash.
    first = start_ledger(database_url, inline_views=False)
    _history(first)
    head = event_count(first)
    halfway = read_events(first.app, after=0, limit=head // 2)
    first.read_model.apply_batch(halfway)
    first.close()

    second = start_ledger(database_url)  # catches up at start

    assert second.read_model.position() >= head
    live = snapshot(second)
    positions = [row["position"] for row in live["v_audit"]]
    assert len(positions) == len(set(positions)) == event_count(second)
    second.processor.rebuild()
    assert snapshot(second) == live
    second.close()


def test_the_policy_paused_each_flagged_line_once_across_the_restart(database_url: str) -> None:
    first = start_ledger(database_url)
    _history(first)
    first.close()

    second = start_ledger(database_url)
    second.caught_up()

    with second.read_model.reading() as sql:
        pauses = sql.scalar("SELECT COUNT(*) FROM v_audit WHERE event_type = 'Line.SendingPaused'")
        flagged = sql.scalar("SELECT COUNT(*) FROM v_lines WHERE status = 'flagged' "
                             "AND sending = 'paused'")
    assert pauses == 30
    assert flagged == 30
    second.close()


def test_a_batch_applied_again_is_refused_and_changes_nothing(ledger: Ledger) -> None:
    _history(ledger)
    ledger.caught_up()
    before = snapshot(ledger)
    again = read_events(ledger.app, after=0, limit=10)

    with pytest.raises(IntegrityError):
        ledger.read_model.apply_batch(again)

    assert snapshot(ledger) == before
