"""SIGKILL the service while a partner is quarantined, with commands in flight, and store
another poisoned event while it is down: it starts again (the start-up catch-up
quarantines the new one instead of hanging), answers healthz `degraded`, and serves."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from projections import quarantine
from tests.conftest import ADMIN_TOKEN, start_ledger
from tests.integration.faults import record_undecodable
from tests.integration.processes import (
    free_port,
    kill_under_load,
    service_env,
    start,
    stop,
    wait_healthy,
)
from tests.integration.views import event_count

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _partner(base: str, name: str) -> tuple[str, dict[str, str]]:
    partner = httpx.post(f"{base}/v1/partners", headers=ADMIN, json={
        "name": name, "currency": "USD", "billing_anchor_day": 1,
        "pricing": {"structure": "standard", "unit_amount": 100}}).json()["id"]
    token = httpx.post(f"{base}/v1/partners/{partner}/api-keys", headers=ADMIN,
                       json={"role": "admin", "name": "a"}).json()["token"]
    return partner, {"Authorization": f"Bearer {token}"}


def _health_once(base: str, quarantined: int, timeout: float = 20) -> dict[str, Any]:
    """healthz, once it counts `quarantined` held events (the service's catch-up, after a
    command or on its tick, is what quarantines)."""
    deadline = time.monotonic() + timeout
    while True:
        health = httpx.get(f"{base}/healthz", timeout=5).json()
        if health["quarantined"] >= quarantined or time.monotonic() > deadline:
            return health
        time.sleep(0.1)


def test_a_service_killed_while_a_partner_is_quarantined_restarts_and_serves(
    database_url: str, tmp_path: Path,
) -> None:
    port = free_port()
    env = service_env(database_url)
    base = f"http://127.0.0.1:{port}"
    first = start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    wait_healthy(port, first)
    poisoned, _ = _partner(base, "Poisoned")
    other, headers = _partner(base, "Other")
    late, _ = _partner(base, "Late")
    # A hand edit: this process records without inline views, as an older version would.
    hand = start_ledger(database_url, inline_views=False, clock="system")
    record_undecodable(hand, partner_id=UUID(poisoned))
    assert httpx.post(f"{base}/v1/partners/{other}/lines", headers=headers,
                      json={}).status_code == 201
    assert _health_once(base, 1)["status"] == "degraded"

    acknowledged = kill_under_load(first, base=base, headers=headers, partner=other,
                                   clients=3, at_least=10)
    record_undecodable(hand, partner_id=UUID(late))  # while the service is down

    second = start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    try:
        wait_healthy(port, second)
        health = httpx.get(f"{base}/healthz").json()
        with httpx.Client(base_url=base, headers=headers, timeout=5) as http:
            for line_id in acknowledged:
                assert http.get(f"/v1/partners/{other}/lines/{line_id}").status_code == 200
            assert http.post(f"/v1/partners/{other}/lines", json={}).status_code == 201
        listed = httpx.get(f"{base}/v1/admin/quarantine", headers=ADMIN).json()["data"]
    finally:
        stop(second)

    assert health["status"] == "degraded" and health["quarantined"] == 2
    assert {(i["partner_id"], i["status"]) for i in listed} == \
        {(poisoned, "failed"), (late, "failed")}
    ledger = start_ledger(database_url, clock="system")
    try:
        assert ledger.read_model.position() == event_count(ledger)
        assert ledger.read_model.read(quarantine.count) == 2
    finally:
        ledger.close()
        hand.close()
