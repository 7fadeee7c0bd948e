"""SIGKILL the service while commands and projections are in flight; start it again: every
acknowledged command is in the log, every view equals a rebuild, nothing applied twice."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import ADMIN_TOKEN, start_ledger
from tests.integration.processes import (
    free_port,
    kill_under_load,
    service_env,
    start,
    stop,
    wait_healthy,
)
from tests.integration.views import snapshot

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _setup(base: str) -> tuple[str, dict[str, str]]:
    partner = httpx.post(f"{base}/v1/partners", headers=ADMIN, json={
        "name": "Crash", "currency": "USD", "billing_anchor_day": 1,
        "pricing": {"structure": "standard", "unit_amount": 100}}).json()["id"]
    token = httpx.post(f"{base}/v1/partners/{partner}/api-keys", headers=ADMIN,
                       json={"role": "admin", "name": "a"}).json()["token"]
    return partner, {"Authorization": f"Bearer {token}"}


def test_acknowledged_commands_survive_a_sigkill_and_views_complete_on_restart(
    database_url: str, tmp_path: Path,
) -> None:
    port = free_port()
    env = service_env(database_url)
    base = f"http://127.0.0.1:{port}"
    first = start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    wait_healthy(port, first)
    partner, headers = _setup(base)
    acknowledged = kill_under_load(first, base=base, headers=headers, partner=partner,
                                   clients=4, at_least=30)

    second = start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    try:
        wait_healthy(port, second)
        with httpx.Client(base_url=base, headers=headers, timeout=5) as http:
            for line_id in acknowledged:
                assert http.get(f"/v1/partners/{partner}/lines/{line_id}").status_code == 200
    finally:
        stop(second)
    ledger = start_ledger(database_url, clock="system")
    ledger.caught_up()
    live = snapshot(ledger)
    positions = [row["position"] for row in live["v_audit"]]
    assert len(positions) == len(set(positions))
    with ledger.read_model.reading() as sql:
        assert sql.scalar("SELECT COUNT(*) FROM v_lines") >= len(acknowledged)
    ledger.processor.rebuild()
    assert snapshot(ledger) == live
    ledger.close()
