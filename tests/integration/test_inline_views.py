"""Views applied in the events' own insert transaction, and the fallback to the catch-up
runner whenever the views do not stand just before the new events."""

from __future__ import annotations

import threading
from uuid import UUID

from aggregates.base import Actor
from service.commands.lines import PauseSending, ResumeSending, pause_sending, resume_sending
from service.runtime.bootstrap import Ledger
from tests.conftest import start_ledger
from tests.integration.views import event_count, snapshot

OPS = Actor(key_id="ops", role="operations")
PRICING = {"structure": "standard", "unit_amount": 1000}


def _partner_with_lines(ledger: Ledger, count: int) -> tuple:
    app = ledger.app
    pid = app.create_partner(name="Inline", currency="USD", billing_anchor_day=1,
                             pricing=PRICING, actor=OPS).id
    sub = app.create_sub_account(partner_id=pid, name="Team", actor=OPS).id
    lines = [app.provision_line(partner_id=pid, phone_number=f"+1415555{n:04d}",
                                sub_account_id=sub, actor=OPS).id for n in range(count)]
    return pid, lines


def _pause(ledger: Ledger, pid: UUID, line: UUID) -> None:
    """The command's handler alone, without `execute`'s catch-up: what these tests watch is
    the insert applying the views (or leaving them to a catch-up)."""
    pause_sending(ledger, PauseSending(partner_id=pid, line_id=line), OPS, ledger.clock.now())


def _rebuilt_equals_live(ledger: Ledger) -> None:
    live = snapshot(ledger)
    ledger.processor.rebuild()
    assert snapshot(ledger) == live


def test_a_command_leaves_the_views_at_its_own_events(database_url: str) -> None:
    ledger = start_ledger(database_url)
    try:
        pid, lines = _partner_with_lines(ledger, 3)
        # No catch-up ran: the insert itself applied the events and recorded the position.
        assert ledger.read_model.position() == event_count(ledger)
        _pause(ledger, pid, lines[0])
        assert ledger.read_model.position() == event_count(ledger)
        with ledger.read_model.reading() as sql:
            assert sql.scalar("SELECT sending FROM v_lines WHERE id = ?", str(lines[0])) == \
                "paused"
        _rebuilt_equals_live(ledger)
    finally:
        ledger.close()


def test_views_behind_are_left_to_the_catch_up(database_url: str) -> None:
    plain = start_ledger(database_url, inline_views=False)
    try:
        pid, lines = _partner_with_lines(plain, 2)
        assert plain.read_model.position() < event_count(plain)  # nothing applied yet
    finally:
        plain.app.close()
        plain.read_model.datastore.close()
    inline = start_ledger(database_url)  # its start catches up
    try:
        assert inline.read_model.position() == event_count(inline)
        behind = start_ledger(database_url, inline_views=False)
        try:
            _pause(behind, pid, lines[0])
        finally:
            behind.app.close()
            behind.read_model.datastore.close()
        before = inline.read_model.position()
        # An event the views have not seen lies before this command's: it is not applied
        # inline (that would skip one); the catch-up applies both, in order.
        _pause(inline, pid, lines[1])
        assert inline.read_model.position() == before
        inline.caught_up()
        assert inline.read_model.position() == event_count(inline)
        with inline.read_model.reading() as sql:
            assert {r["sending"] for r in sql.all("SELECT sending FROM v_lines")} == {"paused"}
        _rebuilt_equals_live(inline)
    finally:
        inline.close()


def test_inline_writers_and_a_racing_catch_up_apply_each_event_once(database_url: str) -> None:
    first = start_ledger(database_url)
    second = start_ledger(database_url)
    try:
        pid, lines = _partner_with_lines(first, 8)
        stop = threading.Event()
        errors: list[BaseException] = []

        def catch_up_forever() -> None:
            while not stop.is_set():
                try:
                    second.caught_up()
                except BaseException as e:
                    errors.append(e)
                    return

        def toggle(ledger: Ledger, mine: list) -> None:
            try:
                for _ in range(15):
                    for line in mine:
                        _pause(ledger, pid, line)
                        resume_sending(ledger, ResumeSending(partner_id=pid, line_id=line),
                                       OPS, ledger.clock.now())
            except BaseException as e:
                errors.append(e)

        runner = threading.Thread(target=catch_up_forever)
        writers = [threading.Thread(target=toggle, args=(first, lines[:4])),
                   threading.Thread(target=toggle, args=(second, lines[4:]))]
        runner.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        stop.set()
        runner.join()
        assert errors == []
        first.caught_up()
        assert first.read_model.position() == event_count(first)
        with first.read_model.reading() as sql:
            chained = sql.scalar("SELECT COUNT(*) FROM v_chain")
            audited = sql.scalar("SELECT COUNT(*) FROM v_audit")
        assert int(chained) == int(audited) == event_count(first)
        _rebuilt_equals_live(first)
    finally:
        first.close()
        second.close()
