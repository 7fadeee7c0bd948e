"""Partners partitioned by a stable hash over several event stores, end to end over HTTP.

Each partition is a whole store (events, views, tracking, chain); what spans partners
(creating them, platform keys, the clock and its jobs, verify, rebuild) goes through the
cluster. Runs on both backends with three partitions.
"""

from __future__ import annotations

import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aggregates.errors import NotFound
from service.api.app import create_app
from service.runtime.bootstrap import Ledger
from service.runtime.partitions import Cluster, build_cluster, home_partner_id, partition_of
from service.runtime.settings import Settings, partition_url
from tests.api.conftest import ADMIN, bearer, create_partner, partner_key, platform_key
from tests.api.helpers import finished_verification
from tests.conftest import empty_postgres, make_settings
from tests.integration.views import event_count, snapshot

PARTITIONS = 3


def test_the_partition_of_an_id_never_changes() -> None:
    # Changing the hash would strand every partner in a store its id no longer names:
    # these answers are pinned (BLAKE2b-64 of the id's 16 bytes, big-endian, modulo n).
    pinned = {
        "00000000-0000-4000-8000-000000000000": [1, 1, 3, 3, 11],
        "6f1c2a9e-3b7d-4c55-9a1e-2d4f8b0c7e31": [1, 1, 3, 3, 3],
        "c0ffee00-1234-4abc-8def-0123456789ab": [1, 2, 3, 7, 15],
    }
    for text, expected in pinned.items():
        assert [partition_of(uuid.UUID(text), n) for n in (2, 3, 4, 8, 16)] == expected
        assert partition_of(uuid.UUID(text), 1) == 0


def test_partners_spread_evenly_over_the_partitions() -> None:
    counts = Counter(partition_of(uuid.uuid4(), 4) for _ in range(8000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(1700 < count < 2300 for count in counts.values()), counts


def test_home_partner_ids_hash_to_partition_zero() -> None:
    assert all(partition_of(home_partner_id(5), 5) == 0 for _ in range(50))


def test_partition_databases_sit_beside_the_first() -> None:
    assert partition_url("sqlite:///./var/ledger.db", 2) == "sqlite:///./var/ledger.p2.db"
    assert partition_url("sqlite:////tmp/x/ledger", 1) == "sqlite:////tmp/x/ledger.p1"
    assert partition_url("postgresql://u:p@h:5432/ledger", 3) == \
        "postgresql://u:p@h:5432/ledger_p3"
    settings = Settings(database_url="sqlite:///a/b.db", partitions=2)
    assert settings.partition(0) is settings
    assert settings.partition(1).database_url == "sqlite:///a/b.p1.db"
    with pytest.raises(ValueError):
        settings.partition(2)


def _empty_siblings(url: str) -> None:
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    for index in range(1, PARTITIONS):
        sibling = partition_url(url, index)
        if sibling.rsplit("/", 1)[1] in existing:
            empty_postgres(sibling)


@pytest.fixture
def settings(database_url: str) -> Settings:
    if database_url.startswith("postgresql"):
        _empty_siblings(database_url)
    return make_settings(database_url, partitions=PARTITIONS)


@pytest.fixture
def cluster(settings: Settings) -> Iterator[Cluster]:
    service = build_cluster(settings)
    yield service
    service.close()


@pytest.fixture
def client(cluster: Cluster) -> Iterator[TestClient]:
    with TestClient(create_app(cluster, run_scheduler=False),
                    raise_server_exceptions=False) as c:
        yield c


def _partners_in_every_partition(client: TestClient) -> dict[int, str]:
    """Creates partners over the API until each partition holds one."""
    found: dict[int, str] = {}
    for n in range(100):
        pid = create_partner(client, f"Reseller {n}")
        found.setdefault(partition_of(uuid.UUID(pid), PARTITIONS), pid)
        if len(found) == PARTITIONS:
            return found
    raise AssertionError(f"100 partners reached only partitions {sorted(found)}")


def _set_up_lines(client: TestClient, pid: str, key: dict[str, str], count: int) -> None:
    base = f"/v1/partners/{pid}"
    sub = client.post(f"{base}/sub-accounts", headers=key, json={"name": "Main"})
    assert sub.status_code == 201, sub.text
    for n in range(count):
        line = client.post(f"{base}/lines", headers=key,
                           json={"phone_number": f"+1415555{n:04d}"})
        assert line.status_code == 201, line.text
        assigned = client.post(f"{base}/lines/{line.json()['id']}/assign", headers=key,
                               json={"sub_account_id": sub.json()["id"]})
        assert assigned.status_code == 200, assigned.text


def test_each_partner_lives_in_the_store_its_id_hashes_to(client: TestClient,
                                                          cluster: Cluster) -> None:
    partners = _partners_in_every_partition(client)
    for index, pid in partners.items():
        for other, ledger in enumerate(cluster.ledgers):
            if other == index:
                assert ledger.app.partner(uuid.UUID(pid)).id == uuid.UUID(pid)
            else:
                with pytest.raises(NotFound):
                    ledger.app.partner(uuid.UUID(pid))
    assert all(event_count(ledger) > 0 for ledger in cluster.ledgers)


def test_the_api_serves_partners_of_every_partition(client: TestClient, cluster: Cluster,
                                                    settings: Settings) -> None:
    partners = _partners_in_every_partition(client)
    keys = {index: partner_key(client, pid, "admin") for index, pid in partners.items()}
    support = platform_key(client, "support")
    for index, pid in partners.items():
        _set_up_lines(client, pid, keys[index], count=index + 2)
    for index, pid in partners.items():
        overview = client.get(f"/v1/partners/{pid}/lines/overview", headers=keys[index])
        assert overview.status_code == 200, overview.text
        assert overview.json()["counts"]["active"] == index + 2
        # A platform key, kept in the home partition, reaches every partition.
        lines = client.get(f"/v1/partners/{pid}/lines", headers=support)
        assert lines.status_code == 200 and len(lines.json()["data"]) == index + 2
        trail = client.get(f"/v1/partners/{pid}/audit-trail", headers=keys[index]).json()
        positions = [row["position"] for row in trail["data"]]
        assert positions == sorted(positions) and len(positions) >= 2 * (index + 2)
        # Another partner's key gets 404, whether its own partner is in this partition or not.
        for other, other_key in keys.items():
            if other != index:
                refused = client.get(f"/v1/partners/{pid}/lines", headers=other_key)
                assert refused.status_code == 404, refused.text
    unknown = client.get(f"/v1/partners/{uuid.uuid4()}", headers=ADMIN)
    assert unknown.status_code == 404
    assert client.get("/healthz").json() == {
        "status": "ok", "quarantined": 0,
        "partitions": [{"index": i, "status": "ok"} for i in range(len(cluster.ledgers))]}


def _invoices(client: TestClient, pid: str) -> list[dict[str, Any]]:
    answer = client.get(f"/v1/partners/{pid}/invoices", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def _partner_count(ledger: Ledger) -> int:
    with ledger.read_model.reading() as sql:
        return int(sql.scalar("SELECT COUNT(*) FROM v_states WHERE kind = 'Partner'"))


def test_the_clock_closes_cycles_in_every_partition_and_verify_spans_them(
        client: TestClient, cluster: Cluster) -> None:
    partners = _partners_in_every_partition(client)
    for index, pid in partners.items():
        _set_up_lines(client, pid, partner_key(client, pid, "admin"), count=index + 1)
    moved = client.post("/v1/admin/clock", headers=ADMIN, json={"now": "2026-02-01T06:00:00Z"})
    assert moved.status_code == 200, moved.text
    closes = {run["job"] for run in moved.json()["jobs_run"] if run["job"].startswith("cycle")}
    assert closes == {f"cycle_close@p{i}" for i in range(PARTITIONS)}
    for pid in partners.values():
        (invoice,) = _invoices(client, pid)
        assert invoice["period"]["start"].startswith("2026-01-01")
        assert invoice["subtotal"] > 0
    report = finished_verification(client, ADMIN)["result"]
    assert report["ok"] is True, report
    # Every partner created on the way to filling the partitions gets an invoice too.
    assert report["invoices_checked"] == sum(_partner_count(ledger) for ledger in cluster.ledgers)
    assert report["events_checked"] == sum(event_count(ledger) for ledger in cluster.ledgers)


def test_a_rebuild_of_every_partition_equals_the_live_views(client: TestClient,
                                                             cluster: Cluster) -> None:
    partners = _partners_in_every_partition(client)
    for pid in partners.values():
        _set_up_lines(client, pid, partner_key(client, pid, "admin"), count=2)
    live = [snapshot(ledger) for ledger in cluster.ledgers]
    answer = client.post("/v1/admin/projections/rebuild", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["views"]["hash_chain"] == sum(event_count(ledger)
                                                  for ledger in cluster.ledgers)
    assert [snapshot(ledger) for ledger in cluster.ledgers] == live


def test_a_restarted_cluster_finds_every_partner_where_it_left_it(
        settings: Settings, tmp_path: Path) -> None:
    first = build_cluster(settings)
    with TestClient(create_app(first, run_scheduler=False)) as client:
        partners = _partners_in_every_partition(client)
        keys = {index: partner_key(client, pid, "admin") for index, pid in partners.items()}
    first.close()
    again = build_cluster(settings)
    try:
        with TestClient(create_app(again, run_scheduler=False)) as client:
            for index, pid in partners.items():
                answer = client.get(f"/v1/partners/{pid}", headers=keys[index])
                assert answer.status_code == 200, answer.text
    finally:
        again.close()


def test_a_partner_token_is_refused_once_revoked_in_its_partition(client: TestClient) -> None:
    partners = _partners_in_every_partition(client)
    pid = partners[PARTITIONS - 1]
    made = client.post(f"/v1/partners/{pid}/api-keys", headers=ADMIN,
                       json={"role": "reporting", "name": "r"}).json()
    key = bearer(made["token"])
    assert client.get(f"/v1/partners/{pid}", headers=key).status_code == 200
    revoked = client.delete(f"/v1/partners/{pid}/api-keys/{made['id']}", headers=ADMIN)
    assert revoked.status_code == 204
    assert client.get(f"/v1/partners/{pid}", headers=key).status_code == 401
