"""A month of lifecycle over HTTP, then the clock passes the anchor: one invoice, SPEC's
figures to the cent, a declined card, dunning, a retry that pays."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import ADMIN, Portal

GOOD_CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030,
             "token": "tok_visa"}
DECLINING_CARD = {**GOOD_CARD, "last4": "0002", "token": "tok_decline"}


def move_clock(portal: Portal, now: str) -> dict[str, Any]:
    response = portal.client.post("/v1/admin/clock", json={"now": now}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def spec_month(portal: Portal) -> dict[str, str]:
    """SPEC's worked example: L1 in Sales all month, L2 in Sales deleted on day 21, L3 in the
    pool for days 1–10 and in Recruiting from day 11."""
    sales = portal.ok("POST", "/sub-accounts", json={"name": "Acme – Sales"})["id"]
    recruiting = portal.ok("POST", "/sub-accounts", json={"name": "Acme – Recruiting"})["id"]
    portal.ok("POST", "/lines", json={"sub_account_id": sales})
    l2 = portal.ok("POST", "/lines", json={"sub_account_id": sales})["id"]
    l3 = portal.ok("POST", "/lines", json={})["id"]
    move_clock(portal, "2026-01-11T09:00:00Z")
    portal.ok("POST", f"/lines/{l3}/assign", json={"sub_account_id": recruiting})
    move_clock(portal, "2026-01-21T15:00:00Z")
    portal.ok("POST", f"/lines/{l2}/delete-request")
    portal.ok("POST", f"/lines/{l2}/delete-request/approve", role="support")
    return {"sales": sales, "recruiting": recruiting}


def test_the_cycle_close_issues_one_invoice_with_spec_figures_and_applies_the_credit(
    portal: Portal,
) -> None:
    subs = spec_month(portal)
    portal.ok("POST", "/credits", role="support", json={"amount": 1000, "reason": "goodwill"})
    portal.ok("POST", "/payment-methods", role="billing", json=GOOD_CARD, status=201)
    move_clock(portal, "2026-01-31T12:00:00Z")
    upcoming = portal.ok("GET", "/billing/upcoming-invoice", role="billing")

    move_clock(portal, "2026-02-01T06:00:00Z")

    invoices = portal.ok("GET", "/invoices", role="billing")["data"]
    assert len(invoices) == 1
    invoice = invoices[0]
    amounts = {item["sub_account_id"]: (item["line_days"], item["amount"])
               for item in invoice["items"]}
    assert amounts == {subs["sales"]: (52, 5032), None: (10, 968),
                       subs["recruiting"]: (21, 2032)}
    assert (invoice["subtotal"], invoice["credit_applied"], invoice["amount_due"]) == (
        8032, 1000, 7032)
    assert invoice["status"] == "paid"
    assert invoice["issued_at"] == "2026-02-01T00:00:00Z"
    for key in ("items", "subtotal", "discount", "credit_applied", "total", "amount_due"):
        assert upcoming[key] == invoice[key], key
    assert portal.ok("GET", "/my-status")["credit_balance"] == 0


def test_a_declined_card_makes_the_invoice_past_due_and_a_good_default_card_pays_it(
    portal: Portal,
) -> None:
    spec_month(portal)
    portal.ok("POST", "/payment-methods", role="billing", json=DECLINING_CARD, status=201)

    move_clock(portal, "2026-02-01T06:00:00Z")

    invoice = portal.ok("GET", "/invoices", role="billing")["data"][0]
    assert invoice["status"] == "past_due"
    summary = portal.ok("GET", "/billing/summary", role="billing")
    assert summary["outstanding"] == invoice["amount_due"] == 8032
    assert summary["card_failures"] == [{"invoice_id": invoice["id"],
                                         "at": "2026-02-01T00:00:00Z",
                                         "reason": "card_declined"}]
    good = portal.ok("POST", "/payment-methods", role="billing", json=GOOD_CARD, status=201)
    portal.ok("POST", f"/payment-methods/{good['id']}/make-default", role="billing")

    paid = portal.ok("POST", f"/invoices/{invoice['id']}/pay", role="billing")

    assert paid["status"] == "paid"
    assert paid["amount_paid"] == 8032
    assert [p["status"] for p in paid["payments"]] == ["failed", "succeeded"]
    assert portal.ok("GET", "/billing/summary", role="billing")["outstanding"] == 0
    again = portal.post(f"/invoices/{invoice['id']}/pay", role="billing")
    assert again.status_code == 409
    assert again.json()["code"] == "invoice_already_paid"


def test_dunning_retries_one_three_and_seven_days_after_the_failure(portal: Portal) -> None:
    portal.ok("POST", "/lines", json={})
    portal.ok("POST", "/payment-methods", role="billing", json=DECLINING_CARD, status=201)

    move_clock(portal, "2026-02-10T00:00:00Z")

    invoice = portal.ok("GET", "/invoices", role="billing")["data"][0]
    attempts = [p["at"] for p in invoice["payments"]]
    assert attempts == ["2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z",
                        "2026-02-04T00:00:00Z", "2026-02-08T00:00:00Z"]
    assert invoice["status"] == "past_due"
    summary = portal.ok("GET", "/billing/summary", role="billing")
    assert [f["at"] for f in summary["card_failures"]] == attempts


def test_running_the_cycle_close_twice_issues_one_invoice(portal: Portal) -> None:
    portal.ok("POST", "/lines", json={})
    move_clock(portal, "2026-02-01T06:00:00Z")
    ledger = portal.client.app.state.cluster.home

    ledger.billing.close_due_cycles(ledger.clock.now())
    ledger.billing.close_due_cycles(ledger.clock.now())

    assert len(portal.ok("GET", "/invoices", role="billing")["data"]) == 1


def test_the_charge_explanation_names_the_events_and_sums_the_days(portal: Portal) -> None:
    subs = spec_month(portal)
    move_clock(portal, "2026-02-01T06:00:00Z")
    invoice = portal.ok("GET", "/invoices", role="billing")["data"][0]
    index = next(i for i, item in enumerate(invoice["items"])
                 if item["sub_account_id"] == subs["sales"])

    explanation = portal.ok("GET", f"/invoices/{invoice['id']}/items/{index}/explain",
                            role="support")

    assert sum(day["line_days"] for day in explanation["days"]) == 52
    assert {line["line_days"] for line in explanation["lines"]} == {31, 21}
    types = [event["event_type"] for event in explanation["events"]]
    assert types.count("Line.Provisioned") == 2
    assert "Line.DeleteApproved" in types
    assert explanation["item"]["amount"] == 5032
    assert portal.get(f"/invoices/{invoice['id']}/items/9/explain", role="support"
                      ).status_code == 404


def test_refunds_never_exceed_what_was_paid(portal: Portal) -> None:
    portal.ok("POST", "/lines", json={})
    portal.ok("POST", "/payment-methods", role="billing", json=GOOD_CARD, status=201)
    move_clock(portal, "2026-02-01T06:00:00Z")
    invoice = portal.ok("GET", "/invoices", role="billing")["data"][0]

    first = portal.ok("POST", f"/invoices/{invoice['id']}/refunds", role="support",
                      json={"amount": 1000, "reason": "partial"})
    too_much = portal.post(f"/invoices/{invoice['id']}/refunds", role="support",
                           json={"amount": invoice["amount_paid"], "reason": "all"})

    assert first["amount_refunded"] == 1000
    assert too_much.status_code == 409
    assert too_much.json()["code"] == "refund_exceeds_paid"
    assert portal.post(f"/invoices/{invoice['id']}/refunds", role="support",
                       json={"amount": 0, "reason": "x"}).status_code == 422


def test_a_dispute_resolved_with_a_credit_issues_a_credit_note(portal: Portal) -> None:
    # The invoice is unpaid (no card): the credit note reduces what is due (issue 15);
    # before credit notes this credit went to the balance for the next invoice.
    portal.ok("POST", "/lines", json={})
    move_clock(portal, "2026-02-01T06:00:00Z")
    invoice = portal.ok("GET", "/invoices", role="billing")["data"][0]
    opened = portal.ok("POST", f"/invoices/{invoice['id']}/disputes", role="support",
                       json={"item_index": 0, "reason": "line was idle"}, status=201)

    resolved = portal.ok(
        "POST", f"/invoices/{invoice['id']}/disputes/{opened['dispute_id']}/resolve",
        role="support", json={"resolution": "credit", "amount": 500, "reason": "goodwill"})

    assert resolved["disputes"][0]["resolution"] == "credit"
    assert resolved["amount_due"] == invoice["amount_due"] - 500
    [note] = resolved["credit_notes"]
    assert (note["amount"], note["items"]) == (500, [{"index": 0, "amount": 500}])
    assert note["applied"] == {"amount_due_reduced": 500, "credit_balance_added": 0,
                               "refunded": 0}
    assert portal.ok("GET", "/my-status")["credit_balance"] == 0
    audit = portal.ok("GET", "/audit-trail?event_type=Invoice.DisputeResolved",
                      role="support")["data"]
    assert audit[0]["actor"]["role"] == "support"
    assert audit[0]["actor"]["scope"] == "platform"


def test_bad_billing_input_is_refused_with_problem_json_and_records_nothing(
    portal: Portal,
) -> None:
    ledger = portal.client.app.state.cluster.home
    before = ledger.app.recorder.max_notification_id()
    bad = [
        ("/credits", "support", {"amount": -5, "reason": "goodwill"}),
        ("/credits", "support", {"amount": 100, "reason": "because"}),
        ("/payment-methods", "billing", {**GOOD_CARD, "last4": "42"}),
        ("/payment-methods", "billing", {**GOOD_CARD, "exp_month": 13}),
        ("/discounts", "support", {"kind": "percent", "value": 150}),
    ]

    answers = [portal.post(path, role=role, json=body) for path, role, body in bad]

    for response in answers:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "validation_error"
    assert ledger.app.recorder.max_notification_id() == before


def test_tiers_out_of_order_and_unknown_currencies_are_refused(portal: Portal) -> None:
    bad_tiers = {"structure": "tiered", "mode": "graduated", "tiers": [
        {"up_to": 10, "unit_amount": 3000}, {"up_to": 5, "unit_amount": 2000},
        {"up_to": None, "unit_amount": 1000}]}

    tiers = portal.client.put(portal.url("/pricing"), json=bad_tiers, headers=ADMIN)
    currency = portal.client.post("/v1/partners", headers=ADMIN, json={
        "name": "X", "currency": "XYZ", "billing_anchor_day": 1,
        "pricing": {"structure": "standard", "unit_amount": 1}})

    assert tiers.status_code == 422
    assert tiers.json()["code"] == "validation_error"
    assert currency.status_code == 422


def test_a_pricing_change_takes_effect_at_the_next_period(portal: Portal) -> None:
    portal.ok("POST", "/lines", json={})
    changed = portal.client.put(portal.url("/pricing"), headers=ADMIN,
                                json={"structure": "standard", "unit_amount": 6000})
    assert changed.status_code == 200, changed.text
    assert changed.json()["pending_pricing"]["effective_from"] == "2026-02-01T00:00:00Z"

    move_clock(portal, "2026-03-01T06:00:00Z")

    january, february = sorted(portal.ok("GET", "/invoices", role="billing")["data"],
                                key=lambda i: i["period"]["start"])
    assert january["subtotal"] == 3000
    assert february["subtotal"] == 6000
