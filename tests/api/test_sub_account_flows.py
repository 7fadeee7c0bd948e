"""Sub-accounts through the API: naming, renaming, the merge and delete flows, campaigns.

Every refused command answers problem+json and records no event.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Portal, make_portal
from tests.api.helpers import assert_problem, log_position, provision, sub_account


def _refused(portal: Portal, response: Any, status: int, code: str, position: int) -> None:
    assert_problem(response, status, code)
    assert log_position(portal.client) == position, "a refused command recorded an event"


def test_creating_a_sub_account_answers_it_with_a_naming_hint_only_off_convention(
        portal: Portal) -> None:
    conventional = portal.post("/sub-accounts", json={"name": "Acme – Sales"})
    loose = portal.post("/sub-accounts", json={"name": "acme sales"})

    assert conventional.status_code == 201, conventional.text
    assert loose.status_code == 201, loose.text
    created = conventional.json()
    assert {k: created[k] for k in ("name", "status", "line_count", "naming_hint")} == {
        "name": "Acme – Sales", "status": "active", "line_count": 0, "naming_hint": None}
    assert isinstance(loose.json()["naming_hint"], str) and loose.json()["naming_hint"]
    assert portal.ok("GET", f"/sub-accounts/{created['id']}") == created
    assert [s["name"] for s in portal.ok("GET", "/sub-accounts")["data"]] == [
        "Acme – Sales", "acme sales"]


def test_a_name_already_taken_is_refused_even_in_another_case_or_spacing(portal: Portal) -> None:
    sub_account(portal, "Acme – Sales")
    position = log_position(portal.client)

    responses = [portal.post("/sub-accounts", json={"name": name})
                 for name in ("Acme – Sales", "acme – sales", "  ACME   –  Sales ")]

    for response in responses:
        _refused(portal, response, 409, "duplicate_name", position)
    assert len(portal.ok("GET", "/sub-accounts")["data"]) == 1


def test_another_partner_may_use_the_same_name(portal: Portal) -> None:
    sub_account(portal, "Acme – Sales")
    other = make_portal(portal.client, "Globex Resale")

    response = other.post("/sub-accounts", json={"name": "Acme – Sales"})

    assert response.status_code == 201, response.text


def test_renaming_frees_the_old_name_and_refuses_a_taken_one(portal: Portal) -> None:
    sales = sub_account(portal, "acme sales")
    sub_account(portal, "Acme – Support")

    renamed = portal.ok("PATCH", f"/sub-accounts/{sales}", json={"name": "Acme – Sales"})
    recased = portal.ok("PATCH", f"/sub-accounts/{sales}", json={"name": "ACME – Sales"})
    position = log_position(portal.client)
    taken = portal.client.patch(portal.url(f"/sub-accounts/{sales}"), headers=portal.as_("admin"),
                                json={"name": "acme – support"})
    taken_position = log_position(portal.client)
    reused = portal.post("/sub-accounts", json={"name": "acme sales"})

    assert (renamed["name"], renamed["naming_hint"]) == ("Acme – Sales", None)
    assert recased["name"] == "ACME – Sales"
    assert_problem(taken, 409, "duplicate_name")
    assert taken_position == position, "the refused rename recorded an event"
    assert reused.status_code == 201, reused.text
    assert portal.ok("GET", f"/sub-accounts/{sales}")["name"] == "ACME – Sales"


def test_a_merge_request_needs_an_active_primary_of_the_same_partner_other_than_itself(
        portal: Portal) -> None:
    secondary = sub_account(portal, "Acme – Old")
    pending = sub_account(portal, "Acme – Pending")
    pending_primary = sub_account(portal, "Acme – Pending's primary")
    portal.ok("POST", f"/sub-accounts/{pending}/merge-request",
              json={"primary_id": pending_primary})
    retiring = sub_account(portal, "Acme – Retiring")
    portal.ok("POST", f"/sub-accounts/{retiring}/delete-request")
    deleted = sub_account(portal, "Acme – Gone")
    portal.ok("POST", f"/sub-accounts/{deleted}/delete-request")
    portal.ok("POST", f"/sub-accounts/{deleted}/delete-request/approve", role="support")
    elsewhere = make_portal(portal.client, "Globex Resale")
    foreign = sub_account(elsewhere, "Globex – Sales")
    position = log_position(portal.client)

    refusals = {
        primary: portal.post(f"/sub-accounts/{secondary}/merge-request",
                             json={"primary_id": primary_id})
        for primary, primary_id in {"itself": secondary, "merge_requested": pending,
                                    "delete_requested": retiring, "deleted": deleted}.items()
    }
    foreign_answer = portal.post(f"/sub-accounts/{secondary}/merge-request",
                                 json={"primary_id": foreign})
    unknown_answer = portal.post(f"/sub-accounts/{secondary}/merge-request",
                                 json={"primary_id": "00000000-0000-4000-8000-000000000000"})

    assert {k: r.status_code for k, r in refusals.items()} == dict.fromkeys(refusals, 409)
    for response in refusals.values():
        _refused(portal, response, 409, "invalid_transition", position)
    _refused(portal, foreign_answer, 404, "not_found", position)
    _refused(portal, unknown_answer, 404, "not_found", position)
    assert portal.ok("GET", f"/sub-accounts/{secondary}")["status"] == "active"


def test_a_sub_account_that_is_not_active_cannot_ask_to_be_merged(portal: Portal) -> None:
    primary = sub_account(portal, "Acme – Primary")
    retiring = sub_account(portal, "Acme – Retiring")
    portal.ok("POST", f"/sub-accounts/{retiring}/delete-request")
    position = log_position(portal.client)

    response = portal.post(f"/sub-accounts/{retiring}/merge-request", json={"primary_id": primary})

    _refused(portal, response, 409, "invalid_transition", position)


def test_an_approved_merge_moves_every_line_to_the_primary_with_the_merge_as_cause(
        portal: Portal) -> None:
    primary = sub_account(portal, "Acme – Sales")
    secondary = sub_account(portal, "Acme – Sales EU")
    kept = provision(portal, sub_account_id=primary)
    moved = [provision(portal, sub_account_id=secondary) for _ in range(3)]
    portal.ok("POST", f"/lines/{moved[1]['id']}/flag", role="support", json={"reason": "spam"})
    portal.ok("POST", f"/lines/{moved[2]['id']}/delete-request")
    requested = portal.ok("POST", f"/sub-accounts/{secondary}/merge-request",
                          json={"primary_id": primary})

    merged = portal.ok("POST", f"/sub-accounts/{secondary}/merge-request/approve", role="support")

    assert requested["status"] == "merge_requested"
    assert (merged["status"], merged["merged_into"], merged["line_count"]) == (
        "merged", primary, 0)
    assert portal.ok("GET", f"/sub-accounts/{secondary}") == merged
    assert portal.ok("GET", f"/sub-accounts/{primary}")["line_count"] == 4
    lines = portal.ok("GET", f"/lines?sub_account_id={primary}")["data"]
    assert sorted(line["id"] for line in lines) == sorted(
        line["id"] for line in [kept, *moved])
    assert [line["status"] for line in lines] == ["active", "active", "flagged",
                                                  "delete_requested"]
    for line in moved:
        history = portal.ok("GET", f"/lines/{line['id']}/history")["data"]
        moves = [e for e in history if e["event_type"] == "Line.Moved"]
        assert len(moves) == 1, history
        assert secondary in moves[0]["data"]["cause"]
        assert "merge" in moves[0]["data"]["cause"]
        assert (moves[0]["data"]["from_sub_account_id"], moves[0]["data"]["to_sub_account_id"]
                ) == (secondary, primary)
    assert portal.ok("GET", f"/lines?sub_account_id={secondary}")["data"] == []
    overview = portal.ok("GET", "/lines/overview")
    assert [s["sub_account_id"] for s in overview["by_sub_account"]] == [primary]
    assert overview["by_sub_account"][0]["counts"]["active"] == 2


def test_a_merge_settles_a_pending_move_into_the_primary_and_keeps_one_elsewhere(
        portal: Portal) -> None:
    primary = sub_account(portal, "Acme – Sales")
    secondary = sub_account(portal, "Acme – Sales EU")
    third = sub_account(portal, "Acme – Support")
    into_primary = provision(portal, sub_account_id=secondary)["id"]
    elsewhere = provision(portal, sub_account_id=secondary)["id"]
    portal.ok("POST", f"/lines/{into_primary}/move-request", json={"sub_account_id": primary})
    portal.ok("POST", f"/lines/{elsewhere}/move-request", json={"sub_account_id": third})
    portal.ok("POST", f"/sub-accounts/{secondary}/merge-request", json={"primary_id": primary})
    portal.ok("POST", f"/sub-accounts/{secondary}/merge-request/approve", role="support")
    pending = portal.ok("GET", f"/lines/{elsewhere}")

    approved = portal.ok("POST", f"/lines/{elsewhere}/move-request/approve", role="support")

    settled = portal.ok("GET", f"/lines/{into_primary}")
    assert (settled["status"], settled["sub_account_id"], settled["requested_sub_account_id"]
            ) == ("active", primary, None)
    assert (pending["status"], pending["sub_account_id"], pending["requested_sub_account_id"]
            ) == ("move_requested", primary, third)
    assert (approved["status"], approved["sub_account_id"]) == ("active", third)
    assert {sub: portal.ok("GET", f"/sub-accounts/{sub}")["line_count"]
            for sub in (primary, secondary, third)} == {primary: 1, secondary: 0, third: 1}
    assert portal.ok("GET", "/lines/overview")["counts"] == {
        "available": 0, "active": 2, "flagged": 0, "move_requested": 0, "delete_requested": 0}


def test_a_merged_sub_account_s_name_is_free_again(portal: Portal) -> None:
    primary = sub_account(portal, "Acme – Sales")
    secondary = sub_account(portal, "Acme – Sales EU")
    portal.ok("POST", f"/sub-accounts/{secondary}/merge-request", json={"primary_id": primary})
    portal.ok("POST", f"/sub-accounts/{secondary}/merge-request/approve", role="support")

    again = portal.post("/sub-accounts", json={"name": "Acme – Sales EU"})

    assert again.status_code == 201, again.text
    assert again.json()["id"] != secondary


def test_a_rejected_or_cancelled_merge_returns_the_sub_account_to_active(
        portal: Portal) -> None:
    primary = sub_account(portal, "Acme – Sales")
    ends = {"reject": "support", "cancel": "operations"}
    secondaries = {command: sub_account(portal, f"Acme – Sales {command}") for command in ends}
    lines = {command: provision(portal, sub_account_id=sub)["id"]
             for command, sub in secondaries.items()}
    for sub in secondaries.values():
        portal.ok("POST", f"/sub-accounts/{sub}/merge-request", json={"primary_id": primary})

    answers = {command: portal.ok("POST", f"/sub-accounts/{secondaries[command]}"
                                  f"/merge-request/{command}", role=role)
               for command, role in ends.items()}

    for command, answer in answers.items():
        assert (answer["status"], answer["merged_into"], answer["requested_primary_id"],
                answer["line_count"]) == ("active", None, None, 1)
        assert portal.ok("GET", f"/sub-accounts/{secondaries[command]}") == answer
        assert portal.ok("GET", f"/lines/{lines[command]}")["sub_account_id"] == \
            secondaries[command]
    assert portal.ok("GET", f"/sub-accounts/{primary}")["line_count"] == 0


def _holding(portal: Portal, name: str, line_status: str) -> str:
    sub = sub_account(portal, name)
    line = provision(portal, sub_account_id=sub)["id"]
    if line_status == "flagged":
        portal.ok("POST", f"/lines/{line}/flag", role="support", json={"reason": "spam"})
    elif line_status == "move_requested":
        target = sub_account(portal, f"{name} target")
        portal.ok("POST", f"/lines/{line}/move-request", json={"sub_account_id": target})
    elif line_status == "delete_requested":
        portal.ok("POST", f"/lines/{line}/delete-request")
    return sub


def test_a_sub_account_holding_a_line_that_is_not_deleted_cannot_ask_to_be_deleted(
        portal: Portal) -> None:
    holders = {status: _holding(portal, f"Acme – {status}", status)
               for status in ("active", "flagged", "move_requested", "delete_requested")}
    position = log_position(portal.client)

    responses = {status: portal.post(f"/sub-accounts/{sub}/delete-request")
                 for status, sub in holders.items()}

    assert {k: r.status_code for k, r in responses.items()} == dict.fromkeys(responses, 409)
    for response in responses.values():
        _refused(portal, response, 409, "sub_account_not_empty", position)


def test_a_sub_account_with_a_live_campaign_cannot_ask_to_be_deleted(portal: Portal) -> None:
    sub = sub_account(portal, "Acme – Spring")
    started = portal.post(f"/sub-accounts/{sub}/campaigns", json={"name": "Spring sale"})
    position = log_position(portal.client)

    response = portal.post(f"/sub-accounts/{sub}/delete-request")

    assert started.status_code == 201, started.text
    assert started.json()["sub_account"]["id"] == sub
    assert started.json()["campaign_id"]
    _refused(portal, response, 409, "sub_account_not_empty", position)


def test_a_sub_account_emptied_of_lines_and_campaigns_is_deleted_on_approval(
        portal: Portal) -> None:
    sub = sub_account(portal, "Acme – Spring")
    retired = provision(portal, sub_account_id=sub)["id"]
    unassigned = provision(portal, sub_account_id=sub)["id"]
    campaign = portal.ok("POST", f"/sub-accounts/{sub}/campaigns", json={"name": "Spring sale"},
                         status=201)["campaign_id"]
    portal.ok("POST", f"/lines/{retired}/delete-request")
    portal.ok("POST", f"/lines/{retired}/delete-request/approve", role="support")
    portal.ok("POST", f"/lines/{unassigned}/unassign")
    ended = portal.ok("POST", f"/sub-accounts/{sub}/campaigns/{campaign}/end")

    requested = portal.ok("POST", f"/sub-accounts/{sub}/delete-request")
    deleted = portal.ok("POST", f"/sub-accounts/{sub}/delete-request/approve", role="support")

    assert (ended["status"], ended["line_count"]) == ("active", 0)
    assert requested["status"] == "delete_requested"
    assert deleted["status"] == "deleted"
    assert portal.ok("GET", f"/sub-accounts/{sub}") == deleted
    assert portal.ok("GET", "/sub-accounts?status=deleted")["data"] == [deleted]
    assert portal.post("/sub-accounts", json={"name": "Acme – Spring"}).status_code == 201


def test_a_campaign_that_is_not_live_cannot_be_ended(portal: Portal) -> None:
    sub = sub_account(portal, "Acme – Spring")
    campaign = portal.ok("POST", f"/sub-accounts/{sub}/campaigns", json={"name": "Spring sale"},
                         status=201)["campaign_id"]
    portal.ok("POST", f"/sub-accounts/{sub}/campaigns/{campaign}/end")
    position = log_position(portal.client)

    again = portal.post(f"/sub-accounts/{sub}/campaigns/{campaign}/end")
    never = portal.post(f"/sub-accounts/{sub}/campaigns/00000000-0000-4000-8000-000000000000/end")

    _refused(portal, again, 409, "invalid_transition", position)
    _refused(portal, never, 409, "invalid_transition", position)


# The sub-account machine: the steps to each starting status, and what each command gives.
SUB_STARTS: dict[str, list[tuple[str, str]]] = {
    "active": [],
    "merge_requested": [("/merge-request", "operations")],
    "delete_requested": [("/delete-request", "operations")],
    "merged": [("/merge-request", "operations"), ("/merge-request/approve", "support")],
    "deleted": [("/delete-request", "operations"), ("/delete-request/approve", "support")],
}
SUB_COMMANDS: dict[str, tuple[str, str]] = {
    "merge-request": ("/merge-request", "operations"),
    "merge-request/approve": ("/merge-request/approve", "support"),
    "merge-request/reject": ("/merge-request/reject", "support"),
    "merge-request/cancel": ("/merge-request/cancel", "operations"),
    "delete-request": ("/delete-request", "operations"),
    "delete-request/approve": ("/delete-request/approve", "support"),
    "delete-request/reject": ("/delete-request/reject", "support"),
    "delete-request/cancel": ("/delete-request/cancel", "operations"),
    "campaign": ("/campaigns", "operations"),
}
SUB_ALLOWED: dict[str, dict[str, str]] = {
    "active": {"merge-request": "merge_requested", "delete-request": "delete_requested",
               "campaign": "active"},
    "merge_requested": {"merge-request/approve": "merged", "merge-request/reject": "active",
                        "merge-request/cancel": "active"},
    "delete_requested": {"delete-request/approve": "deleted", "delete-request/reject": "active",
                         "delete-request/cancel": "active"},
    "merged": {},
    "deleted": {},
}


def test_every_sub_account_command_from_every_status_gives_the_flow_s_result_or_is_refused(
        portal: Portal) -> None:
    primary = sub_account(portal, "Acme – Primary")
    made = iter(range(1000))

    def sub_in(status: str) -> str:
        sub = sub_account(portal, f"Acme – Secondary {next(made)}")
        for path, role in SUB_STARTS[status]:
            portal.ok("POST", f"/sub-accounts/{sub}{path}", role=role,
                      json={"primary_id": primary} if path == "/merge-request" else None)
        return sub

    # Refused commands change nothing, so they all go to one sub-account per status.
    shared = {start: sub_in(start) for start in SUB_STARTS}

    outcomes: dict[str, str] = {}
    for start in SUB_STARTS:
        for command, (path, role) in SUB_COMMANDS.items():
            sub = sub_in(start) if command in SUB_ALLOWED[start] else shared[start]
            body = ({"primary_id": primary} if path == "/merge-request" else
                    {"name": "Launch"} if path == "/campaigns" else None)
            position = log_position(portal.client)
            response = portal.post(f"/sub-accounts/{sub}{path}", role=role, json=body)
            if response.status_code in (200, 201):
                answer = response.json()
                outcome = answer.get("sub_account", answer)["status"]
            elif response.status_code == 409:
                _refused(portal, response, 409, "invalid_transition", position)
                outcome = "refused"
            else:
                outcome = f"HTTP {response.status_code}: {response.text}"
            outcomes[f"{start} → {command}"] = outcome

    assert outcomes == {f"{start} → {command}": SUB_ALLOWED[start].get(command, "refused")
                        for start in SUB_STARTS for command in SUB_COMMANDS}
