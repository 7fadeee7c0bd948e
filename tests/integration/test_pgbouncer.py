"""The service through pgBouncer in transaction mode (Debian's pgBouncer, started by the
session fixture on a spare port): each transaction may run on another server connection,
so no prepared statement (PORTAL_PREPARED_STATEMENTS=false) and no session lock may
outlive it. PostgreSQL by nature."""

from __future__ import annotations

import warnings
from pathlib import Path

import psycopg

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.partitions import build_cluster
from tests.conftest import empty_postgres, make_settings
from tests.integration.conftest import Bounced
from tests.integration.test_partitions import (
    test_the_api_serves_partners_of_every_partition as serves_every_partition,
)
from tests.integration.test_scale_out import scale_out

PARTITIONS = ("pgb_p0", "pgb_p1", "pgb_p2")


def _advisory_locks(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*) FROM pg_locks l JOIN pg_database d "
                           "ON d.oid = l.database WHERE l.locktype = 'advisory' "
                           "AND d.datname = current_database()").fetchone()
    return int(row[0]) if row else 0


def test_commands_over_partitions_on_two_servers_through_pgbouncer(bounced: Bounced) -> None:
    for name in PARTITIONS:
        empty_postgres(bounced.direct[name])
    urls = [bounced.url(name) for name in PARTITIONS]
    settings = make_settings(urls[0], partition_urls=urls, prepared_statements=False)
    cluster = build_cluster(settings)
    try:
        with TestClient(create_app(cluster, run_scheduler=False),
                        raise_server_exceptions=False) as client:
            serves_every_partition(client, cluster, settings)
    finally:
        cluster.close()
    # The start-up lock ended with its transaction: no pooled server connection keeps it,
    # and the next start through the same pool neither waits nor fails.
    assert _advisory_locks(bounced.direct["pgb_p0"]) == 0
    build_cluster(settings).close()
    assert _advisory_locks(bounced.direct["pgb_p0"]) == 0


def test_api_processes_and_a_projector_through_pgbouncer_lose_nothing(
        bounced: Bounced, tmp_path: Path) -> None:
    scale_out(bounced.direct["pgb_scale"], bounced.url("pgb_scale"), tmp_path,
              commands_per_client=5, prepared_statements="false")
