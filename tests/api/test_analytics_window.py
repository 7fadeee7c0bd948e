"""Analytics reads sum at most 366 days of usage: a longer window is refused, and a
window without `since` starts 366 days before its end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ADMIN, Portal
from tests.api.helpers import assert_problem, provision

READS = ("messages", "conversations", "response-rate", "volume-limit-hits", "sub-accounts")


def _usage(portal: Portal, line_id: str, hour: str, sent: int) -> None:
    portal.ok("POST", "/usage", role="operations", json={"rows": [{
        "line_id": line_id, "hour": hour, "messages_sent": sent, "messages_received": 1,
        "new_conversations": 1, "responded_conversations": 1, "volume_limit_hits": 0}]})


def _sent(portal: Portal, **params: Any) -> int:
    response = portal.get("/analytics/messages", role="reporting", params=params)
    assert response.status_code == 200, response.text
    return int(response.json()["totals"]["messages_sent"])


@pytest.fixture
def two_years(portal: Portal) -> Portal:
    """Usage early in 2026 (7 sent) and early in 2027 (5 sent), the clock in 2027."""
    line = provision(portal)["id"]
    _usage(portal, line, "2026-01-01T00:00:00Z", 7)
    moved = portal.client.post("/v1/admin/clock", headers=ADMIN,
                               json={"now": "2027-01-20T12:00:00Z"})
    assert moved.status_code == 200, moved.text
    _usage(portal, line, "2027-01-20T10:00:00Z", 5)
    return portal


def test_a_window_longer_than_366_days_is_refused(two_years: Portal) -> None:
    portal = two_years
    too_long = {"since": "2026-01-01T00:00:00Z", "until": "2027-01-03T00:00:00Z"}
    since_alone = {"since": "2026-01-01T00:00:00Z"}

    for read in READS:
        for params in (too_long, since_alone):
            response = portal.get(f"/analytics/{read}", role="reporting", params=params)
            assert_problem(response, 422, "validation_error")
    assert _sent(portal, since="2026-01-01T00:00:00Z", until="2027-01-02T00:00:00Z") == 7


def test_without_since_the_window_is_the_366_days_before_its_end(two_years: Portal) -> None:
    portal = two_years

    assert _sent(portal) == 5
    assert _sent(portal, until="2026-06-01T00:00:00Z") == 7
    assert _sent(portal, until="2027-01-01T00:00:00Z") == 7
    assert _sent(portal, until="2027-01-02T00:00:00Z") == 7  # 366 days after it
    assert _sent(portal, until="2027-01-02T01:00:00Z") == 0
    assert _sent(portal, since="2026-06-01T00:00:00Z") == 5
    # As of a moment, the window ends there.
    assert _sent(portal, as_of="2026-12-31T00:00:00Z") == 7
    series = portal.get("/analytics/messages", role="reporting",
                        params={"until": "2026-06-01T00:00:00Z"}).json()["series"]
    assert series[0]["start"] == "2026-01-01T00:00:00Z"  # from the first day with usage
    assert series[-1]["start"] == "2026-05-31T00:00:00Z"


def test_extreme_ends_of_a_window_are_answered_not_crashed(portal: Portal) -> None:
    for params in ({"until": "0001-01-02T00:00:00Z"},
                   {"since": "9999-12-30T00:00:00Z", "until": "9999-12-31T00:00:00Z"}):
        response = portal.get("/analytics/messages", role="reporting", params=params)
        assert response.status_code in (200, 422), response.text
