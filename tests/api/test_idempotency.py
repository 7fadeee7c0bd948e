"""Idempotency-Key, held in the database: scoped to the authenticated key, claimed before
the command runs, only final answers kept, secrets never stored, answers pruned after
their time, claims of dead processes lapsing. (test_http_conventions.py holds the
replay and reuse basics; tests/integration/test_idempotency_processes.py the
cross-process race.)"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from aggregates.errors import VersionConflict
from projections import idempotency_records as records
from service.api.app import create_app
from service.api.idempotency import IdempotencyRecords, request_digest
from service.api.routes import billing as billing_routes
from service.runtime.bootstrap import Ledger
from service.runtime.partitions import Cluster, build_cluster, partition_of
from service.runtime.settings import partition_url
from tests.api.conftest import ADMIN, Portal, bearer, create_partner, partner_key
from tests.api.helpers import assert_problem, log_position
from tests.conftest import empty_postgres, make_settings

KEY = "Idempotency-Key"
CREDIT = {"amount": 500, "reason": "goodwill"}


def _rows(ledger: Ledger) -> list[dict[str, Any]]:
    with ledger.read_model.reading() as sql:
        return sql.all(f"SELECT * FROM {records.TABLE}")


def _home(portal: Portal) -> Ledger:
    return portal.client.app.state.cluster.home


def _kept(portal: Portal) -> IdempotencyRecords:
    return portal.client.app.state.idempotency


CREDIT_BODY = json.dumps(CREDIT).encode()


def _credit(portal: Portal, key: str, *, headers: dict[str, str] | None = None) -> Any:
    return portal.client.post(portal.url("/credits"), content=CREDIT_BODY,
                              headers={**(headers or portal.as_("support")), KEY: key,
                                       "Content-Type": "application/json"})


def _balance(portal: Portal) -> int:
    return int(portal.ok("GET", "/my-status")["credit_balance"])


def _hold(monkeypatch: pytest.MonkeyPatch, target: Any, name: str
          ) -> tuple[threading.Event, threading.Event]:
    """Makes `target.name` wait for the gate; `entered` is set once a call is inside."""
    entered, gate = threading.Event(), threading.Event()
    original = getattr(target, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert gate.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, held)
    return entered, gate


def _in_background(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(call()))
    thread.start()
    return thread, answers


def test_a_duplicate_while_the_first_runs_is_told_the_key_is_in_use(
        portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    entered, gate = _hold(monkeypatch, billing_routes, "execute")
    thread, first = _in_background(lambda: _credit(portal, "grant-1"))
    assert entered.wait(30)

    duplicate = _credit(portal, "grant-1")
    other_body = portal.client.post(portal.url("/credits"), json={**CREDIT, "amount": 7},
                                    headers={**portal.as_("support"), KEY: "grant-1"})
    gate.set()
    thread.join(30)
    replay = _credit(portal, "grant-1")

    assert_problem(duplicate, 409, "idempotency_key_in_use")
    assert_problem(other_body, 422, "idempotency_key_reused")
    assert first[0].status_code == 200, first[0].text
    assert replay.status_code == 200
    assert replay.content == first[0].content
    assert replay.headers["idempotent-replayed"] == "true"
    assert _balance(portal) == CREDIT["amount"]


def test_a_key_belongs_to_the_api_key_not_to_the_header_s_spelling(portal: Portal) -> None:
    token = portal.as_("support")["Authorization"].split(" ", 1)[1]
    spellings = [{"Authorization": f"{scheme} {token}"}
                 for scheme in ("Bearer", "bearer", "BEARER")]
    position = log_position(portal.client)

    answers = [_credit(portal, "grant-1", headers=headers) for headers in spellings]
    other_key = portal.client.post("/v1/api-keys", headers=ADMIN,
                                   json={"role": "support", "name": "second desk"}).json()
    by_other = _credit(portal, "grant-1", headers=bearer(other_key["token"]))

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[1].content == answers[2].content == answers[0].content
    assert by_other.status_code == 200
    assert _balance(portal) == 2 * CREDIT["amount"]
    assert log_position(portal.client) > position
    assert {row["key_id"] for row in _rows(_home(portal))} >= {other_key["id"]}


def test_a_revoked_key_s_replay_is_unauthorised(portal: Portal) -> None:
    made = portal.client.post(portal.url("/api-keys"), headers=portal.as_("admin"),
                              json={"role": "operations", "name": "ops"}).json()
    headers = {**bearer(made["token"]), KEY: "line-1"}
    first = portal.client.post(portal.url("/lines"), headers=headers, json={})
    portal.client.delete(portal.url(f"/api-keys/{made['id']}"), headers=portal.as_("admin"))

    replay = portal.client.post(portal.url("/lines"), headers=headers, json={})

    assert first.status_code == 201, first.text
    assert_problem(replay, 401, "unauthorized")


def test_unauthenticated_calls_store_nothing(portal: Portal) -> None:
    callers = [{}, {"Authorization": "Bearer pl_nope_nope"}, {"Authorization": "Basic eDp5"}]

    answers = [portal.client.post(portal.url("/lines"), json={},
                                  headers={**caller, KEY: f"line-{n}"})
               for n, caller in enumerate(callers)]

    for answer in answers:
        assert_problem(answer, 401, "unauthorized")
    assert _rows(_home(portal)) == []


def test_answers_that_say_try_again_are_not_kept(
        portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    original = billing_routes.execute
    failures = iter([VersionConflict("the resource changed; try again"),
                     RuntimeError("the database went away")])

    def flaky(*args: Any, **kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return original(*args, **kwargs)

    monkeypatch.setattr(billing_routes, "execute", flaky)

    conflict = _credit(portal, "grant-1")
    after_conflict = _rows(_home(portal))
    crash = _credit(portal, "grant-1")
    after_crash = _rows(_home(portal))
    success = _credit(portal, "grant-1")
    replay = _credit(portal, "grant-1")

    assert_problem(conflict, 409, "version_conflict")
    assert_problem(crash, 500, "internal_error")
    assert after_conflict == after_crash == []
    assert success.status_code == 200, success.text
    assert replay.content == success.content
    assert [row["state"] for row in _rows(_home(portal))] == [records.DONE]
    assert _balance(portal) == CREDIT["amount"]


def test_a_created_key_s_token_is_never_stored(portal: Portal) -> None:
    platform = {**ADMIN, KEY: "platform-key-1"}
    partner = {**portal.as_("admin"), KEY: "partner-key-1"}
    body = {"role": "admin", "name": "made once"}

    made = [portal.client.post("/v1/api-keys", headers=platform, json=body),
            portal.client.post(portal.url("/api-keys"), headers=partner, json=body)]
    replayed = [portal.client.post("/v1/api-keys", headers=platform, json=body),
                portal.client.post(portal.url("/api-keys"), headers=partner, json=body)]

    stored_text = repr(_rows(_home(portal)))
    for first, replay in zip(made, replayed, strict=True):
        assert first.status_code == 201, first.text
        token = first.json()["token"]
        assert token and token not in stored_text
        assert token.rsplit("_", 1)[-1] not in stored_text  # nor its secret part
        assert replay.status_code == 201
        assert replay.json() == {**first.json(), "token": None, "token_shown": False}
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.headers["content-type"].startswith("application/json")
    assert len(_rows(_home(portal))) == 2


def _move_clock(portal: Portal, now: str) -> None:
    moved = portal.client.post("/v1/admin/clock", headers=ADMIN, json={"now": now})
    assert moved.status_code == 200, moved.text


def test_answers_are_kept_for_their_time_then_pruned(portal: Portal) -> None:
    first = _credit(portal, "grant-1")
    _move_clock(portal, "2026-01-01T23:00:00Z")
    within = _credit(portal, "grant-1")
    _move_clock(portal, "2026-01-02T00:00:01Z")
    keys_before = {row["idempotency_key"] for row in _rows(_home(portal))}

    other = _credit(portal, "grant-2")  # any claim prunes what has expired
    keys_after = {row["idempotency_key"] for row in _rows(_home(portal))}
    again = _credit(portal, "grant-1")

    assert first.status_code == within.status_code == 200
    assert within.content == first.content
    assert keys_before == {"grant-1"}
    assert other.status_code == 200
    assert keys_after == {"grant-2"}
    assert again.status_code == 200
    assert "idempotent-replayed" not in again.headers
    assert _balance(portal) == 3 * CREDIT["amount"]


def test_pruning_is_bounded(portal: Portal) -> None:
    kept = _kept(portal)
    for n in range(5):
        assert _credit(portal, f"grant-{n}").status_code == 200
    _move_clock(portal, "2026-01-03T00:00:00Z")

    pruned = [kept.prune(_home(portal), limit=2) for _ in range(4)]

    assert pruned == [2, 2, 1, 0]
    assert _rows(_home(portal)) == []


def _plant_claim(portal: Portal, key: str, *, lease_ms: int) -> None:
    """A claim as a process that is (or was) running the request would leave it."""
    kept = _kept(portal)
    support_id = _support_key_id(portal)
    with _home(portal).read_model.writing() as sql:
        records.claim(sql, key_id=support_id, key=key,
                      request_hash=request_digest("POST", portal.url("/credits"), b"",
                                                  CREDIT_BODY),
                      claim_id=uuid.uuid4().hex,
                      clock=records.Clock(now="2026-01-01T00:00:00.000000Z",
                                          wall_ms=kept.wall_ms()),
                      lease_ms=lease_ms, expires_at="2026-01-02T00:00:00.000000Z")


def _support_key_id(portal: Portal) -> str:
    token = portal.as_("support")["Authorization"].split(" ", 1)[1]
    key = portal.client.app.state.cluster.authenticate(token, first=_home(portal))
    return str(key.id)


def test_a_claim_left_by_a_dead_process_lapses(portal: Portal) -> None:
    _plant_claim(portal, "grant-live", lease_ms=60_000)
    _plant_claim(portal, "grant-dead", lease_ms=-1)

    live = _credit(portal, "grant-live")
    dead = _credit(portal, "grant-dead")
    replay = _credit(portal, "grant-dead")

    assert_problem(live, 409, "idempotency_key_in_use")
    assert dead.status_code == 200, dead.text
    assert replay.content == dead.content
    assert _balance(portal) == CREDIT["amount"]


def test_a_long_command_keeps_its_claim(portal: Portal, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    _kept(portal).lease_seconds = 1.0  # renewed every quarter second
    entered, gate = _hold(monkeypatch, billing_routes, "execute")
    thread, first = _in_background(lambda: _credit(portal, "grant-1"))
    assert entered.wait(30)
    time.sleep(2.5)  # two and a half leases: only renewals keep the claim

    duplicate = _credit(portal, "grant-1")
    gate.set()
    thread.join(30)

    assert_problem(duplicate, 409, "idempotency_key_in_use")
    assert first[0].status_code == 200, first[0].text
    assert _balance(portal) == CREDIT["amount"]


def test_a_key_must_be_printable_and_at_most_255_characters(portal: Portal) -> None:
    position = log_position(portal.client)

    answers = [_credit(portal, key) for key in ("x" * 256, "")]

    for answer in answers:
        assert_problem(answer, 422, "validation_error")
    assert log_position(portal.client) == position
    assert _rows(_home(portal)) == []


PARTITIONS = 2


@pytest.fixture
def cluster(database_url: str) -> Iterator[Cluster]:
    if database_url.startswith("postgresql"):
        for index in range(1, PARTITIONS):
            # A sibling not created yet raises: the cluster creates it empty.
            with contextlib.suppress(psycopg.OperationalError):
                empty_postgres(partition_url(database_url, index))
    service = build_cluster(make_settings(database_url, partitions=PARTITIONS))
    yield service
    service.close()


def test_a_partner_s_keys_live_in_its_partition_and_platform_keys_at_home(
        cluster: Cluster) -> None:
    with TestClient(create_app(cluster, run_scheduler=False),
                    raise_server_exceptions=False) as client:
        pid = next(p for p in (create_partner(client, f"P{n}") for n in range(60))
                   if partition_of(uuid.UUID(p), PARTITIONS) == 1)
        admin = partner_key(client, pid, "admin")
        platform = client.post("/v1/partners", headers={**ADMIN, KEY: "partner-1"}, json={
            "name": "Keyed", "currency": "USD", "billing_anchor_day": 1,
            "pricing": {"structure": "standard", "unit_amount": 100}})
        line = client.post(f"/v1/partners/{pid}/lines", headers={**admin, KEY: "line-1"},
                           json={})

    assert platform.status_code == 201, platform.text
    assert line.status_code == 201, line.text
    home, partition = (_keys(ledger) for ledger in cluster.ledgers)
    assert home == {"partner-1"}
    assert partition == {"line-1"}


def _keys(ledger: Ledger) -> set[str]:
    return {row["idempotency_key"] for row in _rows(ledger)}
