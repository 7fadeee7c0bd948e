"""Fixtures shared by every suite: a service on SQLite and on PostgreSQL.

PostgreSQL comes from PORTAL_TEST_POSTGRES_URL (default: the CI login). A fresh database
is created for the run and emptied before each test. Without a server the PostgreSQL
half of the suite skips, unless REQUIRE_POSTGRES=1, when it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from service.runtime.bootstrap import Ledger, build
from service.runtime.settings import Settings

DEFAULT_PG = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
START = datetime(2026, 1, 1, tzinfo=UTC)
ADMIN_TOKEN = "test-admin-token"
MODULE_SUFFIX = "_module"  # the database a module's tests share (module_database_url)


def _server_url() -> str:
    return os.environ.get("PORTAL_TEST_POSTGRES_URL", DEFAULT_PG)


def _with_db(url: str, dbname: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{dbname}"))


def unsynced(conn: psycopg.Connection[object], database: str) -> None:
    """Commits in `database` stop waiting for their WAL flush (for the connections opened
    from now on). A suite's database never outlives a crash of its server, and every
    commit is still visible to the others at once; only the few milliseconds each test
    commit spent on the disk go (the local clusters run without fsync for the same
    reason: service/ops/pg_clusters.py)."""
    conn.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = off')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    server = _server_url()
    name = f"ledger_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
            unsynced(conn, name)
    except psycopg.OperationalError as e:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {e}")
        pytest.skip(f"PostgreSQL unreachable ({e}); set REQUIRE_POSTGRES=1 to fail instead")
    yield _with_db(server, name)
    with psycopg.connect(server, autocommit=True) as conn:
        # Partitioned services create sibling databases `<name>_p<i>`.
        siblings = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{name}_p%",))]
        for database in [name, f"{name}{MODULE_SUFFIX}", *siblings]:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def empty_postgres(url: str) -> None:
    """Deletes every row a test left and restarts the sequences, as `TRUNCATE ... RESTART
    IDENTITY` would. DELETE, not TRUNCATE: a test leaves a handful of rows in each of some
    thirty tables, and TRUNCATE gives every table a new file and sweeps the whole buffer
    cache on commit, which made emptying cost more than most tests it ran before."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        # The library marks its tracking tables as migrated with a `__migration__` row;
        # keep it, or the next start would try to migrate the table again.
        statements = [
            f'DELETE FROM "{t}" WHERE application_name <> \'__migration__\''
            if t.endswith("_tracking") else f'DELETE FROM "{t}"' for t in tables]
        if not statements:
            return
        # One round trip: the deletes in one transaction, then the sequences (the tables'
        # own, which RESTART IDENTITY would have reset) back to their first value.
        statements.append(
            "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value,"
            " false) FROM pg_sequences WHERE schemaname = 'public'")
        with conn.transaction():
            conn.execute("; ".join(statements))


def empty_siblings(url: str) -> None:
    """Empties the partition siblings `<db>_p<i>` an earlier partitioned test left beside
    `url`: each remembers which partition of how many it was made for, and a test with
    another count must find a new deployment (service/runtime/partition_layout.py)."""
    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(_with_db(url, "postgres"), autocommit=True) as conn:
        siblings = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{name}_p%",))]
        # The service made them, so they do not have their parent's setting yet.
        for sibling in siblings:
            unsynced(conn, sibling)
    for sibling in siblings:
        empty_postgres(_with_db(url, sibling))


def fresh_database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """An empty database of `backend`: a new SQLite file, or the session's PostgreSQL
    database emptied."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    empty_siblings(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database_url(request, request.param, tmp_path)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_database_url(request: pytest.FixtureRequest,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database that one module's tests share (each keeps to a partner of its own). On
    PostgreSQL it is a database of its own beside the session's, whose tables the other
    tests empty before each of them."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('module') / 'ledger.db'}"
        return
    session_url: str = request.getfixturevalue("postgres_url")
    name = urlparse(session_url).path.lstrip("/") + MODULE_SUFFIX
    with psycopg.connect(_with_db(session_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        unsynced(conn, name)
    yield _with_db(session_url, name)
    with psycopg.connect(_with_db(session_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url, "clock": "manual", "admin_token": ADMIN_TOKEN,
        "pool_size": 2, "max_overflow": 4, "clock_start": START,
    }
    values.update(overrides)
    return Settings(**values)


def start_ledger(database_url: str, **overrides: object) -> Ledger:
    return build(make_settings(database_url, **overrides))


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    service = start_ledger(database_url)
    yield service
    service.close()
