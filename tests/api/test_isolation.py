"""Tenant isolation: every partner-scoped route, called with another partner's key, answers
404 exactly as for an id that does not exist, and records nothing."""

from __future__ import annotations

import re
from typing import Any

from tests.api.conftest import ADMIN, Portal, make_portal

GOOD_CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030,
             "token": "tok_visa"}


def _resources(portal: Portal) -> dict[str, str]:
    sub = portal.ok("POST", "/sub-accounts", json={"name": "Beta – Sales"})["id"]
    line = portal.ok("POST", "/lines", json={"sub_account_id": sub})["id"]
    method = portal.ok("POST", "/payment-methods", role="billing", json=GOOD_CARD,
                       status=201)["id"]
    key = portal.client.post(portal.url("/api-keys"), headers=ADMIN,
                             json={"role": "reporting", "name": "r"}).json()["id"]
    return {"pid": portal.partner_id, "sid": sub, "lid": line, "mid": method, "kid": key}


def _placeholder(name: str) -> str:
    return "0" if name == "n" else "00000000-0000-0000-0000-000000000000"


def _partner_routes(app: Any) -> list[tuple[str, str]]:
    """Every documented route under a partner, from the service's own OpenAPI."""
    return [(method.upper(), path) for path, operations in app.openapi()["paths"].items()
            if "{pid}" in path for method in operations]


def test_every_partner_route_answers_404_to_another_partners_key(portal: Portal) -> None:
    other = make_portal(portal.client, name="Beta Resale")
    ids = _resources(other)
    ledger = portal.client.app.state.cluster.home
    before = ledger.app.recorder.max_notification_id()
    routes = _partner_routes(portal.client.app)
    assert len(routes) > 40

    for method, path in routes:
        url = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), _placeholder(m.group(1))),
                     path)
        response = portal.client.request(method, url, headers=portal.as_("admin"), json={})
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"

    assert ledger.app.recorder.max_notification_id() == before


def test_another_partners_resources_under_ones_own_partner_are_not_found(
    portal: Portal,
) -> None:
    other = make_portal(portal.client, name="Beta Resale")
    ids = _resources(other)

    line = portal.get(f"/lines/{ids['lid']}")
    sub = portal.get(f"/sub-accounts/{ids['sid']}")
    assign = portal.post(f"/lines/{ids['lid']}/assign", json={"sub_account_id": ids["sid"]})
    move = portal.post(f"/sub-accounts/{ids['sid']}/merge-request",
                       json={"primary_id": ids["sid"]})

    for response in (line, sub, assign, move):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
