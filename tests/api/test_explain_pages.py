"""The charge explanation covers the invoice's period only and pages its events; the
day-by-day arithmetic and the lines stay whole on every page."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import ADMIN, Portal
from tests.api.helpers import assert_problem, provision, sub_account


def _move_clock(portal: Portal, now: str) -> None:
    response = portal.client.post("/v1/admin/clock", json={"now": now}, headers=ADMIN)
    assert response.status_code == 200, response.text


def _two_months(portal: Portal) -> tuple[str, list[str]]:
    """Sales holds three lines from January 1st, one of them out and back in January; in
    February two more go out and back and a fourth arrives. March 1st bills February."""
    sales = sub_account(portal, "Sales")
    lines = [provision(portal, sub_account_id=sales)["id"] for _ in range(3)]
    for when, path, body in (("2026-01-10", "unassign", None),
                             ("2026-01-12", "assign", {"sub_account_id": sales})):
        _move_clock(portal, f"{when}T09:00:00Z")
        portal.ok("POST", f"/lines/{lines[0]}/{path}", json=body)
    _move_clock(portal, "2026-02-01T06:00:00Z")
    for day, line in ((3, lines[1]), (5, lines[2])):
        _move_clock(portal, f"2026-02-0{day}T09:00:00Z")
        portal.ok("POST", f"/lines/{line}/unassign")
        _move_clock(portal, f"2026-02-0{day + 1}T09:00:00Z")
        portal.ok("POST", f"/lines/{line}/assign", json={"sub_account_id": sales})
    _move_clock(portal, "2026-02-07T09:00:00Z")
    lines.append(provision(portal, sub_account_id=sales)["id"])
    _move_clock(portal, "2026-03-01T06:00:00Z")
    return sales, lines


def _explain_url(portal: Portal, sales: str) -> str:
    invoices = portal.ok("GET", "/invoices", role="billing")["data"]
    february = next(i for i in invoices if i["period"]["start"].startswith("2026-02-01"))
    index = next(i for i, item in enumerate(february["items"])
                 if item["sub_account_id"] == sales)
    return f"/invoices/{february['id']}/items/{index}/explain"


def _page(portal: Portal, url: str, **params: Any) -> dict[str, Any]:
    response = portal.get(url, role="billing", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_explanation_covers_the_invoice_period_only(portal: Portal) -> None:
    sales, lines = _two_months(portal)

    whole = _page(portal, _explain_url(portal, sales), limit=500)

    assert {line["line_id"] for line in whole["lines"]} == set(lines)
    assert len(whole["days"]) == 28
    times = [event["occurred_at"] for event in whole["events"]]
    assert times and all("2026-02-01" <= t < "2026-03-01" for t in times)
    assert [e["event_type"] for e in whole["events"]] == [
        "Line.Unassigned", "Line.Assigned", "Line.Unassigned", "Line.Assigned",
        "Line.Provisioned"]
    assert whole["events_total"] == 5
    assert whole["next_cursor"] is None
    # The pricing in effect when the period began: the partner's creation, in January.
    assert [e["event_type"] for e in whole["pricing_events"]] == ["Partner.Created"]


def test_the_events_page_and_every_page_keeps_the_arithmetic(portal: Portal) -> None:
    sales, _ = _two_months(portal)
    url = _explain_url(portal, sales)
    whole = _page(portal, url, limit=500)

    pages, cursor = [], None
    while True:
        page = _page(portal, url, limit=2, **({"cursor": cursor} if cursor else {}))
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [len(p["events"]) for p in pages] == [2, 2, 1]
    assert [e for p in pages for e in p["events"]] == whole["events"]
    for page in pages:
        assert page["days"] == whole["days"]
        assert page["lines"] == whole["lines"]
        assert page["item"] == whole["item"]
        assert page["events_total"] == whole["events_total"]
    first = _page(portal, url)
    assert first["events"] == whole["events"]  # the default page holds 50


def test_bad_paging_of_the_explanation_is_refused(portal: Portal) -> None:
    sales, _ = _two_months(portal)
    url = _explain_url(portal, sales)

    for params in ({"limit": 0}, {"limit": 501}, {"cursor": "not-a-cursor"},
                   {"cursor": "YWZ0ZXI6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"}):
        assert_problem(portal.get(url, role="billing", params=params), 422,
                       "validation_error")
    assert_problem(portal.get(url.replace("/items/", "/items/9"), role="billing"), 404,
                   "not_found")
