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
from service.bootstrap import Ledger
from tests.integration.views import event_count, snapshot

OPS = Actor(key_id="ops-key", role="operations")
SUPPORT = Actor(key_id="support-key", role="platform:support")
LINE_STEPS = ["flag", "unflag", "pause", "resume", "request_delete", "reject_delete",
              "cancel_delete", "cancel_move", "reject_move", "request_delete"]


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

        def attempt(self, command: Any, **kwargs: Any) -> Any:
            before = event_count(ledger)
            try:
                return command(partner_id=self.pid, **kwargs)
            except DomainError:
                assert event_count(ledger) == before, "a refused command recorded events"
                return None

        @rule(target=subs, name=st.sampled_from(["Acme – Sales", "Acme – Ops", "Beta – Sales"]))
        def create_sub(self, name: str) -> Any:
            sub = self.attempt(app.create_sub_account, name=name, actor=OPS)
            return sub.id if sub else UUID(int=0)

        @rule(target=lines, sub=st.none() | subs)
        def provision(self, sub: UUID | None) -> Any:
            line = self.attempt(app.provision_line, phone_number=None, sub_account_id=sub,
                                actor=OPS)
            return line.id if line else UUID(int=0)

        @rule(line=lines, sub=subs)
        def assign(self, line: UUID, sub: UUID) -> None:
            self.attempt(app.assign_line, line_id=line, sub_account_id=sub, actor=OPS)

        @rule(line=lines)
        def unassign(self, line: UUID) -> None:
            self.attempt(app.unassign_line, line_id=line, actor=OPS)

        @rule(line=lines, sub=subs)
        def request_move(self, line: UUID, sub: UUID) -> None:
            self.attempt(app.request_line_move, line_id=line, sub_account_id=sub, actor=OPS)

        @rule(line=lines)
        def approve_move(self, line: UUID) -> None:
            self.attempt(app.approve_line_move, line_id=line, actor=SUPPORT)

        @rule(line=lines)
        def approve_delete(self, line: UUID) -> None:
            self.attempt(app.approve_line_delete, line_id=line, actor=SUPPORT)

        @rule(line=lines, step=st.sampled_from(LINE_STEPS))
        def line_step(self, line: UUID, step: str) -> None:
            kwargs: dict[str, Any] = {}
            if step == "flag":
                kwargs["reason"] = "volume"
            elif step.startswith("reject"):
                kwargs["reason"] = None
            self.attempt(app.line_step, line_id=line, step=step, actor=SUPPORT, **kwargs)

        @rule(sub=subs, primary=subs)
        def merge(self, sub: UUID, primary: UUID) -> None:
            self.attempt(app.request_merge, sub_account_id=sub, primary_id=primary, actor=OPS)
            self.attempt(app.approve_merge, sub_account_id=sub, actor=SUPPORT)

        @rule(sub=subs, approve=st.booleans())
        def delete_sub(self, sub: UUID, approve: bool) -> None:
            self.attempt(app.sub_account_step, sub_account_id=sub, step="request_delete",
                         actor=OPS)
            if approve:
                self.attempt(app.sub_account_step, sub_account_id=sub,
                             step="approve_delete", actor=SUPPORT)

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
