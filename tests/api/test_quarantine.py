"""The quarantine over HTTP: a command whose view fails inline answers 500 with nothing
recorded; with the catch-up applying views, the poisoned partner is quarantined, healthz
says degraded, other partners are served, `GET /v1/admin/quarantine` shows the held
events and `POST .../retry` releases them once the fault is gone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from projections import sub_accounts
from service.api.app import create_app
from service.runtime.partitions import build_cluster, partition_of
from tests.api.conftest import ADMIN, Portal, make_portal
from tests.conftest import make_settings, start_ledger
from tests.integration.faults import ViewFault, named

OK = {"status": "ok", "partitions": [{"index": 0, "status": "ok"}], "quarantined": 0}


@pytest.fixture
def behind(database_url: str) -> Iterator[TestClient]:
    """A service whose views the catch-up applies (inline views off)."""
    ledger = start_ledger(database_url, inline_views=False)
    with TestClient(create_app(ledger, run_scheduler=False),
                    raise_server_exceptions=False) as client:
        yield client
    ledger.close()


def _quarantine(portal: Portal, role: str = "auditor", **params: Any) -> Any:
    return portal.client.get("/v1/admin/quarantine", headers=portal.as_(role), params=params)


def _retry(portal: Portal, partition: Any, position: Any, role: str = "platform") -> Any:
    return portal.client.post(f"/v1/admin/quarantine/{partition}/{position}/retry",
                              headers=portal.as_(role))


def test_a_command_whose_view_fails_inline_answers_500_and_records_nothing(
    portal: Portal, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ViewFault(monkeypatch, sub_accounts, named("Poison"))

    answer = portal.post("/sub-accounts", json={"name": "Poison"})

    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "internal_error"
    assert portal.ok("GET", "/sub-accounts")["data"] == []
    trail = portal.ok("GET", "/audit-trail?event_type=SubAccount.Created")
    assert trail["data"] == []
    assert portal.client.get("/healthz").json() == OK
    assert portal.ok("POST", "/sub-accounts", json={"name": "Fine"})["name"] == "Fine"


def test_a_poisoned_partner_is_quarantined_shown_and_released_by_a_retry(
    behind: TestClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    poisoned, other = make_portal(behind, "Poisoned"), make_portal(behind, "Other")
    fault = ViewFault(monkeypatch, sub_accounts, named("Poison"))

    created = poisoned.ok("POST", "/sub-accounts", json={"name": "Poison"})

    health = behind.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "degraded", "quarantined": 2,
                             "partitions": [{"index": 0, "status": "degraded"}]}
    # Other partners' commands and reads go on.
    team = other.ok("POST", "/sub-accounts", json={"name": "Team"})
    line = other.ok("POST", "/lines", json={"sub_account_id": team["id"]})
    assert [s["id"] for s in other.ok("GET", "/sub-accounts")["data"]] == [team["id"]]
    assert other.ok("GET", f"/lines/{line['id']}")["status"] == "active"
    # The poisoned partner's commands answer; their events wait in quarantine.
    held_line = poisoned.ok("POST", "/lines", json={})

    listed = _quarantine(poisoned)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    items = body["data"]
    assert body["quarantined"] == len(items) >= 3
    failed = items[0]
    assert (failed["partition"], failed["partner_id"], failed["originator_id"],
            failed["event_type"], failed["status"]) == \
        (0, poisoned.partner_id, created["id"], "SubAccount.Created", "failed")
    assert "injected view fault" in failed["error"]
    assert {i["status"] for i in items[1:]} == {"held"}
    assert held_line["id"] in {i["originator_id"] for i in items}
    assert {i["partner_id"] for i in items} == {poisoned.partner_id}
    failed_only = _quarantine(poisoned, status="failed").json()["data"]
    assert [i["position"] for i in failed_only] == [failed["position"]]
    first = _quarantine(poisoned, limit=1).json()
    rest = _quarantine(poisoned, cursor=first["next_cursor"]).json()
    assert [i["position"] for i in first["data"] + rest["data"]] == \
        [i["position"] for i in items]

    again = _retry(poisoned, 0, failed["position"])
    assert again.status_code == 200, again.text
    assert again.json()["released"] is False
    assert again.json()["failed"]["attempts"] == 2
    assert behind.get("/healthz").json()["status"] == "degraded"

    fault.remove()
    released = _retry(poisoned, 0, failed["position"])

    assert released.status_code == 200, released.text
    assert (released.json()["released"], released.json()["applied"],
            released.json()["failed"]) == (True, len(items), None)
    assert behind.get("/healthz").json() == OK
    assert _quarantine(poisoned).json()["data"] == []
    assert [s["id"] for s in poisoned.ok("GET", "/sub-accounts")["data"]] == [created["id"]]
    assert poisoned.ok("GET", f"/lines/{held_line['id']}")["status"] == "available"


def test_only_platform_admins_and_auditors_see_the_quarantine_and_only_admins_retry(
    portal: Portal,
) -> None:
    for role in ("admin", "support", "reporting"):
        assert _quarantine(portal, role).status_code == 403
    assert _quarantine(portal, "platform").status_code == 200
    assert _quarantine(portal).json() == {"data": [], "next_cursor": None, "quarantined": 0}
    for role in ("auditor", "support", "admin"):
        assert _retry(portal, 0, 1, role).status_code == 403
    assert portal.client.get("/v1/admin/quarantine").status_code == 401


@pytest.mark.parametrize(("partition", "position"), [
    (0, 1), (1, 1), (0, 0), (0, -4), ("x", 1), (0, "y"), (0, 2**63), (-1, 1),
])
def test_a_retry_of_nothing_in_quarantine_answers_404(portal: Portal, partition: Any,
                                                      position: Any) -> None:
    answer = _retry(portal, partition, position)

    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "not_found"


def test_a_listing_refuses_what_it_cannot_page(portal: Portal) -> None:
    assert _quarantine(portal, cursor="bogus").status_code == 422
    assert _quarantine(portal, status="lost").status_code == 422
    assert _quarantine(portal, partition=-1).status_code == 422
    assert _quarantine(portal, partition=3).status_code == 404
    assert portal.client.get("/v1/admin/quarantine", headers=ADMIN).status_code == 200


def test_a_partner_quarantined_in_another_partition_is_named_and_released_there(
    database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = build_cluster(make_settings(database_url, partitions=2, inline_views=False))
    with TestClient(create_app(cluster, run_scheduler=False),
                    raise_server_exceptions=False) as client:
        portal = make_portal(client, "Elsewhere")
        while partition_of(UUID(portal.partner_id), 2) != 1:
            portal = make_portal(client, "Elsewhere")
        fault = ViewFault(monkeypatch, sub_accounts, named("Poison"))
        portal.ok("POST", "/sub-accounts", json={"name": "Poison"})

        health = client.get("/healthz").json()
        [failed] = _quarantine(portal, status="failed").json()["data"]
        in_home = _quarantine(portal, partition=0).json()["data"]
        wrong_partition = _retry(portal, 0, failed["position"])
        fault.remove()
        released = _retry(portal, 1, failed["position"])
        after = client.get("/healthz").json()

    assert health["partitions"] == [{"index": 0, "status": "ok"},
                                    {"index": 1, "status": "degraded"}]
    assert (failed["partition"], failed["partner_id"]) == (1, portal.partner_id)
    assert in_home == []
    assert wrong_partition.status_code == 404
    assert released.status_code == 200 and released.json()["released"] is True
    assert after["status"] == "ok" and after["quarantined"] == 0
    cluster.close()
