"""The public events feed: the public mapping of the partner's audit trail, live and as of
a past moment; filters by type; never a secret."""

from __future__ import annotations

import json
from typing import Any

from projections import public_events
from tests.api.conftest import Portal

SECRET_TOKEN = "tok_feed_secret_4242"


def _all(portal: Portal, path: str, role: str = "admin") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        sep = "&" if "?" in path else "?"
        query = f"{sep}limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = portal.ok("GET", path + query, role=role)
        items += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _mapped(trail: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The audit trail through the public vocabulary: (type, created) in order."""
    expected = []
    for item in trail:
        for public_type in public_events.BY_EVENT_TYPE.get(item["event_type"], ()):
            expected.append((public_type, item["occurred_at"]))
    return expected


def _activity(portal: Portal) -> None:
    sub = portal.ok("POST", "/sub-accounts", json={"name": "Sales"})
    line = portal.ok("POST", "/lines", json={"sub_account_id": sub["id"]})
    portal.ok("POST", "/lines", json={})
    portal.ok("POST", "/payment-methods", json={"brand": "visa", "last4": "4242",
                                                "exp_month": 12, "exp_year": 2030,
                                                "token": SECRET_TOKEN}, status=201)
    portal.ok("POST", f"/lines/{line['id']}/flag", role="support", json={"reason": "spam"})
    portal.ok("POST", "/credits", role="support", json={"amount": 500, "reason": "goodwill"})


def test_the_feed_is_the_public_mapping_of_the_audit_trail(portal: Portal) -> None:
    _activity(portal)
    feed = _all(portal, "/events")
    trail = _all(portal, "/audit-trail")
    assert [(e["type"], e["created"]) for e in feed] == _mapped(trail)
    types = [e["type"] for e in feed]
    assert {"line.provisioned", "line.flagged", "line.sending_paused",
            "credit.granted"} <= set(types)
    assert len({e["id"] for e in feed}) == len(feed)
    flagged = next(e for e in feed if e["type"] == "line.flagged")
    # The resource as the API answers it, then.
    assert flagged["data"]["status"] == "flagged"
    assert flagged["data"]["flag_reason"] == "spam"
    credit = next(e for e in feed if e["type"] == "credit.granted")
    assert credit["data"] == {"amount": 500, "reason": "goodwill", "currency": "USD",
                              "credit_balance": 500}
    assert SECRET_TOKEN not in json.dumps(feed)
    assert "secret" not in json.dumps(feed)

    # As of a past moment: the mapping of the trail as it stood then, with the same ids.
    middle = trail[len(trail) // 2]["position"]
    past_feed = _all(portal, f"/events?as_of=position:{middle}")
    past_trail = _all(portal, f"/audit-trail?as_of=position:{middle}")
    assert [(e["type"], e["created"]) for e in past_feed] == _mapped(past_trail)
    assert 0 < len(past_feed) < len(feed)
    assert past_feed == feed[:len(past_feed)]
    # The auditor and support read it too.
    assert _all(portal, "/events", role="auditor") == feed
    assert _all(portal, "/events", role="support") == feed


def test_type_filters_take_prefixes_and_refuse_unknown_types(portal: Portal) -> None:
    _activity(portal)
    lines = _all(portal, "/events?type=line.*")
    assert lines and all(e["type"].startswith("line.") for e in lines)
    flagged = _all(portal, "/events?type=line.flagged,credit.granted")
    assert [e["type"] for e in flagged] == ["line.flagged", "credit.granted"]
    for bad in ("nonsense", "line.nope", "LINE.*", "x.*", "line.*;drop"):
        response = portal.get(f"/events?type={bad}")
        assert response.status_code == 422, bad
        assert response.json()["code"] == "validation_error"
    assert portal.get("/events", role="billing").status_code == 403
    assert portal.get("/events?since=2026-01-02T00:00:00Z").json()["data"] == []


def test_invoices_in_the_feed_live_and_as_of_a_past_time(portal: Portal) -> None:
    from tests.api.test_billing_flow import DECLINING_CARD, GOOD_CARD, move_clock

    portal.ok("POST", "/lines", json={})
    portal.ok("POST", "/payment-methods", role="billing", json=DECLINING_CARD, status=201)
    move_clock(portal, "2026-02-01T06:00:00Z")
    good = portal.ok("POST", "/payment-methods", role="billing", json=GOOD_CARD, status=201)
    portal.ok("POST", f"/payment-methods/{good['id']}/make-default", role="billing")
    invoice = portal.ok("GET", "/invoices", role="billing")["data"][0]
    portal.ok("POST", f"/invoices/{invoice['id']}/pay", role="billing")

    feed = _all(portal, "/events?type=invoice.*")
    assert [e["type"] for e in feed] == ["invoice.issued", "invoice.payment_failed",
                                         "invoice.past_due", "invoice.paid"]
    assert [e["data"]["status"] for e in feed] == ["open", "past_due", "past_due", "paid"]
    assert all(e["data"]["id"] == invoice["id"] for e in feed)
    assert feed[-1]["data"]["amount_paid"] == invoice["amount_due"]
    everything = _all(portal, "/events")
    assert _mapped_with_past_due(_all(portal, "/audit-trail")) == [
        (e["type"], e["created"]) for e in everything]
    for token in ("tok_decline", "tok_visa"):
        assert token not in json.dumps(everything)

    # As of a moment between the failure and the payment: the invoice was past due.
    before = _all(portal, "/events?type=invoice.*&as_of=2026-02-01T03:00:00Z")
    assert [e["type"] for e in before] == ["invoice.issued", "invoice.payment_failed",
                                           "invoice.past_due"]
    assert before == feed[:3]


def _mapped_with_past_due(trail: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """`_mapped`, with the first failed payment of each invoice also past due."""
    expected, failed = [], set()
    for item in trail:
        for public_type in public_events.BY_EVENT_TYPE.get(item["event_type"], ()):
            expected.append((public_type, item["occurred_at"]))
            if public_type == "invoice.payment_failed" and item["entity_id"] not in failed:
                failed.add(item["entity_id"])
                expected.append((public_events.PAST_DUE_TYPE, item["occurred_at"]))
    return expected
