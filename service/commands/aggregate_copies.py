"""Copies of aggregates that are exactly `deepcopy`'s, at a fraction of its cost.

A command must never change a cached aggregate (the library's cache, or this process's
own writes, service/commands/own_writes.py), so every load hands out a copy and every save
keeps one. `copy.deepcopy` walks every value through its generic machinery (memo, reduce,
reconstruct): about 70 µs for a line, twice a command. Most of an aggregate's values are
immutable (strings, numbers, UUIDs, datetimes), and an immutable value needs no copy:
sharing it is indistinguishable from copying it. So `copy_aggregate` builds the new
instance as `deepcopy` would (`cls.__new__`, then its `__dict__`), shares the immutable
values, copies plain lists, dicts and sets item by item, and hands anything else to
`deepcopy` itself, with one memo for the whole copy, so that values the aggregate holds
twice stay shared in the copy, as with `deepcopy`.

A class that customises copying or pickling (`__deepcopy__`, `__reduce__`, `__setstate__`,
slots, ...) is copied by `deepcopy`, which honours those.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

T = TypeVar("T")

# Exact types (not subclasses, which may add mutable state) whose instances never change.
_ATOMS: frozenset[type] = frozenset({
    str, int, float, bool, bytes, complex, type(None), UUID, datetime, date, time,
    timedelta, timezone, Decimal, range, type(Ellipsis),
})
_HOOKS = ("__deepcopy__", "__copy__", "__reduce__", "__reduce_ex__", "__getstate__",
          "__setstate__", "__getnewargs__", "__getnewargs_ex__", "__new__")
# Per class: whether its instances are plain objects (state all in `__dict__`).
_PLAIN: dict[type, bool] = {}


def _is_plain(cls: type) -> bool:
    plain = _PLAIN.get(cls)
    if plain is None:
        plain = not any(name in vars(klass) for klass in cls.__mro__ if klass is not object
                        for name in _HOOKS) \
            and not any(vars(klass).get("__slots__") for klass in cls.__mro__) \
            and "__dict__" in dir(cls)
        _PLAIN[cls] = plain
    return plain


def _immutable(value: Any) -> bool:
    kind = type(value)
    if kind in _ATOMS:
        return True
    if kind is tuple or kind is frozenset:
        return all(_immutable(item) for item in value)
    return False


def _copy(value: Any, memo: dict[int, Any]) -> Any:
    kind = type(value)
    if kind in _ATOMS:
        return value
    seen = memo.get(id(value))
    if seen is not None:
        return seen
    if kind is list:
        new_list: list[Any] = []
        memo[id(value)] = new_list
        new_list.extend(_copy(item, memo) for item in value)
        return new_list
    if kind is dict:
        new_dict: dict[Any, Any] = {}
        memo[id(value)] = new_dict
        for key, item in value.items():
            new_dict[_copy(key, memo)] = _copy(item, memo)
        return new_dict
    if (kind is set or kind is tuple or kind is frozenset) and all(map(_immutable, value)):
        return set(value) if kind is set else value
    return deepcopy(value, memo)


def copy_aggregate(aggregate: T) -> T:
    """A copy of `aggregate` that shares no mutable value with it (as `deepcopy`)."""
    cls = type(aggregate)
    if not _is_plain(cls):
        return deepcopy(aggregate)
    copied = cls.__new__(cls)
    memo: dict[int, Any] = {id(aggregate): copied}
    state = vars(copied)
    for name, value in vars(aggregate).items():
        state[name] = value if type(value) in _ATOMS else _copy(value, memo)
    return copied
