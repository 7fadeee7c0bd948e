"""`ledger verify` survives the tampering it exists to catch: bytes of a stored event
changed with plain SQL (JSON broken, a field renamed, a figure changed) are named by their
position, with exit 1 and no traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from service.ops.cli import app
from service.runtime.bootstrap import Ledger
from tests.conftest import ADMIN_TOKEN
from tests.integration.history import months_of_history


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTAL_CLOCK", "manual")
    monkeypatch.setenv("PORTAL_ADMIN_TOKEN", ADMIN_TOKEN)
    return CliRunner()


def _first_position(ledger: Ledger, event_type: str) -> int:
    with ledger.read_model.reading() as sql:
        return int(sql.scalar("SELECT MIN(position) FROM v_audit WHERE event_type = ?",
                              event_type))


def _rewrite_stored_state(ledger: Ledger, position: int, *, postgres: str, sqlite: str) -> None:
    """Runs an UPDATE of the stored event's `state` bytes (bytea on PostgreSQL, a blob
    on SQLite), as someone with database access would."""
    with ledger.read_model.writing() as sql:
        if sql.postgres:
            sql.run(f"UPDATE ledger_events SET state = {postgres} WHERE notification_id = ?",
                    position)
        else:
            sql.run(f"UPDATE stored_events SET state = {sqlite} WHERE rowid = ?", position)


def _replace(old: str, new: str) -> dict[str, str]:
    return {
        "postgres": f"convert_to(replace(convert_from(state, 'UTF8'), '{old}', '{new}'), 'UTF8')",
        "sqlite": f"CAST(replace(CAST(state AS TEXT), '{old}', '{new}') AS BLOB)",
    }


BROKEN_JSON = {"postgres": "substring(state from 2)", "sqlite": "substr(state, 2)"}
RENAMED_FIELD = _replace('"partner_id"', '"qartner_id"')
CHANGED_FIGURE = _replace('"amount":2500', '"amount":9999')


@pytest.mark.parametrize(("event_type", "tampering", "named_as"), [
    ("SubAccount.Created", BROKEN_JSON, "does not decode"),
    ("Line.Provisioned", RENAMED_FIELD, "decodes but does not make sense"),
    ("Partner.CreditGranted", CHANGED_FIGURE, None),
], ids=["broken-json", "renamed-field", "changed-figure"])
def test_verify_names_the_position_of_a_stored_event_changed_with_plain_sql(
    ledger: Ledger, cli_env: CliRunner, event_type: str, tampering: dict[str, str],
    named_as: str | None,
) -> None:
    months_of_history(ledger, months=2)
    position = _first_position(ledger, event_type)

    _rewrite_stored_state(ledger, position, **tampering)
    result = cli_env.invoke(app, ["verify"])

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    verdict = result.stdout.splitlines()
    assert f"CHAIN BROKEN at position {position}: the stored event was changed or " \
           "reordered" in verdict
    if named_as is not None:  # the event itself is named, at the same position
        [fault] = [line for line in verdict if line.startswith(f"MISMATCH position {position}:")]
        assert event_type.split(".")[1] in fault
        assert named_as in fault
    else:  # it still reads: the invoice it fed no longer re-derives
        assert any(line.startswith("MISMATCH invoice") and " log " in line for line in verdict)
    assert verdict[-1] == "FAILED: the log or the views differ from what was recorded"


def test_the_report_lists_an_event_that_no_longer_makes_sense_without_failing_the_pass(
    ledger: Ledger,
) -> None:
    from service.ops.verification import verify

    months_of_history(ledger, months=2)
    position = _first_position(ledger, "Line.Provisioned")
    _rewrite_stored_state(ledger, position, **RENAMED_FIELD)

    report = verify(ledger)

    assert report.events_checked == ledger.app.recorder.max_notification_id()
    assert report.invoices_checked == 2
    assert [fault.position for fault in report.faults] == [position]
    assert report.as_json()["events"][0]["position"] == position
    assert not report.ok
