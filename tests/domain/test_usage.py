"""Usage ledgers, batch checks, the auto-flag rule, and the alert rules."""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

from aggregates.alerts import (
    PartnerAlerts,
    card_expiring_alert,
    flagged_line_alert,
    idle_line_alert,
)
from aggregates.base import SYSTEM
from aggregates.partner import PaymentMethod
from aggregates.usage import (
    FlagThresholds,
    InvalidUsage,
    Recording,
    UsageLedger,
    UsageRow,
    check_batch,
    decode_rows,
)

PARTNER = UUID("00000000-0000-0000-0000-0000000000aa")
LINE = UUID("00000000-0000-0000-0000-000000000001")
OTHER = UUID("00000000-0000-0000-0000-000000000002")
DAY = date(2026, 1, 3)
NOW = datetime(2026, 1, 4, 12, tzinfo=UTC)


def hour(h: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, h, tzinfo=UTC)


def row(line: UUID = LINE, h: int = 10, figures: tuple[int, ...] = (5, 4, 3, 2, 0)) -> UsageRow:
    return UsageRow(line_id=line, hour=hour(h), figures=figures)


def raw(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"line_id": str(LINE), "hour": hour(10), "messages_sent": 5,
                              "messages_received": 4, "new_conversations": 3,
                              "responded_conversations": 2, "volume_limit_hits": 0}
    values.update(overrides)
    return values


def ledger() -> UsageLedger:
    return UsageLedger.start(partner_id=PARTNER, day=DAY, actor=SYSTEM, at=NOW)


class TestUsageLedger:
    def test_the_id_is_the_same_for_the_same_partner_and_day(self) -> None:
        assert UsageLedger.id_for(partner_id=PARTNER, day=DAY) == ledger().id
        assert UsageLedger.id_for(partner_id=PARTNER, day=DAY + timedelta(days=1)) != \
            ledger().id

    def test_new_rows_are_recorded_in_one_event(self) -> None:
        usage = ledger()

        done = usage.record(rows=[row(h=9), row(h=10), row(OTHER, 10)], actor=SYSTEM, at=NOW)

        assert done == Recording(recorded=3)
        events = usage.collect_events()
        assert [type(e).__name__ for e in events] == ["Started", "UsageRecorded"]
        assert decode_rows(events[1].day, events[1].rows) == [row(h=9), row(h=10),
                                                              row(OTHER, 10)]

    def test_rows_equal_to_what_it_holds_record_nothing(self) -> None:
        usage = ledger()
        usage.record(rows=[row(h=9), row(h=10)], actor=SYSTEM, at=NOW)
        usage.collect_events()

        done = usage.record(rows=[row(h=9), row(h=10)], actor=SYSTEM, at=NOW)

        assert done == Recording(unchanged=2)
        assert usage.collect_events() == []

    def test_changed_figures_are_a_correction_with_the_figures_they_replace(self) -> None:
        usage = ledger()
        usage.record(rows=[row(h=9), row(h=10)], actor=SYSTEM, at=NOW)
        usage.collect_events()

        done = usage.record(rows=[row(h=9), row(h=10, figures=(6, 4, 3, 2, 1)), row(h=11)],
                            actor=SYSTEM, at=NOW)

        assert done == Recording(recorded=1, corrected=1, unchanged=1)
        recorded, corrected = usage.collect_events()
        assert isinstance(recorded, UsageLedger.UsageRecorded)
        assert isinstance(corrected, UsageLedger.UsageCorrected)
        assert decode_rows(corrected.day, corrected.rows) == [row(h=10, figures=(6, 4, 3, 2, 1))]
        assert corrected.previous == [[5, 4, 3, 2, 0]]
        assert usage.held(LINE, hour(10)) == (6, 4, 3, 2, 1)

    def test_a_row_of_another_day_or_the_future_is_refused_and_nothing_recorded(self) -> None:
        usage = ledger()
        late = UsageRow(line_id=LINE, hour=hour(10, DAY + timedelta(days=1)),
                        figures=(1, 1, 1, 1, 1))

        with pytest.raises(InvalidUsage):
            usage.record(rows=[row(), late], actor=SYSTEM, at=NOW)
        with pytest.raises(InvalidUsage):
            usage.record(rows=[row()], actor=SYSTEM, at=hour(9))

        assert [type(e).__name__ for e in usage.collect_events()] == ["Started"]

    def test_the_ledger_replays_from_its_stored_events(self) -> None:
        app: Application[UUID] = Application()
        usage = ledger()
        usage.record(rows=[row(h=9)], actor=SYSTEM, at=NOW)
        usage.record(rows=[row(h=9, figures=(1, 1, 1, 1, 1))], actor=SYSTEM, at=NOW)
        usage.note_auto_flag(line_id=LINE, hour=hour(9), reason="x", actor=SYSTEM, at=NOW)
        app.save(usage)

        copy = app.repository.get(usage.id)

        assert copy.held(LINE, hour(9)) == (1, 1, 1, 1, 1)
        assert copy.was_auto_flagged(line_id=LINE, hour=hour(9))
        assert not copy.note_auto_flag(line_id=LINE, hour=hour(9), reason="x", actor=SYSTEM,
                                       at=NOW)

    def test_a_copy_shares_no_state_a_command_could_change(self) -> None:
        usage = ledger()
        usage.record(rows=[row(h=9)], actor=SYSTEM, at=NOW)
        usage.collect_events()

        copy = deepcopy(usage)
        copy.record(rows=[row(h=9, figures=(1, 1, 1, 1, 1)), row(h=10)], actor=SYSTEM, at=NOW)
        copy.note_auto_flag(line_id=LINE, hour=hour(9), reason="x", actor=SYSTEM, at=NOW)

        assert usage.held(LINE, hour(9)) == (5, 4, 3, 2, 0)
        assert usage.held(LINE, hour(10)) is None
        assert not usage.was_auto_flagged(line_id=LINE, hour=hour(9))
        assert usage.pending_events == [] and len(copy.pending_events) == 3
        assert copy.version == usage.version + 3

    def test_a_command_left_unsaved_leaves_the_cached_ledger_as_it_was(self) -> None:
        app: Application[UUID] = Application(env={"AGGREGATE_CACHE_MAXSIZE": "10"})
        usage = ledger()
        usage.record(rows=[row(h=9)], actor=SYSTEM, at=NOW)
        app.save(usage)
        loaded = app.repository.get(usage.id)

        loaded.record(rows=[row(h=9, figures=(1, 1, 1, 1, 1))], actor=SYSTEM, at=NOW)

        again = app.repository.get(usage.id)
        assert again.held(LINE, hour(9)) == (5, 4, 3, 2, 0)
        assert again.version == usage.version


class TestCheckBatch:
    LINES = {str(LINE): "active", str(OTHER): "deleted"}  # noqa: RUF012

    def test_a_good_batch_parses_into_rows(self) -> None:
        rows = check_batch([raw(), raw(hour=hour(11))], now=NOW, lines=self.LINES)

        assert rows == [row(), row(h=11)]

    def test_every_bad_row_is_named_by_index_and_field(self) -> None:
        batch = [
            raw(),
            raw(line_id=str(uuid4())),
            raw(line_id=str(OTHER)),
            raw(line_id="not-a-uuid"),
            raw(hour=NOW + timedelta(hours=1)),
            raw(hour=hour(10).replace(minute=30)),
            raw(hour=datetime(2026, 1, 3, 10)),
            raw(messages_sent=-1, volume_limit_hits=-2),
            raw(),
        ]

        with pytest.raises(InvalidUsage) as refused:
            check_batch(batch, now=NOW, lines=self.LINES)

        errors = refused.value.errors
        assert sorted({e["index"] for e in errors}) == [1, 2, 3, 4, 5, 6, 7, 8]
        fields = {(e["index"], e["field"]) for e in errors}
        assert {(1, "line_id"), (2, "line_id"), (3, "line_id"), (4, "hour"), (5, "hour"),
                (6, "hour"), (7, "messages_sent"), (7, "volume_limit_hits"),
                (8, "hour")} == fields
        assert refused.value.code == "validation_error"
        assert refused.value.status == 422

    def test_an_empty_batch_is_refused(self) -> None:
        with pytest.raises(InvalidUsage):
            check_batch([], now=NOW, lines=self.LINES)


class TestFlagThresholds:
    RULE = FlagThresholds(volume_limit_hits=10, min_conversations=20,
                          min_response_rate_percent=Decimal(5))

    def test_volume_limit_hits_at_the_threshold_flag_and_the_reason_names_them(self) -> None:
        reason = self.RULE.reason(row(figures=(1, 1, 1, 1, 10)))

        assert reason is not None
        assert "10 volume-limit hits" in reason and "2026-01-03T10:00Z" in reason

    def test_a_low_response_rate_over_enough_conversations_flags(self) -> None:
        reason = self.RULE.reason(row(figures=(1, 1, 25, 1, 0)))

        assert reason is not None
        assert "4.00% (1 of 25 new conversations)" in reason

    def test_few_conversations_or_an_adequate_rate_do_not_flag(self) -> None:
        assert self.RULE.reason(row(figures=(1, 1, 19, 0, 9))) is None
        assert self.RULE.reason(row(figures=(1, 1, 20, 1, 0))) is None  # exactly 5%


class TestAlertRules:
    def test_a_line_flagged_for_over_seven_days_is_alerted_keyed_by_its_flag(self) -> None:
        flagged_at = datetime(2026, 1, 2, 10, tzinfo=UTC)

        early = flagged_line_alert(line_id="l1", phone_number="+15550001", flagged_at=flagged_at,
                                   reason="spam", now=flagged_at + timedelta(days=7))
        late = flagged_line_alert(line_id="l1", phone_number="+15550001", flagged_at=flagged_at,
                                  reason="spam", now=flagged_at + timedelta(days=8))

        assert early is None
        assert late is not None and late.key == "line_flagged:l1:2026-01-02T10:00:00Z"

    def test_a_line_idle_for_over_thirty_days_is_alerted(self) -> None:
        since = datetime(2026, 1, 1, tzinfo=UTC)

        assert idle_line_alert(line_id="l", phone_number="+1", available_since=since,
                               now=since + timedelta(days=30)) is None
        assert idle_line_alert(line_id="l", phone_number="+1", available_since=since,
                               now=since + timedelta(days=31)) is not None

    def test_a_default_card_expiring_before_the_next_billing_date_is_alerted(self) -> None:
        card = PaymentMethod(id=uuid4(), brand="visa", last4="4242", exp_month=1,
                             exp_year=2026, token="tok_visa")

        assert card_expiring_alert(method=card, next_billing=datetime(2026, 2, 1,
                                                                      tzinfo=UTC)) is not None
        assert card_expiring_alert(method=card, next_billing=datetime(2026, 1, 31,
                                                                      tzinfo=UTC)) is None
        assert card_expiring_alert(method=None, next_billing=NOW) is None

    def test_partner_alerts_raise_each_key_once_and_resolve_ended_ones(self) -> None:
        alerts = PartnerAlerts.start(partner_id=PARTNER, actor=SYSTEM, at=NOW)
        since = datetime(2025, 11, 1, tzinfo=UTC)
        idle = idle_line_alert(line_id="l", phone_number="+1", available_since=since, now=NOW)
        assert idle is not None

        first = alerts.reconcile([idle], actor=SYSTEM, at=NOW)
        again = alerts.reconcile([idle], actor=SYSTEM, at=NOW)
        ended = alerts.reconcile([], actor=SYSTEM, at=NOW)
        back = alerts.reconcile([idle], actor=SYSTEM, at=NOW)

        assert (first, again, ended, back) == ((1, 0), (0, 0), (0, 1), (0, 0))
        assert [type(e).__name__ for e in alerts.collect_events()] == [
            "Started", "AlertRaised", "AlertResolved"]
