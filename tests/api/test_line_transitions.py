"""The line state machine through the API: SPEC's table, every command from every status.

An allowed command answers the line's new status (and sending, and sub-account); a
refused one answers 409 `invalid_transition` as problem+json and records no event.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
import pytest

from tests.api.conftest import Portal, make_portal
from tests.api.helpers import assert_problem, log_position, provision, sub_account

HOME = "{home}"
OTHER = "{other}"
REFUSED = "refused"

# The steps that bring a freshly provisioned (available) line into each starting state.
Step = tuple[str, str, dict[str, str] | None]
_ASSIGN: Step = ("/assign", "operations", {"sub_account_id": HOME})
_FLAG: Step = ("/flag", "support", {"reason": "spam reports"})
_PAUSE: Step = ("/pause", "operations", None)
_RESUME: Step = ("/resume", "operations", None)
_REQUEST_MOVE: Step = ("/move-request", "operations", {"sub_account_id": OTHER})
_REQUEST_DELETE: Step = ("/delete-request", "operations", None)
_APPROVE_DELETE: Step = ("/delete-request/approve", "support", None)

STARTS: dict[str, list[Step]] = {
    "available": [],
    "active": [_ASSIGN],
    "active, sending paused": [_ASSIGN, _PAUSE],
    "flagged": [_ASSIGN, _FLAG],
    "flagged, sending resumed": [_ASSIGN, _FLAG, _RESUME],
    "move_requested": [_ASSIGN, _REQUEST_MOVE],
    "delete_requested from available": [_REQUEST_DELETE],
    "delete_requested from active": [_ASSIGN, _REQUEST_DELETE],
    "delete_requested from flagged": [_ASSIGN, _FLAG, _REQUEST_DELETE],
    "deleted": [_REQUEST_DELETE, _APPROVE_DELETE],
}

COMMANDS: dict[str, Step] = {
    "assign": _ASSIGN,
    "unassign": ("/unassign", "operations", None),
    "flag": _FLAG,
    "unflag": ("/unflag", "support", None),
    "pause": _PAUSE,
    "resume": _RESUME,
    "move-request": _REQUEST_MOVE,
    "move-request/approve": ("/move-request/approve", "support", None),
    "move-request/reject": ("/move-request/reject", "support", {"reason": "wrong client"}),
    "move-request/cancel": ("/move-request/cancel", "operations", None),
    "delete-request": _REQUEST_DELETE,
    "delete-request/approve": _APPROVE_DELETE,
    "delete-request/reject": ("/delete-request/reject", "support", {"reason": "still billed"}),
    "delete-request/cancel": ("/delete-request/cancel", "operations", None),
}

# (status, sending, sub-account) after each allowed command; every other command is refused.
Outcome = tuple[str, str, str | None]
ALLOWED: dict[str, dict[str, Outcome]] = {
    "available": {
        "assign": ("active", "enabled", "home"),
        "delete-request": ("delete_requested", "enabled", None),
    },
    "active": {
        "unassign": ("available", "enabled", None),
        "flag": ("flagged", "paused", "home"),
        "pause": ("active", "paused", "home"),
        "move-request": ("move_requested", "enabled", "home"),
        "delete-request": ("delete_requested", "enabled", "home"),
    },
    "active, sending paused": {
        "unassign": ("available", "paused", None),
        "flag": ("flagged", "paused", "home"),
        "resume": ("active", "enabled", "home"),
        "move-request": ("move_requested", "paused", "home"),
        "delete-request": ("delete_requested", "paused", "home"),
    },
    "flagged": {
        "unflag": ("active", "paused", "home"),
        "resume": ("flagged", "enabled", "home"),
        "delete-request": ("delete_requested", "paused", "home"),
    },
    "flagged, sending resumed": {
        "unflag": ("active", "enabled", "home"),
        "pause": ("flagged", "paused", "home"),
        "delete-request": ("delete_requested", "enabled", "home"),
    },
    "move_requested": {
        "move-request/approve": ("active", "enabled", "other"),
        "move-request/reject": ("active", "enabled", "home"),
        "move-request/cancel": ("active", "enabled", "home"),
    },
    "delete_requested from available": {
        "delete-request/approve": ("deleted", "enabled", None),
        "delete-request/reject": ("available", "enabled", None),
        "delete-request/cancel": ("available", "enabled", None),
    },
    "delete_requested from active": {
        "delete-request/approve": ("deleted", "enabled", "home"),
        "delete-request/reject": ("active", "enabled", "home"),
        "delete-request/cancel": ("active", "enabled", "home"),
    },
    "delete_requested from flagged": {
        "delete-request/approve": ("deleted", "paused", "home"),
        "delete-request/reject": ("flagged", "paused", "home"),
        "delete-request/cancel": ("flagged", "paused", "home"),
    },
    "deleted": {},
}


def run(portal: Portal, line_id: str, step: Step, ids: dict[str, str]) -> Any:
    path, role, body = step
    filled = {k: v.format(**ids) for k, v in body.items()} if body is not None else None
    return portal.post(f"/lines/{line_id}{path}", role=role, json=filled)


def line_in(portal: Portal, start: str, ids: dict[str, str]) -> str:
    line_id = str(provision(portal)["id"])
    for step in STARTS[start]:
        response = run(portal, line_id, step, ids)
        assert response.status_code == 200, response.text
    return line_id


@pytest.fixture
def subs(portal: Portal) -> dict[str, str]:
    return {"home": sub_account(portal, "Acme – Sales"),
            "other": sub_account(portal, "Acme – Support")}


def test_every_command_from_every_status_gives_the_table_s_result_or_is_refused_unrecorded(
        portal: Portal, subs: dict[str, str]) -> None:
    names = {sub_id: name for name, sub_id in subs.items()}
    # Refused commands change nothing, so they all go to one line per starting state.
    shared = {start: line_in(portal, start, subs) for start in STARTS}
    unchanged = {start: portal.get(f"/lines/{line_id}").json()
                 for start, line_id in shared.items()}

    outcomes: dict[str, Outcome | str] = {}
    for start in STARTS:
        for command, step in COMMANDS.items():
            refused_expected = command not in ALLOWED[start]
            line_id = shared[start] if refused_expected else line_in(portal, start, subs)
            position = log_position(portal.client)
            response = run(portal, line_id, step, subs)
            if response.status_code == 200:
                line = response.json()
                assert portal.get(f"/lines/{line_id}").json() == line
                outcome: Outcome | str = (line["status"], line["sending"],
                                          names.get(line["sub_account_id"]))
            elif response.status_code == 409:
                assert_problem(response, 409, "invalid_transition")
                assert log_position(portal.client) == position, f"{start}: {command} recorded"
                outcome = REFUSED
            else:
                outcome = f"HTTP {response.status_code}: {response.text}"
            outcomes[f"{start} → {command}"] = outcome

    assert outcomes == {f"{start} → {command}": ALLOWED[start].get(command, REFUSED)
                        for start in STARTS for command in COMMANDS}
    assert {start: portal.get(f"/lines/{line_id}").json() for start, line_id in shared.items()
            } == unchanged


def test_flagging_a_line_pauses_its_sending_through_the_policy(
        portal: Portal, subs: dict[str, str]) -> None:
    line = provision(portal, sub_account_id=subs["home"])

    flagged = portal.ok("POST", f"/lines/{line['id']}/flag", role="support",
                        json={"reason": "volume limit hits"})
    history = portal.ok("GET", f"/lines/{line['id']}/history")["data"]

    assert (flagged["status"], flagged["sending"]) == ("flagged", "paused")
    assert flagged["flag_reason"] == "volume limit hits"
    assert [e["event_type"] for e in history] == ["Line.Provisioned", "Line.Flagged",
                                                  "Line.SendingPaused"]
    assert history[-1]["actor"]["role"] == "policy"


def test_unflagging_leaves_sending_paused_when_the_policy_paused_it(
        portal: Portal, subs: dict[str, str]) -> None:
    line = provision(portal, sub_account_id=subs["home"])
    portal.ok("POST", f"/lines/{line['id']}/flag", role="support", json={"reason": "spam"})

    unflagged = portal.ok("POST", f"/lines/{line['id']}/unflag", role="support")

    assert (unflagged["status"], unflagged["sending"]) == ("active", "paused")
    assert unflagged["flag_reason"] is None


def test_unflagging_leaves_sending_enabled_when_the_partner_resumed_it_while_flagged(
        portal: Portal, subs: dict[str, str]) -> None:
    line = provision(portal, sub_account_id=subs["home"])
    portal.ok("POST", f"/lines/{line['id']}/flag", role="support", json={"reason": "spam"})
    portal.ok("POST", f"/lines/{line['id']}/resume", role="operations")

    unflagged = portal.ok("POST", f"/lines/{line['id']}/unflag", role="support")

    assert (unflagged["status"], unflagged["sending"]) == ("active", "enabled")


def test_an_approved_move_puts_the_line_in_the_target_sub_account(
        portal: Portal, subs: dict[str, str]) -> None:
    line = provision(portal, sub_account_id=subs["home"])
    requested = portal.ok("POST", f"/lines/{line['id']}/move-request", role="operations",
                          json={"sub_account_id": subs["other"]})

    moved = portal.ok("POST", f"/lines/{line['id']}/move-request/approve", role="support")

    assert requested["requested_sub_account_id"] == subs["other"]
    assert moved["sub_account_id"] == subs["other"]
    assert moved["requested_sub_account_id"] is None
    assert portal.ok("GET", f"/sub-accounts/{subs['home']}")["line_count"] == 0
    assert portal.ok("GET", f"/sub-accounts/{subs['other']}")["line_count"] == 1
    assert [line["id"] for line in portal.ok(
        "GET", f"/lines?sub_account_id={subs['other']}")["data"]] == [line["id"]]


def _make_target(portal: Portal, how: str) -> str:
    target = sub_account(portal, f"Acme – {how}")
    if how == "merge_requested":
        primary = sub_account(portal, f"Acme – Primary of {how}")
        portal.ok("POST", f"/sub-accounts/{target}/merge-request", json={"primary_id": primary})
    elif how in ("delete_requested", "deleted"):
        portal.ok("POST", f"/sub-accounts/{target}/delete-request")
        if how == "deleted":
            portal.ok("POST", f"/sub-accounts/{target}/delete-request/approve", role="support")
    elif how == "merged":
        primary = sub_account(portal, f"Acme – Primary of {how}")
        portal.ok("POST", f"/sub-accounts/{target}/merge-request", json={"primary_id": primary})
        portal.ok("POST", f"/sub-accounts/{target}/merge-request/approve", role="support")
    return target


def test_a_line_cannot_be_moved_assigned_or_provisioned_into_a_sub_account_that_is_not_active(
        portal: Portal, subs: dict[str, str]) -> None:
    targets = {how: _make_target(portal, how)
               for how in ("merge_requested", "delete_requested", "deleted", "merged")}
    active = provision(portal, sub_account_id=subs["home"])
    available = provision(portal)
    position = log_position(portal.client)

    responses = {}
    for how, target in targets.items():
        responses[how, "move"] = portal.post(f"/lines/{active['id']}/move-request",
                                             role="operations", json={"sub_account_id": target})
        responses[how, "assign"] = portal.post(f"/lines/{available['id']}/assign",
                                               json={"sub_account_id": target})
        responses[how, "provision"] = portal.post("/lines", json={"sub_account_id": target})

    assert {k: r.status_code for k, r in responses.items()} == dict.fromkeys(responses, 409)
    for response in responses.values():
        assert_problem(response, 409, "invalid_transition")
    assert log_position(portal.client) == position
    assert portal.ok("GET", f"/lines/{active['id']}")["status"] == "active"
    assert portal.ok("GET", f"/lines/{available['id']}")["status"] == "available"


def test_approving_a_move_whose_target_stopped_being_active_is_refused(
        portal: Portal, subs: dict[str, str]) -> None:
    line = provision(portal, sub_account_id=subs["home"])
    portal.ok("POST", f"/lines/{line['id']}/move-request", json={"sub_account_id": subs["other"]})
    portal.ok("POST", f"/sub-accounts/{subs['other']}/delete-request")
    position = log_position(portal.client)

    response = portal.post(f"/lines/{line['id']}/move-request/approve", role="support")

    assert_problem(response, 409, "invalid_transition")
    assert log_position(portal.client) == position
    assert portal.ok("GET", f"/lines/{line['id']}")["status"] == "move_requested"


def test_an_approved_delete_frees_the_phone_number_for_a_new_line(portal: Portal) -> None:
    line = provision(portal, phone_number="+14155550123")
    portal.ok("POST", f"/lines/{line['id']}/delete-request")
    deleted = portal.ok("POST", f"/lines/{line['id']}/delete-request/approve", role="support")

    again = portal.post("/lines", json={"phone_number": "+14155550123"})

    assert deleted["status"] == "deleted"
    assert again.status_code == 201, again.text
    assert again.json()["id"] != line["id"]
    assert again.json()["status"] == "available"
    assert portal.ok("GET", f"/lines/{line['id']}")["status"] == "deleted"


def test_a_phone_number_awaiting_deletion_is_still_taken(portal: Portal) -> None:
    line = provision(portal, phone_number="+14155550123")
    portal.ok("POST", f"/lines/{line['id']}/delete-request")

    response = portal.post("/lines", json={"phone_number": "+14155550123"})

    assert_problem(response, 409, "duplicate_phone_number")


def test_a_phone_number_already_held_by_a_live_line_is_refused(portal: Portal) -> None:
    provision(portal, phone_number="+14155550123")
    position = log_position(portal.client)

    response = portal.post("/lines", json={"phone_number": "+14155550123"})

    assert_problem(response, 409, "duplicate_phone_number")
    assert log_position(portal.client) == position
    assert portal.ok("GET", "/lines/overview")["counts"]["available"] == 1


def test_another_partner_may_hold_the_same_phone_number(portal: Portal) -> None:
    provision(portal, phone_number="+14155550123")
    other = make_portal(portal.client, "Globex Resale")

    response = other.post("/lines", json={"phone_number": "+14155550123"})

    assert response.status_code == 201, response.text


@pytest.mark.parametrize("phone_numbers", [
    pytest.param(["4155550123", "+1415", "+1 415 555", "call me", "+999 123 4567", "", "+"],
                 id="malformed"),
    # Spellings `phonenumbers` would read leniently into some other number: doubled plus
    # signs, vanity letters, extensions, non-ASCII digits, spaces.
    pytest.param(["++14155550123", "+1 415 555 CALL", "+1 415 555 0123 ext. 5",
                  "+1415555012\uff13", "+1 415 555 0123"], id="lenient spellings"),
])
def test_a_phone_number_that_is_not_a_valid_e164_number_is_refused(
        portal: Portal, phone_numbers: list[str]) -> None:
    position = log_position(portal.client)

    responses = {number: portal.post("/lines", json={"phone_number": number})
                 for number in phone_numbers}

    assert {n: r.status_code for n, r in responses.items()} == dict.fromkeys(phone_numbers, 422)
    for response in responses.values():
        assert_problem(response, 422, "validation_error")
    assert log_position(portal.client) == position


def test_provisioning_without_a_number_allocates_a_valid_e164_number(portal: Portal) -> None:
    lines = [provision(portal) for _ in range(3)]

    numbers = [line["phone_number"] for line in lines]

    assert len(set(numbers)) == 3
    for number in numbers:
        parsed = phonenumbers.parse(number, None)
        assert phonenumbers.is_valid_number(parsed), number
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number
    assert all(line["status"] == "available" for line in lines)


def test_provisioning_straight_into_a_sub_account_gives_an_active_line(
        portal: Portal, subs: dict[str, str]) -> None:
    line = provision(portal, phone_number="+14155550123", sub_account_id=subs["home"])

    assert (line["status"], line["sending"]) == ("active", "enabled")
    assert line["sub_account_id"] == subs["home"]
    assert line["phone_number"] == "+14155550123"
    assert portal.ok("GET", f"/sub-accounts/{subs['home']}")["line_count"] == 1
    assert portal.ok("GET", f"/lines/{line['id']}") == line
