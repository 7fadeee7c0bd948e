"""Secrets never leave the service: after a scenario with cards, keys, charges and a
rebuild, no table of the database holds an API key's secret, a card's gateway token is
only in the event store (events and snapshots, which charging loads), and no answer, trail,
history, explanation or export shows either."""

from __future__ import annotations

import csv
import io
import json
import zlib
from typing import Any
from uuid import uuid4

from fastapi.testclient import TestClient

from service.ops.exports import AUDIT_COLUMNS, audit_rows, write
from service.runtime.bootstrap import Ledger
from tests.api.conftest import ADMIN, Portal, bearer, make_portal
from tests.api.helpers import walk

# Where the library keeps events and snapshots, on SQLite and on PostgreSQL.
EVENT_STORE = {"stored_events", "snapshots", "ledger_events", "ledger_snapshots"}


def move_clock(client: TestClient, now: str) -> None:
    response = client.post("/v1/admin/clock", json={"now": now}, headers=ADMIN)
    assert response.status_code == 200, response.text


def add_card(portal: Portal, token: str, last4: str) -> dict[str, Any]:
    response = portal.client.post(
        portal.url("/payment-methods"), headers={**portal.as_("billing"),
                                                 "Idempotency-Key": str(uuid4())},
        json={"brand": "visa", "last4": last4, "exp_month": 12, "exp_year": 2030,
              "token": token})
    assert response.status_code == 201, response.text
    return response.json()


def _text(value: Any) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _unpacked(table: str, column: str, value: str) -> str:
    """As-of checkpoints keep view rows zlib-packed as hex: look inside them too."""
    if table == "v_checkpoints" and column == "data":
        return zlib.decompress(bytes.fromhex(value)).decode()
    return value


def tables_holding(ledger: Ledger, secrets: list[str]) -> dict[str, set[str]]:
    """Each secret → the tables of the database where some row holds it."""
    found: dict[str, set[str]] = {secret: set() for secret in secrets}
    with ledger.read_model.reading() as sql:
        if sql.postgres:
            tables = [r["tablename"] for r in sql.all(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        else:
            tables = [r["name"] for r in sql.all(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"v_audit", "v_states", "s_idempotency_records", "s_key_use"} <= set(tables)
        for table in tables:
            for row in sql.all(f"SELECT * FROM {table}"):
                text = " ".join(_unpacked(table, column, _text(value))
                                for column, value in row.items())
                for secret in secrets:
                    if secret in text:
                        found[secret].add(table)
    return found


def test_no_table_answer_trail_history_explanation_or_export_holds_a_secret(
        client: TestClient) -> None:
    paying, failing = make_portal(client, "Acme Resale"), make_portal(client, "Globex Resale")
    card_token = f"tok_live_{uuid4().hex}"
    spare_token = f"tok_live_{uuid4().hex}"
    paying_card = add_card(paying, card_token, "4242")
    spare = add_card(paying, spare_token, "1881")
    add_card(failing, "tok_decline", "0002")  # the simulated gateway declines this token
    paying.ok("POST", f"/payment-methods/{spare['id']}/make-default", role="billing")
    paying.ok("POST", f"/payment-methods/{paying_card['id']}/make-default", role="billing")
    client.delete(paying.url(f"/payment-methods/{spare['id']}"), headers=paying.as_("billing"))
    # Sent with an Idempotency-Key: the answer kept for replays must not keep the token.
    once = {"Idempotency-Key": str(uuid4())}
    tokens = {"partner": client.post(paying.url("/api-keys"), headers={**paying.as_("admin"),
                                                                       **once},
                                     json={"role": "reporting", "name": "r"}).json()["token"],
              "platform": client.post("/v1/api-keys", headers={**ADMIN, **once},
                                      json={"role": "support", "name": "s"}).json()["token"]}
    for token in tokens.values():
        assert client.get(paying.url(""), headers=bearer(token)).status_code == 200
    line = paying.ok("POST", "/lines", json={}, status=201)["id"]
    failing.ok("POST", "/lines", json={}, status=201)
    move_clock(client, "2026-02-01T06:00:00Z")  # both invoices issued and charged
    rebuilt = client.post("/v1/admin/projections/rebuild", headers=ADMIN)
    ledger: Ledger = client.app.state.cluster.home

    paid = paying.ok("GET", "/invoices", role="billing")["data"][0]
    declined = failing.ok("GET", "/invoices", role="billing")["data"][0]
    key_secrets = [token.split("_", 2)[2] for token in tokens.values()]
    card_tokens = [card_token, spare_token, "tok_decline"]
    holders = tables_holding(ledger, [*key_secrets, *card_tokens])
    shown = [
        *(paying.get(path, role="auditor").text for path in (
            "/audit-trail?limit=500", f"/lines/{line}/history", "/billing/summary",
            "/my-status", f"/invoices/{paid['id']}/items/0/explain", "/alerts?status=all")),
        json.dumps(walk(client, paying.url("/audit-trail"), paying.as_("admin"), limit=7)[0]),
        failing.get("/audit-trail?limit=500", role="support").text,
        json.dumps([paying_card, spare]),
    ]
    export = io.StringIO()
    write(audit_rows(ledger, partner_id=None, until_position=None), columns=AUDIT_COLUMNS,
          fmt="csv", out=export)

    assert rebuilt.status_code == 200, rebuilt.text
    assert (paid["status"], declined["status"]) == ("paid", "past_due")
    assert [holders[secret] for secret in key_secrets] == [set(), set()]  # nowhere at all
    for token in card_tokens:
        assert holders[token], token  # the event store keeps what charging needs ...
        assert holders[token] <= EVENT_STORE, (token, holders[token])  # ... and only it
    for text in [*shown, export.getvalue()]:
        assert not any(secret in text for secret in [*key_secrets, *card_tokens])
    assert '"token"' not in export.getvalue() and "tok_" not in export.getvalue()
    actors = {(r["actor_role"], r["actor_scope"])
              for r in csv.DictReader(io.StringIO(export.getvalue()))}
    assert {("admin", "platform"), ("billing", "partner"), ("cycle_close", "policy")} <= {
        (role if scope != "policy" else key, scope) for role, scope, key in (
            (r["actor_role"], r["actor_scope"], r["actor_key_id"])
            for r in csv.DictReader(io.StringIO(export.getvalue())))}
    assert {role for role, _ in actors} <= {"admin", "operations", "billing", "reporting",
                                            "support", "auditor", "policy"}
    added = [e for e in walk(client, paying.url("/audit-trail"), paying.as_("admin"), limit=500,
                             event_type="Partner.PaymentMethodAdded")[0]]
    assert [e["data"] for e in added] == [
        {"method_id": paying_card["id"], "brand": "visa", "last4": "4242", "exp_month": 12,
         "exp_year": 2030, "made_default": True},
        {"method_id": spare["id"], "brand": "visa", "last4": "1881", "exp_month": 12,
         "exp_year": 2030, "made_default": False},
    ]
