"""The partner portal in a real browser: headless Chromium (Debian's package, driven by
Playwright) against the service served by uvicorn on 127.0.0.1, seeded with three months
of a demo partner's history on a manual clock.

Every figure the tests read on a page is compared with what the JSON API answers for the
same key, so the portal shows the contract's numbers and nothing else. These tests are
SQLite-only: they test the pages, not storage, which the API and integration suites
cover on both backends.
"""

from __future__ import annotations

from urllib.parse import urlparse

import httpx
import pytest

from tests.browser.portal import PortalPage, usd
from tests.browser.site import PLATFORM, Site


def shown_message(alert: dict[str, object]) -> str:
    data = alert.get("data") or {}
    assert isinstance(data, dict)
    if "balance_due" in data and data.get("currency") == "USD":
        return str(alert["message"]).replace(f"{data['balance_due']} USD",
                                             usd(int(data["balance_due"])))
    return str(alert["message"])


ATTENTION = ("flagged", "move_requested", "delete_requested")
STATUSES = ("available", "active", *ATTENTION)


def test_a_partner_admin_sees_the_lines_overview_with_the_apis_counts(
    portal: PortalPage, site: Site,
) -> None:
    overview = site.get("/lines/overview")
    lines = site.all("/lines")

    portal.sign_in(site.tokens["admin"])

    assert portal.page.get_attribute("#view", "data-view") == "lines"
    assert portal.render == 1, "signing in renders the first page once"
    for status in STATUSES:
        assert portal.figure(f"count-{status}") == f"{overview['counts'][status]:,}"
    assert portal.figure("count-total") == f"{sum(overview['counts'].values()):,}"
    assert portal.row_ids("by-sub-account") == [
        row["sub_account_id"] for row in overview["by_sub_account"]]
    for row in overview["by_sub_account"]:
        for status in ("active", *ATTENTION):
            assert portal.cell("by-sub-account", row["sub_account_id"], status) == \
                str(row["counts"][status])
    assert sorted(portal.row_ids("lines")) == sorted(line["id"] for line in lines)
    portal.screenshot("lines")


def test_flagged_and_requested_lines_are_listed_first_and_the_list_filters(
    portal: PortalPage, site: Site,
) -> None:
    portal.sign_in(site.tokens["admin"])
    statuses = portal.page.eval_on_selector_all(
        "#lines tbody [data-col=status] .badge", "bs => bs.map(b => b.dataset.status)")
    needing = [s for s in statuses if s in ATTENTION]

    assert needing, "the demo has flagged and requested lines"
    assert statuses[:len(needing)] == sorted(needing, key=ATTENTION.index)

    portal.rerendered(lambda: portal.page.select_option("#filter-status", "flagged"), "lines")

    assert sorted(portal.row_ids("lines")) == sorted(
        line["id"] for line in site.all("/lines", status="flagged"))

    sub = site.get("/lines/overview")["by_sub_account"][0]["sub_account_id"]
    portal.rerendered(lambda: portal.page.select_option("#filter-status", ""), "lines")
    portal.rerendered(lambda: portal.page.select_option("#filter-sub-account", sub), "lines")

    assert sorted(portal.row_ids("lines")) == sorted(
        line["id"] for line in site.all("/lines", sub_account_id=sub))


def test_the_available_pool_shows_how_long_each_line_has_been_idle(
    portal: PortalPage, site: Site,
) -> None:
    pool = site.all("/lines/available-pool")
    portal.sign_in(site.tokens["admin"])

    portal.click_nav("pool")

    assert portal.figure("pool-size") == str(len(pool))
    assert portal.row_ids("pool") == [
        line["id"] for line in sorted(pool, key=lambda line: -line["days_idle"])]
    for line in pool:
        assert portal.cell("pool", line["id"], "days_idle") == str(line["days_idle"])
    assert portal.figure("pool-idle") == str(sum(1 for line in pool if line["days_idle"] > 30))
    portal.screenshot("available-pool")


def test_sub_accounts_show_the_naming_hint_for_names_off_the_convention(
    portal: PortalPage, site: Site,
) -> None:
    subs = site.all("/sub-accounts")
    misc = next(s for s in subs if s["name"] == "misc")
    conventional = next(s for s in subs if s["naming_hint"] is None)
    portal.sign_in(site.tokens["admin"])

    portal.click_nav("sub-accounts")

    assert portal.row_ids("sub-accounts") == [s["id"] for s in subs]
    assert portal.cell("sub-accounts", misc["id"], "hint") == misc["naming_hint"]
    assert "Follows" in portal.cell("sub-accounts", conventional["id"], "hint")
    assert portal.cell("sub-accounts", conventional["id"], "lines") == \
        str(conventional["line_count"])
    portal.screenshot("sub-accounts")


def test_the_billing_summary_shows_the_apis_figures_and_warns_of_the_expiring_card(
    portal: PortalPage, site: Site,
) -> None:
    summary = site.get("/billing/summary")
    card = summary["default_payment_method"]
    portal.sign_in(site.tokens["admin"])

    portal.click_nav("billing")

    assert portal.figure("new-charges") == usd(summary["new_charges"])
    assert portal.figure("outstanding") == usd(summary["outstanding"])
    assert summary["outstanding"] > 0, "the demo's last invoice was declined"
    assert portal.figure("credit-balance") == usd(summary["credit_balance"])
    assert portal.figure("next-billing-date") == summary["next_billing_date"][:10]
    assert portal.figure("period").startswith(summary["period"]["start"][:10])
    assert portal.figure("card-failures") == str(len(summary["card_failures"]))
    assert card["expires_before_next_billing"]
    warning = portal.page.inner_text(".card-expiry")
    assert f"•••• {card['last4']} expires {card['exp_month']:02d}/{card['exp_year']}" in warning
    portal.screenshot("billing-summary")


def test_the_upcoming_invoice_shows_each_item_and_the_totals_of_the_api(
    portal: PortalPage, site: Site,
) -> None:
    upcoming = site.get("/billing/upcoming-invoice")
    portal.sign_in(site.tokens["admin"])

    portal.click_nav("upcoming")

    assert portal.column("items", "name") == [item["name"] for item in upcoming["items"]]
    assert portal.column("items", "amount") == [usd(item["amount"]) for item in upcoming["items"]]
    assert portal.column("items", "line_days") == [f"{item['line_days']:,}"
                                                   for item in upcoming["items"]]
    for key in ("subtotal", "total", "amount_due"):
        assert portal.total("items", key) == usd(upcoming[key])
    assert portal.figure("line-count") == str(upcoming["line_count"])
    portal.screenshot("upcoming-invoice")


def test_billing_history_opens_an_invoice_and_explains_an_item(
    portal: PortalPage, site: Site,
) -> None:
    invoices = site.all("/invoices")
    portal.sign_in(site.tokens["admin"])

    portal.click_nav("invoices")

    assert portal.row_ids("invoices") == [inv["id"] for inv in invoices]
    assert portal.column("invoices", "number") == [inv["number"] for inv in invoices]
    assert portal.column("invoices", "total") == [usd(inv["total"]) for inv in invoices]
    assert portal.column("invoices", "amount_due") == [usd(inv["amount_due"]) for inv in invoices]
    portal.screenshot("billing-history")

    oldest = invoices[-1]  # the one with the welcome discount and the credit applied
    invoice = site.get(f"/invoices/{oldest['id']}")
    portal.rerendered(lambda: portal.page.click(f'#invoices tr[data-id="{oldest["id"]}"] a'),
                      "invoice")

    assert portal.figure("total") == usd(invoice["total"])
    assert portal.figure("amount-due") == usd(invoice["amount_due"])
    assert portal.figure("amount-paid") == usd(invoice["amount_paid"])
    assert portal.column("items", "amount") == [usd(item["amount"]) for item in invoice["items"]]
    for key in ("subtotal", "discount", "credit_applied", "total", "amount_due"):
        sign = -1 if key in ("discount", "credit_applied") and invoice[key] else 1
        assert portal.total("items", key) == usd(sign * invoice[key])

    explained = site.get(f"/invoices/{oldest['id']}/items/1/explain")
    portal.page.click('#items button[data-explain="1"]')
    portal.page.wait_for_selector('#explanation[data-state="ready"][data-item="1"]')

    panel = portal.page.inner_text("#explanation")
    assert f"{explained['item']['name']}: {usd(explained['item']['amount'])}" in panel
    assert explained["rule"] in panel
    assert len(portal.row_ids("explain-days")) == len(explained["days"])
    phones = {line["id"]: line["phone_number"] for line in site.all("/lines")}
    assert portal.column("explain-lines", "line") == [phones[x["line_id"]]
                                                      for x in explained["lines"]]
    portal.screenshot("invoice")
    portal.page.evaluate("() => document.getElementById('explanation').closest('section')"
                         ".scrollIntoView()")
    portal.screenshot("invoice-explanation")


def test_my_status_shows_lines_pricing_and_credit(portal: PortalPage, site: Site) -> None:
    status = site.get("/my-status")
    portal.sign_in(site.tokens["admin"])

    portal.click_nav("my-status")

    assert portal.figure("line-count") == str(status["line_count"])
    assert portal.figure("credit-balance") == usd(status["credit_balance"])
    assert portal.column("tiers", "unit") == [usd(t["unit_amount"])
                                              for t in status["pricing"]["tiers"]]
    portal.screenshot("my-status")


def test_alerts_list_the_open_ones_and_all_on_request(portal: PortalPage, site: Site) -> None:
    open_alerts = site.all("/alerts")
    every = site.all("/alerts", status="all")
    portal.sign_in(site.tokens["admin"])

    portal.click_nav("alerts")

    assert portal.row_ids("alerts") == [a["key"] for a in open_alerts]
    # Amounts in a message read as money ("$583.06"), not raw minor units ("58306 USD").
    assert portal.column("alerts", "message") == [shown_message(a) for a in open_alerts]
    portal.screenshot("alerts")

    portal.rerendered(lambda: portal.page.select_option("#filter-alert-status", "all"), "alerts")

    assert portal.row_ids("alerts") == [a["key"] for a in every]


def test_analytics_plot_the_apis_series(portal: PortalPage, site: Site) -> None:
    messages = site.get("/analytics/messages", bucket="week")
    conversations = site.get("/analytics/conversations", bucket="week")
    hits = site.get("/analytics/volume-limit-hits", bucket="week")
    compared = site.get("/analytics/sub-accounts")
    portal.sign_in(site.tokens["admin"])

    portal.click_nav("analytics")

    def traces(plot: str, axis: str = "y") -> list[list[object]]:
        return list(portal.page.evaluate(
            f"id => document.getElementById(id).data.map(t => Array.from(t.{axis}))", plot))

    assert portal.figure("messages-sent") == f"{messages['totals']['messages_sent']:,}"
    assert portal.figure("volume-limit-hits") == f"{hits['totals']['volume_limit_hits']:,}"
    assert traces("plot-messages") == [[b["messages_sent"] for b in messages["series"]],
                                       [b["messages_received"] for b in messages["series"]]]
    rates = traces("plot-response-rate")[0]
    assert rates == pytest.approx([b["response_rate"] * 100 for b in conversations["series"]])
    ranked = list(reversed(compared["data"]))
    assert traces("plot-conversations", "x") == [[s["new_conversations"] for s in ranked],
                                                 [s["responded_conversations"] for s in ranked]]
    assert traces("plot-conversations")[0] == [s["name"] for s in ranked]
    assert traces("plot-hits") == [[b["volume_limit_hits"] for b in hits["series"]]]
    assert portal.page.locator(".plot .main-svg").count() >= 4  # drawn, not just given data
    portal.screenshot("analytics")


def test_an_auditor_reads_the_audit_trail_and_verifies_the_log_and_an_invoice(
    portal: PortalPage, site: Site,
) -> None:
    first = site.get("/audit-trail", site.tokens["auditor"], limit=100)["data"]
    invoice = site.all("/invoices")[0]
    portal.sign_in(site.tokens["auditor"])

    portal.click_nav("audit")

    assert portal.row_ids("audit") == [str(e["position"]) for e in first]
    assert portal.column("audit", "event") == [e["event_type"] for e in first]

    portal.page.click("#verify")
    portal.page.wait_for_selector('#verify-result:not([data-state="loading"])'
                                  ':not([data-state="empty"])')

    assert portal.page.get_attribute("#verify-result", "data-state") == "ok"
    job = portal.page.get_attribute("#verify-result", "data-job")
    report = httpx.get(f"{site.base}/v1/admin/verify/{job}",
                       headers={"Authorization": f"Bearer {site.tokens['auditor']}"}
                       ).json()["result"]
    assert portal.page.inner_text("#verify-result").strip() == (
        f"Verified: {report['invoices_checked']} invoices re-derived from "
        f"{report['events_checked']:,} events, no mismatch, hash chain intact.")
    portal.screenshot("audit-trail")

    portal.open(f"invoices/{invoice['id']}")
    portal.page.click("#verify-invoice")
    portal.page.wait_for_selector('#verify-result[data-state="ok"]')

    assert invoice["number"] in portal.page.inner_text("#verify-result")


def test_the_audit_trail_loads_its_next_page_on_request(portal: PortalPage, site: Site) -> None:
    token = site.tokens["auditor"]
    first = site.get("/audit-trail", token, limit=100)
    assert first["next_cursor"], "the seeded partner has more than a page of events"
    second = site.get("/audit-trail", token, limit=100, cursor=first["next_cursor"])
    expected = [str(e["position"]) for e in first["data"] + second["data"]]
    portal.sign_in(token)
    portal.click_nav("audit")
    assert portal.row_ids("audit") == expected[:100]

    portal.page.click("#audit-more")
    portal.page.wait_for_selector(f"#audit tbody tr:nth-child({len(expected)})")

    assert portal.row_ids("audit") == expected
    assert portal.page.is_hidden("#audit-more") == (second["next_cursor"] is None)


def test_verification_is_refused_clearly_to_a_partner_admin(
    portal: PortalPage, site: Site,
) -> None:
    portal.sign_in(site.tokens["admin"])
    portal.click_nav("audit")

    # The button is offered only to keys whose role may verify (GET /v1/me's permissions).
    assert portal.page.query_selector("#verify") is None
    assert "Only auditor keys may run verification" in \
        portal.page.inner_text("#verify-not-allowed")


def test_an_as_of_date_shows_the_figures_as_they_stood_then(
    portal: PortalPage, site: Site,
) -> None:
    then = "2026-01-15T23:59:59Z"
    live = site.get("/billing/summary")
    past = site.get("/billing/summary", as_of=then)
    assert past["credit_balance"] != live["credit_balance"]
    portal.sign_in(site.tokens["admin"])
    portal.click_nav("billing")

    portal.set_as_of("2026-01-15")

    assert portal.figure("credit-balance") == usd(past["credit_balance"])
    assert portal.figure("outstanding") == usd(past["outstanding"])
    assert portal.figure("period") == "2026-01-01 – 2026-01-31"
    assert "As of the end of 2026-01-15" in portal.page.inner_text("#as-of-banner")
    portal.screenshot("as-of")

    # The date stays as the reader moves between pages.
    overview = site.get("/lines/overview", as_of=then)
    assert overview["counts"] != site.get("/lines/overview")["counts"]
    portal.click_nav("lines")
    for status in STATUSES:
        assert portal.figure(f"count-{status}") == str(overview["counts"][status])

    portal.click_nav("invoices")
    assert portal.row_ids("invoices") == [i["id"] for i in site.all("/invoices", as_of=then)]

    portal.set_as_of("2026-02-15")
    assert portal.row_ids("invoices") == [
        i["id"] for i in site.all("/invoices", as_of="2026-02-15T23:59:59Z")]

    portal.rerendered(lambda: portal.page.click("#as-of-live"), "invoices")
    assert portal.row_ids("invoices") == [i["id"] for i in site.all("/invoices")]
    assert portal.page.is_hidden("#as-of-banner")


def test_a_bad_key_gets_a_clear_sign_in_error(portal: PortalPage, site: Site) -> None:
    portal.submit_sign_in("pl_not_a_real_key")

    assert portal.sign_in_error() == \
        "Sign-in failed: this API key is not valid or has been revoked."
    assert portal.page.is_hidden("#shell")
    portal.screenshot("sign-in-error")


def test_a_revoked_key_gets_a_clear_sign_in_error(portal: PortalPage, site: Site) -> None:
    portal.submit_sign_in(site.tokens["revoked"])

    assert "not valid or has been revoked" in portal.sign_in_error()
    assert portal.page.evaluate("() => sessionStorage.length") == 0


def test_a_key_revoked_during_a_session_signs_the_reader_out(
    portal: PortalPage, site: Site,
) -> None:
    issued = httpx.post(f"{site.base}/v1/partners/{site.partner_id}/api-keys", headers=PLATFORM,
                        json={"role": "operations", "name": "revoked mid-session"}).json()
    portal.sign_in(issued["token"])
    gone = httpx.delete(f"{site.base}/v1/partners/{site.partner_id}/api-keys/{issued['id']}",
                        headers=PLATFORM)
    assert gone.status_code == 204

    portal.page.click('#nav a[data-page="pool"]')

    assert "no longer accepted" in portal.sign_in_error()
    assert portal.page.is_hidden("#shell")


def test_a_partner_key_never_shows_another_partners_data(
    portal: PortalPage, site: Site,
) -> None:
    portal.submit_sign_in(site.tokens["admin"], partner_id=site.other_partner_id)

    assert portal.sign_in_error() == \
        "Sign-in failed: this key has no access to a partner with that id."
    assert site.other_partner_name not in portal.text()
    assert portal.page.is_hidden("#shell")

    portal.submit_sign_in(site.tokens["other_admin"], partner_id=site.partner_id)

    assert "no access to a partner with that id" in portal.sign_in_error()
    assert "Brightwave" not in portal.text()


def test_a_support_key_sees_the_partner_its_id_names(portal: PortalPage, site: Site) -> None:
    other = httpx.get(f"{site.base}/v1/partners/{site.other_partner_id}/lines/overview",
                      headers={"Authorization": f"Bearer {site.tokens['support']}"}).json()

    portal.sign_in(site.tokens["support"], partner_id=site.other_partner_id)

    assert site.other_partner_name in portal.page.inner_text("#who")
    assert portal.figure("count-active") == str(other["counts"]["active"])
    assert portal.column("by-sub-account", "name") == ["Zephyr Clinic – Sales"]
    assert "Brightwave" not in portal.text()
    assert "audit" in portal.nav()


def test_a_billing_key_sees_the_billing_pages_and_no_audit_trail(
    portal: PortalPage, site: Site,
) -> None:
    portal.sign_in(site.tokens["billing"])

    assert portal.nav() == ["billing", "upcoming", "invoices", "payment-methods", "my-status",
                          "alerts"]
    assert portal.page.get_attribute("#view", "data-view") == "billing"


def test_every_page_loads_cleanly_and_calls_only_the_public_api(
    portal: PortalPage, site: Site,
) -> None:
    portal.sign_in(site.tokens["admin"])

    pages = portal.nav()
    for view in [*pages[1:], pages[0]]:  # the first page is open already
        portal.click_nav(view)
        shown = portal.page.inner_text("#view")
        assert "undefined" not in shown and "NaN" not in shown, view

    assert portal.console_errors == []
    origin = urlparse(site.base)
    for url in portal.requests:
        parts = urlparse(url)
        assert (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc), url
        assert parts.path.startswith(("/v1/", "/portal/")), url
    assert any(urlparse(u).path == "/portal/vendor/plotly.min.js" for u in portal.requests)
