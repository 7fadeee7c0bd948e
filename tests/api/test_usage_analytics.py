"""Usage over HTTP: a week for 50 lines, every analytics view against sums computed here;
idempotent re-sends, corrections, refused batches, and the auto-flag policy."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from aggregates.usage import UsageLedger
from policies import auto_flag
from tests.api.conftest import ADMIN, Portal, make_portal
from tests.api.helpers import assert_problem, log_position, provision, sub_account

START = datetime(2026, 1, 1, tzinfo=UTC)
FIGURES = ("messages_sent", "messages_received", "new_conversations",
           "responded_conversations", "volume_limit_hits")
SUBS = ("Acme – Sales", "Acme – Support", "Acme – Recruiting")


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def move_clock(client: TestClient, now: str) -> None:
    response = client.post("/v1/admin/clock", json={"now": now}, headers=ADMIN)
    assert response.status_code == 200, response.text


def ingest(portal: Portal, rows: list[dict[str, Any]], role: str = "operations") -> Any:
    return portal.post("/usage", role=role, json={"rows": rows})


def usage_row(line_id: str, hour: datetime, figures: Iterable[int]) -> dict[str, Any]:
    return {"line_id": line_id, "hour": iso(hour), **dict(zip(FIGURES, figures, strict=True))}


def rate(responded: int, new: int) -> float | None:
    return round(responded / new, 4) if new else None


def week_of_usage(lines: dict[str, str | None], seed: int = 6) -> list[dict[str, Any]]:
    """Every line, every hour of 2026-01-01..07; figures under the auto-flag thresholds."""
    rng = random.Random(seed)
    rows = []
    for h in range(7 * 24):
        hour = START + timedelta(hours=h)
        for line_id in lines:
            new = rng.randint(0, 12)
            rows.append(usage_row(line_id, hour, (rng.randint(0, 60), rng.randint(0, 60), new,
                                                  rng.randint(0, new), rng.randint(0, 3))))
    return rows


def sums(rows: Iterable[dict[str, Any]], key: Any) -> dict[Any, dict[str, int]]:
    totals: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for row in rows:
        for f in FIGURES:
            totals[key(row)][f] += row[f]
    return totals


def read(portal: Portal, path: str, role: str = "reporting", **params: Any) -> Any:
    response = portal.get(f"/analytics/{path}", role=role, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def analytics_answers(portal: Portal, sub: str, **params: Any) -> dict[str, Any]:
    return {
        "messages_day": read(portal, "messages", bucket="day", **params),
        "messages_week": read(portal, "messages", bucket="week", **params),
        "messages_sub": read(portal, "messages", sub_account_id=sub, **params),
        "conversations": read(portal, "conversations", bucket="day", **params),
        "response_rate": read(portal, "response-rate", **params),
        "hits": read(portal, "volume-limit-hits", bucket="day", **params),
        "compare": read(portal, "sub-accounts", **params),
    }


def setup_lines(portal: Portal) -> tuple[dict[str, str], dict[str, str | None]]:
    """Three sub-accounts with 15 lines each and 5 lines in the pool."""
    subs = {name: sub_account(portal, name) for name in SUBS}
    lines: dict[str, str | None] = {}
    for i in range(50):
        sub = subs[SUBS[i % 3]] if i < 45 else None
        line = provision(portal, **({"sub_account_id": sub} if sub else {}))
        lines[line["id"]] = sub
    return subs, lines


def test_a_week_for_fifty_lines_reads_back_as_the_sums_and_a_resend_changes_nothing(
    portal: Portal,
) -> None:
    subs, lines = setup_lines(portal)
    rows = week_of_usage(lines)
    move_clock(portal.client, "2026-01-08T00:00:00Z")

    answer = ingest(portal, rows)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 8400, "recorded": 8400, "corrected": 0,
                             "unchanged": 0}
    by_day = sums(rows, lambda r: r["hour"][:10])
    messages = read(portal, "messages", bucket="day")
    assert [p["start"] for p in messages["series"]] == [
        f"2026-01-0{d}T00:00:00Z" for d in range(1, 8)]
    for point in messages["series"]:
        expected = by_day[point["start"][:10]]
        assert (point["messages_sent"], point["messages_received"]) == (
            expected["messages_sent"], expected["messages_received"])
    everything = sums(rows, lambda r: "all")["all"]
    assert messages["totals"] == {"messages_sent": everything["messages_sent"],
                                  "messages_received": everything["messages_received"]}

    day = [r for r in rows if r["hour"].startswith("2026-01-03")]
    by_hour = sums(day, lambda r: r["hour"])
    hourly = read(portal, "messages", bucket="hour", since="2026-01-03T00:00:00Z",
                  until="2026-01-04T00:00:00Z")
    assert len(hourly["series"]) == 24
    assert all(p["messages_sent"] == by_hour[p["start"]]["messages_sent"]
               for p in hourly["series"])

    weekly = read(portal, "messages", bucket="week")
    # 2026-01-01 is a Thursday: its ISO week starts on Monday 2025-12-29.
    by_week = sums(rows, lambda r: "2025-12-29T00:00:00Z" if r["hour"] < "2026-01-05"
                   else "2026-01-05T00:00:00Z")
    assert {p["start"]: p["messages_received"] for p in weekly["series"]} == {
        k: v["messages_received"] for k, v in by_week.items()}

    by_sub = sums(rows, lambda r: lines[r["line_id"]])
    sales = subs["Acme – Sales"]
    only_sales = read(portal, "messages", bucket="day", sub_account_id=sales)
    assert only_sales["totals"]["messages_sent"] == by_sub[sales]["messages_sent"]

    conversations = read(portal, "conversations", bucket="day")
    for point in conversations["series"]:
        expected = by_day[point["start"][:10]]
        assert point == {"start": point["start"],
                         "new_conversations": expected["new_conversations"],
                         "responded_conversations": expected["responded_conversations"],
                         "response_rate": rate(expected["responded_conversations"],
                                               expected["new_conversations"])}

    rates = read(portal, "response-rate")
    assert rates["overall"]["response_rate"] == rate(everything["responded_conversations"],
                                                     everything["new_conversations"])
    assert {r["sub_account_id"]: (r["new_conversations"], r["responded_conversations"])
            for r in rates["by_sub_account"]} == {
        k: (v["new_conversations"], v["responded_conversations"]) for k, v in by_sub.items()}
    assert next(r for r in rates["by_sub_account"] if r["sub_account_id"] is None)[
        "name"] == "Unassigned"

    hits = read(portal, "volume-limit-hits", bucket="day")
    assert [p["volume_limit_hits"] for p in hits["series"]] == [
        by_day[f"2026-01-0{d}"]["volume_limit_hits"] for d in range(1, 8)]
    by_line = sums(rows, lambda r: r["line_id"])
    top = hits["top_lines"]
    assert len(top) == 20
    assert [t["volume_limit_hits"] for t in top] == sorted(
        (v["volume_limit_hits"] for v in by_line.values()), reverse=True)[:20]
    assert all(by_line[t["line_id"]]["volume_limit_hits"] == t["volume_limit_hits"]
               for t in top)

    compared = read(portal, "sub-accounts")
    expected_order = sorted(by_sub, key=lambda k: -(by_sub[k]["responded_conversations"]
                                                    / by_sub[k]["new_conversations"]))
    assert [r["sub_account_id"] for r in compared["data"]] == expected_order
    assert [r["rank"] for r in compared["data"]] == [1, 2, 3, 4]
    for item in compared["data"]:
        expected = by_sub[item["sub_account_id"]]
        assert {f: item[f] for f in FIGURES} == expected
        assert item["lines"] == (5 if item["sub_account_id"] is None else 15)

    before = analytics_answers(portal, sales)
    position = log_position(portal.client)

    again = ingest(portal, rows)

    assert again.json() == {"received": 8400, "recorded": 0, "corrected": 0,
                            "unchanged": 8400}
    assert log_position(portal.client) == position
    assert analytics_answers(portal, sales) == before

    portal.client.app.state.cluster.home.processor.rebuild()
    assert analytics_answers(portal, sales) == before


def test_a_changed_row_is_recorded_as_a_correction_and_as_of_reads_the_old_figures(
    portal: Portal,
) -> None:
    sales = sub_account(portal, "Acme – Sales")
    line = provision(portal, sub_account_id=sales)["id"]
    move_clock(portal.client, "2026-01-02T00:00:00Z")
    ingest(portal, [usage_row(line, START, (10, 5, 4, 2, 0)),
                    usage_row(line, START + timedelta(hours=1), (1, 1, 1, 1, 0))])
    before = log_position(portal.client)

    answer = ingest(portal, [usage_row(line, START, (12, 5, 4, 3, 1)),
                             usage_row(line, START + timedelta(hours=1), (1, 1, 1, 1, 0))])

    assert answer.json() == {"received": 2, "recorded": 0, "corrected": 1, "unchanged": 1}
    trail = portal.get("/audit-trail", params={"event_type": "UsageLedger.UsageCorrected"})
    corrections = trail.json()["data"]
    assert len(corrections) == 1
    assert corrections[0]["data"]["previous"] == [[10, 5, 4, 2, 0]]
    assert read(portal, "messages")["totals"] == {"messages_sent": 13,
                                                  "messages_received": 6}
    assert read(portal, "conversations")["totals"]["responded_conversations"] == 4
    old = read(portal, "messages", as_of=f"position:{before}")
    assert old["totals"] == {"messages_sent": 11, "messages_received": 6}
    assert read(portal, "messages", as_of="2026-01-01T12:00:00Z")["series"] == []


def test_a_bad_batch_is_refused_naming_each_bad_row_and_nothing_is_recorded(
    portal: Portal,
) -> None:
    sales = sub_account(portal, "Acme – Sales")
    good = provision(portal, sub_account_id=sales)["id"]
    gone = provision(portal)["id"]
    portal.ok("POST", f"/lines/{gone}/delete-request")
    portal.ok("POST", f"/lines/{gone}/delete-request/approve", role="support")
    other = make_portal(portal.client, "Other Resale")
    theirs = provision(other)["id"]
    move_clock(portal.client, "2026-01-02T00:00:00Z")
    before = log_position(portal.client)
    rows = [
        usage_row(good, START, (1, 1, 1, 1, 0)),
        usage_row("7d1f6a3e-0000-4000-8000-000000000000", START, (1, 1, 1, 1, 0)),
        usage_row(good, datetime(2026, 1, 2, 1, tzinfo=UTC), (1, 1, 1, 1, 0)),
        usage_row(good, START + timedelta(hours=2), (1, -4, 1, 1, 0)),
        usage_row(gone, START, (1, 1, 1, 1, 0)),
        usage_row(theirs, START, (1, 1, 1, 1, 0)),
        {**usage_row(good, START, (1, 1, 1, 1, 0)), "hour": "2026-01-01T03:15:00Z"},
    ]

    response = ingest(portal, rows)

    assert_problem(response, 422, "validation_error")
    errors = response.json()["errors"]
    assert sorted({e["index"] for e in errors}) == [1, 2, 3, 4, 5, 6]
    assert {e["field"] for e in errors if e["index"] == 3} == {"messages_received"}
    assert all(e["reason"] for e in errors)
    assert log_position(portal.client) == before
    assert read(portal, "messages")["series"] == []
    too_many = ingest(portal, [usage_row(good, START, (0, 0, 0, 0, 0))] * 10_001)
    assert_problem(too_many, 422, "validation_error")


def test_who_may_ingest_and_read_usage(portal: Portal) -> None:
    line = provision(portal)["id"]
    row = usage_row(line, START, (1, 1, 1, 1, 0))

    assert ingest(portal, [row], role="reporting").status_code == 403
    assert ingest(portal, [row], role="admin").status_code == 200
    assert portal.get("/analytics/messages", role="billing").status_code == 403
    for role in ("admin", "operations", "reporting", "support", "auditor", "platform"):
        assert portal.get("/analytics/messages", role=role).status_code == 200, role
    other = make_portal(portal.client, "Other Resale")
    assert other.client.get(portal.url("/analytics/messages"),
                            headers=other.as_("admin")).status_code == 404
    assert portal.get("/analytics/messages", params={"bucket": "month"}).status_code == 422
    assert portal.get("/analytics/messages", params={
        "sub_account_id": "7d1f6a3e-0000-4000-8000-000000000000"}).status_code == 404


def test_a_line_over_a_threshold_is_flagged_by_the_policy_and_its_sending_paused(
    portal: Portal,
) -> None:
    sales = sub_account(portal, "Acme – Sales")
    noisy = provision(portal, sub_account_id=sales)["id"]
    ignored = provision(portal, sub_account_id=sales)["id"]
    quiet = provision(portal, sub_account_id=sales)["id"]
    pooled = provision(portal)["id"]
    move_clock(portal.client, "2026-01-02T00:00:00Z")
    rows = [usage_row(noisy, START, (100, 10, 2, 2, 12)),
            usage_row(ignored, START, (50, 3, 30, 1, 0)),
            usage_row(quiet, START, (50, 30, 30, 20, 9)),
            usage_row(pooled, START, (50, 3, 30, 0, 40))]

    assert ingest(portal, rows).status_code == 200

    lines = {lid: portal.ok("GET", f"/lines/{lid}") for lid in (noisy, ignored, quiet, pooled)}
    assert (lines[noisy]["status"], lines[noisy]["sending"]) == ("flagged", "paused")
    assert "12 volume-limit hits" in lines[noisy]["flag_reason"]
    assert (lines[ignored]["status"], lines[ignored]["sending"]) == ("flagged", "paused")
    assert "3.33% (1 of 30 new conversations)" in lines[ignored]["flag_reason"]
    assert lines[quiet]["status"] == "active"
    assert lines[pooled]["status"] == "available"
    history = portal.ok("GET", f"/lines/{noisy}/history")["data"]
    flagged = next(e for e in history if e["event_type"] == "Line.Flagged")
    assert flagged["actor"] == {"key_id": "auto_flag", "role": "policy", "scope": "policy"}
    paused = next(e for e in history if e["event_type"] == "Line.SendingPaused")
    assert paused["actor"]["key_id"] == "auto_pause"

    # Support unflags; a correction of the same hour that still crosses is not flagged
    # again, and neither is a line that is flagged already.
    portal.ok("POST", f"/lines/{noisy}/unflag", role="support")
    position = log_position(portal.client)
    assert ingest(portal, [usage_row(noisy, START, (100, 10, 2, 2, 15)),
                           usage_row(ignored, START, (50, 3, 30, 0, 0))]).json()[
        "corrected"] == 2
    assert portal.ok("GET", f"/lines/{noisy}")["status"] == "active"
    assert log_position(portal.client) == position + 1
    # A restart that hands the policy the first event again changes nothing either.
    ledger = portal.client.app.state.cluster.home
    day = UsageLedger.id_for(partner_id=UUID(portal.partner_id), day=START.date())
    assert not ledger.usage.auto_flag(usage_ledger_id=day, line_id=UUID(noisy), hour=START,
                                      reason="again", actor=auto_flag.ACTOR)
