"""A command that committed never answers 500: a failure after the commit (the catch-up,
the read-back) answers the committed result, or 202 with the recorded id and a Location,
and a retry with the same Idempotency-Key records nothing new. Both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from service.api.routes import lines as line_routes
from service.commands.application import LedgerApplication
from service.commands.committed import CURRENT
from service.runtime.bootstrap import Ledger
from tests.api.conftest import Portal


def _lines(portal: Portal) -> list[dict[str, object]]:
    response = portal.get("/lines")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _fails_after_commit(real: Callable[..., Any]) -> Callable[..., Any]:
    """`real`, failing as a dropped connection would once the request has committed."""
    def read_back(*args: Any) -> Any:
        log = CURRENT.get()
        if log is not None and log.committed:
            raise OperationalError("the server closed the connection unexpectedly")
        return real(*args)

    return read_back


def _read_back_fails_after_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The line's answer fails once the command has committed: loaded again (after a
    catch-up that ran the policies) or written from the line the command saved."""
    monkeypatch.setattr(LedgerApplication, "line", _fails_after_commit(LedgerApplication.line))
    monkeypatch.setattr(line_routes, "line_json", _fails_after_commit(line_routes.line_json))


def test_a_catch_up_that_fails_after_the_commit_still_answers_the_command(
        portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(_: Ledger) -> None:
        raise OperationalError("the server closed the connection unexpectedly")

    monkeypatch.setattr(Ledger, "caught_up", fails)
    created = portal.post("/lines", json={"phone_number": "+14155550101"})
    monkeypatch.undo()
    assert created.status_code == 201, created.text
    assert created.json()["phone_number"] == "+14155550101"
    assert [line["id"] for line in _lines(portal)] == [created.json()["id"]]


def test_a_read_back_that_fails_after_the_commit_answers_202_with_where_to_read_it(
        portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = {**portal.as_("admin"), "Idempotency-Key": "line-after-commit"}
    _read_back_fails_after_commit(monkeypatch)
    answer = portal.client.post(portal.url("/lines"), headers=headers,
                                json={"phone_number": "+14155550102"})
    monkeypatch.undo()
    assert answer.status_code == 202, answer.text
    line_id = answer.json()["id"]
    assert answer.json()["status"] == "accepted"
    assert answer.headers["Location"] == portal.url(f"/lines/{line_id}")
    read = portal.client.get(answer.headers["Location"], headers=portal.as_("admin"))
    assert read.status_code == 200, read.text
    assert read.json()["phone_number"] == "+14155550102"

    again = portal.client.post(portal.url("/lines"), headers=headers,
                               json={"phone_number": "+14155550102"})
    assert again.status_code == 202
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == line_id
    assert [line["id"] for line in _lines(portal)] == [line_id]


def test_a_command_on_a_resource_that_fails_after_the_commit_points_at_the_resource(
        portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    line = portal.ok("POST", "/lines", json={"phone_number": "+14155550103"})
    sub = portal.ok("POST", "/sub-accounts", json={"name": "Main"})

    _read_back_fails_after_commit(monkeypatch)
    assigned = portal.post(f"/lines/{line['id']}/assign", json={"sub_account_id": sub["id"]})
    monkeypatch.undo()
    assert assigned.status_code == 202, assigned.text
    assert assigned.headers["Location"] == portal.url(f"/lines/{line['id']}")
    assert assigned.json()["id"] in {line["id"], sub["id"]}
    assert portal.ok("GET", f"/lines/{line['id']}")["sub_account_id"] == sub["id"]


def test_a_failure_before_anything_committed_is_still_an_error(
        portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*_: object, **__: object) -> None:
        raise RuntimeError("the handler broke before saving")

    monkeypatch.setattr(LedgerApplication, "_provision", fails)
    refused = portal.post("/lines", json={"phone_number": "+14155550104"})
    monkeypatch.undo()
    assert refused.status_code == 500
    assert refused.json()["code"] == "internal_error"
    assert _lines(portal) == []
