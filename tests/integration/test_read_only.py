"""A read-only process on a streaming standby (`PORTAL_READ_ONLY=true`): it starts there
(no table creation, no catch-up, no jobs), answers every read, live and as-of, as the
primary does, and refuses commands with 503 `read_only`. PostgreSQL by nature."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from service.api.app import create_app
from service.ops.pg_clusters import PgCluster, wait_replayed
from service.runtime.partitions import build_cluster
from tests.api.conftest import ADMIN, create_partner, partner_key, platform_key
from tests.conftest import make_settings, start_ledger
from tests.integration.views import event_count

VIEWS = ("", "/lines", "/lines/overview", "/sub-accounts", "/billing/summary", "/invoices",
         "/audit-trail?limit=500")


@pytest.fixture
def database(second_server: PgCluster) -> Iterator[str]:
    name = f"replicated_{uuid.uuid4().hex[:8]}"
    second_server.create_database(name)
    yield name
    with psycopg.connect(second_server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reads(client: TestClient, pid: str, headers: dict[str, str],
           as_of: str | None = None) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for view in VIEWS:
        params = {"as_of": as_of} if as_of else {}
        response = client.get(f"/v1/partners/{pid}{view}", headers=headers, params=params)
        assert response.status_code == 200, (view, response.text)
        answers[view] = response.json()
    return answers


def test_a_standby_serves_every_read_and_refuses_commands(
        second_server: PgCluster, standby: PgCluster, database: str) -> None:
    primary = build_cluster(make_settings(second_server.url(database)))
    with TestClient(create_app(primary, run_scheduler=False)) as client:
        pid = create_partner(client)
        key = partner_key(client, pid, "admin")
        auditor = platform_key(client, "auditor")
        lines = [client.post(f"/v1/partners/{pid}/lines", headers=key, json={}).json()["id"]
                 for _ in range(3)]
        before = primary.home.app.recorder.max_notification_id()
        past = _reads(client, pid, auditor)
        moved = client.post("/v1/admin/clock", headers=ADMIN,
                            json={"now": "2026-01-20T00:00:00Z"})
        assert moved.status_code == 200, moved.text
        team = client.post(f"/v1/partners/{pid}/sub-accounts", headers=key,
                           json={"name": "Team"})
        assert team.status_code == 201, team.text
        live = _reads(client, pid, auditor)
    primary.close()
    wait_replayed(second_server, standby)

    replica = build_cluster(make_settings(standby.url(database), read_only=True))
    try:
        with TestClient(create_app(replica, run_scheduler=False)) as client:
            assert _reads(client, pid, auditor) == live
            assert _reads(client, pid, auditor, f"position:{before}") == past
            assert _reads(client, pid, key)["/lines/overview"] == live["/lines/overview"]
            for path, body in ((f"/v1/partners/{pid}/lines", {}),
                               (f"/v1/partners/{pid}/lines/{lines[1]}/flag", {"reason": "x"}),
                               ("/v1/admin/clock", {"now": "2026-02-01T00:00:00Z"})):
                refused = client.post(path, headers=key if "partners" in path else ADMIN,
                                      json=body)
                assert refused.status_code == 503, refused.text
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.json()["code"] == "read_only"
            assert client.get("/healthz").status_code == 200
            assert _reads(client, pid, auditor) == live  # nothing changed
    finally:
        replica.close()


def test_a_url_naming_the_standby_first_writes_to_the_primary(
        second_server: PgCluster, standby: PgCluster, database: str) -> None:
    url = (f"postgresql://postgres:postgres@127.0.0.1:{standby.port},"
           f"127.0.0.1:{second_server.port}/{database}?target_session_attrs=read-write")
    ledger = start_ledger(url)
    try:
        with TestClient(create_app(ledger, run_scheduler=False)) as client:
            pid = create_partner(client)
            assert client.get(f"/v1/partners/{pid}", headers=ADMIN).status_code == 200
        assert event_count(ledger) > 0
    finally:
        ledger.close()
