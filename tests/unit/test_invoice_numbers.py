"""Invoice prefixes and numbers, without a database: the prefix rule, derivation, the
prefix of partners created before prefixes, and the counter's version race."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from aggregates.base import SYSTEM
from aggregates.errors import InvalidInput
from aggregates.invoice_numbers import (
    check_prefix,
    credit_note_number,
    derived_prefixes,
    invoice_number,
    legacy_prefix,
)
from aggregates.partner import Partner

AT = datetime(2026, 1, 1, tzinfo=UTC)
PRICING = {"structure": "standard", "unit_amount": 3000}


def partner(**kw: Any) -> Partner:
    return Partner.create(id=kw.pop("id", uuid4()), name="Acme", currency="USD",
                          billing_anchor_day=1, pricing=PRICING, actor=SYSTEM, at=AT, **kw)


@pytest.mark.parametrize("prefix", ["AB", "ACME", "A1B2C3D4E5F6", "2026"])
def test_a_prefix_is_2_to_12_capitals_and_digits(prefix: str) -> None:
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["A", "acme", "AC-ME", "ABCDEFGHIJKLM", "ÄB", "AB\n", 12])
def test_any_other_prefix_is_refused(prefix: Any) -> None:
    with pytest.raises(InvalidInput):
        check_prefix(prefix)


def test_a_derived_prefix_comes_from_the_name_then_takes_a_suffix() -> None:
    candidates = derived_prefixes("Société Générale Resale")

    assert [next(candidates) for _ in range(3)] == ["SOCIET", "SOCIET2", "SOCIET3"]
    assert next(derived_prefixes("+ + x")) == "PL"  # too few letters: a fixed base
    assert all(check_prefix(p) for p, _ in zip(derived_prefixes("Z" * 40), range(50),
                                               strict=False))


def test_numbers_are_the_prefix_and_six_digits() -> None:
    assert invoice_number("ACME", 1) == "ACME-000001"
    assert credit_note_number("ACME", 12) == "ACME-CN-000012"


def test_a_partner_created_before_prefixes_replays_with_the_prefix_of_its_id() -> None:
    partner_id = UUID("0123abcd-4567-89ef-0123-456789abcdef")
    state: dict[str, Any] = {"originator_id": partner_id}

    Partner.Created.upcast_v1_v2(state)

    assert state["invoice_prefix"] == legacy_prefix(partner_id) == "P0123ABCD456"
    assert check_prefix(state["invoice_prefix"])
    old = partner(id=partner_id)
    old.invoice_prefix = ""  # a snapshot or view state kept before prefixes
    assert old.prefix == "P0123ABCD456"


def test_the_counter_numbers_in_issue_order_and_two_issues_at_once_race() -> None:
    app: Application[UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    acme = partner(invoice_prefix="ACME")
    app.save(acme)
    first, second = app.repository.get(acme.id), app.repository.get(acme.id)

    numbers = [first.number_invoice(invoice_id=uuid4(), actor=SYSTEM, at=AT),
               second.number_invoice(invoice_id=uuid4(), actor=SYSTEM, at=AT)]
    app.save(first)

    assert numbers == ["ACME-000001", "ACME-000001"]
    with pytest.raises(IntegrityError):  # the loser retries on fresh state
        app.save(second)
    retried = app.repository.get(acme.id)
    assert retried.number_invoice(invoice_id=uuid4(), actor=SYSTEM, at=AT) == "ACME-000002"
