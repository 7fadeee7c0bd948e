"""Webhook endpoints over HTTP, and their delivery by the runner to a real receiver on
loopback: signed (verified with `standardwebhooks`), in order, retried until the
receiver is back, given up after days, redelivered on request."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.bootstrap import Ledger
from service.runtime.clock import ManualClock
from service.webhooks.deliverer import Deliverer
from tests.api.conftest import Portal, make_portal
from tests.conftest import start_ledger
from tests.webhook_receiver import Receiver


@pytest.fixture
def hooks_ledger(database_url: str) -> Iterator[Ledger]:
    service = start_ledger(database_url, webhook_allow_private=True,
                           webhook_retry_base_seconds=1.0, webhook_retry_cap_seconds=600.0)
    yield service
    service.close()


@pytest.fixture
def hooks(hooks_ledger: Ledger) -> Iterator[Portal]:
    with TestClient(create_app(hooks_ledger, run_scheduler=False),
                    raise_server_exceptions=False) as client:
        yield make_portal(client)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def deliverer(hooks_ledger: Ledger) -> Iterator[Deliverer]:
    runner = Deliverer(hooks_ledger)
    yield runner
    runner.close()


def _register(portal: Portal, url: str, types: list[str] | None = None) -> dict[str, Any]:
    return portal.ok("POST", "/webhook-endpoints", status=201, json={
        "url": url, "event_types": types or ["line.*"], "description": "ops"})


def _advance(ledger: Ledger, by: timedelta) -> None:
    clock = ledger.clock
    assert isinstance(clock, ManualClock)
    clock.set(clock.now() + by)


def test_endpoints_are_managed_and_the_secret_is_shown_once(hooks: Portal) -> None:
    created = _register(hooks, "https://hooks.example.com/ledger")
    secret = created.pop("secret")
    assert secret.startswith("whsec_")
    assert created["status"] == "enabled" and created["event_types"] == ["line.*"]
    wid = created["id"]
    read = hooks.ok("GET", f"/webhook-endpoints/{wid}")
    assert "secret" not in read or read["secret"] is None
    listed = hooks.ok("GET", "/webhook-endpoints")["data"]
    assert [e["id"] for e in listed] == [wid]
    changed = hooks.ok("PATCH", f"/webhook-endpoints/{wid}", json={
        "event_types": ["invoice.*", "line.flagged"], "status": "disabled",
        "description": None})
    assert changed["event_types"] == ["invoice.*", "line.flagged"]
    assert changed["status"] == "disabled" and changed["description"] is None
    rotated = hooks.ok("POST", f"/webhook-endpoints/{wid}/rotate-secret")["secret"]
    assert rotated.startswith("whsec_") and rotated != secret
    # No secret in any answer, the audit trail or the events feed.
    everything = json.dumps([hooks.ok("GET", "/audit-trail"), hooks.ok("GET", "/events"),
                             hooks.ok("GET", "/webhook-endpoints")])
    assert secret not in everything and rotated not in everything
    assert hooks.client.delete(hooks.url(f"/webhook-endpoints/{wid}"),
                               headers=hooks.as_("admin")).status_code == 204
    assert hooks.get(f"/webhook-endpoints/{wid}").status_code == 404
    assert hooks.ok("GET", "/webhook-endpoints")["data"] == []


REFUSED_URLS = (
    "http://hooks.example.com/x", "ftp://127.0.0.1/x", "https://user:pw@example.com/x",
    "https://169.254.169.254/latest", "https://[::]/x", "javascript:alert(1)", "not a url",
    "https://example.com/x#frag", "https://", "https://example.com:0/x",
    "https://example.com/\x00", "https://" + "a" * 2001 + ".com/",
)


def test_urls_that_may_not_be_endpoints_are_refused(hooks: Portal) -> None:
    wid = _register(hooks, "https://hooks.example.com/x")["id"]
    for url in REFUSED_URLS:
        response = hooks.post("/webhook-endpoints", json={"url": url, "event_types": ["*"]})
        assert response.status_code == 422, (url, response.text)
        assert response.json()["code"] == "validation_error"
        response = hooks.client.patch(hooks.url(f"/webhook-endpoints/{wid}"),
                                      headers=hooks.as_("admin"), json={"url": url})
        assert response.status_code == 422, (url, response.text)
    assert [e["url"] for e in hooks.ok("GET", "/webhook-endpoints")["data"]] == [
        "https://hooks.example.com/x"]


def test_private_addresses_need_the_setting(ledger: Ledger) -> None:
    with TestClient(create_app(ledger, run_scheduler=False)) as client:
        portal = make_portal(client)
        for url in ("http://127.0.0.1:9/x", "https://10.0.0.1/x", "http://localhost/x"):
            response = portal.post("/webhook-endpoints", json={"url": url, "event_types": ["*"]})
            assert response.status_code == 422, url


def test_bad_types_roles_and_other_partners(hooks: Portal) -> None:
    for types in ([], ["nope"], ["line.nope"], ["x.*"], ["*"] * 51):
        response = hooks.post("/webhook-endpoints", json={
            "url": "https://hooks.example.com/x", "event_types": types})
        assert response.status_code == 422, types
    wid = _register(hooks, "https://hooks.example.com/x")["id"]
    assert hooks.post("/webhook-endpoints", role="operations", json={
        "url": "https://hooks.example.com/x", "event_types": ["*"]}).status_code == 403
    assert hooks.get("/webhook-endpoints", role="support").status_code == 403
    other = make_portal(hooks.client, "Other Resale")
    assert other.get(f"/webhook-endpoints/{wid}").status_code == 404
    assert hooks.client.get(other.url(f"/webhook-endpoints/{wid}"),
                            headers=hooks.as_("admin")).status_code == 404
    response = hooks.client.patch(hooks.url(f"/webhook-endpoints/{wid}"),
                                  headers=hooks.as_("admin"), json={"status": "deleted"})
    assert response.status_code == 422


def test_deliveries_are_signed_in_order_and_survive_the_receiver_being_down(
        hooks: Portal, hooks_ledger: Ledger, receiver: Receiver, deliverer: Deliverer) -> None:
    created = _register(hooks, receiver.url)
    receiver.secrets = [created["secret"]]
    wid = created["id"]
    hooks.ok("POST", "/sub-accounts", json={"name": "Hidden"})  # not a line event
    for _ in range(3):
        hooks.ok("POST", "/lines", json={})
    deliverer.drain()
    got = receiver.wait_for(3)
    assert all(r.verified for r in got)
    assert [r.body["type"] for r in got] == ["line.provisioned"] * 3

    receiver.stop()  # down for a while: every attempt fails, nothing is lost
    for _ in range(4):
        hooks.ok("POST", "/lines", json={})
    deliverer.drain()
    deliveries = hooks.ok("GET", f"/webhook-endpoints/{wid}/deliveries")["data"]
    pending = [d for d in deliveries if d["status"] == "pending"]
    assert len(pending) == 4
    assert pending[0]["attempts"][0]["status_code"] is None
    assert pending[0]["attempts"][0]["error"]
    assert pending[0]["next_attempt_at"] is not None
    assert all(d["attempts"] == [] for d in pending[1:])  # in order: the head waits first
    receiver.start()
    _advance(hooks_ledger, timedelta(hours=1))
    deliverer.drain()
    got = receiver.wait_for(7)
    assert all(r.verified for r in got)
    feed = [e["id"] for e in hooks.ok("GET", "/events?type=line.*")["data"]]
    assert receiver.ids() == feed  # every event, once, in order
    statuses = [d["status"] for d in
                hooks.ok("GET", f"/webhook-endpoints/{wid}/deliveries")["data"]]
    assert statuses == ["delivered"] * 7

    # Redeliver one on request: the same webhook-id again.
    first = hooks.ok("GET", f"/webhook-endpoints/{wid}/deliveries")["data"][0]
    again = hooks.ok("POST", f"/webhook-endpoints/{wid}/deliveries/{first['id']}/retry")
    assert again["status"] == "pending"
    deliverer.drain()
    assert receiver.wait_for(8)[-1].webhook_id == first["event_id"]
    assert hooks.post(f"/webhook-endpoints/{wid}/deliveries/dlv_nope/retry").status_code == 404


def test_rotation_signs_with_both_secrets_for_a_day(
        hooks: Portal, hooks_ledger: Ledger, receiver: Receiver, deliverer: Deliverer) -> None:
    created = _register(hooks, receiver.url)
    old = created["secret"]
    new = hooks.ok("POST", f"/webhook-endpoints/{created['id']}/rotate-secret")["secret"]
    receiver.secrets = [old]  # a receiver that has not switched yet
    hooks.ok("POST", "/lines", json={})
    deliverer.drain()
    assert receiver.wait_for(1)[0].verified
    _advance(hooks_ledger, timedelta(hours=25))
    hooks.ok("POST", "/lines", json={})
    deliverer.drain()
    receiver.secrets = [new]
    hooks.ok("POST", "/lines", json={})
    deliverer.drain()
    got = receiver.wait_for(3)
    assert [r.verified for r in got] == [True, False, True]  # the old one expired


def test_a_dead_endpoint_is_disabled_after_three_days_with_an_alert(
        hooks: Portal, hooks_ledger: Ledger, receiver: Receiver, deliverer: Deliverer) -> None:
    created = _register(hooks, receiver.url)
    receiver.stop()
    hooks.ok("POST", "/lines", json={})
    deliverer.drain()
    for _ in range(8):
        _advance(hooks_ledger, timedelta(hours=10))
        deliverer.drain()
    endpoint = hooks.ok("GET", f"/webhook-endpoints/{created['id']}")
    assert endpoint["status"] == "disabled"
    assert "failed" in endpoint["disabled_reason"]
    delivery = hooks.ok("GET", f"/webhook-endpoints/{created['id']}/deliveries")["data"][0]
    assert delivery["status"] == "failed" and len(delivery["attempts"]) >= 3
    alerts = hooks.ok("GET", "/alerts")["data"]
    assert any(a["kind"] == "job_failed" and created["id"] in a["subject_id"] for a in alerts)
    # Enabled again by the partner, the queue resumes where it stopped.
    receiver.start()
    receiver.secrets = [created["secret"]]
    hooks.ok("PATCH", f"/webhook-endpoints/{created['id']}", json={"status": "enabled"})
    hooks.ok("POST", "/lines", json={})
    deliverer.drain()
    assert receiver.wait_for(1)[0].verified
