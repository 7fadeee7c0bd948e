"""Many clients commanding the same line or sub-account at once: each command applies or
is refused by the rules on the state it finds, no update is lost, uniqueness holds."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aggregates.base import Actor
from aggregates.errors import DomainError
from projections import lines as lines_view
from service.commands.lines import AssignLine, PauseSending, ProvisionLine, ResumeSending
from service.commands.sub_accounts import CreateSubAccount, RequestSubAccountDelete
from service.runtime.bootstrap import Ledger
from tests.integration.views import event_count, snapshot

OPS = Actor(key_id="ops", role="operations")
SUPPORT = Actor(key_id="support", role="platform:support")
THREADS = 8


def _outcome(call: Any) -> str:
    try:
        call()
    except DomainError as e:
        return e.code
    return "applied"


def _partner(ledger: Ledger) -> Any:
    return ledger.app.create_partner(name="Race", currency="USD", billing_anchor_day=1,
                                     pricing={"structure": "standard", "unit_amount": 100},
                                     actor=OPS).id


def test_concurrent_provisioning_of_one_number_lets_exactly_one_through(ledger: Ledger) -> None:
    pid = _partner(ledger)

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = Counter(pool.map(lambda _: _outcome(lambda: ledger.execute(ProvisionLine(
            partner_id=pid, phone_number="+14155550199"), actor=OPS)), range(THREADS * 2)))

    assert outcomes["applied"] == 1
    assert outcomes["duplicate_phone_number"] == THREADS * 2 - 1


def test_concurrent_sub_accounts_with_one_name_let_exactly_one_through(ledger: Ledger) -> None:
    pid = _partner(ledger)

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = Counter(pool.map(lambda i: _outcome(lambda: ledger.execute(CreateSubAccount(
            partner_id=pid, name="Acme – Sales" if i % 2 else "acme  –  SALES"), actor=OPS)),
            range(THREADS * 2)))

    assert outcomes["applied"] == 1
    assert outcomes["duplicate_name"] == THREADS * 2 - 1


def test_concurrent_commands_on_one_line_lose_no_update(ledger: Ledger) -> None:
    pid = _partner(ledger)
    line = ledger.app.provision_line(partner_id=pid, phone_number=None, sub_account_id=None,
                                     actor=OPS)
    sub = ledger.app.create_sub_account(partner_id=pid, name="Acme – Sales", actor=OPS)
    ledger.execute(AssignLine(partner_id=pid, line_id=line.id, sub_account_id=sub.id),
                   actor=OPS)
    steps = [PauseSending, ResumeSending] * (THREADS * 3)
    before = event_count(ledger)

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(lambda step: _outcome(lambda: ledger.execute(step(
            partner_id=pid, line_id=line.id), actor=OPS)), steps))

    applied = outcomes.count("applied")
    assert set(outcomes) <= {"applied", "invalid_transition", "version_conflict"}
    final = ledger.app.line(pid, line.id)
    assert final.version == 2 + applied  # provisioned, assigned, then one per applied
    ledger.caught_up()
    with ledger.read_model.reading() as sql:
        recorded = sql.scalar("SELECT COUNT(*) FROM v_audit WHERE entity_id = ? AND "
                              "position > ?", str(line.id), before)
    assert recorded == applied
    row = ledger.read_model.read(lines_view.get_line, partner_id=str(pid), line_id=str(line.id))
    assert row is not None and row["sending"] == final.sending
    live = snapshot(ledger)
    ledger.processor.rebuild()
    assert snapshot(ledger) == live


def test_assignments_racing_a_delete_request_never_leave_a_line_in_a_deleted_sub_account(
    ledger: Ledger,
) -> None:
    pid = _partner(ledger)
    sub = ledger.app.create_sub_account(partner_id=pid, name="Acme – Ops", actor=OPS)
    lines = [ledger.app.provision_line(partner_id=pid, phone_number=None, sub_account_id=None,
                                       actor=OPS) for _ in range(THREADS)]
    calls = [lambda line=line: ledger.execute(AssignLine(partner_id=pid, line_id=line.id,
                                                         sub_account_id=sub.id), actor=OPS)
             for line in lines]
    calls.insert(THREADS // 2, lambda: ledger.execute(RequestSubAccountDelete(
        partner_id=pid, sub_account_id=sub.id), actor=OPS))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(_outcome, calls))

    final = ledger.app.sub_account(pid, sub.id)
    assigned = [ln for ln in lines if ledger.app.line(pid, ln.id).sub_account_id == sub.id]
    assert len(final.line_ids) == len(assigned)
    if final.status == "delete_requested":
        assert assigned == []
