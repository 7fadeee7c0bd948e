"""Random command sequences: the live views always equal a rebuild from the log, every
view row equals its aggregate, and a refused command records nothing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from aggregates.base import Actor
from aggregates.errors import DomainError
from projections import lines as lines_view
from projections import sub_accounts as subs_view
from service.api.representations import line_json, sub_account_json
from service.commands.lines import (
    ApproveLineDelete,
    ApproveLineMove,
    AssignLine,
    CancelLineDelete,
    CancelLineMove,
    FlagLine,
    PauseSending,
    ProvisionLine,
    RejectLineDelete,
    RejectLineMove,
    RequestLineDelete,
    RequestLineMove,
    ResumeSending,
    UnassignLine,
    UnflagLine,
)
from service.commands.sub_accounts import (
    ApproveMerge,
    ApproveSubAccountDelete,
    CreateSubAccount,
    RequestMerge,
    RequestSubAccountDelete,
)
from service.runtime.bootstrap import Ledger
from tests.integration.views import event_count, snapshot

OPS = Actor(key_id="ops-key", role="operations")
SUPPORT = Actor(key_id="support-key", role="platform:support")
LINE_STEPS: list[Any] = [
    lambda **ids: FlagLine(**ids, reason="volume"), UnflagLine, PauseSending, ResumeSending,
    RequestLineDelete, RejectLineDelete, CancelLineDelete, CancelLineMove, RejectLineMove,
    RequestLineDelete]


def machine_for(ledger: Ledger) -> type[RuleBasedStateMachine]:
    app = ledger.app

    class LedgerMachine(RuleBasedStateMachine):
        lines = Bundle("lines")
        subs = Bundle("subs")

        @initialize()
        def partner(self) -> None:
            self.pid = app.create_partner(
                name="Machine", currency="USD", billing_anchor_day=1,
                pricing={"structure": "standard", "unit_amount": 1000}, actor=OPS).id

        def attempt(self, command: Any, actor: Actor, **fields: Any) -> Any:
            before = event_count(ledger)
            try:
                return ledger.execute(command(partner_id=self.pid, **fields), actor=actor)
            except DomainError:
                assert event_count(ledger) == before, "a refused command recorded events"
                return None

        @rule(target=subs, name=st.sampled_from(["Acme – Sales", "Acme – Ops", "Beta – Sales"]))
        def create_sub(self, name: str) -> Any:
            sub = self.attempt(CreateSubAccount, OPS, name=name)
            return sub.id if sub else UUID(int=0)

        @rule(target=lines, sub=st.none() | subs)
        def provision(self, sub: UUID | None) -> Any:
            line = self.attempt(ProvisionLine, OPS, sub_account_id=sub)
            return line.id if line else UUID(int=0)

        @rule(line=lines, sub=subs)
        def assign(self, line: UUID, sub: UUID) -> None:
            self.attempt(AssignLine, OPS, line_id=line, sub_account_id=sub)

        @rule(line=lines)
        def unassign(self, line: UUID) -> None:
            self.attempt(UnassignLine, OPS, line_id=line)

        @rule(line=lines, sub=subs)
        def request_move(self, line: UUID, sub: UUID) -> None:
            self.attempt(RequestLineMove, OPS, line_id=line, sub_account_id=sub)

        @rule(line=lines)
        def approve_move(self, line: UUID) -> None:
            self.attempt(ApproveLineMove, SUPPORT, line_id=line)

        @rule(line=lines)
        def approve_delete(self, line: UUID) -> None:
            self.attempt(ApproveLineDelete, SUPPORT, line_id=line)

        @rule(line=lines, step=st.sampled_from(LINE_STEPS))
        def line_step(self, line: UUID, step: Any) -> None:
            self.attempt(step, SUPPORT, line_id=line)

        @rule(sub=subs, primary=subs)
        def merge(self, sub: UUID, primary: UUID) -> None:
            self.attempt(RequestMerge, OPS, sub_account_id=sub, primary_id=primary)
            self.attempt(ApproveMerge, SUPPORT, sub_account_id=sub)

        @rule(sub=subs, approve=st.booleans())
        def delete_sub(self, sub: UUID, approve: bool) -> None:
            self.attempt(RequestSubAccountDelete, OPS, sub_account_id=sub)
            if approve:
                self.attempt(ApproveSubAccountDelete, SUPPORT, sub_account_id=sub)

        @invariant()
        def views_match_aggregates(self) -> None:
            if not hasattr(self, "pid"):
                return
            ledger.caught_up()
            rows, _ = ledger.read_model.read(lines_view.list_lines, partner_id=str(self.pid),
                                             status=None, sub_account_id=None, after_seq=0,
                                             limit=500)
            for row in rows:
                assert row == line_json(app.line(self.pid, UUID(row["id"])))
            subs, _ = ledger.read_model.read(subs_view.list_sub_accounts,
                                             partner_id=str(self.pid), status=None,
                                             after_seq=0, limit=500)
            for sub in subs:
                assert sub == sub_account_json(app.sub_account(self.pid, UUID(sub["id"])))

        def teardown(self) -> None:
            ledger.caught_up()
            live = snapshot(ledger)
            ledger.processor.rebuild()
            assert snapshot(ledger) == live

    return LedgerMachine


def test_random_command_sequences_keep_live_views_equal_to_a_rebuild(ledger: Ledger) -> None:
    machine = machine_for(ledger)

    machine.TestCase.settings = settings(
        max_examples=12, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )

    machine.TestCase().runTest()
