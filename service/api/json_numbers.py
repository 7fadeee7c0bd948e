"""Exact figures leave the service as JSON numbers.

Views keep ratios exact (`Decimal`); JSON has only one kind of number, and this FastAPI
would write a `Decimal` as a string, so they are turned into numbers at the edge.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def json_numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: json_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_numbers(v) for v in value]
    return value
