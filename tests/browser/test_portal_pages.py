"""The portal's account pages (payment methods, team & keys) and accessibility: axe-core
finds no violation on any page, at desktop (1280 px) and phone (390 px) widths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.portal import PortalPage
from tests.browser.site import Site

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def _partner_api(site: Site, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{site.base}/v1/partners/{site.partner_id}{path}",
                         headers={"Authorization": f"Bearer {site.tokens['admin']}"},
                         timeout=30, **kw)


@pytest.fixture
def spare_card(site: Site) -> dict[str, Any]:
    """A second card, added through the API (the test removes it again in the portal)."""
    added = _partner_api(site, "POST", "/payment-methods", json={
        "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030, "token": "tok_spare"})
    assert added.status_code == 201, added.text
    return added.json()


def _default_id(site: Site) -> str:
    return str(next(m["id"] for m in site.get("/payment-methods")["data"] if m["is_default"]))


def test_payment_methods_are_listed_made_default_and_removed(
    portal: PortalPage, site: Site, spare_card: dict[str, Any],
) -> None:
    original = _default_id(site)
    portal.sign_in(site.tokens["billing"])
    portal.click_nav("payment-methods")

    methods = site.get("/payment-methods")["data"]
    assert sorted(portal.row_ids("payment-methods")) == sorted(m["id"] for m in methods)
    assert portal.cell("payment-methods", spare_card["id"], "expiry").startswith("12/2030")
    assert portal.page.query_selector(f'button[data-remove="{original}"]') is None
    portal.screenshot("payment-methods")

    portal.rerendered(lambda: portal.page.click(f'button[data-make-default="{spare_card["id"]}"]'))
    assert _default_id(site) == spare_card["id"]
    assert "is now the default" in portal.text()

    # Back as it was, through the portal: the original card default, the spare removed.
    portal.rerendered(lambda: portal.page.click(f'button[data-make-default="{original}"]'))
    portal.rerendered(lambda: portal.page.click(f'button[data-remove="{spare_card["id"]}"]'))
    assert _default_id(site) == original
    assert spare_card["id"] not in [m["id"] for m in site.get("/payment-methods")["data"]]
    assert "was removed" in portal.text()


def test_a_reporting_key_sees_payment_methods_without_actions(
    portal: PortalPage, site: Site,
) -> None:
    issued = _partner_api(site, "POST", "/api-keys", json={"role": "reporting", "name": "viewer"})
    assert issued.status_code == 201, issued.text
    portal.sign_in(issued.json()["token"])
    portal.click_nav("payment-methods")

    assert portal.page.query_selector("button[data-remove], button[data-make-default]") is None
    assert "team" not in portal.nav()
    _partner_api(site, "DELETE", f"/api-keys/{issued.json()['id']}")


def test_a_partner_admin_issues_and_revokes_a_key(portal: PortalPage, site: Site) -> None:
    portal.sign_in(site.tokens["admin"])
    portal.click_nav("team")
    portal.page.fill("#key-name", "Night shift")
    portal.page.select_option("#key-role", "operations")

    portal.rerendered(lambda: portal.page.click("#issue-key"))

    token = portal.page.inner_text("#new-key-token").strip()
    keys = {k["name"]: k for k in site.all("/api-keys")}
    made = keys["Night shift"]
    assert made["role"] == "operations" and made["revoked_at"] is None
    assert httpx.get(f"{site.base}/v1/me", headers={"Authorization": f"Bearer {token}"},
                     timeout=30).json()["role"] == "operations"
    assert portal.cell("keys", made["id"], "role") == "operations"
    portal.screenshot("team-and-keys")

    portal.page.click(f'button[data-revoke="{made["id"]}"]')  # asks first
    assert "Confirm" in portal.page.inner_text(f'button[data-revoke="{made["id"]}"]')
    portal.rerendered(lambda: portal.page.click(f'button[data-revoke="{made["id"]}"]'))

    assert {k["id"]: k for k in site.all("/api-keys")}[made["id"]]["revoked_at"] is not None
    assert httpx.get(f"{site.base}/v1/me", headers={"Authorization": f"Bearer {token}"},
                     timeout=30).status_code == 401


def test_a_future_as_of_day_is_refused_in_plain_words(portal: PortalPage, site: Site) -> None:
    portal.sign_in(site.tokens["admin"])
    before = portal.render
    portal.page.evaluate("() => { window.location.hash = '#/billing?as_of=2999-01-01'; }")
    portal.page.wait_for_function(
        "([after]) => { const v = document.getElementById('view');"
        " return Number(v.dataset.render) > after && v.dataset.state === 'error'; }",
        arg=[before])

    shown = portal.page.inner_text("#view")
    assert "2999-01-01 is after today" in shown
    assert "as it stood" not in portal.text()


@pytest.fixture(params=[DESKTOP, PHONE], ids=["1280px", "390px"])
def sized_portal(request: pytest.FixtureRequest, browser: Any, site: Site,
                 tmp_path: Path) -> Iterator[PortalPage]:
    context = browser.new_context(viewport=request.param)
    context.set_default_timeout(20_000)
    yield PortalPage.watching(context.new_page(), site, scratch=tmp_path)
    context.close()


def test_every_page_has_no_accessibility_violation_and_fits_the_width(
    sized_portal: PortalPage, site: Site,
) -> None:
    from axe_playwright_python.base import AXE_SCRIPT, AxeResults

    portal = sized_portal
    portal.page.goto(f"{site.base}/portal/")
    portal.page.wait_for_selector("#signin-form")
    found: dict[str, str] = {}

    def check(name: str) -> None:
        # axe-core is injected once per page load: the portal's views share one document.
        # Only violations are collected (collecting passes too costs most of axe's time).
        if portal.page.evaluate("() => typeof window.axe === 'undefined'"):
            portal.page.evaluate(AXE_SCRIPT)
        results = AxeResults(portal.page.evaluate(
            "() => axe.run(document, { resultTypes: ['violations'] })"))
        if results.violations_count:
            found[name] = results.generate_report()
        width = portal.page.evaluate("() => document.documentElement.scrollWidth")
        viewport = portal.page.viewport_size["width"]
        assert width <= viewport, f"{name} is {width} px wide in a {viewport} px window"

    check("sign-in")
    portal.sign_in(site.tokens["auditor"])
    pages = portal.nav()
    check(pages[0])  # open after signing in
    if portal.page.viewport_size["width"] == PHONE["width"]:
        portal.screenshot("lines-phone")
    for view in pages[1:]:
        portal.click_nav(view)
        check(view)
    invoice = site.all("/invoices")[-1]
    portal.open(f"invoices/{invoice['id']}")
    check("invoice")
    portal.page.click("#sign-out")
    portal.sign_in(site.tokens["admin"])
    portal.click_nav("team")
    check("team")

    assert not found, "\n\n".join(f"== {k}\n{v}" for k, v in found.items())


def test_analytics_filter_by_date_range_and_sub_account_and_mark_partial_buckets(
    portal: PortalPage, site: Site,
) -> None:
    sub = next(s for s in site.all("/sub-accounts") if s["line_count"])
    since, until = "2026-01-07T00:00:00Z", "2026-02-11T00:00:00Z"  # a Wednesday to a Wednesday
    expected = site.get("/analytics/conversations", bucket="week", since=since, until=until,
                        sub_account_id=sub["id"])
    portal.sign_in(site.tokens["admin"])

    portal.open("analytics", **{"from": "2026-01-07", "to": "2026-02-10",
                                "sub_account_id": sub["id"]})

    new = portal.page.evaluate("() => Array.from(document.getElementById("
                               "'plot-new-vs-responded').data[0].y)")
    assert new == [b["new_conversations"] for b in expected["series"]]
    # The first and last weeks are cut by the range: both marked, no other.
    assert portal.page.get_attribute("#partial-buckets", "data-count") == "2"
    assert portal.page.input_value("#filter-from") == "2026-01-07"
    assert portal.page.input_value("#filter-analytics-sub-account") == sub["id"]
