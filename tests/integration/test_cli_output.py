"""What the `ledger` commands print for people: plain `--help` (flags as flags, paragraphs
rewrapped), and CSV exports a spreadsheet reads as is (plain columns, amounts in major
units beside their currency, no embedded JSON)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.ops.cli import app
from service.ops.exports import csv_row, major_units
from service.runtime.bootstrap import Ledger
from tests.conftest import ADMIN_TOKEN
from tests.integration.history import months_of_history

COMMANDS = ["serve", "project", "rebuild", "create-admin-key", "seed-demo", "verify", "replay",
            "export", "revoke-key", "reconcile", "quarantine"]
MAJOR = re.compile(r"-?\d+\.\d{2}")


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTAL_CLOCK", "manual")
    monkeypatch.setenv("PORTAL_ADMIN_TOKEN", ADMIN_TOKEN)
    return CliRunner()


def test_help_shows_flags_as_flags_and_rewraps_its_paragraphs() -> None:
    runner = CliRunner()
    for args in [[], *([c] for c in COMMANDS)]:
        result = runner.invoke(app, [*args, "--help"], terminal_width=80)
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.output, args
        assert "╭" not in result.output, args
        assert max(len(line) for line in result.output.splitlines()) <= 80, args


def test_amounts_read_in_major_units_of_their_currency() -> None:
    assert [major_units(52548, "USD"), major_units(-575, "USD"), major_units(500, "JPY"),
            major_units(1234, "KWD")] == ["525.48", "-5.75", "500", "1.234"]
    row = csv_row({"currency": "EUR", "total": 1000, "discount": 0,
                   "items": [{"name": "Acme – Sales", "line_days": 30, "amount": 1000}],
                   "data": {"tiers": [{"up_to": 10}], "paused": True, "reason": None}})
    assert row == {"currency": "EUR", "total": "10.00", "discount": "0.00",
                   "items": "Acme – Sales: 30 line-days, 10.00 EUR",
                   "data": "tiers.0.up_to=10; paused=true; reason="}


def test_csv_exports_have_plain_columns_without_json(ledger: Ledger, cli_env: CliRunner,
                                                     tmp_path: Path) -> None:
    months_of_history(ledger, months=2)
    invoices_file, audit_file = tmp_path / "invoices.csv", tmp_path / "audit.csv"

    invoices = cli_env.invoke(app, ["export", "invoices", "--format", "csv", "--output",
                                    str(invoices_file)])
    audit = cli_env.invoke(app, ["export", "audit", "--format", "csv", "--output",
                                 str(audit_file)])

    assert invoices.exit_code == 0 and audit.exit_code == 0, invoices.output + audit.output
    assert "database: " in invoices.stderr and "exported 2 rows" in invoices.stderr
    rows = list(csv.DictReader(io.StringIO(invoices_file.read_text())))
    assert len(rows) == 2
    for row in rows:
        assert row["currency"] == "USD"
        for column in ("subtotal", "total", "amount_due", "amount_paid"):
            assert MAJOR.fullmatch(row[column]), (column, row[column])
        assert "line-days" in row["items"] and " USD" in row["items"]
    for text in (invoices_file.read_text(), audit_file.read_text()):
        assert "{" not in text and "\\u" not in text


def test_rebuild_reports_its_progress_over_the_whole_log(ledger: Ledger,
                                                         cli_env: CliRunner) -> None:
    months_of_history(ledger, months=1)
    seen: list[int] = []

    counts = ledger.processor.rebuild(seen.append)
    rebuilt = cli_env.invoke(app, ["rebuild"])

    assert sum(seen) == ledger.processor.log_length() > 0
    assert counts and all(n >= 0 for n in counts.values())
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "events applied" in rebuilt.stdout
