"""`copy_aggregate` is `deepcopy`, only cheaper: the copy equals the original, shares no
mutable value with it, keeps values held twice shared, and honours a class's own copy."""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.base import Actor
from aggregates.line import Line
from aggregates.partner import Partner
from aggregates.sub_account import SubAccount
from aggregates.usage import UsageLedger
from service.commands.aggregate_copies import copy_aggregate

OPS = Actor(key_id="ops", role="operations")
AT = datetime(2026, 3, 1, tzinfo=UTC)
MUTABLE = (list, dict, set)


def _mutables(value: Any) -> list[Any]:
    """Every mutable container reachable from `value` (objects' attributes included)."""
    found: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, MUTABLE):
            found.append(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | set | tuple | frozenset):
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            stack.append(vars(item))
    return found


def _assert_an_exact_copy(original: Any) -> None:
    copied = copy_aggregate(original)
    assert type(copied) is type(original)
    assert vars(copied) == vars(deepcopy(original))
    shared = {id(x) for x in _mutables(original)} & {id(x) for x in _mutables(copied)}
    assert not shared


def _line() -> Line:
    line = Line.provision(id=uuid4(), partner_id=uuid4(), phone_number="+12025550101",
                          sub_account_id=uuid4(), actor=OPS, at=AT)
    line.pause(actor=OPS, at=AT)
    line.collect_events()
    return line


def test_every_kind_of_state_is_copied_exactly_and_shares_nothing_mutable() -> None:
    partner = Partner.create(id=uuid4(), name="Acme", currency="USD", billing_anchor_day=1,
                             pricing={"structure": "tiered", "mode": "graduated",
                                      "tiers": [{"up_to": 10, "unit_amount": 100},
                                                {"up_to": None, "unit_amount": 80}]},
                             actor=OPS, at=AT, invoice_prefix="ACME")
    partner.grant_credit(amount=500, reason="goodwill", actor=OPS, at=AT)
    sub = SubAccount.create(id=uuid4(), partner_id=partner.id, name="Team", actor=OPS, at=AT)
    sub.attach_line(line_id=uuid4(), actor=OPS, at=AT)
    usage = UsageLedger.start(partner_id=partner.id, day=date(2026, 3, 1), actor=OPS, at=AT)
    for aggregate in (_line(), partner, sub, usage):
        _assert_an_exact_copy(aggregate)


def test_a_change_to_the_copy_leaves_the_original_alone() -> None:
    line = _line()
    copied = copy_aggregate(line)
    copied.resume(actor=OPS, at=AT)
    assert (line.sending, line.version) == ("paused", 2)
    assert (copied.sending, copied.version, len(copied.pending_events)) == ("enabled", 3, 1)
    assert line.pending_events == []


class Holder:
    """A plain object, as an aggregate is: its state in `__dict__`."""


class OwnCopy(Holder):
    def __deepcopy__(self, memo: dict[int, Any]) -> OwnCopy:
        copied = OwnCopy()
        copied.made_by = "__deepcopy__"
        return copied


def test_a_value_held_twice_stays_one_value_in_the_copy() -> None:
    holder = Holder()
    shared: list[int] = [1, 2]
    holder.first, holder.second = shared, {"again": shared}
    copied = copy_aggregate(holder)
    assert copied.first is copied.second["again"]
    assert copied.first is not shared


def test_a_class_with_its_own_copy_is_copied_by_it() -> None:
    assert copy_aggregate(OwnCopy()).made_by == "__deepcopy__"


ATOMS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                  st.uuids(), st.decimals(allow_nan=False),
                  st.datetimes(timezones=st.just(UTC)))
VALUES = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=3), inner, max_size=4),
        st.sets(st.integers(), max_size=4), st.frozensets(st.text(max_size=2), max_size=3)),
    max_leaves=12)


@settings(max_examples=50)
@given(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), VALUES, max_size=6))
def test_any_state_of_plain_values_is_copied_as_deepcopy_copies_it(
        state: dict[str, Any]) -> None:
    holder = Holder()
    vars(holder).update(state)
    _assert_an_exact_copy(holder)
