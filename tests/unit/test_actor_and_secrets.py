"""The audit actor as issued, read from every stored form (events are never rewritten), and
the one redaction of secrets that every display of an event and every stored partner state
goes through."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from aggregates.api_key import ApiKey
from aggregates.base import PLATFORM, POLICY, Actor, policy_actor
from aggregates.partner import Partner
from projections import aggregate_states
from projections.audit import audit_item
from projections.events import event_data
from service.api.auth import Principal

NOW = datetime(2026, 1, 1, tzinfo=UTC)
STANDARD = {"structure": "standard", "unit_amount": 3000}


@pytest.mark.parametrize(("stored", "shown"), [
    (("platform-admin", "platform:admin"), ("platform-admin", "admin", "platform")),
    (("k1", "platform:support"), ("k1", "support", "platform")),
    (("k2", "platform:auditor"), ("k2", "auditor", "platform")),
    (("k3", "support"), ("k3", "support", "platform")),  # early versions wrote it bare
    (("k4", "admin"), ("k4", "admin", "partner")),
    (("k5", "operations"), ("k5", "operations", "partner")),
    (("policy:auto_flag", "policy"), ("auto_flag", "policy", "policy")),
    (("policy:cycle_close", "policy"), ("cycle_close", "policy", "policy")),
])
def test_every_stored_form_of_an_actor_reads_as_the_key_was_issued(
        stored: tuple[str, str], shown: tuple[str, str, str]) -> None:
    actor = Actor.from_stored(*stored)

    assert actor.as_json() == dict(zip(("key_id", "role", "scope"), shown, strict=True))


def test_new_events_store_the_actor_in_the_form_old_events_have() -> None:
    support = Principal(key_id="k1", role="support", partner_id=None).actor
    partner_admin = Principal(key_id="k2", role="admin", partner_id=uuid4()).actor

    key = ApiKey.issue(id=uuid4(), partner_id=None, role="auditor", name="audit",
                       secret="s3cret", actor=support, at=NOW)
    issued = key.pending_events[0]

    assert (support.role, support.scope) == ("support", PLATFORM)
    assert (issued.actor_id, issued.actor_role) == ("k1", "platform:support")
    assert (partner_admin.stored_key_id, partner_admin.stored_role) == ("k2", "admin")
    assert (policy_actor("dunning").stored_key_id, policy_actor("dunning").stored_role) == (
        "policy:dunning", "policy")
    assert policy_actor("dunning").scope == POLICY
    assert Actor(key_id="k1", role="platform:support") == support


def _partner_with_a_card(token: str) -> Partner:
    partner = Partner.create(id=uuid4(), name="Acme", currency="USD", billing_anchor_day=1,
                             pricing=STANDARD, actor=policy_actor("test"), at=NOW)
    partner.add_payment_method(method_id=uuid4(), brand="visa", last4="4242", exp_month=12,
                               exp_year=2030, token=token, actor=policy_actor("test"), at=NOW)
    return partner


def test_an_added_card_is_described_without_its_token() -> None:
    partner = _partner_with_a_card("tok_live_abc")

    data = event_data(partner.pending_events[-1])

    assert "tok_live_abc" not in json.dumps(data)
    assert {k: data[k] for k in ("brand", "last4", "exp_month", "exp_year")} == {
        "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
    assert "token" not in data


def test_an_audit_row_written_before_the_redaction_is_shown_without_its_token() -> None:
    row = {"position": 7, "occurred_at": "2026-01-01T00:00:00.000000Z", "entity_type": "Partner",
           "entity_id": "p1", "event_type": "Partner.PaymentMethodAdded",
           "actor_key_id": "k9", "actor_role": "billing",
           "data": json.dumps({"brand": "visa", "last4": "4242", "token": "tok_live_old",
                               "nested": [{"secret_hash": "abc", "kept": 1}]})}

    item = audit_item(row)

    assert item["actor"] == {"key_id": "k9", "role": "billing", "scope": "partner"}
    assert item["data"] == {"brand": "visa", "last4": "4242", "nested": [{"kept": 1}]}


def test_a_partner_s_stored_state_keeps_its_cards_but_not_their_tokens() -> None:
    partner = _partner_with_a_card("tok_live_abc")

    text = aggregate_states.encode(partner)
    read_back = aggregate_states.decode(Partner, text)

    assert "tok_live_abc" not in text
    method = next(iter(read_back.payment_methods.values()))
    assert (method.brand, method.last4, method.exp_month, method.exp_year, method.token) == (
        "visa", "4242", 12, 2030, "")
    assert next(iter(partner.payment_methods.values())).token == "tok_live_abc"
