"""Validated field types: one per concept, for every request body field and query parameter.

Each type is strict (a JSON `true`, `"5"` or `5.0` is not an integer; a number is not a
time) and bounded, and publishes its rule in the OpenAPI document (`minimum`/`maximum`,
`maxLength`, `pattern`) so that clients and the hostile-input suite see what is accepted.
A value outside the rule answers 422 `validation_error` naming the field, before any
command runs. The bounds are those of `aggregates.bounds` and the text rule that of
`aggregates.text`: the aggregates apply them again, so no other caller stores what the
API refuses.

Times: an ISO-8601 date and time, `YYYY-MM-DDTHH:MM[:SS[.ffffff]]`, with `Z` or an offset
`±HH:MM`; without an offset it is read as UTC (never as the server's local time). Only
the years 2000 to 2100 (in UTC) are accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, Strict, WithJsonSchema

from aggregates.bounds import (
    MAX_AMOUNT,
    MAX_FIGURE,
    MAX_LINE_COUNT,
    MAX_POSITION,
    MAX_YEAR,
    MIN_YEAR,
)
from aggregates.discounts import MAX_CYCLES, MAX_PERCENT
from aggregates.errors import InvalidInput
from aggregates.money import CURRENCIES, validate_currency
from aggregates.partner import MAX_BRAND_LENGTH as MAX_LABEL_LENGTH
from aggregates.text import MAX_NAME_LENGTH, MAX_REASON_LENGTH, TEXT_PATTERN, clean_text

MAX_LIMIT = 500  # items in one page of a list
MAX_ITEM_INDEX = 100_000  # items of one invoice
MAX_PARTITIONS = 64  # PORTAL_PARTITIONS' bound (service/runtime/settings.py)

# -- whole numbers: JSON integers, never a bool, a string or a float ----------------------

Money = Annotated[int, Strict(), Field(ge=0, le=MAX_AMOUNT)]
PositiveMoney = Annotated[int, Strict(), Field(ge=1, le=MAX_AMOUNT)]
LineCount = Annotated[int, Strict(), Field(ge=1, le=MAX_LINE_COUNT)]
# Past a month's end the period starts on its last day (aggregates/charges.py).
AnchorDay = Annotated[int, Strict(), Field(ge=1, le=31)]
ExpMonth = Annotated[int, Strict(), Field(ge=1, le=12)]
ExpYear = Annotated[int, Strict(), Field(ge=MIN_YEAR, le=MAX_YEAR)]
ItemIndex = Annotated[int, Strict(), Field(ge=0, le=MAX_ITEM_INDEX)]
Cycles = Annotated[int, Strict(), Field(ge=1, le=MAX_CYCLES)]
# A percent: a whole number 1..100, or a decimal string with at most two decimals
# ("12.5"), above 0 and at most 100 (checked by aggregates.discounts); never a float.
Percent = (Annotated[int, Strict(), Field(ge=1, le=MAX_PERCENT)]
           | Annotated[str, Strict(), Field(pattern=r"^[0-9]{1,3}(\.[0-9]{1,2})?$",
                                           examples=["12.5"])])
# A usage figure is a strict integer here; its bounds (0..MAX_FIGURE, responded at most
# new) are published below but judged by the usage rules, so that one answer names every
# bad row of a batch by index and field (`aggregates.usage.figure_problems`).
UsageFigure = Annotated[int, Strict(), WithJsonSchema(
    {"type": "integer", "minimum": 0, "maximum": MAX_FIGURE})]

_DIGITS = re.compile(r"[0-9]{1,20}", re.ASCII)


def _digits(value: object) -> object:
    # Query and path values arrive as text: only plain ASCII digits name a whole number
    # (not "5.0", "+5", " 5", "5_000", "true" or other scripts' digits).
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError("must be a whole number written in digits")
        return int(value)
    return value


# Query and path numbers arrive as text; the bounds come before the digits check in the
# annotation so that the OpenAPI document shows them as minimum/maximum.
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT), BeforeValidator(_digits)]
ItemNumber = Annotated[int, Field(ge=0, le=MAX_ITEM_INDEX), BeforeValidator(_digits)]
PartitionNumber = Annotated[int, Field(ge=0, le=MAX_PARTITIONS - 1), BeforeValidator(_digits)]
LogPosition = Annotated[int, Field(ge=1, le=MAX_POSITION), BeforeValidator(_digits)]

# -- text ---------------------------------------------------------------------------------


def _clean(value: str, *, max_length: int, collapse: bool) -> str:
    try:
        return clean_text(value, what="text", max_length=max_length, collapse=collapse)
    except InvalidInput as e:
        raise ValueError(e.detail.removeprefix("text ")) from None


def _name(value: str) -> str:
    return _clean(value, max_length=MAX_NAME_LENGTH, collapse=True)


def _reason(value: str) -> str:
    return _clean(value, max_length=MAX_REASON_LENGTH, collapse=False)


def _label(value: str) -> str:
    return _clean(value, max_length=MAX_LABEL_LENGTH, collapse=True)


def _text_schema(max_length: int, example: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "minLength": 1, "maxLength": max_length,
                           "pattern": TEXT_PATTERN, "examples": [example]})


# Printable text (the rule of `aggregates.text`), NFC-normalised and stripped; names and
# labels have runs of whitespace made one space.
Name = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_NAME_LENGTH),
                 AfterValidator(_name), _text_schema(MAX_NAME_LENGTH, "Acme – Sales")]
Reason = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_REASON_LENGTH),
                   AfterValidator(_reason),
                   _text_schema(MAX_REASON_LENGTH, "carrier spam complaints")]
Label = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_LABEL_LENGTH),
                  AfterValidator(_label), _text_schema(MAX_LABEL_LENGTH, "visa")]
# A gateway token: printable ASCII without spaces.
Token = Annotated[str, Strict(), Field(pattern=r"^[!-~]{1,200}$", examples=["tok_visa"])]
Last4 = Annotated[str, Strict(), Field(pattern=r"^[0-9]{4}$", examples=["4242"])]
PhoneNumber = Annotated[str, Strict(), Field(pattern=r"^\+[1-9][0-9]{7,14}$",
                                             examples=["+14155550123"])]
# A UUID kept as text: usage rows are matched to lines by their text, 10,000 a batch.
UuidText = Annotated[str, Strict(), Field(
    pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    examples=["7d1f6a3e-0000-4000-8000-000000000000"])]
EventType = Annotated[str, Field(max_length=100,
                                 pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$",
                                 examples=["Line.Provisioned"])]


def _currency(value: str) -> str:
    try:
        return validate_currency(value)
    except InvalidInput as e:
        raise ValueError(e.detail) from None


Currency = Annotated[str, Strict(), AfterValidator(_currency),
                     WithJsonSchema({"type": "string", "enum": sorted(CURRENCIES)})]

# -- times --------------------------------------------------------------------------------

_INSTANT_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?", re.ASCII)
_YEARS = "(200[1-9]|20[1-9][0-9]|2100)"
_INSTANT_PATTERN = (
    _YEARS + r"-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?")
# What the OpenAPI document promises: a shape every match of which is accepted. Days 29-31,
# offsets of 14 hours and the year 2000 are accepted too but left out of it: a pattern
# cannot tell which months have those days, nor which instants an offset moves out of the
# years.
INSTANT_SCHEMA = {"type": "string", "pattern": f"^{_INSTANT_PATTERN}$",
                  "examples": ["2026-01-11T12:00:00Z"]}


def parse_instant(value: object) -> datetime:
    """An aware UTC datetime from the API's time syntax (see the module docstring)."""
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        if not _INSTANT_SHAPE.fullmatch(value):
            raise ValueError("must be an ISO-8601 time such as 2026-01-11T12:00:00Z")
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("is not a valid date and time") from None
    else:
        raise ValueError("must be an ISO-8601 time string")
    # The years are judged before converting: shifting year 1 or 9999 overflows.
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        raise ValueError(f"must lie in the years {MIN_YEAR} to {MAX_YEAR}")
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        raise ValueError(f"must lie in the years {MIN_YEAR} to {MAX_YEAR} (UTC)")
    return at


Instant = Annotated[datetime, PlainValidator(parse_instant), WithJsonSchema(INSTANT_SCHEMA)]

# -- log positions, as-of, cursors --------------------------------------------------------


def _at_most(limit: int) -> str:
    """A regular expression matching the decimal numbers 1..`limit` (no leading zeros)."""
    digits = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}" if len(digits) > 1 else None
    same_length = []
    for i, d in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(d) > low:
            top = int(d) - 1
            rest = len(digits) - i - 1
            same_length.append(digits[:i] + (f"[{low}-{top}]" if top > low else str(low))
                               + (f"[0-9]{{{rest}}}" if rest else ""))
    same_length.append(digits)
    return "(" + "|".join(([shorter] if shorter else []) + same_length) + ")"


POSITION_PATTERN = _at_most(MAX_POSITION)
AS_OF_SCHEMA = {"type": "string", "pattern": f"^(position:{POSITION_PATTERN}|{_INSTANT_PATTERN})$",
                "examples": ["2026-01-11T12:00:00Z", "position:1200"]}


def parse_as_of(value: object) -> str:
    """An `as_of` value in the one spelling the views read: `position:<n>` with
    1 <= n <= 2^63-1, or the UTC time in ISO-8601."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO-8601 time or position:<n>")
    if value.startswith("position:"):
        number = value.removeprefix("position:")
        if not _DIGITS.fullmatch(number) or not 1 <= int(number) <= MAX_POSITION:
            raise ValueError(f"position must be a whole number from 1 to {MAX_POSITION}")
        return f"position:{int(number)}"
    return parse_instant(value).isoformat()


AsOf = Annotated[str, PlainValidator(parse_as_of), WithJsonSchema(AS_OF_SCHEMA)]

# The shape of the cursors `paging.encode_cursor` issues (base64url text); whether one
# was issued is `paging.decode_cursor`'s to say.
Cursor = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
