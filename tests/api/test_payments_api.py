"""Payments over HTTP: `payment_in_progress` while an attempt is open, the paid invoice as
it stands once that attempt is settled, and `GET /v1/admin/reconciliation`."""

from __future__ import annotations

from typing import Any

from service.runtime.bootstrap import Ledger
from tests.api.conftest import Portal
from tests.api.test_billing_flow import DECLINING_CARD, GOOD_CARD, move_clock
from tests.integration.payments import AnswerLost

SECRET_CARD = {**GOOD_CARD, "token": "tok_visa_secret_9d1f"}
EMPTY = {"gateway_charges": 0, "recorded_payments": 0, "unmatched_charges": [],
         "unmatched_payments": []}


def _ledger(portal: Portal) -> Ledger:
    return portal.client.app.state.cluster.home


def _past_due(portal: Portal) -> dict[str, Any]:
    portal.ok("POST", "/lines", json={})
    portal.ok("POST", "/payment-methods", role="billing", json=DECLINING_CARD, status=201)
    move_clock(portal, "2026-02-01T06:00:00Z")
    good = portal.ok("POST", "/payment-methods", role="billing", json=SECRET_CARD, status=201)
    portal.ok("POST", f"/payment-methods/{good['id']}/make-default", role="billing")
    invoice: dict[str, Any] = portal.ok("GET", "/invoices", role="billing")["data"][0]
    assert invoice["status"] == "past_due"
    return invoice


def _reconciliation(portal: Portal, role: str = "platform", **query: str) -> Any:
    return portal.client.get("/v1/admin/reconciliation", params=query,
                             headers=portal.as_(role))


def test_a_pay_while_an_attempt_is_open_is_refused_then_answers_the_invoice_it_paid(
    portal: Portal,
) -> None:
    invoice = _past_due(portal)
    billing = _ledger(portal).billing
    gateway = billing.gateway
    billing.gateway = AnswerLost(gateway)

    lost = portal.post(f"/invoices/{invoice['id']}/pay", role="billing")
    billing.gateway = NeverAnswering(gateway)
    in_progress = portal.post(f"/invoices/{invoice['id']}/pay", role="billing")
    billing.gateway = gateway
    settled = portal.post(f"/invoices/{invoice['id']}/pay", role="billing")
    again = portal.post(f"/invoices/{invoice['id']}/pay", role="billing")

    for refused in (lost, in_progress):
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        body = refused.json()
        assert body["code"] == "payment_in_progress"
        assert set(body) >= {"type", "title", "status", "detail", "code"}
    assert settled.status_code == 200, settled.text
    assert settled.json()["status"] == "paid"
    assert [p["status"] for p in settled.json()["payments"]] == ["failed", "succeeded"]
    assert again.json()["code"] == "invoice_already_paid"
    assert [c.outcome for c in gateway.charges()] == ["declined", "succeeded"]


class NeverAnswering(AnswerLost):
    """A gateway that knows nothing yet of any attempt (the first payer is still on it)."""

    def lookup(self, attempt_id: Any) -> None:
        return None


def test_reconciliation_matches_the_gateways_charges_with_the_recorded_payments(
    portal: Portal,
) -> None:
    invoice = _past_due(portal)
    portal.ok("POST", f"/invoices/{invoice['id']}/pay", role="billing")

    everything = _reconciliation(portal)
    by_auditor = _reconciliation(portal, "auditor", since="2026-02-01T00:00:00Z",
                                 until="2026-03-01T00:00:00Z")
    earlier = _reconciliation(portal, "auditor", until="2026-01-15T00:00:00Z")

    assert everything.status_code == 200, everything.text
    assert everything.json() == {**EMPTY, "gateway_charges": 1, "recorded_payments": 1}
    assert by_auditor.json() == everything.json()
    assert earlier.json() == EMPTY


def test_reconciliation_names_a_charge_whose_answer_is_not_recorded_yet(
    portal: Portal,
) -> None:
    invoice = _past_due(portal)
    billing = _ledger(portal).billing
    gateway = billing.gateway
    billing.gateway = AnswerLost(gateway)
    portal.post(f"/invoices/{invoice['id']}/pay", role="billing")
    billing.gateway = gateway

    report = _reconciliation(portal).json()

    assert report["gateway_charges"] == 1
    assert report["recorded_payments"] == 0
    [charge] = report["unmatched_charges"]
    assert charge["invoice_id"] == invoice["id"]
    assert charge["recorded"] == "open"
    assert charge["amount"] == invoice["amount_due"]
    assert report["unmatched_payments"] == []


def test_reconciliation_is_for_the_platform_admin_and_the_auditor_only(
    portal: Portal,
) -> None:
    for role in ("admin", "billing", "support"):
        response = _reconciliation(portal, role)
        assert response.status_code == 403, role
        assert response.json()["code"] == "forbidden"
    assert portal.client.get("/v1/admin/reconciliation").status_code == 401


def test_reconciliation_refuses_a_bad_window(portal: Portal) -> None:
    backwards = _reconciliation(portal, since="2026-03-01T00:00:00Z",
                                until="2026-02-01T00:00:00Z")
    garbled = _reconciliation(portal, since="last tuesday")

    for refused in (backwards, garbled):
        assert refused.status_code == 422
        assert refused.json()["code"] == "validation_error"


def test_no_card_token_appears_in_pay_reconciliation_or_audit_answers(portal: Portal) -> None:
    invoice = _past_due(portal)

    answers = [
        portal.post(f"/invoices/{invoice['id']}/pay", role="billing").text,
        _reconciliation(portal).text,
        portal.get("/audit-trail?limit=500", role="admin").text,
        portal.get(f"/invoices/{invoice['id']}", role="billing").text,
    ]

    assert all(SECRET_CARD["token"] not in text for text in answers)
    assert all(DECLINING_CARD["token"] not in text for text in answers)
