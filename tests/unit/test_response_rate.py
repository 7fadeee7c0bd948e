"""The response rate is exact, then rounded half-even to four places."""

from __future__ import annotations

from decimal import Decimal

from projections.analytics import response_rate
from service.api.json_numbers import json_numbers


def test_a_rate_exactly_between_two_places_rounds_to_the_even_one() -> None:
    assert response_rate(1, 32) == Decimal("0.0312")   # 0.03125
    assert response_rate(3, 32) == Decimal("0.0938")   # 0.09375


def test_no_new_conversations_is_no_rate() -> None:
    assert response_rate(0, 0) is None


def test_rates_leave_the_service_as_json_numbers() -> None:
    assert json_numbers({"rates": [{"response_rate": Decimal("0.5015")}, None]}) == {
        "rates": [{"response_rate": 0.5015}, None]}
