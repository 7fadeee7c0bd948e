"""The auditor's and operator's commands refuse what they cannot use in one line, exit 2,
no traceback: a database that does not exist (and they create none), a partner id that is
not one or names no partner, an --output that cannot be written. They say which database
they use, password masked, and put their answer on stdout."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from typer.testing import CliRunner, Result

from service.ops.cli import app
from service.ops.cli_database import masked_url
from service.runtime.bootstrap import Ledger
from tests.conftest import ADMIN_TOKEN
from tests.integration.history import months_of_history

READS = [["verify"], ["replay", "--until", "2026-01-15T00:00:00Z"], ["export", "audit"],
         ["rebuild"]]
READ_IDS = ["verify", "replay", "export", "rebuild"]


def _runner(monkeypatch: pytest.MonkeyPatch, database_url: str) -> CliRunner:
    monkeypatch.setenv("PORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTAL_CLOCK", "manual")
    monkeypatch.setenv("PORTAL_ADMIN_TOKEN", ADMIN_TOKEN)
    return CliRunner()


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    return _runner(monkeypatch, database_url)


def assert_refused(result: Result, *words: str) -> None:
    """Exit 2, one line on stderr naming the problem, nothing on stdout, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert all(word in errors[0] for word in words), errors[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("command", READS, ids=READ_IDS)
def test_a_read_refuses_a_sqlite_file_that_does_not_exist_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str],
) -> None:
    missing = tmp_path / "nope" / "x.db"
    runner = _runner(monkeypatch, f"sqlite:///{missing}")

    result = runner.invoke(app, command)

    assert_refused(result, str(missing), "does not exist")
    assert not missing.parent.exists()


@pytest.mark.parametrize("command", READS, ids=READ_IDS)
def test_a_read_refuses_a_postgres_database_that_does_not_exist_and_creates_none(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, command: list[str],
) -> None:
    name = f"ledger_missing_{uuid.uuid4().hex[:8]}"
    url = urlunparse(urlparse(postgres_url)._replace(path=f"/{name}"))
    runner = _runner(monkeypatch, url)

    result = runner.invoke(app, command)

    assert_refused(result, masked_url(url), "does not exist")
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (name,)).fetchone() is None


def test_a_read_refuses_a_database_that_holds_no_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    runner = _runner(monkeypatch, f"sqlite:///{empty}")

    result = runner.invoke(app, ["verify"])

    assert_refused(result, "holds no ledger")
    assert empty.stat().st_size == 0


def test_an_invalid_database_setting_is_named_without_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = _runner(monkeypatch, "mysql://auditor:s3cret-pw@db.example/ledger")

    result = runner.invoke(app, ["verify"])

    assert_refused(result, "PORTAL_DATABASE_URL")
    assert "s3cret-pw" not in result.output


def test_verify_says_which_database_on_stderr_and_puts_its_verdict_on_stdout(
    ledger: Ledger, cli_env: CliRunner, database_url: str,
) -> None:
    months_of_history(ledger, months=1)

    result = cli_env.invoke(app, ["verify"])

    assert result.exit_code == 0, result.output
    assert f"database: {masked_url(database_url)}" in result.stderr.splitlines()
    assert result.stdout.splitlines() == [
        f"{ledger.app.recorder.max_notification_id()} events, 1 invoices checked, "
        "0 credit notes re-derived",
        "every invoice re-derives from the log to the cent; the chain holds"]


def test_no_command_shows_the_database_password(
    ledger: Ledger, cli_env: CliRunner, database_url: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import uvicorn

    months_of_history(ledger, months=1)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    password = urlparse(database_url).password
    commands = [*READS, ["export", "invoices"], ["serve", "--port", "0"]]

    results = [cli_env.invoke(app, command) for command in commands]

    assert [r.exit_code for r in results] == [0] * len(commands), [r.output for r in results]
    assert " · database " in results[-1].stderr  # serve says where, masked
    if password:  # PostgreSQL
        assert f"{urlparse(database_url).username}:***@" in results[-1].stderr
        for result in results:
            assert f":{password}@" not in result.output
        assert not any(f":{password}@" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("command", [
    ["replay", "--until", "2026-01-15T00:00:00Z", "--partner", "nope"],
    ["export", "audit", "--partner", "nope"],
    ["export", "invoices", "--partner", "nope"],
], ids=["replay", "export-audit", "export-invoices"])
def test_a_partner_option_that_is_no_id_is_refused_in_one_line(
    ledger: Ledger, cli_env: CliRunner, command: list[str],
) -> None:
    result = cli_env.invoke(app, command)

    assert_refused(result, "--partner 'nope'", "not a partner id")


@pytest.mark.parametrize("command", [
    ["replay", "--until", "2026-01-15T00:00:00Z", "--partner"],
    ["export", "audit", "--partner"],
    ["export", "invoices", "--partner"],
], ids=["replay", "export-audit", "export-invoices"])
def test_a_partner_id_that_names_no_partner_is_refused_in_one_line(
    ledger: Ledger, cli_env: CliRunner, command: list[str],
) -> None:
    months_of_history(ledger, months=1)
    unknown = str(uuid.uuid4())

    result = cli_env.invoke(app, [*command, unknown])

    assert_refused(result, unknown, "no such partner")


@pytest.mark.parametrize("where", ["missing-folder", "a-folder"])
def test_an_output_that_cannot_be_written_is_refused_in_one_line(
    ledger: Ledger, cli_env: CliRunner, tmp_path: Path, where: str,
) -> None:
    months_of_history(ledger, months=1)
    output = tmp_path / "missing" / "audit.csv" if where == "missing-folder" else tmp_path

    result = cli_env.invoke(app, ["export", "audit", "--format", "csv", "--output", str(output)])

    assert_refused(result, "cannot write --output", str(output))


def test_an_export_that_fails_leaves_no_file_behind(
    ledger: Ledger, cli_env: CliRunner, tmp_path: Path,
) -> None:
    months_of_history(ledger, months=1)
    output = tmp_path / "audit.jsonl"

    result = cli_env.invoke(app, ["export", "audit", "--as-of", "last tuesday", "--output",
                                  str(output)])

    assert_refused(result, "as_of")
    assert not output.exists()
