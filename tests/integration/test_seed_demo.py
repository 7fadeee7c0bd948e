"""`ledger seed-demo`: an empty database gets a demo partner whose every view is populated;
a database that holds events is refused."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from typer.testing import CliRunner

from service.ops.cli import app
from tests.conftest import ADMIN_TOKEN, start_ledger

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from service.api.app import create_app


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTAL_CLOCK", "manual")
    monkeypatch.setenv("PORTAL_CLOCK_START", "2026-01-01T00:00:00Z")
    monkeypatch.setenv("PORTAL_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("PORTAL_POOL_SIZE", "2")
    return CliRunner()


def test_seed_demo_fills_an_empty_database_so_every_view_has_something_to_show(
    cli: CliRunner, database_url: str,
) -> None:
    result = cli.invoke(app, ["seed-demo"])

    assert result.exit_code == 0, result.output
    pid = re.search(r"partner id: (\S+)", result.output).group(1)
    token = re.search(r"admin key token: (\S+)", result.output).group(1)
    ledger = start_ledger(database_url)
    try:
        with TestClient(create_app(ledger, run_scheduler=False)) as client:
            def get(path: str, **params: Any) -> Any:
                response = client.get(f"/v1/partners/{pid}{path}", params=params,
                                      headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 200, (path, response.text)
                return response.json()

            counts = get("/lines/overview")["counts"]
            assert all(counts[s] > 0 for s in ("available", "active", "flagged",
                                               "move_requested", "delete_requested")), counts
            assert get("/lines", status="deleted")["data"]
            subs = get("/sub-accounts")["data"]
            assert {s["status"] for s in subs} >= {"active", "merged", "deleted"}
            assert any(s["naming_hint"] for s in subs)
            assert all(p["days_idle"] > 30 for p in get("/lines/available-pool")["data"][:3])
            invoices = get("/invoices")["data"]
            assert len(invoices) == 3
            assert invoices[0]["status"] == "past_due"
            assert {i["status"] for i in invoices[1:]} == {"paid"}
            assert invoices[-1]["credit_applied"] == 1500
            summary = get("/billing/summary")
            assert summary["outstanding"] > 0 and summary["card_failures"]
            assert summary["default_payment_method"]["expires_before_next_billing"]
            assert get("/billing/upcoming-invoice")["items"]
            assert get("/my-status")["line_count"] > 20
            assert get("/audit-trail")["data"]
            weekly = get("/analytics/messages", bucket="week")["series"]
            assert len(weekly) >= 13 and all(p["messages_sent"] > 0 for p in weekly)
            ranked = get("/analytics/sub-accounts")["data"]
            rates = [r["response_rate"] for r in ranked]
            assert len(ranked) >= 4 and rates == sorted(rates, reverse=True)
            assert get("/analytics/volume-limit-hits")["top_lines"][0][
                "volume_limit_hits"] >= 14
            flagged = get("/lines", status="flagged")["data"]
            assert any(line["flag_reason"].startswith("auto-flag") for line in flagged)
            assert all(line["sending"] == "paused" for line in flagged)
            assert {a["kind"] for a in get("/alerts")["data"]} == {
                "card_expiring", "line_flagged", "line_idle", "payment_failed"}
    finally:
        ledger.close()

    again = cli.invoke(app, ["seed-demo"])

    assert again.exit_code == 1
    assert "not empty" in again.output
