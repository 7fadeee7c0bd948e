"""A line's or a sub-account's command answers it as it stands after the command (and
after what the policies did in reaction): the same as loading it again, whether the route
answers from the aggregate the command saved or loads it because a policy ran."""

from __future__ import annotations

from uuid import UUID

from fastapi.testclient import TestClient

from service.api.representations import line_json, sub_account_json
from service.runtime.bootstrap import Ledger
from tests.api.conftest import make_portal
from tests.api.helpers import provision, sub_account

STEPS: list[tuple[str, str, dict[str, str] | None]] = [
    ("/assign", "operations", {"sub_account_id": "{home}"}),
    ("/pause", "operations", None),
    ("/resume", "operations", None),
    ("/flag", "support", {"reason": "spam reports"}),  # the policy pauses sending
    ("/resume", "operations", None),
    ("/unflag", "support", None),
    ("/move-request", "operations", {"sub_account_id": "{other}"}),
    ("/move-request/approve", "support", None),
    ("/pause", "operations", None),
    ("/delete-request", "operations", None),
    ("/delete-request/cancel", "operations", None),
]


def test_every_answer_is_the_line_as_a_fresh_load_finds_it(client: TestClient,
                                                           ledger: Ledger) -> None:
    portal = make_portal(client)
    ids = {"{home}": sub_account(portal, "Home"), "{other}": sub_account(portal, "Other")}
    line = provision(portal)
    pid, lid = UUID(portal.partner_id), UUID(line["id"])
    assert line == line_json(ledger.app.line(pid, lid))
    answers = []
    for path, role, body in STEPS:
        sent = {k: ids.get(v, v) for k, v in body.items()} if body else None
        answer = portal.ok("POST", f"/lines/{lid}{path}", role=role, json=sent)
        assert answer == line_json(ledger.app.line(pid, lid)), path
        answers.append((answer["status"], answer["sending"]))
    assert answers[3] == ("flagged", "paused")  # the policy's pause is in the answer
    assert answers[-1] == ("active", "paused")


def test_every_sub_account_answer_is_the_sub_account_as_a_fresh_load_finds_it(
        client: TestClient, ledger: Ledger) -> None:
    portal = make_portal(client)
    pid = UUID(portal.partner_id)
    primary = sub_account(portal, "Primary")
    created = portal.ok("POST", "/sub-accounts", json={"name": "Team"}, status=201)
    sid = UUID(created["id"])
    assert created == sub_account_json(ledger.app.sub_account(pid, sid))
    provision(portal, sub_account_id=str(sid))

    def fresh() -> dict[str, object]:
        return sub_account_json(ledger.app.sub_account(pid, sid))

    assert portal.ok("PATCH", f"/sub-accounts/{sid}", json={"name": "Team B"}) == fresh()
    started = portal.ok("POST", f"/sub-accounts/{sid}/campaigns", json={"name": "Spring"},
                        status=201)
    assert started["sub_account"] == fresh()
    ended = portal.ok("POST", f"/sub-accounts/{sid}/campaigns/{started['campaign_id']}/end")
    assert ended == fresh()
    for path, role, body in [("/merge-request", "operations", {"primary_id": primary}),
                             ("/merge-request/cancel", "operations", None),
                             ("/merge-request", "operations", {"primary_id": primary}),
                             ("/merge-request/approve", "support", None)]:
        answer = portal.ok("POST", f"/sub-accounts/{sid}{path}", role=role, json=body)
        assert answer == fresh(), path
    assert (answer["status"], answer["line_count"]) == ("merged", 0)
