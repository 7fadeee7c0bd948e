"""What the API suites share: the log position, problem+json checks, walking pages,
and creating lines and sub-accounts through the public API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Portal

PROBLEM_JSON = "application/problem+json"


def log_position(client: TestClient) -> int:
    """The notification id of the last event in the log (0 when it is empty)."""
    return client.app.state.cluster.home.app.recorder.max_notification_id() or 0


def assert_problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail"} <= body.keys()


def walk(client: TestClient, url: str, headers: dict[str, str], *, limit: int,
         **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a paged list, following `next_cursor`; and the number of pages read."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, headers=headers, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]) <= limit
        items.extend(body["data"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def provision(portal: Portal, **body: Any) -> dict[str, Any]:
    return portal.ok("POST", "/lines", json=body or None, status=201)


def sub_account(portal: Portal, name: str) -> str:
    return str(portal.ok("POST", "/sub-accounts", json={"name": name}, status=201)["id"])


def finished_verification(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    """Starts a verification (or joins the running one), waits for this process's job
    thread, and answers the job as the poll route gives it once it has ended."""
    started = client.get("/v1/admin/verify", headers=headers)
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/v1/admin/verify/{job['id']}"
    assert client.app.state.verify_jobs.wait(timeout=120)
    polled = client.get(f"/v1/admin/verify/{job['id']}", headers=headers)
    assert polled.status_code == 200, polled.text
    finished: dict[str, Any] = polled.json()
    assert finished["status"] in ("passed", "failed"), finished
    return finished
