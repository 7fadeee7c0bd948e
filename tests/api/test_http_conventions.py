"""The API's conventions: idempotent POSTs, cursor paging, audit filters, health, OpenAPI,
the manual clock, projection rebuilds, and how malformed requests are answered."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, Portal
from tests.api.helpers import assert_problem, log_position, provision, sub_account, walk

IDEMPOTENCY = "Idempotency-Key"


def _move_clock(client: TestClient, now: str) -> Any:
    return client.post("/v1/admin/clock", headers=ADMIN, json={"now": now})


def test_replaying_an_idempotent_post_answers_the_first_response_and_records_nothing(
        portal: Portal) -> None:
    sub = sub_account(portal, "Acme – Sales")
    headers = {**portal.as_("operations"), IDEMPOTENCY: "provision-1"}
    body = {"phone_number": "+14155550123", "sub_account_id": sub}
    first = portal.client.post(portal.url("/lines"), headers=headers, json=body)
    position = log_position(portal.client)

    replays = [portal.client.post(portal.url("/lines"), headers=headers, json=body)
               for _ in range(2)]

    assert first.status_code == 201, first.text
    for replay in replays:
        assert replay.status_code == 201
        assert replay.content == first.content
        assert replay.headers["content-type"].startswith("application/json")
    assert log_position(portal.client) == position
    assert [line["id"] for line in portal.ok("GET", "/lines")["data"]] == [first.json()["id"]]
    assert portal.ok("GET", f"/sub-accounts/{sub}")["line_count"] == 1


def test_replaying_a_refused_command_answers_the_same_problem(portal: Portal) -> None:
    line = provision(portal)["id"]
    headers = {**portal.as_("operations"), IDEMPOTENCY: "unassign-1"}
    first = portal.client.post(portal.url(f"/lines/{line}/unassign"), headers=headers)
    position = log_position(portal.client)

    replay = portal.client.post(portal.url(f"/lines/{line}/unassign"), headers=headers)

    assert_problem(first, 409, "invalid_transition")
    assert_problem(replay, 409, "invalid_transition")
    assert replay.content == first.content
    assert log_position(portal.client) == position


def test_reusing_an_idempotency_key_for_another_request_is_refused(portal: Portal) -> None:
    headers = {**portal.as_("operations"), IDEMPOTENCY: "provision-1"}
    first = portal.client.post(portal.url("/lines"), headers=headers,
                               json={"phone_number": "+14155550123"})
    position = log_position(portal.client)

    other_body = portal.client.post(portal.url("/lines"), headers=headers,
                                    json={"phone_number": "+14155550124"})
    other_path = portal.client.post(portal.url("/sub-accounts"), headers=headers,
                                    json={"phone_number": "+14155550123"})

    assert first.status_code == 201, first.text
    assert_problem(other_body, 422, "idempotency_key_reused")
    assert_problem(other_path, 422, "idempotency_key_reused")
    assert log_position(portal.client) == position
    assert len(portal.ok("GET", "/lines")["data"]) == 1


def _give_a_history(portal: Portal, line: str) -> None:
    for command, role, body in [("/flag", "support", {"reason": "spam"}),
                                ("/unflag", "support", None), ("/resume", "operations", None),
                                ("/pause", "operations", None), ("/resume", "operations", None)]:
        portal.ok("POST", f"/lines/{line}{command}", role=role, json=body)


def test_paging_walks_every_item_exactly_once_in_order(portal: Portal) -> None:
    subs = [sub_account(portal, f"Client {n} – Sales") for n in range(5)]
    lines = [provision(portal, sub_account_id=subs[0])["id"] for _ in range(3)]
    lines += [provision(portal)["id"] for _ in range(2)]
    _give_a_history(portal, lines[0])
    admin = portal.as_("admin")

    walked = {
        name: walk(portal.client, portal.url(path), admin, limit=2, **params)
        for name, path, params in [
            ("lines", "/lines", {}),
            ("active lines", "/lines", {"status": "active"}),
            ("lines of a sub-account", "/lines", {"sub_account_id": subs[0]}),
            ("sub-accounts", "/sub-accounts", {}),
            ("audit trail", "/audit-trail", {}),
            ("line history", f"/lines/{lines[0]}/history", {}),
        ]
    }
    whole = {name: walk(portal.client, portal.url(path), admin, limit=500, **params)[0]
             for name, path, params in [("audit trail", "/audit-trail", {}),
                                        ("line history", f"/lines/{lines[0]}/history", {})]}

    assert [line["id"] for line in walked["lines"][0]] == lines
    assert [line["id"] for line in walked["active lines"][0]] == lines[:3]
    assert [line["id"] for line in walked["lines of a sub-account"][0]] == lines[:3]
    assert [sub["id"] for sub in walked["sub-accounts"][0]] == subs
    assert walked["audit trail"][0] == whole["audit trail"]
    positions = [e["position"] for e in walked["audit trail"][0]]
    assert positions == sorted(set(positions))
    assert walked["line history"][0] == whole["line history"]
    assert [e["event_type"] for e in walked["line history"][0]] == [
        "Line.Provisioned", "Line.Flagged", "Line.SendingPaused", "Line.Unflagged",
        "Line.SendingResumed", "Line.SendingPaused", "Line.SendingResumed"]
    assert {name: pages for name, (_, pages) in walked.items()} == {
        "lines": 3, "active lines": 2, "lines of a sub-account": 2, "sub-accounts": 3,
        "audit trail": (len(whole["audit trail"]) + 1) // 2, "line history": 4}


def test_a_page_is_as_long_as_the_limit_and_the_last_page_has_no_cursor(portal: Portal) -> None:
    for _ in range(3):
        provision(portal)

    first = portal.ok("GET", "/lines?limit=2")
    rest = portal.ok("GET", f"/lines?limit=2&cursor={first['next_cursor']}")
    exact = portal.ok("GET", "/lines?limit=3")
    default = portal.ok("GET", "/lines")

    assert (len(first["data"]), first["next_cursor"] is not None) == (2, True)
    assert (len(rest["data"]), rest["next_cursor"]) == (1, None)
    assert (len(exact["data"]), exact["next_cursor"]) == (3, None)
    assert default == exact


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


LISTS = ["/lines", "/sub-accounts", "/audit-trail", "/lines/available-pool",
         "/lines/{line}/history"]


def test_a_limit_outside_1_to_500_or_a_cursor_the_api_did_not_issue_is_refused(
        portal: Portal) -> None:
    line = provision(portal)["id"]
    bad = {"limit=0": {"limit": 0}, "limit=501": {"limit": 501}, "limit=-1": {"limit": -1},
           "limit=ten": {"limit": "ten"}, "garbage cursor": {"cursor": "%%%not-base64"},
           "foreign cursor": {"cursor": _cursor("before:3")},
           "non-numeric cursor": {"cursor": _cursor("after:three")},
           "negative cursor": {"cursor": _cursor("after:-1")},
           "cursor past any position": {"cursor": _cursor("after:" + "9" * 30)},
           "undecodable cursor": {"cursor": base64.urlsafe_b64encode(b"\xff\xfe").decode()}}

    answers = {(path, name): portal.get(path.format(line=line), params=params)
               for path in LISTS for name, params in bad.items()}
    largest = {path: portal.get(path.format(line=line), params={"limit": 500}).status_code
               for path in LISTS}

    assert {k: r.status_code for k, r in answers.items()} == dict.fromkeys(answers, 422)
    for response in answers.values():
        assert_problem(response, 422, "validation_error")
    assert largest == dict.fromkeys(LISTS, 200)


def test_the_audit_trail_filters_by_entity_event_type_and_time(portal: Portal) -> None:
    line = provision(portal)["id"]
    other = provision(portal)["id"]
    _move_clock(portal.client, "2026-01-01T01:00:00Z")
    portal.ok("POST", f"/lines/{line}/delete-request")
    portal.ok("POST", f"/lines/{other}/delete-request")
    _move_clock(portal.client, "2026-01-01T02:00:00Z")
    portal.ok("POST", f"/lines/{line}/delete-request/cancel")
    admin = portal.as_("admin")

    def read(**params: str) -> list[tuple[str, str, str]]:
        items, _ = walk(portal.client, portal.url("/audit-trail"), admin, limit=2, **params)
        return [(e["entity_id"], e["event_type"], e["occurred_at"]) for e in items]

    by_entity = read(entity_id=line)
    by_type = read(event_type="Line.DeleteRequested")
    since = read(since="2026-01-01T01:00:00Z")
    until = read(until="2026-01-01T01:00:00Z")
    window = read(since="2026-01-01T01:00:00Z", until="2026-01-01T02:00:00Z")
    combined = read(entity_id=line, event_type="Line.DeleteRequested")
    unknown_type = read(event_type="Line.NoSuchThing")

    assert by_entity == [(line, "Line.Provisioned", "2026-01-01T00:00:00Z"),
                         (line, "Line.DeleteRequested", "2026-01-01T01:00:00Z"),
                         (line, "Line.DeleteCancelled", "2026-01-01T02:00:00Z")]
    assert by_type == [(line, "Line.DeleteRequested", "2026-01-01T01:00:00Z"),
                       (other, "Line.DeleteRequested", "2026-01-01T01:00:00Z")]
    assert since == [*by_type, (line, "Line.DeleteCancelled", "2026-01-01T02:00:00Z")]
    assert all(at < "2026-01-01T01:00:00Z" for _, _, at in until)
    assert {(e, t) for e, t, _ in until} >= {(line, "Line.Provisioned"),
                                             (other, "Line.Provisioned")}
    assert len(until) + len(since) == len(read())
    assert window == by_type
    assert combined == by_type[:1]
    assert unknown_type == []


@pytest.fixture
def eastern_local_time() -> Iterator[None]:
    """The server's local time zone is not UTC."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_times_without_an_offset_are_read_as_utc(portal: Portal, eastern_local_time: None) -> None:
    provision(portal)
    _move_clock(portal.client, "2026-01-01T01:00:00Z")
    late = provision(portal)["id"]

    since = portal.ok("GET", "/audit-trail?since=2026-01-01T01:00:00")["data"]
    moved = _move_clock(portal.client, "2026-01-01T02:00:00")

    assert late in {e["entity_id"] for e in since}
    assert all(e["occurred_at"] >= "2026-01-01T01:00:00Z" for e in since)
    assert moved.status_code == 200, moved.text
    assert moved.json()["now"] == "2026-01-01T02:00:00Z"


def test_healthz_answers_ok_without_authentication(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "partitions": [{"index": 0, "status": "ok"}],
                               "quarantined": 0}


def test_the_openapi_document_is_served_and_lists_the_lines_paths(client: TestClient) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/v1/partners/{pid}/lines", "/v1/partners/{pid}/lines/{lid}",
                 "/v1/partners/{pid}/lines/{lid}/assign", "/v1/partners/{pid}/lines/overview"):
        assert path in paths, path
    assert {"get", "post"} <= paths["/v1/partners/{pid}/lines"].keys()


def test_the_manual_clock_moves_forward_only(portal: Portal) -> None:
    start = portal.client.get("/v1/admin/clock", headers=ADMIN)

    forward = _move_clock(portal.client, "2026-01-01T06:30:00Z")
    back = _move_clock(portal.client, "2026-01-01T06:29:59Z")
    same = _move_clock(portal.client, "2026-01-01T06:30:00Z")
    now = portal.client.get("/v1/admin/clock", headers=ADMIN)
    line = provision(portal)

    assert start.status_code == 200, start.text
    assert start.json()["now"] == "2026-01-01T00:00:00Z"
    assert forward.status_code == 200, forward.text
    assert forward.json()["now"] == "2026-01-01T06:30:00Z"
    assert_problem(back, 409, "invalid_transition")
    assert same.status_code == 200, same.text
    assert now.json()["now"] == "2026-01-01T06:30:00Z"
    assert line["created_at"] == "2026-01-01T06:30:00Z"


def test_a_rebuild_replays_every_view_and_reads_stay_the_same(portal: Portal) -> None:
    subs = [sub_account(portal, name) for name in ("Acme – Sales", "acme support", "Acme – Old")]
    lines = [provision(portal, sub_account_id=subs[n % 2])["id"] for n in range(4)]
    provision(portal)
    portal.ok("POST", f"/lines/{lines[0]}/flag", role="support", json={"reason": "spam"})
    portal.ok("POST", f"/lines/{lines[1]}/move-request", json={"sub_account_id": subs[0]})
    portal.ok("POST", f"/lines/{lines[3]}/delete-request")
    portal.ok("POST", f"/lines/{lines[3]}/delete-request/approve", role="support")
    portal.ok("POST", f"/sub-accounts/{subs[2]}/merge-request", json={"primary_id": subs[0]})
    portal.ok("POST", f"/sub-accounts/{subs[2]}/merge-request/approve", role="support")
    reads = ["/lines/overview", "/lines", "/sub-accounts", "/audit-trail?limit=500",
             "/lines/available-pool", f"/lines/{lines[0]}/history"]
    before = {path: portal.ok("GET", path) for path in reads}
    position = log_position(portal.client)

    rebuilt = portal.client.post("/v1/admin/projections/rebuild", headers=ADMIN)

    assert rebuilt.status_code == 200, rebuilt.text
    views = rebuilt.json()["views"]
    assert views and all(isinstance(n, int) and n >= 0 for n in views.values())
    assert max(views.values()) > 0
    assert {path: portal.ok("GET", path) for path in reads} == before
    assert log_position(portal.client) == position


def test_a_body_with_unknown_fields_is_refused_and_records_nothing(portal: Portal) -> None:
    line = provision(portal)["id"]
    sub = sub_account(portal, "Acme – Sales")
    position = log_position(portal.client)

    answers = {
        "provision": portal.post("/lines", json={"phone_number": "+14155550199", "colour": 1}),
        "assign": portal.post(f"/lines/{line}/assign",
                              json={"sub_account_id": sub, "priority": "high"}),
        "flag": portal.post(f"/lines/{line}/flag", role="support",
                            json={"reason": "spam", "severity": 3}),
        "sub-account": portal.post("/sub-accounts", json={"name": "Acme – Ops", "id": sub}),
        "rename": portal.client.patch(portal.url(f"/sub-accounts/{sub}"),
                                      headers=portal.as_("admin"),
                                      json={"name": "Acme – Ops", "status": "deleted"}),
        "partner key": portal.post("/api-keys", json={"role": "billing", "name": "b",
                                                      "token": "mine"}),
        "clock": portal.client.post("/v1/admin/clock", headers=ADMIN,
                                    json={"now": "2026-01-02T00:00:00Z", "jobs": False}),
    }

    assert {k: r.status_code for k, r in answers.items()} == dict.fromkeys(answers, 422)
    for response in answers.values():
        assert_problem(response, 422, "validation_error")
    assert log_position(portal.client) == position


def test_a_malformed_id_in_a_path_is_not_found(portal: Portal) -> None:
    line = provision(portal)["id"]
    requests = [
        ("GET", "/v1/partners/not-a-uuid"),
        ("GET", "/v1/partners/not-a-uuid/lines"),
        ("GET", portal.url("/lines/12345")),
        ("GET", portal.url("/lines/not-a-uuid/history")),
        ("POST", portal.url("/lines/not-a-uuid/pause")),
        ("GET", portal.url("/sub-accounts/zzz")),
        ("POST", portal.url("/sub-accounts/zzz/delete-request")),
        ("DELETE", portal.url("/api-keys/zzz")),
        ("POST", portal.url(f"/lines/{line}x/unassign")),
    ]
    position = log_position(portal.client)

    answers = {f"{method} {path}": portal.client.request(method, path, headers=portal.as_("admin"))
               for method, path in requests}

    assert {k: r.status_code for k, r in answers.items()} == dict.fromkeys(answers, 404)
    for response in answers.values():
        assert_problem(response, 404, "not_found")
    assert log_position(portal.client) == position
