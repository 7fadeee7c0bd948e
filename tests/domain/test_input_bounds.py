"""The aggregates refuse what the API refuses, so that the CLI, the seed and the policies
cannot store it either: amounts past 10^12, usage figures past 10^9 or with more responded
than new conversations, times outside 2000-2100, text with control or bidi characters,
an expired card."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from aggregates.api_key import ApiKey
from aggregates.base import SYSTEM, Actor
from aggregates.bounds import MAX_AMOUNT, MAX_FIGURE
from aggregates.discounts import Discount
from aggregates.errors import InvalidInput, InvalidTransition
from aggregates.line import Line
from aggregates.partner import Partner
from aggregates.pricing import pricing_from_dict
from aggregates.sub_account import SubAccount
from aggregates.usage import InvalidUsage, UsageLedger, UsageRow, check_batch

SUPPORT = Actor(key_id="key-support", role="support")
NOW = datetime(2026, 1, 15, 10, tzinfo=UTC)
LINE = UUID("00000000-0000-0000-0000-000000000001")
CARD: dict[str, Any] = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030,
                        "token": "tok_visa"}
HOSTILE_TEXT = ["Acme\x00", "\x07", "\x1b[2J", "Acme\x85", "Acme\u202e", "\u2067Acme",
                "Acme\u200e", "\u200b\u200d", "   ", "", "Acme\u2028Sales", "Acme\ud800"]


def _partner() -> Partner:
    return Partner.create(id=uuid4(), name="Acme Reseller", currency="USD",
                          billing_anchor_day=1,
                          pricing={"structure": "standard", "unit_amount": 3000},
                          actor=SUPPORT, at=NOW)


def _raw(**figures: Any) -> dict[str, Any]:
    return {"line_id": str(LINE), "hour": datetime(2026, 1, 15, 9, tzinfo=UTC),
            "messages_sent": 1, "messages_received": 1, "new_conversations": 1,
            "responded_conversations": 1, "volume_limit_hits": 0, **figures}


@pytest.mark.parametrize("amount", [MAX_AMOUNT + 1, 10**19, 2**63, True, 5.0, "5", -1])
def test_a_pricing_amount_past_the_money_bound_is_refused(amount: Any) -> None:
    with pytest.raises(InvalidInput):
        pricing_from_dict({"structure": "standard", "unit_amount": amount})
    with pytest.raises(InvalidInput):
        pricing_from_dict({"structure": "tiered", "mode": "graduated",
                           "tiers": [{"up_to": None, "unit_amount": amount}]})


def test_the_largest_amount_and_a_tier_bound_past_the_line_count_bound() -> None:
    assert pricing_from_dict({"structure": "standard", "unit_amount": MAX_AMOUNT})
    with pytest.raises(InvalidInput, match="up_to"):
        pricing_from_dict({"structure": "tiered", "mode": "volume", "tiers": [
            {"up_to": 2**63, "unit_amount": 1}, {"up_to": None, "unit_amount": 1}]})
    with pytest.raises(InvalidInput, match="at most"):
        pricing_from_dict({"structure": "tiered", "mode": "volume", "tiers": [
            *({"up_to": n, "unit_amount": 1} for n in range(1, 60)),
            {"up_to": None, "unit_amount": 1}]})


@pytest.mark.parametrize("amount", [MAX_AMOUNT + 1, 2**63, True, 0])
def test_a_credit_past_the_money_bound_records_nothing(amount: Any) -> None:
    partner = _partner()
    version = partner.version

    with pytest.raises(InvalidInput):
        partner.grant_credit(amount=amount, reason="goodwill", actor=SUPPORT, at=NOW)

    assert (partner.version, partner.credit_balance) == (version, 0)


def test_a_fixed_discount_past_the_money_bound_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Discount(id="d", kind="fixed", value=MAX_AMOUNT + 1)
    with pytest.raises(InvalidInput, match="cycles"):
        Discount(id="d", kind="percent", value=10, cycles=10**6)


def test_a_card_expired_at_the_command_time_is_refused_naming_the_field() -> None:
    partner = _partner()

    with pytest.raises(InvalidInput) as refused:
        partner.add_payment_method(method_id=uuid4(), **{**CARD, "exp_month": 12,
                                                         "exp_year": 2025},
                                   actor=SUPPORT, at=NOW)
    partner.add_payment_method(method_id=uuid4(), **{**CARD, "exp_month": 1, "exp_year": 2026},
                               actor=SUPPORT, at=NOW)

    assert refused.value.field == "exp_year"
    assert len(partner.payment_methods) == 1


def test_a_card_that_expired_on_file_cannot_be_made_the_default() -> None:
    partner = _partner()
    first, expiring = uuid4(), uuid4()
    partner.add_payment_method(method_id=first, **CARD, actor=SUPPORT, at=NOW)
    partner.add_payment_method(method_id=expiring, **{**CARD, "exp_month": 1, "exp_year": 2026},
                               actor=SUPPORT, at=NOW)

    with pytest.raises(InvalidTransition, match="expired"):
        partner.make_default_payment_method(method_id=expiring, actor=SUPPORT,
                                            at=datetime(2026, 2, 1, tzinfo=UTC))

    assert partner.default_payment_method_id == first


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_names_and_reasons_with_control_bidi_or_nothing_visible_are_refused(text: str) -> None:
    partner_id = uuid4()
    line = Line.provision(id=uuid4(), partner_id=partner_id, phone_number="+14155550123",
                          sub_account_id=uuid4(), actor=SUPPORT, at=NOW)
    version = line.version

    with pytest.raises(InvalidInput):
        SubAccount.create(id=uuid4(), partner_id=partner_id, name=text, actor=SUPPORT, at=NOW)
    with pytest.raises(InvalidInput):
        Partner.create(id=uuid4(), name=text, currency="USD", billing_anchor_day=1,
                       pricing={"structure": "standard", "unit_amount": 1}, actor=SUPPORT,
                       at=NOW)
    with pytest.raises(InvalidInput):
        ApiKey.issue(id=uuid4(), partner_id=partner_id, role="billing", name=text,
                     secret="s3cret", actor=SUPPORT, at=NOW)
    with pytest.raises(InvalidInput):
        line.flag(reason=text, actor=SUPPORT, at=NOW)

    assert line.version == version


def test_a_name_is_kept_nfc_with_whitespace_collapsed() -> None:
    sub = SubAccount.create(id=uuid4(), partner_id=uuid4(), name=" Cafe\u0301 \u00a0 – Sales ",
                            actor=SUPPORT, at=NOW)

    assert sub.name == "Caf\u00e9 – Sales"


@pytest.mark.parametrize(("figures", "field"), [
    ({"messages_sent": MAX_FIGURE + 1}, "messages_sent"),
    ({"messages_received": 2**63}, "messages_received"),
    ({"volume_limit_hits": 2**62}, "volume_limit_hits"),
    ({"new_conversations": 2, "responded_conversations": 3}, "responded_conversations"),
])
def test_a_batch_row_past_the_figure_bounds_is_named(figures: dict[str, int],
                                                     field: str) -> None:
    with pytest.raises(InvalidUsage) as refused:
        check_batch([_raw(**figures)], now=NOW, lines={str(LINE): "active"})

    assert [(e["index"], e["field"]) for e in refused.value.errors] == [(0, field)]


@pytest.mark.parametrize("hour", [datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
                                  datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=1))),
                                  datetime(1999, 12, 31, 23, tzinfo=UTC)])
def test_an_hour_outside_the_years_is_named_without_overflowing(hour: datetime) -> None:
    with pytest.raises(InvalidUsage) as refused:
        check_batch([_raw(hour=hour)], now=NOW, lines={str(LINE): "active"})

    assert [(e["index"], e["field"]) for e in refused.value.errors] == [(0, "hour")]


def test_the_ledger_itself_refuses_figures_past_the_bound() -> None:
    ledger = UsageLedger.start(partner_id=uuid4(), day=date(2026, 1, 15), actor=SYSTEM, at=NOW)
    version = ledger.version
    hour = datetime(2026, 1, 15, 9, tzinfo=UTC)

    for figures in ((MAX_FIGURE + 1, 0, 0, 0, 0), (0, 0, 1, 2, 0)):
        with pytest.raises(InvalidUsage):
            ledger.record(rows=[UsageRow(line_id=LINE, hour=hour, figures=figures)],
                          actor=SYSTEM, at=NOW)

    assert ledger.version == version
