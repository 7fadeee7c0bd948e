"""`GET /v1/admin/verify` runs the walk of the whole log as one job at a time: the call
answers 202 with the job to poll, a call while it runs answers the same job, and the job
ends `passed` or `failed` with its report (or the error that stopped it)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.ops import verify_jobs as module
from service.ops.verification import Mismatch, Report
from service.ops.verify_jobs import VerifyJobs
from tests.api.conftest import ADMIN, Portal, platform_key
from tests.api.helpers import assert_problem, finished_verification, provision


class Gate:
    """A stand-in walk that runs until released, reporting progress meanwhile."""

    def __init__(self, report: Report | None = None, error: Exception | None = None) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.report = report or Report(events_checked=3)
        self.error = error

    def __call__(self, ledgers: Any, *, progress: Callable[[int, int], None]) -> Report:
        self.calls += 1
        self.entered.set()
        while not self.release.wait(0.01):
            progress(1, 2)
        if self.error is not None:
            raise self.error
        return self.report


@pytest.fixture
def gated(client: TestClient) -> Iterator[tuple[VerifyJobs, Gate]]:
    gate = Gate()
    cluster = client.app.state.cluster
    jobs = VerifyJobs(cluster.ledgers, settings=cluster.settings, run=gate)
    client.app.state.verify_jobs = jobs
    yield jobs, gate
    gate.release.set()
    jobs.wait(timeout=60)


def _start(client: TestClient) -> dict[str, Any]:
    response = client.get("/v1/admin/verify", headers=ADMIN)
    assert response.status_code == 202, response.text
    return response.json()


def _poll(client: TestClient, job_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/admin/verify/{job_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_verification_runs_as_a_job_and_its_report_passes(portal: Portal) -> None:
    provision(portal)
    auditor = portal.as_("auditor")

    job = finished_verification(portal.client, auditor)

    assert job["status"] == "passed"
    assert job["result"]["ok"] is True
    assert job["result"]["events_checked"] > 0
    assert job["error"] is None
    assert job["started_at"] is not None and job["finished_at"] is not None
    assert job["progress"]["done"] == job["progress"]["total"]


def test_a_call_while_a_job_runs_answers_that_job(client: TestClient,
                                                  gated: tuple[VerifyJobs, Gate]) -> None:
    _, gate = gated
    first = _start(client)
    assert gate.entered.wait(timeout=30)

    second = _start(client)
    polled = _poll(client, first["id"])

    assert first["status"] == second["status"] == polled["status"] == "running"
    assert second["id"] == first["id"]
    assert polled["finished_at"] is None and polled["result"] is None
    gate.release.set()
    assert gated[0].wait(timeout=60)
    assert gate.calls == 1
    done = _poll(client, first["id"])
    assert done["status"] == "passed"
    assert done["result"]["events_checked"] == 3
    # Once it has ended, a call starts another walk.
    third = _start(client)
    assert third["id"] != first["id"]
    gate.release.set()
    assert gated[0].wait(timeout=60)
    assert gate.calls == 2


def test_another_process_answers_the_running_job_and_starts_no_walk(
        client: TestClient, gated: tuple[VerifyJobs, Gate]) -> None:
    jobs, gate = gated
    other_gate = Gate()
    other = VerifyJobs(jobs.ledgers, settings=jobs.settings, run=other_gate)
    first = _start(client)
    assert gate.entered.wait(timeout=30)

    joined = other.start()
    seen = other.get(first["id"])

    assert joined["id"] == first["id"]
    assert seen is not None and seen["status"] == "running"
    assert other_gate.calls == 0


def test_a_report_with_a_mismatch_fails_the_job(client: TestClient,
                                                gated: tuple[VerifyJobs, Gate]) -> None:
    jobs, gate = gated
    gate.report = Report(invoices_checked=1, mismatches=[
        Mismatch("i-1", "ACME-000001", "log", "total", 100, 90)])
    job = _start(client)
    gate.release.set()
    assert jobs.wait(timeout=60)

    done = _poll(client, job["id"])

    assert done["status"] == "failed"
    assert done["result"]["ok"] is False
    assert done["result"]["mismatches"][0]["found"] == 90
    assert done["error"] is None


def test_a_walk_that_stops_fails_the_job_and_frees_the_slot(
        client: TestClient, gated: tuple[VerifyJobs, Gate]) -> None:
    jobs, gate = gated
    gate.error = RuntimeError("the database went away")
    job = _start(client)
    gate.release.set()
    assert jobs.wait(timeout=60)

    done = _poll(client, job["id"])
    again = _start(client)

    assert done["status"] == "failed"
    assert done["result"] is None
    assert "the database went away" in done["error"]
    assert again["id"] != job["id"]


def test_shutting_down_stops_the_running_job(client: TestClient,
                                             gated: tuple[VerifyJobs, Gate]) -> None:
    jobs, gate = gated
    job = _start(client)
    assert gate.entered.wait(timeout=30)

    jobs.close(timeout=60)

    done = _poll(client, job["id"])
    assert done["status"] == "failed"
    assert "shut down" in done["error"]


def test_a_job_left_running_by_a_dead_process_is_taken_over(
        client: TestClient, gated: tuple[VerifyJobs, Gate]) -> None:
    jobs, gate = gated
    jobs.start()  # creates the table; the gate holds this walk
    gate.release.set()
    assert jobs.wait(timeout=60)
    gate.release.clear()
    with jobs.read_model.writing() as sql:
        sql.run("INSERT INTO s_verify_jobs (id, running, status, started_at, heartbeat_at, "
                "events_done, events_total) VALUES ('dead-job', 1, 'running', ?, ?, 0, 10)",
                "2000-01-01T00:00:00.000000Z", "2000-01-01T00:00:00.000000Z")

    job = _start(client)

    assert job["id"] != "dead-job"
    assert job["status"] == "running"
    dead = jobs.get("dead-job")
    assert dead is not None and dead["status"] == "failed"
    assert "abandoned" in dead["error"]


def test_only_the_latest_finished_jobs_are_kept(client: TestClient,
                                                gated: tuple[VerifyJobs, Gate]) -> None:
    jobs, gate = gated
    gate.release.set()
    ids = []
    for _ in range(module.KEEP + 3):
        ids.append(_start(client)["id"])
        assert jobs.wait(timeout=60)

    with jobs.read_model.reading() as sql:
        kept = sql.scalar("SELECT COUNT(*) FROM s_verify_jobs")
    assert kept <= module.KEEP + 1
    assert _poll(client, ids[-1])["status"] == "passed"
    assert_problem(client.get(f"/v1/admin/verify/{ids[0]}", headers=ADMIN), 404, "not_found")


def test_unknown_jobs_and_other_roles_are_refused(portal: Portal) -> None:
    client = portal.client
    support = platform_key(client, "support")

    assert_problem(client.get("/v1/admin/verify/6f1c1f86-0000-4000-8000-000000000000",
                              headers=ADMIN), 404, "not_found")
    assert_problem(client.get("/v1/admin/verify/not-a-job", headers=ADMIN), 404, "not_found")
    assert_problem(client.get("/v1/admin/verify", headers=support), 403, "forbidden")
    assert_problem(client.get("/v1/admin/verify", headers=portal.as_("admin")), 403,
                   "forbidden")
    job = finished_verification(client, portal.as_("auditor"))
    assert_problem(client.get(f"/v1/admin/verify/{job['id']}", headers=support), 403,
                   "forbidden")

