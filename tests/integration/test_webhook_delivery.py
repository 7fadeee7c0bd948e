"""Webhook delivery across a crash and beside a dead endpoint: the delivering process is
SIGKILLed mid-run and every event still reaches the receiver (at least once, in order);
an endpoint that never answers does not hold up another partner's deliveries."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from uuid import UUID

from aggregates.base import SYSTEM
from service.commands.lines import ProvisionLine
from service.commands.partners import CreatePartner
from service.commands.webhooks import RegisterWebhookEndpoint
from service.runtime.bootstrap import Ledger
from service.webhooks.deliverer import Deliverer
from tests.conftest import start_ledger
from tests.integration.processes import service_env, start, stop
from tests.webhook_receiver import Receiver

PLAN = {"structure": "standard", "unit_amount": 100}


def _partner_with_endpoint(ledger: Ledger, url: str, name: str) -> tuple[UUID, str]:
    partner = ledger.execute(CreatePartner(name=name, currency="USD", billing_anchor_day=1,
                                           pricing=PLAN), actor=SYSTEM)
    _, secret = ledger.execute(RegisterWebhookEndpoint(
        partner_id=partner.id, url=url, event_types=("line.*",), description=None),
        actor=SYSTEM)
    return partner.id, secret


def _lines(ledger: Ledger, partner_id: UUID, count: int) -> None:
    for _ in range(count):
        ledger.execute(ProvisionLine(partner_id=partner_id), actor=SYSTEM)


def _feed_ids(ledger: Ledger, partner_id: UUID) -> list[str]:
    with ledger.read_model.reading() as sql:
        return [r["id"] for r in sql.all("SELECT id FROM v_public_events WHERE partner_id = ? "
                                         "ORDER BY key", str(partner_id))]


def _first_occurrences(ids: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for webhook_id in ids:
        seen.setdefault(webhook_id)
    return list(seen)


def _wait(receiver: Receiver, count: int, process: subprocess.Popen[bytes],
          log: Path) -> None:
    """Until `count` deliveries arrived; the process's log if it died first."""
    deadline = time.monotonic() + 60
    while len(receiver.ids()) < count:
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{len(receiver.ids())} of {count} arrived"
        time.sleep(0.02)


def test_at_least_once_across_a_killed_delivering_process(database_url: str,
                                                         tmp_path: Path) -> None:
    receiver = Receiver().start()
    ledger = start_ledger(database_url, clock="system")
    try:
        partner, secret = _partner_with_endpoint(ledger, receiver.url, "Crash")
        receiver.secrets = [secret]
        _lines(ledger, partner, 24)
        expected = _feed_ids(ledger, partner)
        assert len(expected) == 24
        env = service_env(database_url, PORTAL_WEBHOOK_ALLOW_PRIVATE="true",
                          PORTAL_WEBHOOK_LEASE_SECONDS="1", PORTAL_WEBHOOK_POLL_SECONDS="0.05")
        receiver.delay = 0.02  # slow enough that the kill lands mid-run
        first = start(["project", "--poll", "0.05"], env, tmp_path / "project.log")
        _wait(receiver, 6, first, tmp_path / "project.log")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        got_before = len(receiver.ids())
        assert got_before < len(expected), "the kill came after every delivery"
        second = start(["project", "--poll", "0.05"], env, tmp_path / "project.log")
        try:
            deadline = time.monotonic() + 60
            while not set(expected) <= set(receiver.ids()) and time.monotonic() < deadline:
                assert second.poll() is None, (tmp_path / "project.log").read_text()[-3000:]
                time.sleep(0.05)
        finally:
            stop(second)
        received = receiver.ids()
        assert set(expected) <= set(received), "an event was lost across the crash"
        assert _first_occurrences(received) == expected  # in event order
        assert all(r.verified for r in receiver.received)
    finally:
        ledger.close()
        receiver.stop()


def test_a_dead_endpoint_does_not_hold_up_another_partner(database_url: str) -> None:
    hanging = Receiver(hang=True).start()  # accepts, never answers
    healthy = Receiver().start()
    ledger = start_ledger(database_url, webhook_allow_private=True, webhook_concurrency=4,
                          webhook_poll_seconds=0.05)
    deliverer = Deliverer(ledger)
    try:
        slow_partner, _ = _partner_with_endpoint(ledger, hanging.url, "Slow")
        refused = Receiver().start()
        refused_url = refused.url
        refused.stop()  # connection refused
        ledger.execute(RegisterWebhookEndpoint(partner_id=slow_partner, url=refused_url,
                                               event_types=("*",), description=None),
                       actor=SYSTEM)
        fast_partner, secret = _partner_with_endpoint(ledger, healthy.url, "Fast")
        healthy.secrets = [secret]
        _lines(ledger, slow_partner, 5)
        _lines(ledger, fast_partner, 20)
        deliverer.start()
        got = healthy.wait_for(20)
        # Every one of B's events arrived, in order, while A's first delivery is still
        # waiting for an answer: nothing of A's was recorded, delivered or failed.
        assert [r.webhook_id for r in got] == _feed_ids(ledger, fast_partner)
        assert all(r.verified for r in got)
        assert hanging.received == []
        with ledger.read_model.reading() as sql:
            rows = sql.all("SELECT status, attempts FROM s_webhook_deliveries "
                           "WHERE partner_id = ?", str(slow_partner))
        assert rows and all(r["status"] == "pending" for r in rows)
    finally:
        hanging.stop()  # releases the hanging request, so the runner stops at once
        deliverer.close()
        healthy.stop()
        ledger.close()
