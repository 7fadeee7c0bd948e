"""Discount order, empty sub-account discounts, decimal percents, flat tiers, tax and
anchor days over HTTP; the issued invoice equals its preview and re-derives."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import ADMIN, Portal, make_portal
from tests.api.helpers import assert_problem, finished_verification, log_position
from tests.api.test_billing_flow import GOOD_CARD, move_clock

WIDE_10 = {"kind": "percent", "value": 10}


def _one_line_in(portal: Portal, name: str) -> str:
    sub = portal.ok("POST", "/sub-accounts", json={"name": name})["id"]
    portal.ok("POST", "/lines", json={"sub_account_id": sub})
    return str(sub)


def _discount(portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    return portal.ok("POST", "/discounts", role="support", json=body, status=201)


def test_discounts_apply_item_first_whatever_the_order_added(portal: Portal) -> None:
    other = make_portal(portal.client, "Globex Resale")
    answers = []
    for who, first_wide in ((portal, True), (other, False)):
        sales = _one_line_in(who, "Sales")
        fixed = {"kind": "fixed", "value": 10, "sub_account_id": sales}
        for body in ((WIDE_10, fixed) if first_wide else (fixed, WIDE_10)):
            _discount(who, body)
        answers.append(who.ok("GET", "/billing/upcoming-invoice", role="billing"))

    for upcoming in answers:
        assert (upcoming["subtotal"], upcoming["discount"], upcoming["total"]) == (
            3000, 309, 2691)
        # Listed in the order applied, each line stating the rule.
        assert [line["amount"] for line in upcoming["discounts"]] == [10, 299]
        assert all("sub-account discounts apply first" in line["note"]
                   for line in upcoming["discounts"])


def test_a_sub_account_discount_with_nothing_to_discount_uses_no_cycle(portal: Portal) -> None:
    _one_line_in(portal, "Sales")
    empty = portal.ok("POST", "/sub-accounts", json={"name": "Empty"})["id"]
    idle = _discount(portal, {"kind": "fixed", "value": 500, "sub_account_id": empty,
                              "cycles": 1})
    portal.ok("POST", "/payment-methods", role="billing", json=GOOD_CARD, status=201)

    move_clock(portal, "2026-02-01T06:00:00Z")

    invoice = portal.ok("GET", "/invoices", role="billing")["data"][0]
    assert (invoice["discount"], invoice["discounts"]) == (0, [])
    listed = portal.ok("GET", "/discounts", role="billing")["data"]
    assert [(d["id"], d["cycles_used"]) for d in listed] == [(idle["id"], 0)]


def test_percent_discounts_take_two_decimals_and_refuse_the_rest(portal: Portal) -> None:
    _one_line_in(portal, "Sales")
    position = log_position(portal.client)
    for bad in ("12.555", "0", "100.01", 12.5, "abc"):
        refused = portal.post("/discounts", role="support",
                              json={"kind": "percent", "value": bad})
        assert_problem(refused, 422, "validation_error")
    assert log_position(portal.client) == position

    _discount(portal, {"kind": "percent", "value": "12.5"})

    upcoming = portal.ok("GET", "/billing/upcoming-invoice", role="billing")
    assert (upcoming["discount"], upcoming["total"]) == (375, 2625)


def test_tax_from_the_next_period_on_the_discounted_items_then_credit(portal: Portal) -> None:
    sales = _one_line_in(portal, "Sales")
    portal.ok("POST", "/lines", json={"sub_account_id": sales})
    _one_line_in(portal, "Support")
    _discount(portal, WIDE_10)
    portal.ok("POST", "/payment-methods", role="billing", json=GOOD_CARD, status=201)
    refused = portal.client.put(portal.url("/tax"), headers=portal.as_("admin"),
                                json={"name": "VAT", "rate": "20", "reverse_charge": False})
    assert refused.status_code == 403
    assert_problem(portal.client.put(portal.url("/tax"), headers=ADMIN, json={
        "name": "VAT", "rate": 20, "reverse_charge": False}), 422, "validation_error")

    terms = portal.client.put(portal.url("/tax"), headers=portal.as_("support"), json={
        "name": "Sales tax", "rate": "8.875", "tax_id": "NY-1234", "reverse_charge": False})

    assert terms.status_code == 200, terms.text
    assert terms.json()["current"] is None
    assert terms.json()["scheduled"][0]["effective_from"] == "2026-02-01T00:00:00Z"
    assert portal.ok("GET", "/billing/upcoming-invoice", role="billing")["tax"] is None
    move_clock(portal, "2026-02-01T06:00:00Z")
    portal.ok("POST", "/credits", role="support", json={"amount": 1000, "reason": "goodwill"})
    upcoming = portal.ok("GET", "/billing/upcoming-invoice", role="billing")
    # Feb: Sales 6000, Support 3000; 10 % off -> 5400 and 2700 taxable; 8.875 % per item:
    # 479.25 -> 479 and 239.625 -> 240.
    assert (upcoming["subtotal"], upcoming["discount"]) == (9000, 900)
    assert {k: upcoming["tax"][k] for k in ("name", "rate", "amount", "reverse_charge")} == {
        "name": "Sales tax", "rate": "8.875", "amount": 719, "reverse_charge": False}
    assert (upcoming["total"], upcoming["credit_applied"], upcoming["amount_due"]) == (
        8819, 1000, 7819)

    move_clock(portal, "2026-03-01T06:00:00Z")

    invoice = portal.ok("GET", "/invoices", role="billing")["data"][0]
    for key in ("items", "subtotal", "discount", "tax", "credit_applied", "total",
                "amount_due"):
        assert invoice[key] == upcoming[key], key
    explained = portal.ok("GET", f"/invoices/{invoice['id']}/items/0/explain", role="billing")
    assert explained["tax"]["taxable_amount"] == invoice["tax"]["lines"][0]["taxable_amount"]
    report = finished_verification(portal.client, portal.as_("auditor"))
    assert report["status"] == "passed", report


def test_flat_tier_fees_and_anchor_31_over_http(portal: Portal) -> None:
    tiers = [{"up_to": 5, "unit_amount": 700, "flat_amount": 1000},
             {"up_to": None, "unit_amount": 650, "flat_amount": 900}]
    created = portal.client.post("/v1/partners", headers=ADMIN, json={
        "name": "Flat", "currency": "USD", "billing_anchor_day": 31, "pricing": {
            "structure": "tiered", "mode": "graduated", "tiers": tiers,
            "minimum_amount": 2000}})
    too_late = portal.client.post("/v1/partners", headers=ADMIN, json={
        "name": "Late", "currency": "USD", "billing_anchor_day": 32, "pricing": {
            "structure": "standard", "unit_amount": 1}})

    assert created.status_code == 201, created.text
    assert created.json()["pricing"]["tiers"] == tiers
    assert created.json()["pricing"]["minimum_amount"] == 2000
    assert_problem(too_late, 422, "validation_error")
    summary = portal.client.get(f"/v1/partners/{created.json()['id']}/billing/summary",
                                headers=ADMIN)
    assert summary.status_code == 200, summary.text
    # Created on Jan 1 with an anchor of the 31st: Dec 31 to Jan 31.
    assert summary.json()["period"] == {"start": "2025-12-31T00:00:00Z",
                                        "end": "2026-01-31T00:00:00Z"}
