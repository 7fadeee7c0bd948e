"""Scale-out on PostgreSQL: two API processes and one projection process over one
database, concurrent commands at both: no event lost or applied twice, views equal a
rebuild. (SQLite is one process's embedded store: this test is PostgreSQL's alone.)"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from tests.conftest import ADMIN_TOKEN, empty_postgres, start_ledger
from tests.integration.processes import free_port, service_env, start, stop, wait_healthy
from tests.integration.views import snapshot

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
COMMANDS_PER_CLIENT = 25


def test_two_api_processes_and_a_projector_lose_nothing_and_apply_nothing_twice(
    postgres_url: str, tmp_path: Path,
) -> None:
    scale_out(postgres_url, postgres_url, tmp_path)


def scale_out(direct_url: str, service_url: str, tmp_path: Path,
              commands_per_client: int = COMMANDS_PER_CLIENT, **settings: str) -> None:
    """The scale-out run against `service_url` (pgBouncer's, or the database itself), with
    these extra PORTAL_* settings; checked through `direct_url`."""
    empty_postgres(direct_url)
    start_ledger(service_url, clock="system", **settings).close()  # tables exist before the race
    ports = [free_port(), free_port()]
    extra = {f"PORTAL_{name.upper()}": value for name, value in settings.items()}
    api_env = service_env(service_url, PORTAL_SCHEDULER="false", **extra)
    processes = [start(["serve", "--port", str(port)], api_env, tmp_path / f"api{port}.log")
                 for port in ports]
    processes.append(start(["project", "--poll", "0.05"], service_env(service_url, **extra),
                           tmp_path / "project.log"))
    try:
        for port, process in zip(ports, processes, strict=False):
            wait_healthy(port, process)
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        partner = httpx.post(f"{bases[0]}/v1/partners", headers=ADMIN, json={
            "name": "Scale", "currency": "USD", "billing_anchor_day": 1,
            "pricing": {"structure": "standard", "unit_amount": 100}}).json()["id"]
        token = httpx.post(f"{bases[1]}/v1/partners/{partner}/api-keys", headers=ADMIN,
                           json={"role": "admin", "name": "a"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        sub = httpx.post(f"{bases[0]}/v1/partners/{partner}/sub-accounts", headers=headers,
                         json={"name": "Scale – Sales"}).json()["id"]
        acknowledged: list[str] = []
        lock = threading.Lock()

        def client(base: str) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
                for _ in range(commands_per_client):
                    line = http.post(f"/v1/partners/{partner}/lines", json={})
                    assert line.status_code == 201, line.text
                    line_id = line.json()["id"]
                    moved = http.post(f"/v1/partners/{partner}/lines/{line_id}/assign",
                                      json={"sub_account_id": sub})
                    assert moved.status_code == 200, moved.text
                    # A read on the other process sees the write (shared views).
                    other = bases[1 - bases.index(base)]
                    seen = httpx.get(f"{other}/v1/partners/{partner}/lines/{line_id}",
                                     headers=headers)
                    assert seen.json()["status"] == "active"
                    with lock:
                        acknowledged.append(line_id)

        threads = [threading.Thread(target=client, args=(base,)) for base in bases * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        for process in processes:
            stop(process)

    assert len(acknowledged) == 4 * commands_per_client
    ledger = start_ledger(direct_url, clock="system")
    ledger.caught_up()
    live = snapshot(ledger)
    assert {row["id"] for row in live["v_lines"]} == set(acknowledged)
    positions = [row["position"] for row in live["v_audit"]]
    with ledger.read_model.reading() as sql:
        stored = sql.scalar("SELECT COUNT(*) FROM ledger_events")
    assert len(positions) == len(set(positions)) == stored
    ledger.processor.rebuild()
    assert snapshot(ledger) == live
    ledger.close()
