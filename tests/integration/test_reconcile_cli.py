"""`ledger reconcile` against a real database: JSON on stdout, exit 1 when a charge or a
payment is unmatched, exit 2 for a window it cannot read."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aggregates.errors import PaymentInProgress
from service.ops.cli import app
from service.runtime.bootstrap import Ledger
from tests.conftest import ADMIN_TOKEN
from tests.integration.payments import BILLING, AnswerLost, past_due_invoice


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTAL_CLOCK", "manual")
    monkeypatch.setenv("PORTAL_ADMIN_TOKEN", ADMIN_TOKEN)
    return CliRunner()


def test_reconcile_reports_matched_books_and_exits_0(ledger: Ledger, cli: CliRunner) -> None:
    pid, iid = past_due_invoice(ledger)
    ledger.billing.attempt_payment(partner_id=pid, invoice_id=iid, actor=BILLING)

    result = cli.invoke(app, ["reconcile", "--since", "2026-02-01"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"gateway_charges": 1, "recorded_payments": 1,
                                         "unmatched_charges": [], "unmatched_payments": []}


def test_reconcile_names_an_unrecorded_charge_and_exits_1(ledger: Ledger,
                                                          cli: CliRunner) -> None:
    pid, iid = past_due_invoice(ledger)
    ledger.billing.gateway = AnswerLost(ledger.billing.gateway)
    with pytest.raises(PaymentInProgress):
        ledger.billing.attempt_payment(partner_id=pid, invoice_id=iid, actor=BILLING)

    result = cli.invoke(app, ["reconcile"])

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert [(c["invoice_id"], c["recorded"]) for c in report["unmatched_charges"]] == [
        (str(iid), "open")]


def test_reconcile_refuses_a_window_it_cannot_read(cli: CliRunner) -> None:
    garbled = cli.invoke(app, ["reconcile", "--since", "last tuesday"])
    backwards = cli.invoke(app, ["reconcile", "--since", "2026-03-01",
                                     "--until", "2026-02-01"])

    assert (garbled.exit_code, backwards.exit_code) == (2, 2)
