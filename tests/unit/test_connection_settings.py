"""The connection settings, read as an operator writes them: one URL per partition,
multi-host URLs, what reaches each pooled connection, and unknown `PORTAL_*` variables
refused at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from service.ops.cli import app
from service.ops.cli_database import masked_url
from service.runtime.pg_connect import LedgerPostgresFactory
from service.runtime.setting_names import unknown_setting
from service.runtime.settings import Settings

PRIMARY = "postgresql://u:p@db1:5432,db2:5433/ledger?target_session_attrs=read-write"
OTHER = "postgresql://u:p@db3/books"


def test_partition_urls_name_each_partition_and_fix_the_count() -> None:
    settings = Settings(partition_urls=f"{PRIMARY}\n  {OTHER}")
    assert settings.partitions == 2
    assert settings.database_url == PRIMARY
    assert settings.partition(1).database_url == OTHER
    assert Settings(partition_urls=f'["{PRIMARY}", "{OTHER}"]').partitions == 2


@pytest.mark.parametrize(("values", "message"), [
    ({"partition_urls": [PRIMARY, OTHER], "partitions": 3}, "PORTAL_PARTITIONS is 3"),
    ({"partition_urls": [PRIMARY, OTHER], "database_url": OTHER}, "differs from the first"),
    ({"partition_urls": [PRIMARY, PRIMARY]}, "one database twice"),
    ({"partition_urls": [PRIMARY, "sqlite:///x.db"]}, "mixes SQLite and PostgreSQL"),
    ({"partition_urls": ["mysql://x/y"]}, "must start with"),
    ({"database_url": "postgresql://u@h/d?no_such_option=1"}, "invalid URI query parameter"),
])
def test_inconsistent_partition_settings_are_refused(values: dict[str, object],
                                                     message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**values)


def test_every_url_parameter_reaches_the_pooled_connections() -> None:
    settings = Settings(database_url=PRIMARY, prepared_statements=False,
                        connect_timeout_seconds=2)
    env = settings.persistence_env()
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db1,db2", "5432,5433")
    factory = LedgerPostgresFactory(env)  # the pool connects on first use: nothing yet
    try:
        pool = factory.datastore.pool
        assert pool.kwargs["target_session_attrs"] == "read-write"  # type: ignore[index]
        assert pool.kwargs["connect_timeout"] == 2  # type: ignore[index]
        assert pool.kwargs["prepare_threshold"] is None  # type: ignore[index]
        assert pool._check is not None  # pre-ping: each connection checked before use
    finally:
        factory.close()
    default = LedgerPostgresFactory(Settings(database_url=OTHER).persistence_env())
    try:
        assert "prepare_threshold" not in default.datastore.pool.kwargs
    finally:
        default.close()


def test_an_unknown_setting_is_named_with_the_closest_known_one() -> None:
    message = unknown_setting({"PORTAL_PARTITION_URL": "x", "PORTAL_PORT": "1", "HOME": "/"})
    assert message is not None
    assert message.startswith("unknown setting PORTAL_PARTITION_URL (did you mean "
                              "PORTAL_PARTITION_URLS?)")
    assert unknown_setting({"PORTAL_PORT": "1", "PORTAL_TEST_POSTGRES_URL": "x"}) is None


def test_the_service_refuses_to_start_on_an_unknown_setting() -> None:
    result = CliRunner().invoke(app, ["serve"], env={"PORTAL_READONLY": "true"})
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == ["error: unknown setting PORTAL_READONLY (did you mean PORTAL_READ_ONLY?); "
                     "known settings: see docs/OPERATIONS.md"]


def test_a_read_only_process_refuses_to_project() -> None:
    result = CliRunner().invoke(app, ["project"], env={
        "PORTAL_READ_ONLY": "true", "PORTAL_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/x"})
    assert result.exit_code == 2
    assert "PORTAL_READ_ONLY=true: a read-only process projects nothing" in result.output


def test_a_multi_host_url_is_shown_without_its_password() -> None:
    assert masked_url(PRIMARY) == ("postgresql://u:***@db1:5432,db2:5433/ledger"
                                   "?target_session_attrs=read-write")
    assert masked_url("postgresql://u:pw@[::1]:5432/db") == "postgresql://u:***@[::1]:5432/db"
