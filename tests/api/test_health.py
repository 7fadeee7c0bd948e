"""`GET /healthz`: 200 with the database reachable, 503 without, and no auth either way;
`degraded` while a partition does not answer (the others still serve)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.partitions import build_cluster
from tests.conftest import make_settings, start_ledger


def test_healthz_answers_503_once_the_database_is_unreachable(database_url: str) -> None:
    ledger = start_ledger(database_url)
    with TestClient(create_app(ledger, run_scheduler=False)) as client:
        healthy = client.get("/healthz")

        ledger.read_model.datastore.close()
        unhealthy = client.get("/healthz")

    assert (healthy.status_code, healthy.json()) == (200, {
        "status": "ok", "partitions": [{"index": 0, "status": "ok"}], "quarantined": 0})
    assert unhealthy.status_code == 503
    assert unhealthy.json() == {"status": "unavailable"}
    ledger.app.close()


def test_healthz_is_degraded_while_one_partition_does_not_answer(database_url: str) -> None:
    cluster = build_cluster(make_settings(database_url, partitions=2))
    with TestClient(create_app(cluster, run_scheduler=False)) as client:
        cluster.ledgers[1].read_model.datastore.close()
        answer = client.get("/healthz")

    assert (answer.status_code, answer.json()) == (200, {
        "status": "degraded", "quarantined": 0,
        "partitions": [{"index": 0, "status": "ok"}, {"index": 1, "status": "unavailable"}]})
    cluster.close()
