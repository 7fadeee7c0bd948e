"""Partitions on their own servers (`PORTAL_PARTITION_URLS`), multi-host URLs and pooled
connections that survive a server restart, on real local clusters (PostgreSQL by nature:
SQLite has no servers)."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator

import psycopg
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from service.api.app import create_app
from service.ops.pg_clusters import PgCluster, free_port
from service.runtime.partition_layout import LayoutMismatch
from service.runtime.partitions import build_cluster, partition_of
from service.runtime.settings import Settings
from tests.api.conftest import create_partner, partner_key
from tests.conftest import _server_url, make_settings, start_ledger
from tests.integration.views import event_count


@pytest.fixture
def databases(second_server: PgCluster) -> Iterator[list[str]]:
    """Three new databases: the first on the suite's server, two on `second_server`,
    under names that are no `<db>_p<i>` siblings of each other."""
    tag = uuid.uuid4().hex[:6]
    placed = [(_server_url(), f"books_{tag}_zero"), (second_server.url(), f"books_{tag}_one"),
              (second_server.url(), f"books_{tag}_two")]
    for server, name in placed:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    yield [server.rsplit("/", 1)[0] + f"/{name}" for server, name in placed]
    for server, name in placed:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def on(urls: list[str]) -> Settings:
    return make_settings(urls[0], partition_urls=urls)


def _names(url: str) -> set[str]:
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres") as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_each_partition_lives_on_the_server_its_url_names(databases: list[str]) -> None:
    ours = [url.rsplit("/", 1)[1] for url in databases]
    settings = on(databases)
    assert settings.partitions == 3 and settings.database_url == databases[0]
    cluster = build_cluster(settings)
    try:
        with TestClient(create_app(cluster, run_scheduler=False)) as client:
            found: dict[int, str] = {}
            while len(found) < 3:
                pid = create_partner(client, f"Reseller {len(found)}")
                found.setdefault(partition_of(uuid.UUID(pid), 3), pid)
            for index, pid in found.items():
                key = partner_key(client, pid, "admin")
                line = client.post(f"/v1/partners/{pid}/lines", headers=key, json={})
                assert line.status_code == 201, line.text
                read = client.get(f"/v1/partners/{pid}/lines/{line.json()['id']}", headers=key)
                assert read.status_code == 200, read.text
                assert cluster.ledgers[index].app.partner(uuid.UUID(pid)).id == uuid.UUID(pid)
        assert all(event_count(ledger) > 0 for ledger in cluster.ledgers)
    finally:
        cluster.close()
    # Each database was asked on its own server: no sibling or stray copy anywhere.
    tag = ours[0].removesuffix("_zero")
    assert {name for name in _names(databases[0]) if tag in name} == {ours[0]}
    assert {name for name in _names(databases[1]) if tag in name} == set(ours[1:])


def test_a_start_with_another_count_or_order_is_refused(databases: list[str]) -> None:
    build_cluster(on(databases)).close()
    with pytest.raises(LayoutMismatch, match="partition 0 of 3"):
        build_cluster(on(databases[:2]))
    with pytest.raises(LayoutMismatch, match="created as partition 2 of 3"):
        build_cluster(on([databases[0], databases[2], databases[1]]))
    build_cluster(on(databases)).close()  # as made: fine


def test_a_multi_host_url_uses_the_host_that_answers(second_server: PgCluster,
                                                     databases: list[str]) -> None:
    dead = free_port(second_server.port + 100)  # nothing listens there
    name = databases[1].rsplit("/", 1)[1]
    url = (f"postgresql://postgres:postgres@127.0.0.1:{dead},127.0.0.1:{second_server.port}"
           f"/{name}?target_session_attrs=read-write")
    ledger = start_ledger(url)
    try:
        with TestClient(create_app(ledger, run_scheduler=False)) as client:
            pid = create_partner(client)
            key = partner_key(client, pid, "admin")
            assert client.post(f"/v1/partners/{pid}/lines", headers=key,
                               json={}).status_code == 201
        assert event_count(ledger) > 0
    finally:
        ledger.close()


def test_pooled_connections_survive_a_server_restart(second_server: PgCluster,
                                                     databases: list[str]) -> None:
    ledger = start_ledger(databases[1], pool_size=2, max_overflow=0)
    try:
        with TestClient(create_app(ledger, run_scheduler=False)) as client:
            pid = create_partner(client)
            key = partner_key(client, pid, "admin")
            assert client.get(f"/v1/partners/{pid}", headers=key).status_code == 200
            second_server.restart()  # every pooled connection is now stale
            # Checked before use: the first requests after the restart already succeed.
            for _ in range(3):
                assert client.get(f"/v1/partners/{pid}/lines", headers=key).status_code == 200
            assert client.post(f"/v1/partners/{pid}/lines", headers=key,
                               json={}).status_code == 201
    finally:
        ledger.close()
