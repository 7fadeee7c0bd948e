"""The rows one event's views hand each other (projections/event_rows.py) are exactly what
a SELECT would read at that point (values, types, column order), in commands applied in
the insert, in the catch-up and in a rebuild's scratch copy; and a memo never answers for
another event than its own."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

from projections import event_rows
from projections.event_rows import UNKNOWN
from projections.sql import Sql
from projections.view import Views
from service.runtime.bootstrap import Ledger
from tests.api.conftest import Portal
from tests.api.test_billing_flow import DECLINING_CARD, GOOD_CARD, move_clock
from tests.integration.views import snapshot


def _typed(value: Any) -> Any:
    """The value with every part's type, a dict's keys in order: `1 == True`, `[] == ()`
    would hide a row the views read back differently."""
    if isinstance(value, dict):
        return [(key, _typed(item)) for key, item in value.items()]
    if isinstance(value, tuple | list):
        return (type(value).__name__, [_typed(item) for item in value])
    return (type(value).__name__, value)


class MemoCheck:
    """A last view that compares each event's memo with what the database holds now."""

    NAME = "memo_check"
    TABLES: tuple[str, ...] = ()
    DDL: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.checked: Counter[str] = Counter()
        self.wrong: list[tuple[str, int, Any, Any]] = []

    def _same(self, what: str, position: int, memo: Any, read: Any) -> None:
        self.checked[what] += 1
        if _typed(memo) != _typed(read):
            self.wrong.append((what, position, memo, read))

    def apply(self, sql: Sql, position: int, event: Any) -> bool:
        rows = event_rows.of(sql, position)
        if rows is None:
            self.wrong.append(("no memo", position, None, None))
            return False
        if rows.partner is not UNKNOWN:
            self._same("partner", position, rows.partner, sql.scalar(
                "SELECT partner_id FROM v_audit WHERE position = ?", position))
        if rows.line is not UNKNOWN:
            self._same("line", position, rows.line, sql.one(
                "SELECT * FROM v_lines WHERE id = ?", str(event.originator_id)))
        for entity_id, saved in rows.states.items():
            found = sql.one("SELECT kind, state FROM v_states WHERE id = ?", entity_id)
            self._same("state", position, saved,
                       None if found is None else (found["kind"], found["state"]))
        return False


def _activity(ledger: Ledger, portal: Portal) -> None:
    """Lines through their states, sub-accounts, cards, credit, an invoice that fails its
    first charge and is paid; a minute apart, so that a row's times tell each step."""

    def ok(method: str, path: str, **kwargs: Any) -> Any:
        ledger.manual_clock.set(ledger.clock.now() + timedelta(minutes=1))
        return portal.ok(method, path, **kwargs)

    sub = ok("POST", "/sub-accounts", json={"name": "Sales"})
    other = ok("POST", "/sub-accounts", json={"name": "Support"})
    line = ok("POST", "/lines", json={"sub_account_id": sub["id"]})
    pool = ok("POST", "/lines", json={})
    ok("POST", "/payment-methods", role="billing", json=DECLINING_CARD, status=201)
    ok("POST", f"/lines/{line['id']}/flag", role="support", json={"reason": "spam"})
    ok("POST", f"/lines/{line['id']}/unflag", role="support")
    ok("POST", f"/lines/{line['id']}/resume")
    ok("POST", f"/lines/{line['id']}/move-request", json={"sub_account_id": other["id"]})
    ok("POST", f"/lines/{line['id']}/move-request/approve", role="support")
    ok("POST", f"/lines/{pool['id']}/assign", json={"sub_account_id": sub["id"]})
    ok("POST", f"/lines/{pool['id']}/delete-request")
    ok("POST", f"/lines/{pool['id']}/delete-request/reject", role="support")
    ok("POST", "/credits", role="support", json={"amount": 500, "reason": "goodwill"})
    move_clock(portal, "2026-02-01T06:00:00Z")
    good = ok("POST", "/payment-methods", role="billing", json=GOOD_CARD, status=201)
    ok("POST", f"/payment-methods/{good['id']}/make-default", role="billing")
    invoice = ok("GET", "/invoices", role="billing")["data"][0]
    ok("POST", f"/invoices/{invoice['id']}/pay", role="billing")


def test_handed_rows_equal_the_rows_read_back(ledger: Ledger, portal: Portal) -> None:
    check = MemoCheck()
    views = ledger.read_model.views
    ledger.read_model.views = Views(applied=(*views.applied, check),
                                    service_ddl=views.service_ddl)
    _activity(ledger, portal)
    ledger.caught_up()
    assert check.wrong == []
    live = dict(check.checked)
    assert live["partner"] and live["line"] and live["state"], live
    # The rebuild applies the whole log again, in its scratch copy, with savepoints.
    before = snapshot(ledger)
    ledger.processor.rebuild()
    assert snapshot(ledger) == before
    assert check.wrong == []
    assert check.checked["line"] > live["line"]


def test_a_memo_answers_only_for_its_own_event() -> None:
    sql = Sql(None, postgres=False)
    event = SimpleNamespace(originator_id=uuid4(), timestamp=datetime(2026, 1, 11, tzinfo=UTC))
    assert event_rows.of(sql, 7) is None
    memo = event_rows.begin(sql, 7, event)
    memo.line, memo.partner = None, "p"
    assert event_rows.of(sql, 7) is memo
    assert (memo.entity_id, memo.at) == (str(event.originator_id), "2026-01-11T00:00:00.000000Z")
    assert event_rows.of(sql, 8) is None
    fresh = event_rows.begin(sql, 8, event)  # the next event starts from nothing known
    assert fresh.line is UNKNOWN and fresh.partner is UNKNOWN and fresh.states == {}
    assert event_rows.of(sql, 7) is None
    # Another transaction's Sql never sees it.
    assert event_rows.of(Sql(None, postgres=False), 8) is None
