"""Payments and credits through `ledger serve --workers 3` on PostgreSQL: six pays and a
dunning run (a clock move) racing on one past-due invoice charge the card once, and the
reconciliation stays empty; twelve concurrent credit grants on one partner all succeed.
(SQLite serves one process: this test is PostgreSQL's alone.)"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import ADMIN_TOKEN, empty_postgres, start_ledger
from tests.integration.payments import BILLING, RETRY_DUE, SUPPORT, past_due_invoice
from tests.integration.processes import free_port, service_env, start, wait_healthy

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PAYERS = 6
GRANTS = 12


@pytest.fixture
def prepared(postgres_url: str) -> dict[str, str]:
    """A past-due invoice (declined at the cycle close, a good card now the default) and
    the keys to pay it and to grant credit, made in-process on the manual clock."""
    empty_postgres(postgres_url)
    ledger = start_ledger(postgres_url)
    try:
        pid, iid = past_due_invoice(ledger)
        _, billing = ledger.app.issue_key(partner_id=pid, role="billing", name="payer",
                                          actor=BILLING)
        _, support = ledger.app.issue_key(partner_id=None, role="support", name="support",
                                          actor=SUPPORT)
        ledger.caught_up()
    finally:
        ledger.close()
    return {"partner": str(pid), "invoice": str(iid), "billing": billing, "support": support}


@pytest.fixture
def three_workers(postgres_url: str, prepared: dict[str, str],
                  tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = service_env(postgres_url, PORTAL_GATEWAY_DELAY_MS="500")
    env["PORTAL_CLOCK"] = "manual"  # goes on from where the set-up left the clock
    process = start(["serve", "--port", str(port), "--workers", "3"], env,
                    tmp_path / "serve.log")
    try:
        wait_healthy(port, process, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop_session(process)


def _stop_session(process: subprocess.Popen[bytes]) -> None:
    """Stops the server and the workers it started (its own session, by its id)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _race(base: str, requests: list[Callable[[httpx.Client], httpx.Response]]) -> Counter[str]:
    """Sends the requests at once, each on its own connection; answers each as its HTTP
    status and its problem code or invoice status."""
    barrier = threading.Barrier(len(requests))
    answers: list[str] = []
    lock = threading.Lock()

    def send(request: Callable[[httpx.Client], httpx.Response]) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            barrier.wait()
            response = request(http)
        body: Any = response.json()
        word = f"{response.status_code} {body.get('code') or body.get('status') or ''}"
        with lock:
            answers.append(word.strip())

    threads = [threading.Thread(target=send, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return Counter(answers)


def test_pays_and_dunning_across_three_workers_charge_once_and_reconcile(
    postgres_url: str, prepared: dict[str, str], three_workers: str,
) -> None:
    invoice_url = f"/v1/partners/{prepared['partner']}/invoices/{prepared['invoice']}"
    payer = {"Authorization": f"Bearer {prepared['billing']}"}
    pays = [lambda http: http.post(f"{invoice_url}/pay", headers=payer)] * PAYERS
    dunning = [lambda http: http.post("/v1/admin/clock", headers=ADMIN,
                                      json={"now": RETRY_DUE.isoformat()})]

    answers = _race(three_workers, [*pays, *dunning])

    with httpx.Client(base_url=three_workers, timeout=30) as http:
        invoice = http.get(invoice_url, headers=payer).json()
        report = http.get("/v1/admin/reconciliation", headers=ADMIN).json()
    with psycopg.connect(postgres_url) as conn:
        books = [row[0] for row in conn.execute(
            "SELECT outcome FROM gateway_charges ORDER BY at, attempt_id")]
    assert answers["200"] == 1, answers  # the clock moved, running the dunning job
    assert sum(answers.values()) == PAYERS + 1
    assert set(answers) <= {"200 paid", "409 payment_in_progress", "409 invoice_already_paid",
                            "200"}
    assert invoice["status"] == "paid"
    assert [p["status"] for p in invoice["payments"]] == ["failed", "succeeded"]
    assert books == ["declined", "succeeded"]
    assert report == {"gateway_charges": 1, "recorded_payments": 1, "unmatched_charges": [],
                      "unmatched_payments": []}


def test_twelve_concurrent_credit_grants_across_three_workers_all_succeed(
    prepared: dict[str, str], three_workers: str,
) -> None:
    partner_url = f"/v1/partners/{prepared['partner']}"
    support = {"Authorization": f"Bearer {prepared['support']}"}
    grants = [lambda http, amount=amount: http.post(
        f"{partner_url}/credits", headers=support, json={"amount": amount, "reason": "goodwill"})
        for amount in range(101, 101 + GRANTS)]

    answers = _race(three_workers, grants)

    with httpx.Client(base_url=three_workers, timeout=30) as http:
        status = http.get(f"{partner_url}/my-status", headers=support).json()
    assert answers == {"200": GRANTS}
    assert status["credit_balance"] == sum(range(101, 101 + GRANTS))
