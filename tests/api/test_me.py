"""`GET /v1/me`: the calling key, its role's permissions and the service's time; never a
token; 401 for an unknown or revoked key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.api.conftest import ADMIN, Portal, bearer
from tests.api.helpers import assert_problem

FIELDS = {"key_id", "role", "scope", "partner_id", "permissions", "now"}


def me(portal: Portal, headers: dict[str, str]) -> dict[str, Any]:
    response = portal.client.get("/v1/me", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == FIELDS
    assert datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00")).tzinfo is not None
    return body


def test_each_key_reads_its_role_scope_and_permissions(portal: Portal) -> None:
    admin = me(portal, portal.as_("admin"))
    billing = me(portal, portal.as_("billing"))
    auditor = me(portal, portal.as_("auditor"))
    platform = me(portal, ADMIN)

    assert (admin["role"], admin["scope"], admin["partner_id"]) == \
        ("admin", "partner", portal.partner_id)
    assert {"keys.partner", "billing.write", "audit.read"} <= set(admin["permissions"])
    assert "verify.run" not in admin["permissions"]
    assert "billing.write" in billing["permissions"]
    assert "keys.partner" not in billing["permissions"]
    assert (auditor["role"], auditor["scope"], auditor["partner_id"]) == \
        ("auditor", "platform", None)
    assert "verify.run" in auditor["permissions"]
    assert "billing.write" not in auditor["permissions"]
    assert platform["key_id"] == "platform-admin" and platform["scope"] == "platform"


def test_an_unknown_or_revoked_key_is_refused(portal: Portal) -> None:
    issued = portal.client.post(portal.url("/api-keys"), headers=ADMIN,
                                json={"role": "reporting", "name": "short-lived"})
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert me(portal, bearer(token))["role"] == "reporting"
    gone = portal.client.delete(portal.url(f"/api-keys/{issued.json()['id']}"), headers=ADMIN)
    assert gone.status_code == 204, gone.text

    assert_problem(portal.client.get("/v1/me", headers=bearer(token)), 401, "unauthorized")
    assert_problem(portal.client.get("/v1/me", headers=bearer("nope")), 401, "unauthorized")
    assert_problem(portal.client.get("/v1/me"), 401, "unauthorized")


def test_the_answer_never_carries_the_token(portal: Portal) -> None:
    token = portal.as_("admin")["Authorization"].removeprefix("Bearer ")
    assert token not in portal.client.get("/v1/me", headers=portal.as_("admin")).text
