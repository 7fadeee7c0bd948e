"""One partition on a PostgreSQL server of its own (the session's second local cluster,
tests/integration/conftest.py), stopped under load: the other partners keep answering 2xx,
the stopped partition's partners get 503 `partition_unavailable` within a second,
/healthz says `degraded`, and once the server is started again the partition is served
with no failed request and nothing lost.

The partitions are placed as an operator places them: `PORTAL_PARTITION_URLS` in the
environment, read by the CLI's own settings reader (which refuses unknown `PORTAL_*`
variables)."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from service.ops.cli_errors import read_settings
from service.ops.pg_clusters import PgCluster
from service.runtime.partitions import build_cluster, partition_of
from service.runtime.settings import Settings, partition_url
from tests.api.conftest import ADMIN
from tests.conftest import ADMIN_TOKEN, empty_postgres
from tests.integration.test_partition_isolation import (
    DOWN,
    PARTITIONS,
    _client,
    _empty_siblings,
    _partners,
    outage_under_load,
)


def operator_settings(monkeypatch: pytest.MonkeyPatch, urls: list[str]) -> Settings:
    """The settings `ledger serve` reads from an environment that names one URL per
    partition (and nothing else of this test run's)."""
    for name in list(os.environ):
        if name.upper().startswith("PORTAL_"):
            monkeypatch.delenv(name)
    for name, value in {"PORTAL_PARTITION_URLS": "\n".join(urls), "PORTAL_CLOCK": "system",
                        "PORTAL_ADMIN_TOKEN": ADMIN_TOKEN, "PORTAL_POOL_SIZE": "2",
                        "PORTAL_MAX_OVERFLOW": "4"}.items():
        monkeypatch.setenv(name, value)
    settings = read_settings()
    assert settings.partitions == PARTITIONS and settings.database_url == urls[0]
    assert [settings.partition(index).database_url for index in range(PARTITIONS)] == urls
    return settings


def _placed(postgres_url: str, elsewhere: str) -> list[str]:
    """Partition DOWN at `elsewhere`, the others beside the suite's database."""
    return [elsewhere if index == DOWN else
            postgres_url if index == 0 else partition_url(postgres_url, index)
            for index in range(PARTITIONS)]


@pytest.fixture
def elsewhere(second_server: PgCluster) -> Iterator[str]:
    """A database on the second server, made by the service's first start and dropped
    afterwards."""
    name = f"ledger_partition_{uuid.uuid4().hex[:6]}"
    yield second_server.url(name)
    with psycopg.connect(second_server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_partition_on_its_own_server_stopped_under_load_stops_no_one_else(
        postgres_url: str, second_server: PgCluster, elsewhere: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    empty_postgres(postgres_url)  # whatever layout a test before left
    _empty_siblings(postgres_url)
    settings = operator_settings(monkeypatch, _placed(postgres_url, elsewhere))
    cluster = build_cluster(settings)
    try:
        with _client(cluster) as client:
            outage_under_load(client, _partners(client),
                              take_down=lambda: second_server.stop("fast"),
                              bring_back=second_server.start)
    finally:
        cluster.close()


def test_a_partition_whose_server_never_answers_costs_its_partners_no_wait(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A port that accepts connections and never says a word: the connect-timeout path.
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(64)
    empty_postgres(postgres_url)  # whatever layout a test before left
    _empty_siblings(postgres_url)
    silent = f"postgresql://postgres@127.0.0.1:{black_hole.getsockname()[1]}/ledger"
    settings = operator_settings(monkeypatch, _placed(postgres_url, silent))
    cluster = build_cluster(settings)  # waits one connect timeout for the silent server
    try:
        with _client(cluster) as client:
            served: dict[int, str] = {}
            for _ in range(40):
                pid = str(uuid.uuid4())
                index = partition_of(uuid.UUID(pid), PARTITIONS)
                started = time.monotonic()
                answer = client.get(f"/v1/partners/{pid}/lines", headers=ADMIN)
                took = time.monotonic() - started
                if index == DOWN:
                    assert answer.status_code == 503 and took < 1.0, (answer.text, took)
                    assert answer.json()["code"] == "partition_unavailable"
                else:
                    assert answer.status_code == 404  # served: no such partner there
                served.setdefault(index, pid)
            assert set(served) == set(range(PARTITIONS))
            health = client.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "degraded"
    finally:
        cluster.close()
        black_hole.close()
