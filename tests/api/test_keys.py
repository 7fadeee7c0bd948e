"""Keys: the lists of a partner's and the platform's keys (never a token or a hash), when a
key was last used (at most one write a minute), revoking platform keys over HTTP in every
process at once, and `ledger revoke-key`."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.api.app import create_app
from service.ops.cli import app as cli
from tests.api.conftest import ADMIN, Portal, bearer, make_portal
from tests.api.helpers import assert_problem, log_position, walk
from tests.conftest import ADMIN_TOKEN, start_ledger

KEY_FIELDS = {"id", "role", "name", "created_at", "revoked_at", "last_used_at"}


def issue(client: TestClient, path: str, role: str, name: str,
          headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    response = client.post(path, headers=headers, json={"role": role, "name": name})
    assert response.status_code == 201, response.text
    return response.json()


def move_clock(client: TestClient, now: str) -> None:
    response = client.post("/v1/admin/clock", headers=ADMIN, json={"now": now})
    assert response.status_code == 200, response.text


def listed(client: TestClient, path: str, headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    response = client.get(path, headers=headers, params={"limit": 500})
    assert response.status_code == 200, response.text
    return {key["id"]: key for key in response.json()["data"]}


def test_a_partner_s_keys_are_listed_with_their_life_and_never_their_secret(
        portal: Portal) -> None:
    key = issue(portal.client, portal.url("/api-keys"), "operations", "  Ops   dashboard ",
                headers=portal.as_("admin"))
    revoked = issue(portal.client, portal.url("/api-keys"), "billing", "old billing")
    portal.client.delete(portal.url(f"/api-keys/{revoked['id']}"), headers=portal.as_("admin"))
    other = make_portal(portal.client, "Globex Resale")

    by_admin = portal.client.get(portal.url("/api-keys"), headers=portal.as_("admin"))
    by_platform = portal.client.get(portal.url("/api-keys"), headers=ADMIN)
    keys = {k["id"]: k for k in by_admin.json()["data"]}

    assert by_admin.status_code == by_platform.status_code == 200
    assert by_admin.json() == by_platform.json()
    assert set(keys) == {*(portal_key_ids(portal)), key["id"], revoked["id"]}
    assert set(keys) & set(listed(portal.client, other.url("/api-keys"))) == set()
    assert all(item.keys() == KEY_FIELDS for item in keys.values())
    assert keys[key["id"]] == {"id": key["id"], "role": "operations", "name": "Ops dashboard",
                               "created_at": "2026-01-01T00:00:00Z", "revoked_at": None,
                               "last_used_at": None}
    assert keys[revoked["id"]]["revoked_at"] == "2026-01-01T00:00:00Z"
    secrets = [key["token"], key["token"].split("_", 2)[2], revoked["token"]]
    assert not any(secret in by_admin.text for secret in secrets)
    assert "hash" not in by_admin.text


def portal_key_ids(portal: Portal) -> set[str]:
    """The ids of the four partner keys `make_portal` issued, read from the audit trail."""
    trail = portal.ok("GET", "/audit-trail?event_type=ApiKey.Issued&limit=500")["data"]
    return {e["entity_id"] for e in trail}


def test_the_key_list_pages_in_issue_order(portal: Portal) -> None:
    issued = [issue(portal.client, portal.url("/api-keys"), "reporting", f"report {n}")["id"]
              for n in range(5)]

    items, pages = walk(portal.client, portal.url("/api-keys"), portal.as_("admin"), limit=2)

    assert [k["id"] for k in items][-5:] == issued
    assert pages == 5  # 4 keys from the portal and 5 more, 2 a page
    assert len({k["id"] for k in items}) == len(items) == 9


def test_last_used_is_recorded_at_most_once_a_minute_of_the_service_clock(
        portal: Portal) -> None:
    key = issue(portal.client, portal.url("/api-keys"), "reporting", "dashboards")
    headers = bearer(key["token"])

    def last_used() -> str | None:
        return listed(portal.client, portal.url("/api-keys"))[key["id"]]["last_used_at"]

    never = last_used()
    assert portal.client.get(portal.url("/lines"), headers=headers).status_code == 200
    first = last_used()
    move_clock(portal.client, "2026-01-01T00:00:50Z")
    portal.client.get(portal.url("/lines"), headers=headers)
    within_the_minute = last_used()
    move_clock(portal.client, "2026-01-01T00:01:05Z")
    portal.client.get(portal.url("/lines"), headers=headers)
    after_a_minute = last_used()
    unknown = portal.client.get(portal.url("/lines"), headers=bearer(key["token"] + "x"))

    assert never is None
    assert first == within_the_minute == "2026-01-01T00:00:00Z"
    assert after_a_minute == "2026-01-01T00:01:05Z"
    assert_problem(unknown, 401, "unauthorized")
    assert last_used() == after_a_minute


def test_the_platform_admin_lists_and_revokes_platform_keys_effective_at_once(
        client: TestClient, database_url: str) -> None:
    support = issue(client, "/v1/api-keys", "support", "Support desk")
    auditor = issue(client, "/v1/api-keys", "auditor", "Audit firm")
    pid = make_portal(client).partner_id
    partner_key = issue(client, f"/v1/partners/{pid}/api-keys", "admin", "partner admin")
    second = start_ledger(database_url)
    try:
        with TestClient(create_app(second, run_scheduler=False),
                        raise_server_exceptions=False) as elsewhere:
            before = elsewhere.get(f"/v1/partners/{pid}", headers=bearer(support["token"]))

            revoked = client.delete(f"/v1/api-keys/{support['id']}", headers=ADMIN)
            here = client.get(f"/v1/partners/{pid}", headers=bearer(support["token"]))
            there = elsewhere.get(f"/v1/partners/{pid}", headers=bearer(support["token"]))
            auditor_still = elsewhere.get(f"/v1/partners/{pid}",
                                          headers=bearer(auditor["token"]))
    finally:
        second.close()
    keys = listed(client, "/v1/api-keys")

    assert before.status_code == 200, before.text
    assert revoked.status_code == 204 and revoked.content == b""
    assert_problem(here, 401, "unauthorized")
    assert_problem(there, 401, "unauthorized")
    assert auditor_still.status_code == 200
    assert keys[support["id"]]["revoked_at"] == "2026-01-01T00:00:00Z"
    assert keys[auditor["id"]]["revoked_at"] is None
    assert keys[auditor["id"]]["last_used_at"] == "2026-01-01T00:00:00Z"
    assert {k["role"] for k in keys.values()} == {"support", "auditor"}
    assert partner_key["id"] not in keys


def test_revoking_a_platform_key_refuses_what_is_not_one_and_records_nothing(
        portal: Portal) -> None:
    support = issue(portal.client, "/v1/api-keys", "support", "desk")
    partner_key = issue(portal.client, portal.url("/api-keys"), "reporting", "reports")
    portal.client.delete(f"/v1/api-keys/{support['id']}", headers=ADMIN)
    position = log_position(portal.client)

    again = portal.client.delete(f"/v1/api-keys/{support['id']}", headers=ADMIN)
    partners = portal.client.delete(f"/v1/api-keys/{partner_key['id']}", headers=ADMIN)
    unknown = portal.client.delete(f"/v1/api-keys/{uuid4()}", headers=ADMIN)
    malformed = portal.client.delete("/v1/api-keys/not-a-key", headers=ADMIN)
    by_support = portal.client.delete(f"/v1/api-keys/{support['id']}",
                                      headers=portal.as_("support"))

    assert_problem(again, 409, "invalid_transition")
    assert_problem(partners, 404, "not_found")
    assert_problem(unknown, 404, "not_found")
    assert_problem(malformed, 404, "not_found")  # as every malformed id in a path
    assert_problem(by_support, 403, "forbidden")
    assert log_position(portal.client) == position
    assert portal.client.get(portal.url(""), headers=bearer(partner_key["token"])
                             ).status_code == 200


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTAL_CLOCK", "manual")
    monkeypatch.setenv("PORTAL_ADMIN_TOKEN", ADMIN_TOKEN)
    return CliRunner()


def test_ledger_revoke_key_revokes_a_platform_or_a_partner_key_by_its_id(
        portal: Portal, cli_env: CliRunner) -> None:
    support = issue(portal.client, "/v1/api-keys", "support", "desk")
    partner_key = issue(portal.client, portal.url("/api-keys"), "billing", "billing")

    platform_run = cli_env.invoke(cli, ["revoke-key", support["id"]])
    partner_run = cli_env.invoke(cli, ["revoke-key", partner_key["id"]])
    again = cli_env.invoke(cli, ["revoke-key", support["id"]])
    unknown = cli_env.invoke(cli, ["revoke-key", str(uuid4())])
    malformed = cli_env.invoke(cli, ["revoke-key", "nonsense"])
    trail = portal.ok("GET", f"/audit-trail?entity_id={partner_key['id']}")["data"]

    assert platform_run.exit_code == 0, platform_run.output
    assert partner_run.exit_code == 0, partner_run.output
    assert (again.exit_code, unknown.exit_code, malformed.exit_code) == (2, 1, 1)
    assert_problem(portal.client.get(portal.url(""), headers=bearer(support["token"])),
                   401, "unauthorized")
    assert_problem(portal.client.get(portal.url(""), headers=bearer(partner_key["token"])),
                   401, "unauthorized")
    assert [(e["event_type"], e["actor"]) for e in trail] == [
        ("ApiKey.Issued", {"key_id": "platform-admin", "role": "admin", "scope": "platform"}),
        ("ApiKey.Revoked", {"key_id": "cli", "role": "admin", "scope": "platform"}),
    ]
