"""Alerts over HTTP: moving the manual clock past each threshold raises the time-driven
alerts once; an ended condition resolves its alert; the view rebuilds and reads as of."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, Portal, make_portal
from tests.api.helpers import log_position, provision, sub_account

EXPIRING_DECLINING_CARD = {"brand": "visa", "last4": "0002", "exp_month": 1, "exp_year": 2026,
                           "token": "tok_decline"}


def move_clock(client: TestClient, now: str) -> list[dict[str, str]]:
    response = client.post("/v1/admin/clock", json={"now": now}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()["jobs_run"]


def alerts(portal: Portal, role: str = "reporting", **params: Any) -> list[dict[str, Any]]:
    response = portal.get("/alerts", role=role, params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def kinds(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["kind"], a["subject_id"]) for a in items]


def test_moving_the_clock_raises_each_time_driven_alert_once_and_resolves_ended_ones(
    portal: Portal,
) -> None:
    sales = sub_account(portal, "Acme – Sales")
    flagged = provision(portal, sub_account_id=sales)["id"]
    idle = provision(portal)["id"]
    card = portal.ok("POST", "/payment-methods", role="billing", json=EXPIRING_DECLINING_CARD,
                     status=201)["id"]
    portal.ok("POST", f"/lines/{flagged}/flag", role="support", json={"reason": "spam"})

    ran = move_clock(portal.client, "2026-01-08T12:00:00Z")

    assert ("alerts", "2026-01-02T00:00:00Z") in {(j["job"], j["at"]) for j in ran}
    raised = alerts(portal)
    assert kinds(raised) == [("card_expiring", card)]
    assert raised[0]["raised_at"] == "2026-01-02T00:00:00Z"
    assert raised[0]["data"]["next_billing_date"] == "2026-02-01T00:00:00Z"

    move_clock(portal.client, "2026-01-09T00:00:00Z")  # flagged for 8 days at midnight

    assert kinds(alerts(portal)) == [("card_expiring", card), ("line_flagged", flagged)]
    assert "flagged for 8 days" in alerts(portal)[1]["message"]

    move_clock(portal.client, "2026-02-01T06:00:00Z")  # idle 31 days; the invoice fails

    invoice = portal.ok("GET", "/invoices", role="billing")["data"][0]
    assert invoice["status"] == "past_due"
    now_open = alerts(portal, role="billing")
    assert kinds(now_open) == [("line_flagged", flagged), ("card_expiring", card),
                               ("line_idle", idle), ("payment_failed", invoice["id"])]
    # A new billing period: January's card alert ended, and February's is a new one.
    assert now_open[1]["data"]["next_billing_date"] == "2026-03-01T00:00:00Z"
    assert "card_declined" in now_open[3]["message"] or "card_expired" in now_open[3][
        "message"]
    resolved = alerts(portal, status="resolved")
    assert [a["key"] for a in resolved] == [raised[0]["key"]]

    portal.ok("POST", f"/lines/{flagged}/unflag", role="support")
    portal.ok("POST", f"/lines/{idle}/assign", json={"sub_account_id": sales})
    move_clock(portal.client, "2026-02-02T00:00:00Z")

    assert {a["kind"] for a in alerts(portal)} == {"card_expiring", "payment_failed"}
    assert {a["subject_id"] for a in alerts(portal, status="resolved")} >= {flagged, idle}

    ledger = portal.client.app.state.cluster.home
    position = log_position(portal.client)
    ledger.alerts.check(ledger.clock.now())
    assert log_position(portal.client) == position
    every = alerts(portal, status="all")
    as_of = alerts(portal, status="all", as_of="2026-01-09T00:00:00Z")
    ledger.processor.rebuild()
    assert alerts(portal, status="all") == every
    assert kinds(as_of) == [("card_expiring", card), ("line_flagged", flagged)]
    assert all(a["status"] == "open" for a in as_of)


def test_partner_roles_and_the_platform_read_alerts_and_no_one_else(portal: Portal) -> None:
    for role in ("admin", "operations", "billing", "reporting", "support", "auditor",
                 "platform"):
        assert portal.get("/alerts", role=role).status_code == 200, role
    other = make_portal(portal.client, "Other Resale")

    response = other.client.get(portal.url("/alerts"), headers=other.as_("admin"))

    assert response.status_code == 404
