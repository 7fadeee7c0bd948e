"""The simulated payment gateway, the adapter shipped for the `PaymentGateway` port."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from aggregates.partner import PaymentMethod
from aggregates.payments import PaymentGateway, PaymentResult, SimulatedGateway

AT = datetime(2024, 3, 1, 0, 5, tzinfo=UTC)


def method(*, token: str = "tok_visa", exp_month: int = 12, exp_year: int = 2030) -> PaymentMethod:
    return PaymentMethod(id=uuid4(), brand="visa", last4="4242", exp_month=exp_month,
                         exp_year=exp_year, token=token)


def charge(card: PaymentMethod, *, amount: int = 6229, at: datetime = AT) -> PaymentResult:
    gateway: PaymentGateway = SimulatedGateway()
    return gateway.charge(attempt_id=uuid4(), method=card, amount=amount, currency="USD", at=at)


def test_a_valid_card_is_charged() -> None:
    card = method()

    result = charge(card)

    assert result == PaymentResult(succeeded=True, reason=None)


def test_the_declining_token_is_declined() -> None:
    card = method(token="tok_decline")

    result = charge(card)

    assert result == PaymentResult(succeeded=False, reason="card_declined")


def test_a_card_expired_at_the_attempt_is_declined_as_expired() -> None:
    card = method(exp_month=2, exp_year=2024)

    result = charge(card, at=datetime(2024, 3, 1, tzinfo=UTC))

    assert result == PaymentResult(succeeded=False, reason="card_expired")


def test_a_card_is_still_charged_on_the_last_day_of_its_expiry_month() -> None:
    card = method(exp_month=2, exp_year=2024)

    result = charge(card, at=datetime(2024, 2, 29, 23, 59, tzinfo=UTC))

    assert result.succeeded is True


def test_the_declining_token_wins_over_an_expired_card() -> None:
    card = method(token="tok_decline", exp_month=1, exp_year=2020)

    result = charge(card)

    assert result.reason == "card_declined"


def test_the_same_charge_always_gets_the_same_answer() -> None:
    card = method(exp_month=3, exp_year=2024)

    answers = {charge(card) for _ in range(5)}

    assert answers == {PaymentResult(succeeded=True, reason=None)}


@pytest.mark.parametrize("amount", [0, -1, True, 10.5])
def test_a_charge_must_be_a_positive_integer_amount(amount: Any) -> None:
    card = method()

    with pytest.raises(ValueError):
        charge(card, amount=amount)
