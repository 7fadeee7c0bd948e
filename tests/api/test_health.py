"""`GET /healthz`: 200 with the database reachable, 503 without, and no auth either way."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.api.app import create_app
from tests.conftest import start_ledger


def test_healthz_answers_503_once_the_database_is_unreachable(database_url: str) -> None:
    ledger = start_ledger(database_url)
    with TestClient(create_app(ledger, run_scheduler=False)) as client:
        healthy = client.get("/healthz")

        ledger.read_model.datastore.close()  # type: ignore[attr-defined]
        unhealthy = client.get("/healthz")

    assert (healthy.status_code, healthy.json()) == (200, {"status": "ok"})
    assert unhealthy.status_code == 503
    assert unhealthy.json() == {"status": "unavailable"}
    ledger.app.close()
