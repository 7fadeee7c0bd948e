"""The read-only gate without a database: commands refused before they run, and a write
the process refuses itself inside a read answered 503 `read_only` saying what it was."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.api import read_only_gate
from service.runtime.read_only import ReadOnly


def _app() -> FastAPI:
    app = FastAPI()
    ran: list[str] = []

    @app.get("/rebuild-status")
    def status() -> dict[str, str]:
        raise ReadOnly("a rebuild")

    @app.post("/lines")
    def create() -> dict[str, str]:
        ran.append("create")
        return {}

    app.state.ran = ran
    read_only_gate.install(app)
    return app


def test_a_command_is_refused_before_its_route_runs() -> None:
    app = _app()
    with TestClient(app) as client:
        answer = client.post("/lines", json={})
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "read_only"
    assert app.state.ran == []


def test_a_write_refused_inside_a_read_says_what_it_was() -> None:
    with TestClient(_app()) as client:
        answer = client.get("/rebuild-status")
    assert answer.status_code == 503
    assert answer.json()["code"] == "read_only"
    assert answer.json()["detail"].startswith("a rebuild is refused")
