"""Timers over HTTP: the clock's answer names the timers that fired; the platform admin
lists the next due ones, paged."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import ADMIN, Portal, create_partner
from tests.api.helpers import provision

DECLINING = {"brand": "visa", "last4": "0002", "exp_month": 12, "exp_year": 2031,
             "token": "tok_decline"}


def timers(portal: Portal, **params: Any) -> dict[str, Any]:
    response = portal.client.get("/v1/admin/timers", headers=ADMIN, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_clock_answers_the_timers_that_fired_and_lists_the_next_ones(
    portal: Portal,
) -> None:
    provision(portal)
    portal.ok("POST", "/payment-methods", role="billing", json=DECLINING, status=201)
    pid = portal.partner_id

    assert {"kind": "cycle_close", "partner_id": pid, "due_at": "2026-02-01T00:00:00Z"} in \
        timers(portal)["data"]

    moved = portal.client.post("/v1/admin/clock", json={"now": "2026-02-02T06:00:00Z"},
                               headers=ADMIN)

    assert moved.status_code == 200, moved.text
    answer = moved.json()
    assert answer["now"] == "2026-02-02T06:00:00Z" and answer["mode"] == "manual"
    fired = [(f["kind"], f["partner_id"], f["at"]) for f in answer["fired"]]
    assert ("alerts", pid, "2026-01-02T00:00:00Z") in fired  # the card and the lines
    assert ("cycle_close", pid, "2026-02-01T00:00:00Z") in fired
    assert ("dunning", pid, "2026-02-02T00:00:00Z") in fired  # the 1-day retry
    assert fired.index(("cycle_close", pid, "2026-02-01T00:00:00Z")) < \
        fired.index(("alerts", pid, "2026-02-01T00:00:00Z"))
    assert {"job": "cycle_close", "at": "2026-02-01T00:00:00Z"} in answer["jobs_run"]
    listed = timers(portal)["data"]
    assert {"kind": "cycle_close", "partner_id": pid, "due_at": "2026-03-01T00:00:00Z"} in listed
    assert {"kind": "dunning", "partner_id": pid, "due_at": "2026-02-04T00:00:00Z"} in listed
    assert [t["due_at"] for t in listed] == sorted(t["due_at"] for t in listed)


def test_the_timer_list_is_paged(portal: Portal) -> None:
    for n in range(3):
        create_partner(portal.client, f"Partner {n}")

    first = timers(portal, limit=2)
    second = timers(portal, limit=2, cursor=first["next_cursor"])

    assert len(first["data"]) == 2 and first["next_cursor"]
    seen = first["data"] + second["data"]
    while second["next_cursor"]:
        second = timers(portal, limit=2, cursor=second["next_cursor"])
        seen += second["data"]
    # Four partners: each a cycle close and a period check of its alerts.
    assert len(seen) == len({tuple(t.values()) for t in seen}) == 8


def test_the_timer_list_is_the_platform_admin_s_and_refuses_a_bad_cursor(
    portal: Portal,
) -> None:
    refused = portal.client.get("/v1/admin/timers", headers=portal.as_("admin"))
    bad = portal.client.get("/v1/admin/timers", headers=ADMIN, params={"cursor": "nope"})

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
