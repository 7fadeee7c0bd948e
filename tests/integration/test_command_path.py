"""The one command path on a real service, both backends: a command's answer and the next
read see it and what the policies did in reaction; the policies and the scheduled jobs'
per-partner steps run as commands through `execute`; a refused command records nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from aggregates.base import Actor
from aggregates.errors import InvalidTransition
from projections import lines as lines_view
from service.commands import Command
from service.commands.alerts import ReconcileAlerts
from service.commands.billing import AddPaymentMethod, ClosePartnerCycles
from service.commands.lines import FlagLine, PauseFlaggedLine, ProvisionLine, UnflagLine
from service.commands.partners import CreatePartner
from service.commands.sub_accounts import CreateSubAccount
from service.runtime.bootstrap import Ledger
from tests.integration.views import event_count

OPS = Actor(key_id="ops", role="operations")
SUPPORT = Actor(key_id="support", role="platform:support")
CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2040, "token": "tok_ok"}


def _partner(ledger: Ledger) -> Any:
    return ledger.execute(CreatePartner(name="Path", currency="USD", billing_anchor_day=1,
                                        pricing={"structure": "standard", "unit_amount": 100}),
                          actor=OPS).id


def _active_line(ledger: Ledger, pid: Any) -> Any:
    sub = ledger.execute(CreateSubAccount(partner_id=pid, name="Path – Sales"), actor=OPS)
    return ledger.execute(ProvisionLine(partner_id=pid, sub_account_id=sub.id), actor=OPS)


def _recording(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Actor]]:
    """Every command `ledger.execute` runs (the policies' and jobs' too), with its actor."""
    seen: list[tuple[str, Actor]] = []
    original = ledger.execute

    def recorded(command: Command[Any], *, actor: Actor) -> Any:
        seen.append((type(command).__name__, actor))
        return original(command, actor=actor)

    monkeypatch.setattr(ledger, "execute", recorded)
    ledger.billing.commands = ledger.alerts.commands = recorded
    return seen


def test_the_answer_and_the_next_read_see_the_command_and_the_policy_s_reaction(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _partner(ledger)
    line = _active_line(ledger, pid)
    seen = _recording(ledger, monkeypatch)

    ledger.execute(FlagLine(partner_id=pid, line_id=line.id, reason="spam"), actor=SUPPORT)

    # No catch-up here: `execute` ran it, and the auto-pause policy's command with it.
    row = ledger.read_model.read(lines_view.get_line, partner_id=str(pid),
                                 line_id=str(line.id))
    assert row is not None
    assert (row["status"], row["sending"]) == ("flagged", "paused")
    assert ledger.app.line(pid, line.id).sending == "paused"
    assert [name for name, _ in seen] == ["FlagLine", "PauseFlaggedLine"]
    assert seen[1][1].key_id != SUPPORT.key_id  # the policy acts as itself


def test_a_refused_command_records_nothing_and_keeps_the_domain_error(ledger: Ledger) -> None:
    pid = _partner(ledger)
    line = ledger.execute(ProvisionLine(partner_id=pid), actor=OPS)
    before = event_count(ledger)

    with pytest.raises(InvalidTransition):
        ledger.execute(UnflagLine(partner_id=pid, line_id=line.id), actor=SUPPORT)

    assert event_count(ledger) == before


def test_a_policy_s_command_pauses_once_per_flag(ledger: Ledger) -> None:
    pid = _partner(ledger)
    line = _active_line(ledger, pid)
    flagged = ledger.execute(FlagLine(partner_id=pid, line_id=line.id, reason="spam"),
                             actor=SUPPORT)

    again = ledger.execute(PauseFlaggedLine(line_id=line.id, flag_version=flagged.version),
                           actor=SUPPORT)

    assert again is False  # paused already by the policy, for this very flag


def test_the_jobs_per_partner_steps_run_as_commands(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _partner(ledger)
    ledger.execute(AddPaymentMethod(partner_id=pid, **CARD), actor=OPS)
    _active_line(ledger, pid)
    seen = _recording(ledger, monkeypatch)
    after_period = ledger.clock.now() + timedelta(days=45)

    issued = ledger.billing.close_due_cycles(after_period)
    ledger.alerts.check(after_period)

    names = [name for name, _ in seen]
    assert names.count(ClosePartnerCycles.__name__) == 1
    assert names.count(ReconcileAlerts.__name__) == 1
    assert len(issued) >= 1 and all(invoice.partner_id == pid for invoice in issued)
