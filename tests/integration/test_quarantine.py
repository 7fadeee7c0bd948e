"""A stored event the views cannot apply never wedges them: with views applied inline the
command fails with nothing committed; applied by the catch-up (inline views off, or views
behind) the event's partner is quarantined, everyone else goes on, the partner's later
events are held in order, and a retry once the fault is gone releases it, after which
the views equal a rebuild."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from aggregates.base import Actor
from aggregates.sub_account import SubAccount
from projections import quarantine, sub_accounts
from service.commands.group_commit import _Waiting
from service.ops.verification import verify
from service.runtime.bootstrap import Ledger
from tests.conftest import START, start_ledger
from tests.integration.faults import (
    InjectedFault,
    ViewFault,
    learn_the_unknown_topic,
    named,
    record_undecodable,
)
from tests.integration.views import event_count, snapshot

OPS = Actor(key_id="ops", role="operations")
PRICING = {"structure": "standard", "unit_amount": 1000}


def _partner(ledger: Ledger, name: str) -> UUID:
    return ledger.app.create_partner(name=name, currency="USD", billing_anchor_day=1,
                                     pricing=PRICING, actor=OPS).id


def _held(ledger: Ledger) -> list[dict[str, Any]]:
    return ledger.read_model.read(quarantine.listing)


def _ids(ledger: Ledger, table: str) -> set[str]:
    with ledger.read_model.reading() as sql:
        return {row["id"] for row in sql.all(f"SELECT id FROM {table}")}


def _stored(ledger: Ledger) -> int:
    """Stored events (PostgreSQL's positions have gaps where an insert rolled back)."""
    with ledger.read_model.reading() as sql:
        return int(sql.scalar(f"SELECT COUNT(*) FROM {ledger.read_model.events_table}"))


def _counts(ledger: Ledger) -> tuple[int, int, int, int]:
    """Stored events, and the events the audit view, the chain and the tracking took."""
    with ledger.read_model.reading() as sql:
        audit = int(sql.scalar("SELECT COUNT(*) FROM v_audit"))
        chain = int(sql.scalar("SELECT COUNT(*) FROM v_chain"))
    return _stored(ledger), ledger.read_model.position(), audit, chain


def _rebuilt_equals_live(ledger: Ledger) -> None:
    live = snapshot(ledger)
    ledger.processor.rebuild()
    assert snapshot(ledger) == live


def _close(*ledgers: Ledger) -> None:
    for ledger in ledgers:
        ledger.close()


@pytest.fixture(params=["inline views off", "views behind"])
def ledgers(request: pytest.FixtureRequest, database_url: str) -> Iterator[tuple[Ledger, Ledger]]:
    """The service, and the writer the poisoned command goes through: the service itself
    with inline views off; with inline views on, a process without them (an older version,
    `ledger project` deployments), so the service finds its views behind."""
    if request.param == "inline views off":
        service = start_ledger(database_url, inline_views=False)
        yield service, service
        service.close()
        return
    service = start_ledger(database_url)
    writer = start_ledger(database_url, inline_views=False)
    yield service, writer
    _close(writer, service)


@pytest.mark.parametrize("in_database", [False, True], ids=["in Python", "in the database"])
def test_a_view_failing_inline_fails_the_command_and_commits_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch, in_database: bool,
) -> None:
    ledger = start_ledger(database_url)
    try:
        partner = _partner(ledger, "Inline")
        before = _counts(ledger)
        fault = ViewFault(monkeypatch, sub_accounts, named("Poison"), in_database=in_database)

        with pytest.raises(Exception) as failure:
            ledger.app.create_sub_account(partner_id=partner, name="Poison", actor=OPS)

        assert isinstance(failure.value, InjectedFault) != in_database
        # No event, no view row, no position: the insert and the views were one transaction.
        assert _counts(ledger) == before
        assert fault.hits >= 1
        assert _held(ledger) == []
        ledger.caught_up()
        assert _counts(ledger) == before
        team = ledger.app.create_sub_account(partner_id=partner, name="Team", actor=OPS)
        assert _ids(ledger, "v_sub_accounts") == {str(team.id)}
        _rebuilt_equals_live(ledger)
    finally:
        ledger.close()


def test_a_failed_shared_save_leaves_nothing_for_its_commands_saved_alone(
    database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = start_ledger(database_url)
    try:
        first, second = _partner(ledger, "First"), _partner(ledger, "Second")
        before = _stored(ledger)
        ViewFault(monkeypatch, sub_accounts, named("Poison"))
        good = SubAccount.create(id=UUID(int=1), partner_id=first, name="Good", actor=OPS,
                                 at=START)
        bad = SubAccount.create(id=UUID(int=2), partner_id=second, name="Poison", actor=OPS,
                                at=START)
        batch = [_Waiting((good,)), _Waiting((bad,))]
        assert ledger.app.group_commit is not None

        ledger.app.group_commit._record(batch)  # the shared save fails; each saves alone

        assert batch[0].error is None
        assert isinstance(batch[1].error, InjectedFault)
        # Only the good command's event: the shared transaction left nothing behind.
        assert _stored(ledger) == before + 1
        assert _ids(ledger, "v_sub_accounts") == {str(good.id)}
        assert ledger.read_model.position() == event_count(ledger)
    finally:
        ledger.close()


def test_a_command_a_view_cannot_store_is_whole_or_absent(database_url: str) -> None:
    # Issue 12: a NUL in a name cannot be stored in a PostgreSQL text column. Whether the
    # command is refused or recorded, the log and the views agree and nothing loops.
    ledger = start_ledger(database_url)
    try:
        partner = _partner(ledger, "Nul")
        # Refused or recorded, on either backend: what matters is what follows.
        with contextlib.suppress(Exception):
            ledger.app.create_sub_account(partner_id=partner, name="evil\x00name", actor=OPS)
        done = threading.Thread(target=ledger.caught_up)
        done.start()
        done.join(30)

        assert not done.is_alive()
        stored, position, audited, chained = _counts(ledger)
        assert position == event_count(ledger)
        assert stored == chained == audited + len(_held(ledger))
        ledger.app.create_sub_account(partner_id=partner, name="Fine", actor=OPS)
        ledger.caught_up()
        assert ledger.read_model.position() == event_count(ledger)
    finally:
        ledger.close()


def test_an_event_a_view_cannot_apply_quarantines_its_partner_and_no_one_else(
    ledgers: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, writer = ledgers
    poisoned, other = _partner(service, "Poisoned"), _partner(service, "Other")
    fault = ViewFault(monkeypatch, sub_accounts, named("Poison"))

    poison = writer.app.create_sub_account(partner_id=poisoned, name="Poison", actor=OPS)
    service.caught_up()

    rows = _held(service)
    failed = [row for row in rows if row["status"] == quarantine.FAILED]
    assert [(r["partner_id"], r["originator_id"], r["event_type"]) for r in failed] == \
        [(str(poisoned), str(poison.id), "SubAccount.Created")]
    assert "injected view fault" in failed[0]["error"]
    # The name claim made by the same command waits behind it.
    assert [r["event_type"] for r in rows if r["status"] == quarantine.HELD] == ["Claim.Made"]
    assert service.read_model.position() == event_count(service)

    # Everyone else goes on.
    team = service.app.create_sub_account(partner_id=other, name="Team", actor=OPS)
    line = service.app.provision_line(partner_id=other, phone_number=None,
                                      sub_account_id=team.id, actor=OPS)
    service.caught_up()
    assert str(team.id) in _ids(service, "v_sub_accounts")
    assert str(line.id) in _ids(service, "v_lines")

    # The poisoned partner's later commands answer; their events are held, in log order.
    later = service.app.provision_line(partner_id=poisoned, phone_number=None,
                                       sub_account_id=None, actor=OPS)
    service.caught_up()
    assert str(later.id) not in _ids(service, "v_lines")
    rows = _held(service)
    assert str(later.id) in {row["originator_id"] for row in rows}
    assert {row["partner_id"] for row in rows} == {str(poisoned)}
    assert [row["position"] for row in rows] == sorted(row["position"] for row in rows)

    # The chain took every stored event: the log stays verifiable while quarantined.
    stored, position, _, chained = _counts(service)
    assert position == event_count(service) and chained == stored
    assert verify(service).chain_break is None
    # A rebuild keeps the same events held.
    _rebuilt_equals_live(service)

    fault.remove()
    outcome = service.processor.retry(str(poisoned))

    assert outcome.released and outcome.applied == len(rows)
    assert _held(service) == []
    assert str(poison.id) in _ids(service, "v_sub_accounts")
    assert str(later.id) in _ids(service, "v_lines")
    _rebuilt_equals_live(service)
    # Released: its next command is applied like anyone's.
    again = service.app.provision_line(partner_id=poisoned, phone_number=None,
                                       sub_account_id=None, actor=OPS)
    service.caught_up()
    assert str(again.id) in _ids(service, "v_lines")
    assert _held(service) == []


def test_a_retry_that_fails_again_keeps_the_partner_quarantined_with_the_new_error(
    database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = start_ledger(database_url, inline_views=False)
    try:
        poisoned = _partner(ledger, "Poisoned")
        fault = ViewFault(monkeypatch, sub_accounts, named("Poison"), message="first cause")
        ledger.app.create_sub_account(partner_id=poisoned, name="Poison", actor=OPS)
        ledger.caught_up()
        before = snapshot(ledger)
        fault.message = "second cause"

        outcome = ledger.processor.retry(str(poisoned))

        assert not outcome.released
        [failed] = [r for r in _held(ledger) if r["status"] == quarantine.FAILED]
        assert outcome.failed_at == failed["position"]
        assert "second cause" in failed["error"] and failed["attempts"] == 2
        assert snapshot(ledger) == before
    finally:
        ledger.close()


def test_an_event_that_does_not_decode_is_held_under_the_partner_its_json_names(
    database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = start_ledger(database_url, inline_views=False)
    try:
        poisoned, other = _partner(ledger, "Poisoned"), _partner(ledger, "Other")
        originator = record_undecodable(ledger, partner_id=poisoned)
        ledger.caught_up()

        [row] = _held(ledger)
        assert (row["partner_id"], row["originator_id"], row["event_type"], row["status"]) == \
            (str(poisoned), str(originator), "Line.Teleported", quarantine.FAILED)
        team = ledger.app.create_sub_account(partner_id=other, name="Team", actor=OPS)
        ledger.caught_up()
        assert str(team.id) in _ids(ledger, "v_sub_accounts")
        still = ledger.processor.retry(str(poisoned))
        assert not still.released and still.failed_at == row["position"]

        learn_the_unknown_topic(monkeypatch)
        outcome = ledger.processor.retry(str(poisoned))

        assert outcome.released and _held(ledger) == []
        _rebuilt_equals_live(ledger)
    finally:
        ledger.close()


def test_a_rebuild_that_meets_an_event_it_cannot_apply_quarantines_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = start_ledger(database_url)
    try:
        poisoned, other = _partner(ledger, "Poisoned"), _partner(ledger, "Other")
        ledger.app.create_sub_account(partner_id=poisoned, name="Poison", actor=OPS)
        ledger.app.create_sub_account(partner_id=other, name="Team", actor=OPS)
        complete = snapshot(ledger)
        fault = ViewFault(monkeypatch, sub_accounts, named("Poison"))

        ledger.processor.rebuild()

        assert {row["partner_id"] for row in _held(ledger)} == {str(poisoned)}
        assert ledger.read_model.position() == event_count(ledger)
        fault.remove()
        assert ledger.processor.retry(str(poisoned)).released
        assert snapshot(ledger) == complete
    finally:
        ledger.close()


def test_a_held_event_removed_from_the_log_by_hand_is_dropped_by_the_retry(
    database_url: str,
) -> None:
    ledger = start_ledger(database_url, inline_views=False)
    try:
        poisoned = _partner(ledger, "Poisoned")
        originator = record_undecodable(ledger, partner_id=poisoned)
        ledger.caught_up()
        with ledger.read_model.writing() as sql:
            sql.run(f"DELETE FROM {ledger.read_model.events_table} WHERE originator_id = ?",
                    originator if sql.postgres else originator.hex)

        outcome = ledger.processor.retry(str(poisoned))

        assert outcome.released and outcome.applied == 0
        assert _held(ledger) == []
    finally:
        ledger.close()
