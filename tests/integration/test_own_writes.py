"""A command loads what its process saved last without asking the database
(service/commands/own_writes.py); another process's newer events still decide: a stale
copy is never the ground for an answer or a write."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest

from aggregates.base import Actor
from aggregates.errors import InvalidTransition
from aggregates.line import Line
from service.commands import own_writes
from service.commands.execute import run
from service.commands.lines import FlagLine, PauseSending, ResumeSending
from service.commands.own_writes import StaleCopy
from service.runtime.bootstrap import Ledger
from tests.conftest import start_ledger

OPS = Actor(key_id="ops", role="operations")


@pytest.fixture
def two(database_url: str) -> Iterator[tuple[Ledger, Ledger, UUID, UUID]]:
    """Two processes' services on one store, and an active line of a partner."""
    first, second = start_ledger(database_url), start_ledger(database_url)
    try:
        app = first.app
        pid = app.create_partner(name="Own", currency="USD", billing_anchor_day=1,
                                 pricing={"structure": "standard", "unit_amount": 100},
                                 actor=OPS).id
        sub = app.create_sub_account(partner_id=pid, name="Team", actor=OPS).id
        line = app.provision_line(partner_id=pid, phone_number="+12025550101",
                                  sub_account_id=sub, actor=OPS).id
        yield first, second, pid, line
    finally:
        first.close()
        second.close()


def _events(ledger: Ledger) -> int:
    return ledger.app.recorder.max_notification_id() or 0


def test_a_refusal_on_a_stale_copy_is_decided_again_on_the_newest_state(
        two: tuple[Ledger, Ledger, UUID, UUID]) -> None:
    first, second, pid, line = two
    first.execute(PauseSending(partner_id=pid, line_id=line), actor=OPS)  # first's copy: paused
    second.execute(ResumeSending(partner_id=pid, line_id=line), actor=OPS)

    # The copy alone would refuse ("already paused"); the newest state lets it through.
    first.execute(PauseSending(partner_id=pid, line_id=line), actor=OPS)

    assert second.app.line(pid, line).sending == "paused"


def test_a_write_on_a_stale_copy_loses_its_race_and_nothing_is_lost(
        two: tuple[Ledger, Ledger, UUID, UUID]) -> None:
    first, second, pid, line = two
    first.execute(PauseSending(partner_id=pid, line_id=line), actor=OPS)
    first.execute(ResumeSending(partner_id=pid, line_id=line), actor=OPS)  # copy: enabled
    second.execute(PauseSending(partner_id=pid, line_id=line), actor=OPS)
    before = _events(first)

    # The copy would pause again at the version `second` took: the insert refuses it, and
    # the retry on fresh state refuses the command by the rule.
    with pytest.raises(InvalidTransition, match="already paused"):
        first.execute(PauseSending(partner_id=pid, line_id=line), actor=OPS)

    assert _events(first) == before
    assert first.app.line(pid, line).sending == "paused"


def test_a_copy_read_but_not_saved_is_confirmed_before_the_save_commits(
        two: tuple[Ledger, Ledger, UUID, UUID]) -> None:
    first, second, pid, line = two
    first.execute(PauseSending(partner_id=pid, line_id=line), actor=OPS)
    second.execute(ResumeSending(partner_id=pid, line_id=line), actor=OPS)
    partner = first.app.partner(pid)
    partner.grant_credit(amount=100, reason="goodwill", actor=OPS, at=first.clock.now())
    before = _events(first)

    with pytest.raises(StaleCopy), own_writes.attempt():
        read = first.app.load(Line, line)  # the stale copy, only read
        assert read.sending == "paused"
        first.app.save(partner)  # refused before anything is recorded

    assert _events(first) == before
    with own_writes.attempt():  # the stale copy was dropped: this load asks the database
        assert first.app.load(Line, line).sending == "enabled"


def test_an_answer_stands_as_saved_only_when_nothing_ran_after_the_save(
        two: tuple[Ledger, Ledger, UUID, UUID]) -> None:
    first, _, pid, line = two
    first.caught_up()

    paused = run(first, PauseSending(partner_id=pid, line_id=line), actor=OPS)
    # The views took the pause in its insert and no policy reacts to it: the line the
    # handler saved is the line, as a fresh load finds it.
    assert paused.as_saved
    assert vars(paused.answer) == vars(first.app.line(pid, line))

    first.execute(ResumeSending(partner_id=pid, line_id=line), actor=OPS)
    flagged = run(first, FlagLine(partner_id=pid, line_id=line, reason="spam"), actor=OPS)
    # A policy reacts to a flag (it pauses sending): the saved line is not the answer.
    assert not flagged.as_saved
    assert (flagged.answer.sending, first.app.line(pid, line).sending) == ("enabled", "paused")
