"""Pricing is the platform's: only support and the platform admin set a partner's price; a
partner admin asks instead, the request is recorded as an event and raised as an alert
for support, and the daily alerts job leaves it open."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import ADMIN, Portal
from tests.api.helpers import assert_problem, log_position, walk

TIERED = {"structure": "tiered", "mode": "graduated",
          "tiers": [{"up_to": 10, "unit_amount": 3000}, {"up_to": None, "unit_amount": 2500}]}


def ask(portal: Portal, pricing: Any, reason: Any, role: str = "admin") -> Any:
    return portal.post("/pricing-change-requests", role=role,
                       json={"pricing": pricing, "reason": reason})


def test_only_support_and_the_platform_admin_set_a_partner_s_price(portal: Portal) -> None:
    position = log_position(portal.client)

    by_partner = portal.client.put(portal.url("/pricing"), headers=portal.as_("admin"),
                                   json={"pricing": TIERED})
    unchanged = log_position(portal.client)
    by_support = portal.client.put(portal.url("/pricing"), headers=portal.as_("support"),
                                   json={"pricing": TIERED})
    by_platform = portal.client.put(portal.url("/pricing"), headers=ADMIN,
                                    json={"structure": "standard", "unit_amount": 2700})
    trail = portal.ok("GET", "/audit-trail?event_type=Partner.PricingChanged")["data"]

    assert_problem(by_partner, 403, "forbidden")
    assert unchanged == position
    assert by_support.status_code == 200, by_support.text
    assert by_support.json()["pending_pricing"] == {"pricing": TIERED,
                                                    "effective_from": "2026-02-01T00:00:00Z"}
    assert by_platform.status_code == 200, by_platform.text
    assert [(e["actor"]["role"], e["actor"]["scope"]) for e in trail] == [
        ("support", "platform"), ("admin", "platform")]
    assert trail[1]["actor"]["key_id"] == "platform-admin"


def test_a_partner_admin_asks_for_a_price_and_support_is_alerted(portal: Portal) -> None:
    response = ask(portal, TIERED, "  we will pass 10 lines next month ")
    request = response.json()
    portal.client.post("/v1/admin/clock", headers=ADMIN, json={"now": "2026-01-03T06:00:00Z"})
    lists = {role: portal.get("/pricing-change-requests", role=role)
             for role in ("admin", "support", "platform", "operations", "billing", "auditor")}
    for_support = portal.ok("GET", "/alerts", role="support")["data"]
    recorded = portal.ok("GET", f"/audit-trail?entity_id={request['id']}")["data"]

    assert response.status_code == 201, response.text
    assert request == {"id": request["id"], "pricing": TIERED,
                       "reason": "we will pass 10 lines next month", "status": "open",
                       "created_at": "2026-01-01T00:00:00Z"}
    assert {role: r.status_code for role, r in lists.items()} == {
        "admin": 200, "support": 200, "platform": 200, "operations": 403, "billing": 403,
        "auditor": 403}
    assert lists["admin"].json() == lists["support"].json() == lists["platform"].json() == {
        "data": [request], "next_cursor": None}
    assert [(a["kind"], a["subject_id"], a["status"]) for a in for_support] == [
        ("pricing_change_requested", request["id"], "open")]  # still open after the job ran
    assert for_support[0]["data"] == {"pricing": TIERED,
                                      "reason": "we will pass 10 lines next month"}
    assert "we will pass 10 lines next month" in for_support[0]["message"]
    assert [(e["event_type"], e["actor"]["role"], e["actor"]["scope"], e["data"]["pricing"])
            for e in recorded] == [("PricingChangeRequest.Requested", "admin", "partner",
                                    TIERED)]
    assert portal.ok("GET", "/my-status")["pricing"] == {"structure": "standard",
                                                         "unit_amount": 3000}


def test_a_request_the_rules_refuse_records_nothing(portal: Portal) -> None:
    position = log_position(portal.client)

    answers = {
        "unknown structure": ask(portal, {"structure": "flat", "unit_amount": 1}, "cheaper"),
        "negative amount": ask(portal, {"structure": "standard", "unit_amount": -5}, "cheaper"),
        "blank reason": ask(portal, TIERED, "   "),
        "no reason": portal.post("/pricing-change-requests", json={"pricing": TIERED}),
        "reason not text": ask(portal, TIERED, 12),
        "unknown field": portal.post("/pricing-change-requests",
                                     json={"pricing": TIERED, "reason": "x", "force": True}),
        "too long": ask(portal, TIERED, "x" * 1001),
    }

    for name, response in answers.items():
        assert response.status_code == 422, (name, response.text)
        assert_problem(response, 422, "validation_error")
    assert log_position(portal.client) == position
    assert portal.ok("GET", "/pricing-change-requests")["data"] == []


def test_the_requests_page_in_the_order_made(portal: Portal) -> None:
    made = [ask(portal, {"structure": "standard", "unit_amount": 3000 - n}, f"ask {n}").json()
            for n in range(5)]

    items, pages = walk(portal.client, portal.url("/pricing-change-requests"),
                        portal.as_("support"), limit=2)

    assert items == made
    assert pages == 3
