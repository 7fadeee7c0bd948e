"""Who may call what: tokens, the roles' reach over every endpoint, partner isolation,
key management, and the actor every event records."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi.testclient import TestClient

from service.api.app import create_app
from tests.api.conftest import ADMIN, STANDARD, Portal, bearer, make_portal
from tests.api.helpers import assert_problem, log_position, provision, sub_account
from tests.conftest import start_ledger

ROLES = ("admin", "operations", "billing", "reporting", "support", "auditor", "platform")
EVERYONE = frozenset(ROLES)
READ_LINES = frozenset({"admin", "operations", "reporting", "support", "auditor", "platform"})
WRITE_LINES = frozenset({"admin", "operations"})
SUPPORT = frozenset({"support"})
PARTNER_ADMINS = frozenset({"admin", "platform"})
PRICING_SETTERS = frozenset({"support", "platform"})
PRICING_REQUESTERS = frozenset({"admin"})
PRICING_REQUEST_READERS = frozenset({"admin", "support", "platform"})
PLATFORM_ADMIN = frozenset({"platform"})
AUDIT = frozenset({"admin", "support", "auditor"})
READ_BILLING = frozenset({"admin", "billing", "reporting", "support", "auditor", "platform"})
WRITE_BILLING = frozenset({"admin", "billing"})

P = "/v1/partners/{pid}"
# (method, path template, body, the roles that may do it); the rest get 403.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, frozenset[str]]] = [
    ("POST", "/v1/partners", {"name": "Initech", "currency": "USD", "billing_anchor_day": 1,
                              "pricing": STANDARD}, PLATFORM_ADMIN),
    ("GET", P, None, EVERYONE),
    ("PUT", P + "/pricing", {"pricing": {"structure": "standard", "unit_amount": 2500}},
     PRICING_SETTERS),
    ("POST", P + "/pricing-change-requests",
     {"pricing": {"structure": "standard", "unit_amount": 2500}, "reason": "volume"},
     PRICING_REQUESTERS),
    ("GET", P + "/pricing-change-requests", None, PRICING_REQUEST_READERS),
    ("POST", "/v1/api-keys", {"role": "auditor", "name": "second auditor"}, PLATFORM_ADMIN),
    ("GET", "/v1/api-keys", None, PLATFORM_ADMIN),
    ("DELETE", "/v1/api-keys/{pkid}", None, PLATFORM_ADMIN),
    ("POST", P + "/api-keys", {"role": "reporting", "name": "dashboards"}, PARTNER_ADMINS),
    ("GET", P + "/api-keys", None, PARTNER_ADMINS),
    ("DELETE", P + "/api-keys/{kid}", None, PARTNER_ADMINS),
    ("POST", P + "/sub-accounts", {"name": "Acme – New"}, WRITE_LINES),
    ("GET", P + "/sub-accounts", None, READ_LINES),
    ("GET", P + "/sub-accounts/{sid}", None, READ_LINES),
    ("PATCH", P + "/sub-accounts/{sid}", {"name": "Acme – Sales US"}, WRITE_LINES),
    ("POST", P + "/sub-accounts/{sid}/campaigns", {"name": "Launch"}, WRITE_LINES),
    ("POST", P + "/sub-accounts/{sid}/campaigns/{cid}/end", None, WRITE_LINES),
    ("POST", P + "/sub-accounts/{merging}/merge-request", {"primary_id": "{sid}"}, WRITE_LINES),
    ("POST", P + "/sub-accounts/{merging}/merge-request/reject", None, SUPPORT),
    ("POST", P + "/sub-accounts/{merging}/merge-request/cancel", None, WRITE_LINES),
    ("POST", P + "/sub-accounts/{merging}/merge-request/approve", None, SUPPORT),
    ("POST", P + "/sub-accounts/{empty}/delete-request", None, WRITE_LINES),
    ("POST", P + "/sub-accounts/{empty}/delete-request/reject", None, SUPPORT),
    ("POST", P + "/sub-accounts/{empty}/delete-request/cancel", None, WRITE_LINES),
    ("POST", P + "/sub-accounts/{empty}/delete-request/approve", None, SUPPORT),
    ("POST", P + "/lines", {}, WRITE_LINES),
    ("GET", P + "/lines", None, READ_LINES),
    ("GET", P + "/lines/overview", None, READ_LINES),
    ("GET", P + "/lines/available-pool", None, READ_LINES),
    ("GET", P + "/lines/{lid}", None, READ_LINES),
    ("GET", P + "/lines/{lid}/history", None, READ_LINES),
    ("POST", P + "/lines/{pooled}/assign", {"sub_account_id": "{sid}"}, WRITE_LINES),
    ("POST", P + "/lines/{lid}/pause", None, WRITE_LINES),
    ("POST", P + "/lines/{lid}/resume", None, WRITE_LINES),
    ("POST", P + "/lines/{lid}/flag", {"reason": "spam"}, SUPPORT),
    ("POST", P + "/lines/{lid}/unflag", None, SUPPORT),
    ("POST", P + "/lines/{lid}/move-request", {"sub_account_id": "{other}"}, WRITE_LINES),
    ("POST", P + "/lines/{lid}/move-request/reject", None, SUPPORT),
    ("POST", P + "/lines/{lid}/move-request/cancel", None, WRITE_LINES),
    ("POST", P + "/lines/{lid}/move-request/approve", None, SUPPORT),
    ("POST", P + "/lines/{lid}/unassign", None, WRITE_LINES),
    ("POST", P + "/lines/{lid}/delete-request", None, WRITE_LINES),
    ("POST", P + "/lines/{lid}/delete-request/reject", None, SUPPORT),
    ("POST", P + "/lines/{lid}/delete-request/cancel", None, WRITE_LINES),
    ("POST", P + "/lines/{lid}/delete-request/approve", None, SUPPORT),
    ("GET", P + "/audit-trail", None, AUDIT),
    ("GET", P + "/billing/summary", None, READ_BILLING),
    ("GET", P + "/billing/upcoming-invoice", None, READ_BILLING),
    ("GET", P + "/invoices", None, READ_BILLING),
    ("GET", P + "/my-status", None, READ_BILLING),
    ("POST", P + "/payment-methods", {"brand": "visa", "last4": "4242", "exp_month": 12,
                                      "exp_year": 2030, "token": "tok_visa"}, WRITE_BILLING),
    ("POST", P + "/credits", {"amount": 500, "reason": "goodwill"}, SUPPORT),
    ("GET", "/v1/admin/clock", None, PLATFORM_ADMIN),
    ("POST", "/v1/admin/clock", {"now": "2026-01-02T00:00:00Z"}, PLATFORM_ADMIN),
    ("GET", "/v1/admin/timers", None, PLATFORM_ADMIN),
    ("POST", "/v1/admin/projections/rebuild", None, PLATFORM_ADMIN),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _issue_partner_key(client: TestClient, partner_id: str, role: str,
                       headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    response = client.post(f"/v1/partners/{partner_id}/api-keys", headers=headers,
                           json={"role": role, "name": f"{role} key"})
    assert response.status_code == 201, response.text
    return response.json()


def _issue_platform_key(client: TestClient, role: str) -> dict[str, Any]:
    response = client.post("/v1/api-keys", headers=ADMIN, json={"role": role, "name": role})
    assert response.status_code == 201, response.text
    return response.json()


def _world(portal: Portal, suffix: str = "") -> dict[str, str]:
    """Something behind every id the endpoint table names (names end with `suffix`)."""
    sid = sub_account(portal, f"Acme – Sales{suffix}")
    ids = {
        "pid": portal.partner_id,
        "sid": sid,
        "other": sub_account(portal, f"Acme – Support{suffix}"),
        "merging": sub_account(portal, f"Acme – Sales EU{suffix}"),
        "empty": sub_account(portal, f"Acme – Spare{suffix}"),
        "lid": provision(portal, sub_account_id=sid)["id"],
        "pooled": provision(portal)["id"],
        "kid": _issue_partner_key(portal.client, portal.partner_id, "reporting")["id"],
        "pkid": _issue_platform_key(portal.client, "auditor")["id"],
    }
    ids["cid"] = portal.ok("POST", f"/sub-accounts/{sid}/campaigns", json={"name": "Spring"},
                           status=201)["campaign_id"]
    return ids


def _reach(response: Any) -> str:
    if 200 <= response.status_code < 300 or response.status_code == 409:
        return "allowed"
    if response.status_code == 403:
        assert_problem(response, 403, "forbidden")
        return "forbidden"
    return f"HTTP {response.status_code}: {response.text}"


def test_each_role_reaches_exactly_the_endpoints_its_permissions_grant(portal: Portal) -> None:
    # Each role works on its own resources, so what one role did cannot shape another's answers.
    worlds = {role: _world(portal, f" ({role})") for role in ROLES}

    reach = {}
    for role, ids in worlds.items():
        for method, template, body, _ in ENDPOINTS:
            response = portal.client.request(method, _fill(template, ids),
                                             headers=portal.as_(role), json=_fill(body, ids))
            reach[f"{role}: {method} {template}"] = _reach(response)

    assert reach == {f"{role}: {method} {template}": "allowed" if role in roles else "forbidden"
                     for role in ROLES for method, template, _, roles in ENDPOINTS}


def test_a_request_without_a_valid_bearer_token_is_unauthorised(portal: Portal) -> None:
    forged = f"pl_{uuid4().hex}_not-the-secret"
    attempts = {
        "missing": {},
        "empty": {"Authorization": "Bearer "},
        "another scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "unknown": bearer("no-such-token"),
        "forged": bearer(forged),
        "another key's id": bearer(portal.as_("admin")["Authorization"].rsplit("_", 1)[0]
                                   + "_wrong-secret"),
    }

    responses = {name: portal.client.get(portal.url("/lines"), headers=headers)
                 for name, headers in attempts.items()}

    assert {k: r.status_code for k, r in responses.items()} == dict.fromkeys(attempts, 401)
    for response in responses.values():
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_revoked_key_stops_working_at_once(portal: Portal) -> None:
    key = _issue_partner_key(portal.client, portal.partner_id, "operations",
                             headers=portal.as_("admin"))
    headers = bearer(key["token"])
    before = portal.client.get(portal.url("/lines"), headers=headers)

    revoked = portal.client.delete(portal.url(f"/api-keys/{key['id']}"),
                                   headers=portal.as_("admin"))
    after = portal.client.get(portal.url("/lines"), headers=headers)
    command = portal.client.post(portal.url("/lines"), headers=headers, json={})

    assert before.status_code == 200, before.text
    assert revoked.status_code == 204, revoked.text
    assert revoked.content == b""
    assert_problem(after, 401, "unauthorized")
    assert_problem(command, 401, "unauthorized")


def test_a_key_revoked_through_one_api_process_stops_working_in_another_at_once(
        portal: Portal, database_url: str) -> None:
    key = _issue_partner_key(portal.client, portal.partner_id, "operations")
    second = start_ledger(database_url)
    try:
        with TestClient(create_app(second, run_scheduler=False),
                        raise_server_exceptions=False) as elsewhere:
            before = elsewhere.get(portal.url("/lines"), headers=bearer(key["token"]))

            revoked = portal.client.delete(portal.url(f"/api-keys/{key['id']}"), headers=ADMIN)
            after = elsewhere.get(portal.url("/lines"), headers=bearer(key["token"]))
    finally:
        second.close()

    assert before.status_code == 200, before.text
    assert revoked.status_code == 204, revoked.text
    assert_problem(after, 401, "unauthorized")


def test_a_key_revoked_by_the_platform_admin_stops_working_at_once(portal: Portal) -> None:
    key = _issue_partner_key(portal.client, portal.partner_id, "reporting")

    revoked = portal.client.delete(portal.url(f"/api-keys/{key['id']}"), headers=ADMIN)
    after = portal.client.get(portal.url(""), headers=bearer(key["token"]))
    again = portal.client.delete(portal.url(f"/api-keys/{key['id']}"), headers=ADMIN)

    assert revoked.status_code == 204, revoked.text
    assert_problem(after, 401, "unauthorized")
    assert_problem(again, 409, "invalid_transition")


def _paths_into(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every endpoint of one partner, for a key of another."""
    return [(method, _fill(template, ids), _fill(body, ids))
            for method, template, body, _ in ENDPOINTS if template.startswith(P)]


def _same_answer(response: Any, twin: Any, replacing: dict[str, str]) -> bool:
    first, second = response.json(), twin.json()
    for mine, unknown in replacing.items():
        second["detail"] = second["detail"].replace(unknown, mine)
    return response.status_code == twin.status_code and first == second


def test_another_partner_s_resources_answer_not_found_exactly_like_unknown_ids(
        portal: Portal) -> None:
    ids = _world(portal)
    intruder = make_portal(portal.client, "Globex Resale")
    unknown = {name: str(uuid4()) for name in ids}
    position = log_position(portal.client)

    answers = {}
    for role in ("admin", "operations", "billing", "reporting"):
        for (method, path, body), (_, twin_path, twin_body) in zip(
                _paths_into(ids), _paths_into(unknown), strict=True):
            response = portal.client.request(method, path, headers=intruder.as_(role), json=body)
            assert_problem(response, 404, "not_found")
            answers[f"{role}: {method} {path}"] = response.status_code
            if role == "admin":  # the other roles take the same path through the service
                twin = portal.client.request(method, twin_path, headers=intruder.as_(role),
                                             json=twin_body)
                assert _same_answer(response, twin, {ids[k]: unknown[k] for k in ids}), (
                    role, path, response.text, twin.text)

    assert answers == dict.fromkeys(answers, 404)
    assert len(answers) == 4 * len(_paths_into(ids))
    assert log_position(portal.client) == position


def test_another_partner_s_lines_and_sub_accounts_are_not_found_under_one_s_own_partner(
        portal: Portal) -> None:
    ids = _world(portal)
    intruder = make_portal(portal.client, "Globex Resale")
    own_sub = sub_account(intruder, "Globex – Sales")
    own_line = provision(intruder)["id"]
    unknown = str(uuid4())
    position = log_position(portal.client)

    requests = {
        "line": ("GET", "/lines/{target}", None, ids["lid"]),
        "line history": ("GET", "/lines/{target}/history", None, ids["lid"]),
        "line command": ("POST", "/lines/{target}/pause", None, ids["lid"]),
        "support command": ("POST", "/lines/{target}/flag", {"reason": "x"}, ids["lid"]),
        "sub-account": ("GET", "/sub-accounts/{target}", None, ids["sid"]),
        "rename": ("PATCH", "/sub-accounts/{target}", {"name": "Mine now"}, ids["sid"]),
        "assign into": ("POST", f"/lines/{own_line}/assign", {"sub_account_id": "{target}"},
                        ids["sid"]),
        "provision into": ("POST", "/lines", {"sub_account_id": "{target}"}, ids["sid"]),
        "merge into": ("POST", f"/sub-accounts/{own_sub}/merge-request",
                       {"primary_id": "{target}"}, ids["sid"]),
    }
    answers = {}
    for name, (method, path, body, foreign) in requests.items():
        role = "support" if name == "support command" else "admin"
        got, twin = (
            intruder.client.request(method, intruder.url(path.format(target=target)),
                                    headers=intruder.as_(role),
                                    json=_fill(body, {"target": target}))
            for target in (foreign, unknown))
        assert _same_answer(got, twin, {foreign: unknown}), (name, got.text, twin.text)
        answers[name] = (got.status_code, got.json()["code"])
    trail = intruder.ok("GET", f"/audit-trail?entity_id={ids['lid']}")

    assert answers == dict.fromkeys(requests, (404, "not_found"))
    assert trail["data"] == []
    assert log_position(portal.client) == position


def test_the_platform_admin_creates_partners_and_keys(client: TestClient) -> None:
    partner = client.post("/v1/partners", headers=ADMIN, json={
        "name": "Acme Resale", "currency": "EUR", "billing_anchor_day": 15, "pricing": STANDARD})
    pid = partner.json()["id"]
    platform = {role: client.post("/v1/api-keys", headers=ADMIN,
                                  json={"role": role, "name": role})
                for role in ("support", "auditor", "admin", "operations", "billing", "reporting",
                             "platform")}
    partner_keys = {role: client.post(f"/v1/partners/{pid}/api-keys", headers=ADMIN,
                                      json={"role": role, "name": role})
                    for role in ("admin", "operations", "billing", "reporting", "support",
                                 "auditor")}

    assert partner.status_code == 201, partner.text
    assert {k: partner.json()[k] for k in ("name", "currency", "billing_anchor_day", "pricing")
            } == {"name": "Acme Resale", "currency": "EUR", "billing_anchor_day": 15,
                  "pricing": STANDARD}
    assert partner.json()["created_at"] == "2026-01-01T00:00:00Z"
    assert {k: r.status_code for k, r in platform.items()} == {
        "support": 201, "auditor": 201, "admin": 201, "operations": 422, "billing": 422,
        "reporting": 422, "platform": 422}
    assert {k: r.status_code for k, r in partner_keys.items()} == {
        "admin": 201, "operations": 201, "billing": 201, "reporting": 201, "support": 422,
        "auditor": 422}
    for response in [*platform.values(), *partner_keys.values()]:
        if response.status_code == 422:
            assert_problem(response, 422, "validation_error")
        else:
            assert response.json()["token"]
    new_admin = bearer(platform["admin"].json()["token"])
    assert client.get(f"/v1/partners/{pid}", headers=new_admin).status_code == 200
    assert client.post("/v1/api-keys", headers=new_admin,
                       json={"role": "support", "name": "s"}).status_code == 201


def test_a_partner_admin_issues_keys_for_its_own_partner_only(portal: Portal) -> None:
    other = make_portal(portal.client, "Globex Resale")
    position = log_position(portal.client)

    foreign = portal.client.post(other.url("/api-keys"), headers=portal.as_("admin"),
                                 json={"role": "admin", "name": "sneaky"})
    others_key = _issue_partner_key(portal.client, other.partner_id, "billing")["id"]
    foreign_revoke = portal.client.delete(other.url(f"/api-keys/{others_key}"),
                                          headers=portal.as_("admin"))
    after_issue = log_position(portal.client)
    own = _issue_partner_key(portal.client, portal.partner_id, "billing",
                             headers=portal.as_("admin"))
    platform_role = portal.post("/api-keys", json={"role": "support", "name": "support"})

    assert_problem(foreign, 404, "not_found")
    assert_problem(foreign_revoke, 404, "not_found")
    assert after_issue == position + 1  # only the platform admin's billing key for `other`
    assert own["role"] == "billing"
    assert portal.client.get(portal.url(""), headers=bearer(own["token"])).status_code == 200
    assert portal.client.get(other.url(""), headers=bearer(own["token"])).status_code == 404
    assert_problem(platform_role, 422, "validation_error")


def test_every_event_records_the_key_and_role_that_caused_it(portal: Portal) -> None:
    operations = _issue_partner_key(portal.client, portal.partner_id, "operations")
    admin = _issue_partner_key(portal.client, portal.partner_id, "admin")
    support = _issue_platform_key(portal.client, "support")
    sub = portal.client.post(portal.url("/sub-accounts"), headers=bearer(admin["token"]),
                             json={"name": "Acme – Sales"}).json()["id"]
    line = portal.client.post(portal.url("/lines"), headers=bearer(operations["token"]),
                              json={"sub_account_id": sub}).json()["id"]
    portal.client.post(portal.url(f"/lines/{line}/flag"), headers=bearer(support["token"]),
                       json={"reason": "spam"})

    trails = {role: portal.get("/audit-trail", role=role) for role in ROLES}
    partner_created = portal.ok("GET", f"/audit-trail?entity_id={portal.partner_id}")["data"]
    line_events = portal.ok("GET", f"/audit-trail?entity_id={line}")["data"]
    sub_events = portal.ok("GET", f"/audit-trail?entity_id={sub}")["data"]

    assert {role: r.status_code for role, r in trails.items()} == {
        "admin": 200, "operations": 403, "billing": 403, "reporting": 403, "support": 200,
        "auditor": 200, "platform": 403}
    assert trails["admin"].json() == trails["support"].json() == trails["auditor"].json()
    assert (partner_created[0]["event_type"], partner_created[0]["actor"]) == (
        "Partner.Created", {"key_id": "platform-admin", "role": "admin", "scope": "platform"})
    assert [(e["event_type"], e["actor"]) for e in line_events] == [
        ("Line.Provisioned", {"key_id": operations["id"], "role": "operations",
                              "scope": "partner"}),
        ("Line.Flagged", {"key_id": support["id"], "role": "support", "scope": "platform"}),
        ("Line.SendingPaused", {"key_id": "auto_pause", "role": "policy", "scope": "policy"}),
    ]
    assert (sub_events[0]["event_type"], sub_events[0]["actor"]) == (
        "SubAccount.Created", {"key_id": admin["id"], "role": "admin", "scope": "partner"})
    assert {(e["event_type"], e["actor"]["key_id"]) for e in sub_events[1:]} == {
        ("SubAccount.LineAttached", operations["id"])}


def test_the_audit_trail_never_shows_a_key_s_secret(portal: Portal) -> None:
    key = _issue_partner_key(portal.client, portal.partner_id, "operations")

    issued = portal.ok("GET", f"/audit-trail?entity_id={key['id']}")["data"]
    everything = portal.get("/audit-trail?limit=500", role="auditor").text

    assert [(e["event_type"], e["actor"]["key_id"]) for e in issued] == [
        ("ApiKey.Issued", "platform-admin")]
    assert issued[0]["data"]["role"] == "operations"
    assert not {"secret", "secret_hash", "token"} & issued[0]["data"].keys()
    assert key["token"].split("_", 2)[2] not in everything  # the secret may hold "_"
