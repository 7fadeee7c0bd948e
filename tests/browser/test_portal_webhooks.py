"""The Events and Webhooks pages show what the API answers (on the other partner, so the
demo partner's figures the other browser tests read stay as seeded)."""

from __future__ import annotations

import httpx

from tests.browser.portal import PortalPage
from tests.browser.site import Site


def test_events_and_webhook_endpoints_are_shown_as_the_api_answers_them(
    portal: PortalPage, site: Site,
) -> None:
    token = site.tokens["other_admin"]
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{site.base}/v1/partners/{site.other_partner_id}"
    created = httpx.post(f"{base}/webhook-endpoints", headers=headers, timeout=30, json={
        "url": "https://hooks.example.com/ledger", "event_types": ["line.*"],
        "description": "ops channel"})
    assert created.status_code == 201, created.text
    feed = httpx.get(f"{base}/events", headers=headers, params={"limit": 100},
                     timeout=30).json()["data"]

    portal.sign_in(token, partner_id=site.other_partner_id)
    assert {"events", "webhooks"} <= set(portal.nav())
    portal.click_nav("events")
    assert portal.row_ids("events") == [e["id"] for e in feed]
    portal.click_nav("webhooks")
    shown = portal.page.inner_text("#view")
    assert "https://hooks.example.com/ledger" in shown and "ops channel" in shown
    assert created.json()["secret"] not in portal.text()
    assert portal.console_errors == []
