"""An Idempotency-Key holds across processes: `ledger serve --workers 3` on PostgreSQL,
six identical credit grants with one key sent at once, round after round. Each round
grants the credit once; every answer is that grant's answer or 409
`idempotency_key_in_use`. (Several processes need PostgreSQL: this test is its alone.)"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.conftest import ADMIN_TOKEN, empty_postgres, start_ledger
from tests.integration.processes import free_port, service_env, start, stop, wait_healthy

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ROUNDS = 5
SENDERS = 6
CREDIT = {"amount": 700, "reason": "goodwill"}


def _at_once(base: str, path: str, headers: dict[str, str]) -> list[httpx.Response]:
    """SENDERS identical POSTs, each on its own connection, released together."""
    start_line = threading.Barrier(SENDERS)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            http.get("/healthz")  # connect first, so the POSTs leave together
            start_line.wait(30)
            answer = http.post(path, headers=headers, json=CREDIT)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=send) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def _credit_events(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*) FROM ledger_events "
                           "WHERE topic LIKE '%Partner.CreditGranted'").fetchone()
    return int(row[0]) if row else 0


def test_one_key_sent_six_times_at_once_to_three_workers_runs_once(
        postgres_url: str, tmp_path: Path) -> None:
    empty_postgres(postgres_url)
    start_ledger(postgres_url, clock="system").close()
    port = free_port()
    server = start(["serve", "--port", str(port), "--workers", "3"],
                   service_env(postgres_url), tmp_path / "serve.log")
    rounds: list[list[httpx.Response]] = []
    try:
        wait_healthy(port, server)
        base = f"http://127.0.0.1:{port}"
        partner = httpx.post(f"{base}/v1/partners", headers=ADMIN, json={
            "name": "Keyed", "currency": "USD", "billing_anchor_day": 1,
            "pricing": {"structure": "standard", "unit_amount": 100}}).json()["id"]
        support = httpx.post(f"{base}/v1/api-keys", headers=ADMIN,
                             json={"role": "support", "name": "desk"}).json()["token"]
        for n in range(ROUNDS):
            headers = {"Authorization": f"Bearer {support}", "Idempotency-Key": f"grant-{n}"}
            rounds.append(_at_once(base, f"/v1/partners/{partner}/credits", headers))
        status = httpx.get(f"{base}/v1/partners/{partner}/my-status", headers=ADMIN).json()
    finally:
        stop(server)

    for answers in rounds:
        assert len(answers) == SENDERS
        granted = [a for a in answers if a.status_code == 200]
        waiting: list[Any] = [a.json() for a in answers if a.status_code != 200]
        assert granted, [a.text for a in answers]
        assert len({a.content for a in granted}) == 1
        assert all(w["status"] == 409 and w["code"] == "idempotency_key_in_use"
                   for w in waiting), waiting
    assert _credit_events(postgres_url) == ROUNDS
    assert status["credit_balance"] == ROUNDS * CREDIT["amount"]
