"""The seeded service the browser tests read: a demo partner played over three months
through the application (`seed_demo`), then keys, a second partner and a revoked key
created through the public API, as a portal user's administrator would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.ops.seed import seed_demo
from tests.browser.server import serving
from tests.conftest import ADMIN_TOKEN, start_ledger

PLATFORM = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass(frozen=True)
class Site:
    """The running service, its partners and the tokens the tests sign in with."""

    base: str
    partner_id: str  # the demo partner, "A"
    other_partner_id: str  # "B"
    other_partner_name: str
    tokens: dict[str, str]  # "admin", "billing", "auditor", "support", "other_admin", "revoked"

    def get(self, path: str, token: str | None = None, **params: Any) -> Any:
        """A JSON read of the demo partner's resource, as the portal would make it."""
        response = httpx.get(f"{self.base}/v1/partners/{self.partner_id}{path}",
                             params=params,
                             headers={"Authorization": f"Bearer {token or self.tokens['admin']}"},
                             timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def all(self, path: str, token: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged list."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get(path, token, limit=500, **params, **({"cursor": cursor} if cursor
                                                                    else {}))
            items.extend(page["data"])
            cursor = page["next_cursor"]
            if not cursor:
                return items


def _created(response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


def _populate(base: str, partner_id: str) -> Site:
    with httpx.Client(base_url=base, headers=PLATFORM, timeout=30) as api:
        def partner_key(pid: str, role: str) -> dict[str, Any]:
            return _created(api.post(f"/v1/partners/{pid}/api-keys",
                                     json={"role": role, "name": f"portal {role}"}))

        def platform_key(role: str) -> str:
            return str(_created(api.post("/v1/api-keys",
                                         json={"role": role, "name": f"portal {role}"}))["token"])

        admin = partner_key(partner_id, "admin")["token"]
        billing = partner_key(partner_id, "billing")["token"]
        revoked = partner_key(partner_id, "operations")
        gone = api.delete(f"/v1/partners/{partner_id}/api-keys/{revoked['id']}")
        assert gone.status_code == 204, gone.text
        # A sub-account the naming convention would name otherwise.
        _created(api.post(f"/v1/partners/{partner_id}/sub-accounts", json={"name": "misc"},
                          headers={"Authorization": f"Bearer {admin}"}))

        other_name = "Zephyr Telecom"
        other = _created(api.post("/v1/partners", json={
            "name": other_name, "currency": "USD", "billing_anchor_day": 1,
            "pricing": {"structure": "standard", "unit_amount": 4100}}))
        other_admin = partner_key(other["id"], "admin")["token"]
        as_other = {"Authorization": f"Bearer {other_admin}"}
        sub = _created(api.post(f"/v1/partners/{other['id']}/sub-accounts",
                                json={"name": "Zephyr Clinic – Sales"}, headers=as_other))
        for _ in range(2):
            _created(api.post(f"/v1/partners/{other['id']}/lines",
                              json={"sub_account_id": sub["id"]}, headers=as_other))
        return Site(base=base, partner_id=partner_id, other_partner_id=str(other["id"]),
                    other_partner_name=other_name,
                    tokens={"admin": admin, "billing": billing, "revoked": revoked["token"],
                            "auditor": platform_key("auditor"),
                            "support": platform_key("support"), "other_admin": other_admin})


@contextmanager
def seeded_site(folder: Path) -> Iterator[Site]:
    """A service on SQLite in `folder`, with a manual clock, seeded and serving."""
    ledger = start_ledger(f"sqlite:///{folder / 'ledger.db'}")
    try:
        seeded = seed_demo(ledger)
        with serving(ledger) as base:
            yield _populate(base, str(seeded.partner_id))
    finally:
        ledger.close()
