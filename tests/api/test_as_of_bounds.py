"""As-of reads cost a bounded amount: the many `as_of` values that name one state of a
partner share one replica, and the replicas kept are capped per partner and in all.
Replica builds are counted (`ledger.replicas.builds`), never timed."""

from __future__ import annotations

from typing import Any

from projections.replica_cache import ReplicaCache
from service.runtime.bootstrap import Ledger
from tests.api.conftest import ADMIN, Portal, make_portal
from tests.api.helpers import assert_problem, log_position, provision, sub_account

OVERVIEW = "/lines/overview"


def _ledger(portal: Portal) -> Ledger:
    return portal.client.app.state.cluster.home


def _move_clock(portal: Portal, now: str) -> None:
    response = portal.client.post("/v1/admin/clock", json={"now": now}, headers=ADMIN)
    assert response.status_code == 200, response.text


def _overview(portal: Portal, as_of: str | None = None) -> Any:
    return portal.ok("GET", OVERVIEW + (f"?as_of={as_of}" if as_of else ""))


def _history(portal: Portal) -> list[int]:
    """Three states of the partner, a day apart; the log position after each."""
    sales = sub_account(portal, "Sales")
    positions = []
    for day, body in ((2, {}), (3, {"sub_account_id": sales}), (4, {})):
        _move_clock(portal, f"2026-01-0{day}T09:00:00Z")
        provision(portal, **body)
        positions.append(log_position(portal.client))
    return positions


def test_times_microseconds_apart_share_one_replica(portal: Portal) -> None:
    _history(portal)
    ledger = _ledger(portal)
    ledger.replicas.clear()
    before = ledger.replicas.builds

    answers = [_overview(portal, f"2026-01-03T12:00:00.{i:06d}Z") for i in range(1, 21)]

    assert ledger.replicas.builds - before == 1
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["counts"]["active"] == 1
    assert answers[0]["counts"]["available"] == 1


def test_times_between_two_events_of_the_partner_share_one_replica(portal: Portal) -> None:
    _history(portal)
    # Another partner's events between the two moments change nothing for this one.
    other = make_portal(portal.client, "Other Resale")
    _move_clock(portal, "2026-01-05T09:00:00Z")
    provision(other)
    _move_clock(portal, "2026-01-06T09:00:00Z")
    ledger = _ledger(portal)
    ledger.replicas.clear()
    before = ledger.replicas.builds

    early = _overview(portal, "2026-01-04T12:00:00Z")
    late = _overview(portal, "2026-01-05T12:00:00Z")

    assert ledger.replicas.builds - before == 1
    assert early == late == _overview(portal)


def test_positions_past_the_end_share_one_replica_and_equal_the_live_views(
        portal: Portal) -> None:
    _history(portal)
    ledger = _ledger(portal)
    ledger.replicas.clear()
    before = ledger.replicas.builds
    end = log_position(portal.client)
    values = [f"position:{end + i}" for i in (0, 1, 7, 10**12, 10**12 + 1)]
    values.append(f"position:{2**63 - 1}")  # the last position a BIGINT holds

    answers = [_overview(portal, value) for value in values]
    beyond = [portal.get("/lines/overview", params={"as_of": f"position:{n}"})
              for n in (2**63, 10**30)]

    assert ledger.replicas.builds - before == 1
    assert all(answer == _overview(portal) for answer in answers)
    assert [r.status_code for r in beyond] == [422, 422]  # no log position is that large
    trail = portal.ok("GET", f"/audit-trail?limit=500&as_of=position:{2**63 - 1}")
    assert trail == portal.ok("GET", "/audit-trail?limit=500")


def test_a_new_event_of_the_partner_moves_the_end(portal: Portal) -> None:
    _history(portal)
    far = f"position:{10**12}"
    first = _overview(portal, far)
    _move_clock(portal, "2026-01-05T09:00:00Z")
    provision(portal)

    later = _overview(portal, far)

    assert later["counts"]["available"] == first["counts"]["available"] + 1
    assert later == _overview(portal)


def test_the_audit_trail_as_of_builds_no_replica(portal: Portal) -> None:
    positions = _history(portal)
    ledger = _ledger(portal)
    before = ledger.replicas.builds

    trail = portal.ok("GET", f"/audit-trail?limit=500&as_of=position:{positions[0]}")

    assert ledger.replicas.builds == before
    assert trail["data"]
    assert all(item["position"] <= positions[0] for item in trail["data"])


def test_a_partners_replicas_are_capped_least_recently_used_first_out(portal: Portal) -> None:
    positions = _history(portal)
    ledger = _ledger(portal)
    ledger.replicas = ReplicaCache(per_partner=2, total=10)
    states = [f"position:{p}" for p in positions]
    answers = [_overview(portal, state) for state in states]
    assert ledger.replicas.builds == 3
    assert len(ledger.replicas) == 2
    assert [key[1] for key in ledger.replicas.kept()] == positions[1:]

    again = _overview(portal, states[0])  # evicted: built again
    _overview(portal, states[2])  # kept: not built
    assert again == answers[0]
    assert ledger.replicas.builds == 4
    assert [key[1] for key in ledger.replicas.kept()] == [positions[0], positions[2]]


def test_replicas_are_capped_over_every_partner(portal: Portal) -> None:
    mine = _history(portal)
    other = make_portal(portal.client, "Other Resale")
    provision(other)
    ledger = _ledger(portal)
    ledger.replicas = ReplicaCache(per_partner=4, total=2)

    for position in mine:
        _overview(portal, f"position:{position}")
    other.ok("GET", OVERVIEW + f"?as_of=position:{log_position(portal.client)}")

    keys = ledger.replicas.kept()
    assert len(keys) == 2
    assert keys[0] == (portal.partner_id, mine[2])
    assert keys[1][0] == other.partner_id


def test_a_replica_over_the_memory_cap_is_served_and_not_kept(portal: Portal) -> None:
    positions = _history(portal)
    ledger = _ledger(portal)
    ledger.replicas = ReplicaCache(memory_bytes=1)

    first = _overview(portal, f"position:{positions[1]}")
    second = _overview(portal, f"position:{positions[1]}")

    assert first == second
    assert first["counts"]["active"] == 1
    assert len(ledger.replicas) == 0
    assert ledger.replicas.bytes == 0
    assert ledger.replicas.builds == 2


def test_as_of_before_the_partner_existed_is_not_found(portal: Portal) -> None:
    _history(portal)

    for view in ("/billing/summary", "/my-status", OVERVIEW, "/audit-trail"):
        response = portal.get(view, params={"as_of": "2025-12-31T23:59:59Z"})
        assert_problem(response, 404, "not_found")
    # Positions start at 1: position 0 names nothing the log could hold.
    assert_problem(portal.get(OVERVIEW, params={"as_of": "position:0"}), 422,
                   "validation_error")


def test_an_as_of_time_after_the_service_clock_is_refused_and_builds_nothing(
    portal: Portal,
) -> None:
    _history(portal)  # the service clock stands at 2026-01-04T09:00:00Z
    ledger = _ledger(portal)
    before = ledger.replicas.builds

    for path in (OVERVIEW, "/billing/summary", "/billing/upcoming-invoice"):
        future = portal.get(f"{path}?as_of=2026-03-01T00:00:00Z")
        assert_problem(future, 422, "validation_error")
        assert "after the service's current time" in future.json()["detail"]

    # The service's own present is not the future: it reads as the live view does.
    assert _overview(portal, "2026-01-04T09:00:00Z")["counts"] == _overview(portal)["counts"]
    assert ledger.replicas.builds - before <= 1
