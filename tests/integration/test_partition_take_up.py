"""A partition down when `ledger serve` starts gets, once taken up, the start-up work every
partition gets at the start: its catch-up, and the settling of payment attempts a crash
left open (asking the gateway, never charging again). With the manual clock, partition 0
(which keeps the time) may be down at start too: the others' partners get 503 naming the
clock until it answers, then are served at the time it kept. Both backends."""

from __future__ import annotations

import time
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aggregates.errors import PaymentInProgress
from service.api.app import create_app
from service.ops.reconciliation import reconcile
from service.runtime.partition_health import UnbuiltPartition
from service.runtime.partitions import build_cluster
from tests.api.conftest import ADMIN
from tests.conftest import make_settings
from tests.integration.payments import BILLING, AnswerLost, past_due_invoice
from tests.integration.test_partition_isolation import (
    DOWN,
    PARTITIONS,
    Outage,
    _client,
    _partners,
    _until,
)
from tests.integration.test_payment_races import MATCHED_ONE


def test_a_partition_down_at_start_settles_its_open_payment_attempt_once_taken_up(
        database_url: str) -> None:
    # The manual clock (kept in partition 0) drives the cycle close; partition DOWN is
    # another one, which may be down at start.
    settings = make_settings(database_url, partitions=PARTITIONS)
    cluster = build_cluster(settings)
    try:
        ledger = cluster.ledgers[DOWN]
        pid, iid = past_due_invoice(ledger)
        gateway = ledger.billing.gateway
        ledger.billing.gateway = AnswerLost(gateway)  # charged; the answer never recorded
        with pytest.raises(PaymentInProgress):
            ledger.billing.attempt_payment(partner_id=pid, invoice_id=iid, actor=BILLING)
        assert ledger.billing.invoice(pid, iid).open_attempt is not None
    finally:
        cluster.close()

    with Outage(settings, DOWN) as outage:
        outage.take_down()
        cluster = build_cluster(settings)
        try:
            with TestClient(create_app(cluster, run_scheduler=False)):
                assert isinstance(cluster.ledgers[DOWN], UnbuiltPartition)
                outage.bring_back()
                deadline = time.monotonic() + 20
                while isinstance(cluster.ledgers[DOWN], UnbuiltPartition) or \
                        cluster.ledgers[DOWN].billing.invoice(pid, iid).status != "paid":
                    assert time.monotonic() < deadline, "the open attempt was not settled"
                    time.sleep(0.1)
                taken_up = cluster.ledgers[DOWN]
                invoice = taken_up.billing.invoice(pid, iid)
                assert invoice.open_attempt is None
                assert [p["status"] for p in invoice.payments] == ["failed", "succeeded"]
                # Asked the gateway about the charge it made: no second charge.
                assert [c.outcome for c in taken_up.billing.gateway.charges()] == [
                    "declined", "succeeded"]
                assert reconcile(taken_up) == MATCHED_ONE
        finally:
            cluster.close()


def test_with_the_manual_clock_and_partition_0_down_at_start_the_others_wait_for_its_time(
        database_url: str) -> None:
    settings = make_settings(database_url, partitions=PARTITIONS)  # PORTAL_CLOCK=manual
    cluster = build_cluster(settings)
    try:
        with _client(cluster) as client:
            partners = _partners(client)
            moved = client.post("/v1/admin/clock", headers=ADMIN,
                                json={"now": "2026-03-01T00:00:00Z"})
            assert moved.status_code == 200, moved.text
            kept = cluster.clock.now()
    finally:
        cluster.close()

    with Outage(settings, 0) as outage:
        outage.take_down()
        cluster = build_cluster(settings)  # starts without the clock's partition
        try:
            with _client(cluster) as client:
                pid, key = partners[DOWN]
                for answer in (client.get(f"/v1/partners/{pid}/lines", headers=key),
                               client.post(f"/v1/partners/{pid}/lines", headers=key,
                                           json={})):
                    assert answer.status_code == 503, answer.text
                    assert answer.json()["code"] == "partition_unavailable"
                    assert "clock" in answer.json()["detail"]
                health = client.get("/healthz")
                assert health.status_code == 200 and health.json()["status"] == "degraded"

                outage.bring_back()
                _until(lambda: client.get(f"/v1/partners/{pid}/lines",
                                          headers=key).status_code == 200)
                assert client.post(f"/v1/partners/{pid}/lines", headers=key,
                                   json={}).status_code == 201
                assert cluster.clock.now() == kept  # the time partition 0 kept, not another
                clock = client.get("/v1/admin/clock", headers=ADMIN)
                assert clock.status_code == 200 and clock.json()["now"].startswith("2026-03-01")
        finally:
            cluster.close()
