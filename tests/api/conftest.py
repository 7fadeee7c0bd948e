"""An HTTP client over the service, and helpers that set up partners and keys through the API."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.bootstrap import Ledger
from tests.conftest import ADMIN_TOKEN, fresh_database_url, start_ledger

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
STANDARD = {"structure": "standard", "unit_amount": 3000}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Portal:
    """A test client plus the ids and keys of one partner, built through the public API."""

    client: TestClient
    partner_id: str
    keys: dict[str, dict[str, str]]

    def url(self, path: str = "") -> str:
        return f"/v1/partners/{self.partner_id}{path}"

    def as_(self, role: str) -> dict[str, str]:
        return self.keys[role]

    def post(self, path: str, role: str = "admin", json: Any = None, **kw: Any) -> Any:
        return self.client.post(self.url(path), json=json, headers=self.as_(role), **kw)

    def get(self, path: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.get(self.url(path), headers=self.as_(role), **kw)

    def ok(self, method: str, path: str, role: str = "admin", json: Any = None,
           status: int | None = None) -> Any:
        response = self.client.request(method, self.url(path), json=json,
                                       headers=self.as_(role))
        expected = status or (201 if method == "POST" and path in ("/lines", "/sub-accounts")
                              else 200)
        assert response.status_code == expected, response.text
        return response.json()


def create_partner(client: TestClient, name: str = "Acme Resale",
                   pricing: dict[str, Any] | None = None) -> str:
    response = client.post("/v1/partners", headers=ADMIN, json={
        "name": name, "currency": "USD", "billing_anchor_day": 1, "pricing": pricing or STANDARD,
    })
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def partner_key(client: TestClient, partner_id: str, role: str) -> dict[str, str]:
    response = client.post(f"/v1/partners/{partner_id}/api-keys", headers=ADMIN,
                           json={"role": role, "name": f"{role} key"})
    assert response.status_code == 201, response.text
    return bearer(response.json()["token"])


def platform_key(client: TestClient, role: str) -> dict[str, str]:
    response = client.post("/v1/api-keys", headers=ADMIN, json={"role": role, "name": role})
    assert response.status_code == 201, response.text
    return bearer(response.json()["token"])


def make_portal(client: TestClient, name: str = "Acme Resale") -> Portal:
    pid = create_partner(client, name)
    keys = {role: partner_key(client, pid, role)
            for role in ("admin", "operations", "billing", "reporting")}
    keys["support"] = platform_key(client, "support")
    keys["auditor"] = platform_key(client, "auditor")
    keys["platform"] = ADMIN
    return Portal(client=client, partner_id=pid, keys=keys)


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger, run_scheduler=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def portal(client: TestClient) -> Portal:
    return make_portal(client)


@pytest.fixture(scope="module")
def shared_client(module_database_url: str) -> Iterator[TestClient]:
    """One service for all the tests of a module, on each backend: building a service is
    most of what a short test costs. A module that uses it gives each test a partner of
    its own (`partner_portal`)."""
    service = start_ledger(module_database_url)
    try:
        with TestClient(create_app(service, run_scheduler=False),
                        raise_server_exceptions=False) as c:
            yield c
    finally:
        service.close()


def partner_portal(request: pytest.FixtureRequest, shared_client: TestClient,
                   module_database_url: str, tmp_path: Path) -> Iterator[Portal]:
    """The body of a module's `portal` fixture over `shared_client`: a new partner on the
    module's service. A test marked `own_service` (one that moves the clock, asserts the
    clock's time, or changes the app) gets a new service on the same backend instead."""
    if request.node.get_closest_marker("own_service") is None:
        yield make_portal(shared_client)
        return
    backend = "sqlite" if module_database_url.startswith("sqlite") else "postgres"
    service = start_ledger(fresh_database_url(request, backend, tmp_path))
    try:
        with TestClient(create_app(service, run_scheduler=False),
                        raise_server_exceptions=False) as c:
            yield make_portal(c)
    finally:
        service.close()
