"""Invoice numbers, credit notes and void over HTTP, on SQLite and PostgreSQL (issue 15
parts 1 and 2): the prefix given or derived, consecutive numbers, credit notes on unpaid
and paid invoices, a dispute credited in full ending dunning, void restoring the credit,
and `ledger verify` re-deriving the notes."""

from __future__ import annotations

from typing import Any

from service.ops.verification import verify
from tests.api.conftest import ADMIN, STANDARD, Portal, make_portal
from tests.api.test_billing_flow import DECLINING_CARD, GOOD_CARD, move_clock

PARTNER = {"name": "Acme Resale", "currency": "USD", "billing_anchor_day": 1,
           "pricing": STANDARD}


def _invoice(portal: Portal, index: int = 0) -> dict[str, Any]:
    return portal.ok("GET", "/invoices", role="billing")["data"][index]


def _credit(portal: Portal, invoice: dict[str, Any], status: int = 201,
            **body: Any) -> Any:
    response = portal.post(f"/invoices/{invoice['id']}/credit-notes", role="support",
                           json={"reason": "billing error", **body})
    assert response.status_code == status, response.text
    return response.json()


def test_the_prefix_is_given_or_derived_unique_and_numbers_run_without_gaps(
        portal: Portal) -> None:
    client = portal.client
    given = client.post("/v1/partners", headers=ADMIN, json={**PARTNER,
                                                              "invoice_prefix": "ZED7"})
    taken = client.post("/v1/partners", headers=ADMIN, json={**PARTNER,
                                                              "invoice_prefix": "ZED7"})
    malformed = client.post("/v1/partners", headers=ADMIN, json={**PARTNER,
                                                                  "invoice_prefix": "zed-7"})
    derived = portal.ok("GET", "")["invoice_prefix"]
    second = make_portal(client)  # the same name: the next derived candidate
    portal.ok("POST", "/lines", json={})

    move_clock(portal, "2026-03-01T06:00:00Z")

    assert given.status_code == 201 and given.json()["invoice_prefix"] == "ZED7"
    assert taken.status_code == 409 and taken.json()["code"] == "duplicate_invoice_prefix"
    assert malformed.status_code == 422
    assert (derived, second.ok("GET", "")["invoice_prefix"]) == ("ACMERE", "ACMERE2")
    numbers = [inv["number"] for inv in portal.ok("GET", "/invoices", role="billing")["data"]]
    assert numbers == ["ACMERE-000002", "ACMERE-000001"]  # newest first
    assert [inv["number"] for inv in second.ok("GET", "/invoices")["data"]] == [
        "ACMERE2-000002", "ACMERE2-000001"]


def test_an_unpaid_invoice_disputed_and_credited_in_full_is_due_0_and_never_retried(
        portal: Portal) -> None:
    portal.ok("POST", "/lines", json={})
    portal.ok("POST", "/payment-methods", role="billing", json=DECLINING_CARD, status=201)
    move_clock(portal, "2026-02-01T06:00:00Z")
    invoice = _invoice(portal)
    assert (invoice["status"], invoice["amount_due"]) == ("past_due", 3000)
    dispute = portal.ok("POST", f"/invoices/{invoice['id']}/disputes", role="support",
                        json={"item_index": 0, "reason": "never used"}, status=201)

    credited = portal.ok(
        "POST", f"/invoices/{invoice['id']}/disputes/{dispute['dispute_id']}/resolve",
        role="support", json={"resolution": "credit", "amount": 3000, "reason": "agreed"})
    move_clock(portal, "2026-02-10T00:00:00Z")  # past every retry (1, 3 and 7 days)

    after = portal.ok("GET", f"/invoices/{invoice['id']}", role="billing")
    assert credited["amount_due"] == after["amount_due"] == 0
    assert after["status"] == "paid"
    assert [p["status"] for p in after["payments"]] == ["failed"]  # no retry at all
    assert [n["number"] for n in after["credit_notes"]] == ["ACMERE-CN-000001"]
    explained = portal.ok("GET", f"/invoices/{invoice['id']}/items/0/explain", role="billing")
    assert [(n["number"], n["item_amount"]) for n in explained["credit_notes"]] == [
        ("ACMERE-CN-000001", 3000)]
    assert portal.ok("GET", "/billing/summary", role="billing")["outstanding"] == 0
    timers = portal.client.get("/v1/admin/timers", headers=ADMIN).json()
    assert not [t for t in timers.get("data", timers) if t.get("kind") == "dunning"]


def test_credit_notes_on_a_paid_invoice_credit_the_balance_or_refund_within_limits(
        portal: Portal) -> None:
    portal.ok("POST", "/lines", json={})
    portal.ok("POST", "/lines", json={})
    portal.ok("POST", "/payment-methods", role="billing", json=GOOD_CARD, status=201)
    move_clock(portal, "2026-02-01T06:00:00Z")
    invoice = _invoice(portal)
    assert (invoice["status"], invoice["total"], invoice["credit_notes"]) == ("paid", 6000, [])

    first = _credit(portal, invoice, amount=1000)
    second = _credit(portal, invoice, items=[{"index": 0, "amount": 2000}], refund=True)
    too_much = _credit(portal, invoice, status=409, amount=3001)
    by_billing = portal.post(f"/invoices/{invoice['id']}/credit-notes", role="billing",
                             json={"reason": "x"})
    rest = _credit(portal, invoice)  # the whole remainder

    assert first["applied"] == {"amount_due_reduced": 0, "credit_balance_added": 1000,
                                "refunded": 0}
    assert (first["number"], first["invoice_id"], first["items"]) == (
        "ACMERE-CN-000001", invoice["id"], [])
    assert second["applied"]["refunded"] == 2000
    assert too_much["code"] == "credit_note_exceeds_invoice"
    assert by_billing.status_code == 403
    assert (rest["number"], rest["amount"], rest["applied"]["credit_balance_added"]) == (
        "ACMERE-CN-000003", 3000, 3000)
    after = portal.ok("GET", f"/invoices/{invoice['id']}", role="billing")
    assert after["amount_refunded"] == 2000
    assert [n["id"] for n in after["credit_notes"]] == [first["id"], second["id"], rest["id"]]
    assert portal.ok("GET", "/my-status")["credit_balance"] == 4000
    listed = portal.ok("GET", "/credit-notes?limit=2", role="reporting")
    page2 = portal.ok("GET", f"/credit-notes?limit=2&cursor={listed['next_cursor']}",
                      role="reporting")
    assert [n["number"] for n in listed["data"] + page2["data"]] == [
        "ACMERE-CN-000003", "ACMERE-CN-000002", "ACMERE-CN-000001"]
    assert page2["next_cursor"] is None
    on_invoice = portal.ok("GET", f"/invoices/{invoice['id']}/credit-notes", role="billing")
    assert [n["number"] for n in on_invoice["data"]] == [
        "ACMERE-CN-000001", "ACMERE-CN-000002", "ACMERE-CN-000003"]
    audit = portal.ok("GET", "/audit-trail?event_type=Invoice.CreditNoteIssued",
                      role="auditor")["data"]
    assert [a["actor"]["role"] for a in audit] == ["support"] * 3
    ledger = portal.client.app.state.cluster.home
    report = verify(ledger)
    assert report.ok, [str(m) for m in report.mismatches]
    assert (report.credit_notes_checked, report.invoices_checked) == (3, 1)


def test_void_restores_the_credit_applied_and_only_an_unpaid_invoice_is_voided(
        portal: Portal) -> None:
    portal.ok("POST", "/lines", json={})
    portal.ok("POST", "/credits", role="support", json={"amount": 1000, "reason": "goodwill"})
    move_clock(portal, "2026-02-01T06:00:00Z")  # no card: the invoice stays unpaid
    invoice = _invoice(portal)
    assert (invoice["credit_applied"], invoice["amount_due"]) == (1000, 2000)
    assert portal.ok("GET", "/my-status")["credit_balance"] == 0

    voided = portal.ok("POST", f"/invoices/{invoice['id']}/void", role="support",
                       json={"reason": "issued in error"})
    again = portal.post(f"/invoices/{invoice['id']}/void", role="support",
                        json={"reason": "twice"})
    note = portal.post(f"/invoices/{invoice['id']}/credit-notes", role="support",
                       json={"reason": "after void"})

    assert voided["status"] == "void"
    assert portal.ok("GET", "/my-status")["credit_balance"] == 1000
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert note.status_code == 409
    assert portal.post(f"/invoices/{invoice['id']}/void", role="billing",
                       json={"reason": "x"}).status_code == 403
