"""Issue 12, case by case: each input that answered 500, broke a view or was stored
although it makes no sense is refused with 422 (404 for a read before the partner
existed), records nothing, and leaves the service serving. Each runs on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, STANDARD, Portal, make_portal, partner_portal
from tests.api.helpers import assert_problem, log_position, provision, sub_account

START_HOUR = "2026-01-01T00:00:00Z"
CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030, "token": "tok_visa"}
FAR = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")


@pytest.fixture
def portal(request: pytest.FixtureRequest, shared_client: TestClient,
           module_database_url: str, tmp_path: Path) -> Iterator[Portal]:
    """Each test a partner of its own on one service per backend; a test that moves or
    reads the clock, or changes the app, is marked for a service of its own."""
    yield from partner_portal(request, shared_client, module_database_url, tmp_path)


def _move_clock(portal: Portal, now: str) -> Any:
    return portal.client.post("/v1/admin/clock", headers=ADMIN, json={"now": now})


def _row(line: str, **figures: Any) -> dict[str, Any]:
    return {"line_id": line, "hour": START_HOUR, "messages_sent": 1, "messages_received": 1,
            "new_conversations": 1, "responded_conversations": 1, "volume_limit_hits": 0,
            **figures}


def _ingest(portal: Portal, *rows: dict[str, Any]) -> Any:
    return portal.post("/usage", role="operations", json={"rows": list(rows)})


def _refused(response: Any, field: str) -> None:
    """422 problem+json whose `errors` name `field`."""
    assert_problem(response, 422, "validation_error")
    errors = response.json()["errors"]
    assert any(field in e["loc"] for e in errors), errors


def _active_line(portal: Portal) -> str:
    return str(provision(portal, sub_account_id=sub_account(portal, "Acme – Sales"))["id"])


def test_a_nul_in_a_sub_account_name_is_refused_and_the_views_keep_serving(
    portal: Portal,
) -> None:
    position = log_position(portal.client)

    refused = portal.post("/sub-accounts", json={"name": "Acme\x00Sales"})

    _refused(refused, "name")
    assert log_position(portal.client) == position
    assert portal.ok("POST", "/sub-accounts", json={"name": "Acme – Sales"}, status=201)
    assert [s["name"] for s in portal.ok("GET", "/sub-accounts")["data"]] == ["Acme – Sales"]


def test_a_nul_in_a_flag_reason_is_refused_and_the_line_can_still_be_flagged(
    portal: Portal,
) -> None:
    line = _active_line(portal)
    position = log_position(portal.client)

    refused = portal.post(f"/lines/{line}/flag", role="support", json={"reason": "spam\x00"})

    _refused(refused, "reason")
    assert log_position(portal.client) == position
    flagged = portal.ok("POST", f"/lines/{line}/flag", role="support", json={"reason": "spam"})
    assert (flagged["status"], flagged["flag_reason"]) == ("flagged", "spam")


@pytest.mark.parametrize("figure", [2**63, 2**63 - 1, 2**64, 10**19, 10**9 + 1])
def test_a_usage_figure_past_the_hourly_bound_is_refused_and_analytics_still_answer(
    portal: Portal, figure: int,
) -> None:
    line = provision(portal)["id"]
    position = log_position(portal.client)

    refused = _ingest(portal, _row(line, messages_sent=figure))

    _refused(refused, "messages_sent")
    assert log_position(portal.client) == position
    assert portal.ok("GET", "/analytics/messages")["totals"]["messages_sent"] == 0


@pytest.mark.own_service
def test_two_usage_hours_at_the_bound_sum_without_overflow(portal: Portal) -> None:
    line = provision(portal)["id"]
    _move_clock(portal, "2026-01-01T01:00:00Z")
    top = 10**9

    recorded = _ingest(portal, _row(line, messages_sent=top, new_conversations=top),
                       {**_row(line, messages_sent=top), "hour": "2026-01-01T01:00:00Z"})
    over = _ingest(portal, _row(line, messages_sent=2**62))

    assert recorded.status_code == 200, recorded.text
    _refused(over, "messages_sent")
    assert portal.ok("GET", "/analytics/messages")["totals"]["messages_sent"] == 2 * top
    assert portal.ok("GET", "/analytics/sub-accounts")["overall"]["messages_sent"] == 2 * top


@pytest.mark.own_service
@pytest.mark.parametrize("amount", [10**19, 10**12 + 1, 2**63])
def test_a_unit_amount_past_the_money_bound_is_refused_and_cycle_close_still_runs(
    portal: Portal, amount: int,
) -> None:
    provision(portal)
    position = log_position(portal.client)

    standard = portal.client.put(portal.url("/pricing"), headers=ADMIN,
                                 json={"structure": "standard", "unit_amount": amount})
    tiered = portal.client.put(portal.url("/pricing"), headers=ADMIN, json={
        "pricing": {"structure": "tiered", "mode": "volume",
                    "tiers": [{"up_to": 10, "unit_amount": 1}, {"up_to": None,
                                                                "unit_amount": amount}]}})
    created = portal.client.post("/v1/partners", headers=ADMIN, json={
        "name": "Big Spender", "currency": "USD", "billing_anchor_day": 1,
        "pricing": {"structure": "standard", "unit_amount": amount}})

    for response in (standard, tiered, created):
        _refused(response, "unit_amount")
    assert log_position(portal.client) == position
    closed = _move_clock(portal, "2026-02-01T06:00:00Z")
    assert closed.status_code == 200, closed.text
    invoices = portal.ok("GET", "/invoices")["data"]
    assert [i["subtotal"] for i in invoices] == [STANDARD["unit_amount"]]


def test_as_of_a_position_past_a_bigint_is_refused(portal: Portal) -> None:
    for path in ("/lines/overview", "/billing/summary", "/alerts", "/analytics/messages"):
        past = portal.get(path, params={"as_of": "position:9223372036854775808"})
        last = portal.get(path, params={"as_of": "position:9223372036854775807"})

        _refused(past, "as_of")
        assert last.status_code == 200, (path, last.text)


@pytest.mark.parametrize("value", FAR)
def test_times_near_year_1_or_9999_with_an_offset_are_refused(portal: Portal,
                                                               value: str) -> None:
    requests = [("/lines/overview", "as_of"), ("/billing/summary", "as_of"),
                ("/analytics/messages", "since"), ("/analytics/messages", "until"),
                ("/audit-trail", "since"), ("/audit-trail", "until"),
                ("/alerts", "as_of")]

    for path, name in requests:
        _refused(portal.get(path, params={name: value}), name)


@pytest.mark.parametrize("path", ["/billing/summary", "/my-status",
                                  "/billing/upcoming-invoice"])
def test_a_billing_read_as_of_before_the_partner_existed_is_not_found(portal: Portal,
                                                                      path: str) -> None:
    before = portal.get(path, params={"as_of": "2025-12-31T23:59:59Z"})
    since = portal.get(path, params={"as_of": START_HOUR})

    assert_problem(before, 404, "not_found")
    assert since.status_code == 200, since.text


@pytest.mark.parametrize("hour", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00",
                                  "1999-12-31T23:00:00Z"])
def test_a_usage_hour_outside_the_years_is_refused(portal: Portal, hour: str) -> None:
    line = provision(portal)["id"]
    position = log_position(portal.client)

    refused = _ingest(portal, {**_row(line), "hour": hour})

    _refused(refused, "hour")
    assert log_position(portal.client) == position


@pytest.mark.own_service
def test_the_manual_clock_cannot_move_to_year_9999(portal: Portal) -> None:
    moved = _move_clock(portal, "9999-12-31T23:00:00Z")
    offset = _move_clock(portal, "9999-12-31T23:30:00-01:00")

    _refused(moved, "now")
    _refused(offset, "now")
    assert portal.client.get("/v1/admin/clock", headers=ADMIN).json()["now"] == START_HOUR


@pytest.mark.parametrize("name", ["Acme\x07", "\x1b[31mAcme", "Acme\u202eselaS",
                                  "\u200b\u200b", "\u2066Acme\u2069", "Acme\u200f", " \t ",
                                  "x" * 201])
def test_control_bidi_and_invisible_names_are_refused(portal: Portal, name: str) -> None:
    position = log_position(portal.client)

    answers = [portal.post("/sub-accounts", json={"name": name}),
               portal.post("/api-keys", json={"role": "billing", "name": name}),
               portal.client.post("/v1/partners", headers=ADMIN, json={
                   "name": name, "currency": "USD", "billing_anchor_day": 1,
                   "pricing": STANDARD})]

    for response in answers:
        _refused(response, "name")
    assert log_position(portal.client) == position


def test_a_lone_surrogate_escaped_in_json_is_refused(portal: Portal) -> None:
    """JSON may spell half a surrogate pair (`"\\ud800"`); no UTF-8 store can hold it."""
    position = log_position(portal.client)

    refused = portal.client.post(portal.url("/sub-accounts"), headers={
        **portal.as_("admin"), "content-type": "application/json"},
        content=b'{"name": "Acme \\ud800"}')

    _refused(refused, "name")
    assert log_position(portal.client) == position


def test_a_name_is_stored_nfc_normalised_with_its_spaces_collapsed(portal: Portal) -> None:
    created = portal.ok("POST", "/sub-accounts", json={"name": "  Cafe\u0301   – Sales "},
                        status=201)

    assert created["name"] == "Caf\u00e9 – Sales"


@pytest.mark.parametrize("amount", [True, "5", 5.0, None, -1, 0, 10**12 + 1])
def test_a_credit_amount_must_be_a_bounded_json_integer(portal: Portal, amount: Any) -> None:
    position = log_position(portal.client)

    refused = portal.post("/credits", role="support",
                          json={"amount": amount, "reason": "goodwill"})

    _refused(refused, "amount")
    assert log_position(portal.client) == position


@pytest.mark.parametrize("value", [True, "5", 5.0])
def test_look_alike_integers_are_refused_everywhere_an_integer_is_asked(
    portal: Portal, value: Any,
) -> None:
    line = provision(portal)["id"]
    position = log_position(portal.client)

    anchor = portal.client.post("/v1/partners", headers=ADMIN, json={
        "name": "Other", "currency": "USD", "billing_anchor_day": value, "pricing": STANDARD})
    index = portal.post(f"/invoices/{line}/disputes", role="support",
                        json={"item_index": value, "reason": "wrong"})
    figure = _ingest(portal, _row(line, volume_limit_hits=value))
    month = portal.post("/payment-methods", json={**CARD, "exp_month": value})

    _refused(anchor, "billing_anchor_day")
    _refused(index, "item_index")
    _refused(figure, "volume_limit_hits")
    _refused(month, "exp_month")
    assert log_position(portal.client) == position


def test_more_responded_than_new_conversations_is_refused(portal: Portal) -> None:
    line = provision(portal)["id"]
    position = log_position(portal.client)

    refused = _ingest(portal, _row(line, new_conversations=2, responded_conversations=3))

    _refused(refused, "responded_conversations")
    assert log_position(portal.client) == position


def test_a_card_that_has_expired_is_refused_and_never_becomes_the_default(
    portal: Portal,
) -> None:
    position = log_position(portal.client)

    expired = portal.post("/payment-methods", json={**CARD, "exp_month": 1, "exp_year": 2020})
    last_month = portal.post("/payment-methods",
                             json={**CARD, "exp_month": 12, "exp_year": 2025})
    this_month = portal.post("/payment-methods", json={**CARD, "exp_month": 1, "exp_year": 2026})

    _refused(expired, "exp_year")
    _refused(last_month, "exp_year")
    assert this_month.status_code == 201, this_month.text
    assert this_month.json()["is_default"] is True
    assert log_position(portal.client) == position + 1


def test_another_partner_is_served_after_every_refusal(portal: Portal) -> None:
    other = make_portal(portal.client, "Other Resale")
    portal.post("/sub-accounts", json={"name": "\x00"})
    _ingest(portal, _row(provision(portal)["id"], messages_sent=2**63))
    portal.get("/lines/overview", params={"as_of": "position:9223372036854775808"})

    for path in ("/sub-accounts", "/lines/overview", "/analytics/messages", "/billing/summary"):
        assert other.get(path).status_code == 200, path
