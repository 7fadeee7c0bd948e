"""One manual clock for every process: after `POST /v1/admin/clock` answers, every API
process answers the new time, stamps its commands with it, and refuses to move it back.
Two services on one database (both backends), and `ledger serve --workers 2` (PostgreSQL,
the only store several workers may share)."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aggregates.errors import InvalidTransition
from service.api.app import create_app
from service.runtime.clock import DatabaseClockStore, ManualClock
from tests.api.conftest import ADMIN, STANDARD
from tests.api.helpers import assert_problem
from tests.conftest import empty_postgres, start_ledger
from tests.integration.processes import free_port, service_env, start, stop, wait_healthy


@contextmanager
def service(database_url: str) -> Iterator[TestClient]:
    ledger = start_ledger(database_url)
    try:
        with TestClient(create_app(ledger, run_scheduler=False),
                        raise_server_exceptions=False) as client:
            yield client
    finally:
        ledger.close()


def clock_of(client: TestClient) -> str:
    response = client.get("/v1/admin/clock", headers=ADMIN)
    assert response.status_code == 200, response.text
    return str(response.json()["now"])


def test_every_service_on_one_database_answers_the_time_another_one_set(
        database_url: str) -> None:
    with service(database_url) as first, service(database_url) as second:
        started = (clock_of(first), clock_of(second))

        moved = first.post("/v1/admin/clock", headers=ADMIN, json={"now": "2026-01-15T08:00:00Z"})
        seen = clock_of(second)
        partner = second.post("/v1/partners", headers=ADMIN, json={
            "name": "Acme Resale", "currency": "USD", "billing_anchor_day": 1,
            "pricing": STANDARD})
        back = second.post("/v1/admin/clock", headers=ADMIN,
                           json={"now": "2026-01-10T00:00:00Z"})
        forward = second.post("/v1/admin/clock", headers=ADMIN,
                              json={"now": "2026-01-20T00:00:00Z"})
        seen_back = clock_of(first)

    assert started == ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert moved.status_code == 200, moved.text
    assert seen == "2026-01-15T08:00:00Z"
    assert partner.json()["created_at"] == "2026-01-15T08:00:00Z"
    assert_problem(back, 409, "invalid_transition")
    assert forward.status_code == 200, forward.text
    assert seen_back == "2026-01-20T00:00:00Z"


def test_a_manual_clock_never_takes_a_time_behind_the_one_stored(database_url: str) -> None:
    ledger = start_ledger(database_url)
    try:
        store = DatabaseClockStore(ledger.read_model)
        mine = ManualClock(datetime(2026, 1, 1, tzinfo=UTC), store=store)
        other = ManualClock(datetime(2026, 1, 1, tzinfo=UTC), store=store)
        other.set(datetime(2026, 3, 1, tzinfo=UTC))

        with pytest.raises(InvalidTransition):
            mine.set(datetime(2026, 2, 1, tzinfo=UTC))
        stored = store.read()
    finally:
        ledger.close()

    assert mine.now() == stored == datetime(2026, 3, 1, tzinfo=UTC)


# -- two workers of one `ledger serve` ----------------------------------------------------

def _workers(pid: int) -> set[int]:
    """uvicorn's worker processes: the children of `ledger serve` that multiprocessing
    spawned (not its resource tracker)."""
    workers = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in command:
                workers.add(int(entry))
    return workers


def _server_socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the connection from `client_port`."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
            if int(local, 16) == server_port and int(remote, 16) == client_port:
                return fields[9]
    return None


def _worker_of(workers: set[int], inode: str) -> int | None:
    for pid in workers:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return pid
    return None


def _ask(port: int, method: str, path: str, workers: set[int],
         body: dict[str, str] | None = None) -> tuple[int | None, int, dict[str, str]]:
    """One request on a new connection: (the worker that answered, status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=json.dumps(body) if body else None,
                           headers={**ADMIN, "Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert connection.sock is not None
        inode = _server_socket_inode(port, connection.sock.getsockname()[1])
        return (_worker_of(workers, inode) if inode else None), response.status, answer
    finally:
        connection.close()


def test_both_workers_of_ledger_serve_answer_the_time_one_of_them_set(
        postgres_url: str, tmp_path: Path) -> None:
    empty_postgres(postgres_url)
    port = free_port()
    env = {**service_env(postgres_url), "PORTAL_CLOCK": "manual",
           "PORTAL_CLOCK_START": "2026-01-01T00:00:00Z"}
    process = start(["serve", "--port", str(port), "--workers", "2"], env, tmp_path / "serve.log")
    try:
        wait_healthy(port, process, timeout=60)
        workers = _workers(process.pid)
        before = {_ask(port, "GET", "/v1/admin/clock", workers)[2]["now"] for _ in range(10)}
        mover, status, moved = _ask(port, "POST", "/v1/admin/clock", workers,
                                    {"now": "2026-02-03T04:05:06Z"})
        answers: dict[int | None, set[str]] = {}
        for _ in range(400):  # new connections until both workers have answered
            worker, _, body = _ask(port, "GET", "/v1/admin/clock", workers)
            answers.setdefault(worker, set()).add(body["now"])
            if len(answers.keys() & workers) == 2:
                break
    finally:
        stop(process)

    assert len(workers) == 2, workers
    assert before == {"2026-01-01T00:00:00Z"}
    assert status == 200, moved
    assert mover in workers
    assert answers.keys() == workers, answers  # each worker answered after the move ...
    assert set().union(*answers.values()) == {"2026-02-03T04:05:06Z"}  # ... the new time
