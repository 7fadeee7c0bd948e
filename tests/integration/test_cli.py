"""The `ledger` CLI against a real database: verify, replay, export, rebuild."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.ops.cli import app
from service.runtime.bootstrap import Ledger
from tests.conftest import ADMIN_TOKEN
from tests.integration.history import months_of_history
from tests.integration.test_verification import _tamper_with_stored_event


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTAL_CLOCK", "manual")
    monkeypatch.setenv("PORTAL_ADMIN_TOKEN", ADMIN_TOKEN)
    return CliRunner()


def test_verify_passes_on_an_honest_log_and_fails_naming_a_tampered_position(
    ledger: Ledger, cli_env: CliRunner,
) -> None:
    months_of_history(ledger, months=2)

    honest = cli_env.invoke(app, ["verify"])
    with ledger.read_model.reading() as sql:
        position = sql.scalar("SELECT position FROM v_audit WHERE event_type = "
                              "'Partner.CreditGranted'")
    _tamper_with_stored_event(ledger, position)
    tampered = cli_env.invoke(app, ["verify"])

    assert honest.exit_code == 0, honest.output
    assert "2 invoices checked" in honest.output
    assert tampered.exit_code == 1
    assert f"position {position}" in tampered.output


def test_export_streams_every_audit_row_as_csv_and_invoices_as_json_lines(
    ledger: Ledger, cli_env: CliRunner, tmp_path: Path,
) -> None:
    months_of_history(ledger, months=2)
    with ledger.read_model.reading() as sql:
        audit_count = sql.scalar("SELECT COUNT(*) FROM v_audit WHERE partner_id IS NOT NULL")
    audit_file, invoice_file = tmp_path / "audit.csv", tmp_path / "invoices.jsonl"

    audit = cli_env.invoke(app, ["export", "audit", "--format", "csv", "--output",
                                 str(audit_file)])
    invoices = cli_env.invoke(app, ["export", "invoices", "--output", str(invoice_file)])

    assert audit.exit_code == 0, audit.output
    with audit_file.open() as f:
        rows = list(csv.DictReader(f))
    assert len([r for r in rows if r["partner_id"]]) == audit_count
    assert [int(r["position"]) for r in rows] == sorted(int(r["position"]) for r in rows)
    assert invoices.exit_code == 0, invoices.output
    assert len(invoice_file.read_text().splitlines()) == 2


def test_replay_prints_the_views_as_they_stood_then(ledger: Ledger, cli_env: CliRunner) -> None:
    months_of_history(ledger, months=2)

    early = cli_env.invoke(app, ["replay", "--until", "2026-01-15T00:00:00Z"])
    bad = cli_env.invoke(app, ["replay", "--until", "last tuesday"])

    assert early.exit_code == 0, early.output
    views = json.loads(early.stdout)
    assert views["invoices"] == []
    assert views["billing_summary"]["period"]["start"] == "2026-01-01T00:00:00Z"
    assert views["analytics"]["messages_sent"] == 0
    assert isinstance(views["alerts"], list)
    assert bad.exit_code == 2


def test_the_admin_verify_endpoint_reports_ok_for_auditors(ledger: Ledger) -> None:
    from fastapi.testclient import TestClient

    from service.api.app import create_app
    from tests.api.conftest import ADMIN, platform_key
    from tests.api.helpers import finished_verification

    months_of_history(ledger, months=1)
    with TestClient(create_app(ledger, run_scheduler=False)) as client:
        auditor = platform_key(client, "auditor")
        support = platform_key(client, "support")

        report = finished_verification(client, auditor)["result"]
        refused = client.get("/v1/admin/verify", headers=support)
        admin = finished_verification(client, ADMIN)

    assert report["ok"] is True
    assert report["invoices_checked"] == 1
    assert refused.status_code == 403
    assert admin["status"] == "passed"
