"""The Partner's billing state: next-period pricing, payment methods, credits, discounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from hypothesis import given
from hypothesis import strategies as st

from aggregates.base import Actor
from aggregates.discounts import Discount
from aggregates.errors import (
    DomainError,
    DuplicateId,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from aggregates.partner import Partner, PaymentMethod, card_expired

SUPPORT = Actor(key_id="key-support", role="support")
NOW = datetime(2024, 1, 15, 10, tzinfo=UTC)
STANDARD = {"structure": "standard", "unit_amount": 3000}


def new_partner(*, anchor_day: int = 1) -> Partner:
    return Partner.create(id=uuid4(), name="Acme Reseller", currency="USD",
                          billing_anchor_day=anchor_day, pricing=STANDARD, actor=SUPPORT, at=NOW)


def add_card(partner: Partner, **overrides: Any) -> UUID:
    card: dict[str, Any] = {"method_id": uuid4(), "brand": "visa", "last4": "4242",
                            "exp_month": 12, "exp_year": 2030, "token": "tok_visa"}
    card.update(overrides)
    partner.add_payment_method(**card, actor=SUPPORT, at=NOW)
    return card["method_id"]


def card(*, exp_month: int, exp_year: int) -> PaymentMethod:
    return PaymentMethod(id=uuid4(), brand="visa", last4="4242", exp_month=exp_month,
                         exp_year=exp_year, token="tok_visa")


def add_discount(partner: Partner, discount_id: str, **overrides: Any) -> None:
    fields: dict[str, Any] = {"kind": "percent", "value": 10, "sub_account_id": None,
                              "cycles": None}
    fields.update(overrides)
    partner.add_discount(discount_id=discount_id, **fields, actor=SUPPORT, at=NOW)


# --- pricing takes effect at the next period -------------------------------------------


def test_the_next_period_starts_on_the_following_anchor_day() -> None:
    partner = new_partner(anchor_day=10)

    start = partner.next_period_start(NOW)

    assert start == datetime(2024, 2, 10, tzinfo=UTC)


def test_before_the_anchor_day_the_next_period_starts_this_month() -> None:
    partner = new_partner(anchor_day=20)

    start = partner.next_period_start(NOW)

    assert start == datetime(2024, 1, 20, tzinfo=UTC)


def test_a_pricing_change_applies_from_the_next_period_only() -> None:
    partner = new_partner()
    new_plan = {"structure": "standard", "unit_amount": 2500}

    partner.change_pricing(pricing=new_plan, effective_from=partner.next_period_start(NOW),
                           actor=SUPPORT, at=NOW)

    assert partner.pricing_at(datetime(2024, 1, 31, 23, 59, tzinfo=UTC)) == STANDARD
    assert partner.pricing_at(datetime(2024, 2, 1, tzinfo=UTC)) == new_plan


# --- payment methods -------------------------------------------------------------------


def test_the_first_payment_method_becomes_the_default() -> None:
    partner = new_partner()

    method_id = add_card(partner)

    assert partner.default_payment_method_id == method_id
    assert partner.payment_methods[method_id] == PaymentMethod(
        id=method_id, brand="visa", last4="4242", exp_month=12, exp_year=2030, token="tok_visa"
    )
    assert partner.default_payment_method == partner.payment_methods[method_id]


def test_a_second_payment_method_does_not_take_over_the_default() -> None:
    partner = new_partner()
    first = add_card(partner)

    second = add_card(partner, last4="1881")

    assert partner.default_payment_method_id == first
    assert list(partner.payment_methods) == [first, second]


def test_any_payment_method_can_be_made_the_default() -> None:
    partner = new_partner()
    add_card(partner)
    second = add_card(partner)

    partner.make_default_payment_method(method_id=second, actor=SUPPORT, at=NOW)

    assert partner.default_payment_method_id == second
    assert isinstance(partner.pending_events[-1], Partner.PaymentMethodMadeDefault)


def test_making_the_default_the_default_again_records_nothing() -> None:
    partner = new_partner()
    method_id = add_card(partner)
    recorded = len(partner.pending_events)

    partner.make_default_payment_method(method_id=method_id, actor=SUPPORT, at=NOW)

    assert len(partner.pending_events) == recorded


def test_removing_the_default_promotes_the_most_recently_added_remaining_method() -> None:
    partner = new_partner()
    first = add_card(partner)
    second = add_card(partner)
    third = add_card(partner)
    partner.remove_payment_method(method_id=third, actor=SUPPORT, at=NOW)
    partner.make_default_payment_method(method_id=first, actor=SUPPORT, at=NOW)

    partner.remove_payment_method(method_id=first, actor=SUPPORT, at=NOW)

    assert partner.default_payment_method_id == second
    assert list(partner.payment_methods) == [second]


def test_removing_the_default_never_makes_an_expired_card_the_default() -> None:
    partner = new_partner()
    lasting = add_card(partner)
    expiring = add_card(partner, exp_month=2, exp_year=2024)  # valid through February 2024
    default = add_card(partner)
    partner.make_default_payment_method(method_id=default, actor=SUPPORT, at=NOW)
    march = datetime(2024, 3, 1, tzinfo=UTC)

    partner.remove_payment_method(method_id=default, actor=SUPPORT, at=march)

    assert partner.default_payment_method_id == lasting  # the newer card has expired
    partner.remove_payment_method(method_id=lasting, actor=SUPPORT, at=march)
    assert partner.default_payment_method_id is None
    assert list(partner.payment_methods) == [expiring]


def test_removing_a_method_that_is_not_the_default_keeps_the_default() -> None:
    partner = new_partner()
    first = add_card(partner)
    second = add_card(partner)

    partner.remove_payment_method(method_id=second, actor=SUPPORT, at=NOW)

    assert partner.default_payment_method_id == first


def test_removing_the_last_method_leaves_no_default() -> None:
    partner = new_partner()
    method_id = add_card(partner)

    partner.remove_payment_method(method_id=method_id, actor=SUPPORT, at=NOW)

    assert partner.default_payment_method_id is None
    assert partner.default_payment_method is None
    assert partner.payment_methods == {}


@pytest.mark.parametrize("command", ["make_default_payment_method", "remove_payment_method"])
def test_an_unknown_payment_method_is_not_found_and_nothing_is_recorded(command: str) -> None:
    partner = new_partner()
    add_card(partner)
    recorded = len(partner.pending_events)

    with pytest.raises(NotFound):
        getattr(partner, command)(method_id=uuid4(), actor=SUPPORT, at=NOW)

    assert len(partner.pending_events) == recorded


@pytest.mark.parametrize(
    "bad",
    [
        {"brand": ""},
        {"brand": "   "},
        {"last4": "424"},
        {"last4": "42424"},
        {"last4": "42a4"},
        {"last4": "٤٢٤٢"},
        {"last4": 4242},
        {"exp_month": 0},
        {"exp_month": 13},
        {"exp_month": True},
        {"exp_year": 1999},
        {"exp_year": 2101},
        {"exp_year": "2030"},
        {"token": ""},
    ],
)
def test_a_malformed_payment_method_is_refused_and_nothing_is_recorded(
    bad: dict[str, Any],
) -> None:
    partner = new_partner()
    recorded = len(partner.pending_events)

    with pytest.raises(InvalidInput):
        add_card(partner, **bad)

    assert len(partner.pending_events) == recorded
    assert partner.payment_methods == {}


def test_a_payment_method_id_cannot_be_added_twice() -> None:
    partner = new_partner()
    method_id = add_card(partner)

    with pytest.raises(DuplicateId) as refused:
        add_card(partner, method_id=method_id)

    assert refused.value.code == "duplicate_id"


def test_a_card_is_valid_through_the_last_instant_of_its_expiry_month() -> None:
    method = card(exp_month=2, exp_year=2024)

    expired = card_expired(method, datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC))

    assert expired is False


def test_a_card_has_expired_from_the_first_day_after_its_expiry_month() -> None:
    method = card(exp_month=2, exp_year=2024)

    expired = card_expired(method, datetime(2024, 3, 1, tzinfo=UTC))

    assert expired is True


def test_a_december_card_expires_at_the_new_year() -> None:
    method = card(exp_month=12, exp_year=2024)

    assert card_expired(method, datetime(2024, 12, 31, 23, tzinfo=UTC)) is False
    assert card_expired(method, datetime(2025, 1, 1, tzinfo=UTC)) is True


def test_card_expiry_is_judged_in_utc() -> None:
    method = card(exp_month=1, exp_year=2024)
    # 2024-02-01 01:00 in UTC+2 is still 2024-01-31 in UTC.
    at = datetime(2024, 2, 1, 1, tzinfo=timezone(timedelta(hours=2)))

    expired = card_expired(method, at)

    assert expired is False


def test_card_expiry_needs_an_aware_time() -> None:
    method = card(exp_month=1, exp_year=2024)

    with pytest.raises(ValueError):
        card_expired(method, datetime(2024, 1, 1))


# --- credits ---------------------------------------------------------------------------


def test_granted_credits_add_up_to_the_balance() -> None:
    partner = new_partner()

    partner.grant_credit(amount=1000, reason="goodwill", actor=SUPPORT, at=NOW)
    partner.grant_credit(amount=250, reason="prior_change", actor=SUPPORT, at=NOW)

    assert partner.credit_balance == 1250
    assert isinstance(partner.pending_events[-1], Partner.CreditGranted)
    assert partner.pending_events[-1].actor_id == "key-support"


@pytest.mark.parametrize("amount", [0, -1, True, "100", 10.0, None])
def test_a_credit_must_be_a_positive_integer(amount: Any) -> None:
    partner = new_partner()
    recorded = len(partner.pending_events)

    with pytest.raises(InvalidInput):
        partner.grant_credit(amount=amount, reason="goodwill", actor=SUPPORT, at=NOW)

    assert len(partner.pending_events) == recorded
    assert partner.credit_balance == 0


@pytest.mark.parametrize("reason", ["", "because", "refund-as-credit", "Goodwill", None])
def test_a_credit_needs_one_of_the_listed_reasons(reason: Any) -> None:
    partner = new_partner()

    with pytest.raises(InvalidInput):
        partner.grant_credit(amount=100, reason=reason, actor=SUPPORT, at=NOW)


@pytest.mark.parametrize("reason", ["adjustment", "refund_as_credit", "goodwill", "prior_change"])
def test_every_listed_credit_reason_is_accepted(reason: str) -> None:
    partner = new_partner()

    partner.grant_credit(amount=100, reason=reason, actor=SUPPORT, at=NOW)

    assert partner.credit_balance == 100


def test_applying_credit_to_an_invoice_reduces_the_balance() -> None:
    partner = new_partner()
    partner.grant_credit(amount=1000, reason="goodwill", actor=SUPPORT, at=NOW)
    invoice_id = uuid4()

    partner.apply_credit(invoice_id=invoice_id, amount=600, actor=SUPPORT, at=NOW)

    assert partner.credit_balance == 400
    assert partner.pending_events[-1].invoice_id == invoice_id


def test_applying_more_credit_than_the_balance_is_refused_and_records_nothing() -> None:
    partner = new_partner()
    partner.grant_credit(amount=1000, reason="goodwill", actor=SUPPORT, at=NOW)
    recorded = len(partner.pending_events)

    with pytest.raises(InvalidTransition):
        partner.apply_credit(invoice_id=uuid4(), amount=1001, actor=SUPPORT, at=NOW)

    assert len(partner.pending_events) == recorded
    assert partner.credit_balance == 1000


def test_applying_no_credit_records_nothing() -> None:
    partner = new_partner()
    recorded = len(partner.pending_events)

    partner.apply_credit(invoice_id=uuid4(), amount=0, actor=SUPPORT, at=NOW)

    assert len(partner.pending_events) == recorded


def test_credit_is_applied_to_an_invoice_only_once() -> None:
    partner = new_partner()
    partner.grant_credit(amount=1000, reason="goodwill", actor=SUPPORT, at=NOW)
    invoice_id = uuid4()
    partner.apply_credit(invoice_id=invoice_id, amount=300, actor=SUPPORT, at=NOW)

    with pytest.raises(InvalidTransition):
        partner.apply_credit(invoice_id=invoice_id, amount=300, actor=SUPPORT, at=NOW)

    assert partner.credit_balance == 700


@pytest.mark.parametrize("amount", [-1, True, "5"])
def test_a_credit_application_must_be_a_non_negative_integer(amount: Any) -> None:
    partner = new_partner()
    partner.grant_credit(amount=1000, reason="goodwill", actor=SUPPORT, at=NOW)

    with pytest.raises(InvalidInput):
        partner.apply_credit(invoice_id=uuid4(), amount=amount, actor=SUPPORT, at=NOW)


credit_steps = st.lists(
    st.tuples(st.sampled_from(["grant", "apply"]), st.integers(min_value=-50, max_value=5000)),
    max_size=40,
)


@given(steps=credit_steps)
def test_the_credit_balance_never_goes_negative_under_any_grants_and_applications(
    steps: list[tuple[str, int]],
) -> None:
    partner = new_partner()
    granted = applied = 0

    for command, amount in steps:
        if command == "grant" and amount > 0:
            partner.grant_credit(amount=amount, reason="adjustment", actor=SUPPORT, at=NOW)
            granted += amount
        elif command == "apply" and 0 <= amount <= partner.credit_balance:
            partner.apply_credit(invoice_id=uuid4(), amount=amount, actor=SUPPORT, at=NOW)
            applied += amount
        else:
            recorded = len(partner.pending_events)
            with pytest.raises(DomainError):
                if command == "grant":
                    partner.grant_credit(amount=amount, reason="adjustment", actor=SUPPORT,
                                         at=NOW)
                else:
                    partner.apply_credit(invoice_id=uuid4(), amount=amount, actor=SUPPORT,
                                         at=NOW)
            assert len(partner.pending_events) == recorded
        assert partner.credit_balance >= 0

    assert partner.credit_balance == granted - applied


# --- discounts -------------------------------------------------------------------------


def test_active_discounts_come_in_the_order_they_were_added() -> None:
    partner = new_partner()

    add_discount(partner, "welcome", kind="percent", value=20, cycles=3)
    add_discount(partner, "sales", kind="fixed", value=500, sub_account_id="sub-1")

    assert partner.active_discounts() == [
        Discount(id="welcome", kind="percent", value=20, sub_account_id=None, cycles=3),
        Discount(id="sales", kind="fixed", value=500, sub_account_id="sub-1", cycles=None),
    ]


def test_a_uuid_discount_id_and_sub_account_are_kept_as_strings() -> None:
    partner = new_partner()
    discount_id, sub_account_id = uuid4(), uuid4()

    partner.add_discount(discount_id=discount_id, kind="fixed", value=100,
                         sub_account_id=sub_account_id, cycles=None, actor=SUPPORT, at=NOW)

    [discount] = partner.active_discounts()
    assert (discount.id, discount.sub_account_id) == (str(discount_id), str(sub_account_id))


def test_a_discount_stops_being_active_once_its_cycles_are_used() -> None:
    partner = new_partner()
    add_discount(partner, "welcome", cycles=2)

    partner.discount_used(discount_id="welcome", invoice_id=uuid4(), actor=SUPPORT, at=NOW)
    still_active = partner.active_discounts()
    partner.discount_used(discount_id="welcome", invoice_id=uuid4(), actor=SUPPORT, at=NOW)

    assert [d.id for d in still_active] == ["welcome"]
    assert partner.active_discounts() == []
    assert partner.cycles_used("welcome") == 2


def test_an_open_ended_discount_stays_active_however_often_it_is_used() -> None:
    partner = new_partner()
    add_discount(partner, "forever")

    for _ in range(12):
        partner.discount_used(discount_id="forever", invoice_id=uuid4(), actor=SUPPORT, at=NOW)

    assert [d.id for d in partner.active_discounts()] == ["forever"]


def test_an_exhausted_discount_cannot_be_used_again() -> None:
    partner = new_partner()
    add_discount(partner, "once", cycles=1)
    partner.discount_used(discount_id="once", invoice_id=uuid4(), actor=SUPPORT, at=NOW)
    recorded = len(partner.pending_events)

    with pytest.raises(InvalidTransition):
        partner.discount_used(discount_id="once", invoice_id=uuid4(), actor=SUPPORT, at=NOW)

    assert len(partner.pending_events) == recorded


def test_a_discount_is_counted_once_per_invoice() -> None:
    partner = new_partner()
    add_discount(partner, "welcome", cycles=3)
    invoice_id = uuid4()
    partner.discount_used(discount_id="welcome", invoice_id=invoice_id, actor=SUPPORT, at=NOW)

    with pytest.raises(InvalidTransition):
        partner.discount_used(discount_id="welcome", invoice_id=invoice_id, actor=SUPPORT,
                              at=NOW)

    assert partner.cycles_used("welcome") == 1


def test_a_removed_discount_is_no_longer_active() -> None:
    partner = new_partner()
    add_discount(partner, "a")
    add_discount(partner, "b")

    partner.remove_discount(discount_id="a", actor=SUPPORT, at=NOW)

    assert [d.id for d in partner.active_discounts()] == ["b"]


@pytest.mark.parametrize("command", ["remove", "use"])
def test_an_unknown_or_removed_discount_is_not_found(command: str) -> None:
    partner = new_partner()
    add_discount(partner, "gone")
    partner.remove_discount(discount_id="gone", actor=SUPPORT, at=NOW)
    recorded = len(partner.pending_events)

    for discount_id in ("gone", "never-added"):
        with pytest.raises(NotFound):
            if command == "remove":
                partner.remove_discount(discount_id=discount_id, actor=SUPPORT, at=NOW)
            else:
                partner.discount_used(discount_id=discount_id, invoice_id=uuid4(),
                                      actor=SUPPORT, at=NOW)

    assert len(partner.pending_events) == recorded


def test_a_discount_id_is_never_reused_even_after_removal() -> None:
    partner = new_partner()
    add_discount(partner, "welcome")
    partner.remove_discount(discount_id="welcome", actor=SUPPORT, at=NOW)

    with pytest.raises(DuplicateId):
        add_discount(partner, "welcome")


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "bogus"},
        {"kind": "percent", "value": 0},
        {"kind": "percent", "value": 101},
        {"kind": "fixed", "value": -5},
        {"value": True},
        {"cycles": 0},
        {"sub_account_id": ""},
    ],
)
def test_a_malformed_discount_is_refused_and_nothing_is_recorded(bad: dict[str, Any]) -> None:
    partner = new_partner()
    recorded = len(partner.pending_events)

    with pytest.raises(InvalidInput):
        add_discount(partner, "bad", **bad)

    assert len(partner.pending_events) == recorded
    assert partner.active_discounts() == []


# --- the state survives storage --------------------------------------------------------


class _Store(Application[UUID]):
    """An in-memory event store (no database) to replay and snapshot aggregates."""


def test_a_partner_replayed_or_restored_from_a_snapshot_has_the_same_billing_state() -> None:
    partner = new_partner()
    first = add_card(partner)
    second = add_card(partner, brand="mastercard", last4="5454")
    partner.make_default_payment_method(method_id=second, actor=SUPPORT, at=NOW)
    partner.grant_credit(amount=900, reason="goodwill", actor=SUPPORT, at=NOW)
    partner.apply_credit(invoice_id=uuid4(), amount=400, actor=SUPPORT, at=NOW)
    add_discount(partner, "welcome", cycles=2)
    add_discount(partner, "old")
    partner.remove_discount(discount_id="old", actor=SUPPORT, at=NOW)
    partner.discount_used(discount_id="welcome", invoice_id=uuid4(), actor=SUPPORT, at=NOW)
    store = _Store(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    store.save(partner)

    replayed = store.repository.get(partner.id)
    store.take_snapshot(partner.id)
    restored = store.repository.get(partner.id)

    for copy in (replayed, restored):
        assert copy.payment_methods == partner.payment_methods
        assert list(copy.payment_methods) == [first, second]
        assert copy.default_payment_method_id == second
        assert copy.credit_balance == 500
        assert copy.active_discounts() == partner.active_discounts()
        assert copy.cycles_used("welcome") == 1
