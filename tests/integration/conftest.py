"""Local PostgreSQL servers of the integration tests, made once per session on spare ports
and dropped afterwards (service/ops/pg_clusters.py): a second server beside the suite's own, a
streaming standby of it, and pgBouncer in transaction mode in front of both.

Without the Debian tools (or root) these tests skip, unless REQUIRE_POSTGRES=1, when they
fail."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from service.ops.pg_clusters import (
    PgBouncer,
    PgCluster,
    create_cluster,
    create_standby,
    free_port,
    start_pgbouncer,
    tools_missing,
)
from tests.conftest import _server_url, _with_db


def _require_tools() -> None:
    missing = tools_missing()
    if missing is None:
        return
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"REQUIRE_POSTGRES=1 but local clusters cannot be made: {missing}")
    pytest.skip(f"local clusters cannot be made ({missing})")


@pytest.fixture(scope="session")
def second_server() -> Iterator[PgCluster]:
    """A PostgreSQL server of its own, standing in for another machine."""
    _require_tools()
    cluster = create_cluster(f"ledger_t{os.getpid()}", free_port())
    try:
        yield cluster
    finally:
        cluster.drop()


@pytest.fixture(scope="session")
def standby(second_server: PgCluster) -> Iterator[PgCluster]:
    """A hot standby streaming from `second_server`."""
    replica = create_standby(second_server, f"ledger_t{os.getpid()}_standby",
                             free_port(second_server.port + 1))
    try:
        yield replica
    finally:
        replica.drop()


@dataclass
class Bounced:
    """pgBouncer in transaction mode, with database names that reach the suite's server
    (`direct` names the real database behind each)."""

    bouncer: PgBouncer
    direct: dict[str, str]

    def url(self, name: str) -> str:
        return self.bouncer.url(name)


BOUNCED = ("pgb_p0", "pgb_p1", "pgb_p2", "pgb_scale")


@pytest.fixture(scope="session")
def bounced(second_server: PgCluster) -> Iterator[Bounced]:
    """pgBouncer in front of four new databases: three partitions (the first on the
    suite's server, two on `second_server`) and one for the scale-out test."""
    suite = PgCluster(name="suite", port=int(psycopg.conninfo.conninfo_to_dict(
        _server_url()).get("port") or 5432))
    tag = uuid.uuid4().hex[:6]
    placed = {"pgb_p0": suite, "pgb_p1": second_server, "pgb_p2": second_server,
              "pgb_scale": suite}
    real = {name: f"{name}_{tag}" for name in BOUNCED}
    made: list[tuple[str, str]] = []
    try:
        for name in BOUNCED:
            server_url = _server_url() if placed[name] is suite else second_server.url()
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{real[name]}"')
            made.append((server_url, real[name]))
        bouncer = start_pgbouncer({name: (placed[name], real[name]) for name in BOUNCED},
                                  free_port(second_server.port + 10))
        try:
            yield Bounced(bouncer=bouncer, direct={
                name: _with_db(server, database)
                for name, (server, database) in zip(BOUNCED, made, strict=True)})
        finally:
            bouncer.stop()
    finally:
        for server_url, database in made:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
