"""Usage: per line and hour, the messaging figures a partner's platform reports in batches.

A `UsageLedger` holds one partner's figures for one UTC day, keyed by (line, hour), under
a deterministic id (partner, day). Recording a batch keeps the figures per (line, hour)
and records at most two events: `UsageRecorded` for the (line, hour) pairs it has not
seen, and `UsageCorrected` for pairs whose figures changed (with the figures they
replace). Rows equal to what it holds are dropped, so a batch sent again records nothing.

Rows travel in events as compact lists, `[line_id, hour_of_day, *FIGURES]`, so that a
batch of thousands of rows is one event and never one event per message.

The auto-flag rule (`FlagThresholds`) lives here too: which figures make a line suspect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from operator import itemgetter
from typing import Any
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate, stable_id
from aggregates.bounds import MAX_FIGURE, MAX_YEAR, MIN_YEAR, year_problem
from aggregates.errors import InvalidInput

FIGURES = ("messages_sent", "messages_received", "new_conversations",
           "responded_conversations", "volume_limit_hits")
MAX_BATCH = 10_000
DELETED = "deleted"
_figures_of = itemgetter(*FIGURES)  # a row's figures as a tuple, in FIGURES order
_INTS = (int,) * len(FIGURES)  # exactly int: neither bool nor float


class InvalidUsage(InvalidInput):
    """A usage batch with bad rows; `errors` names each by its index in the batch and why."""

    def __init__(self, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.errors = errors


@dataclass(frozen=True)
class UsageRow:
    line_id: UUID
    hour: datetime  # a whole UTC hour
    figures: tuple[int, ...]  # in FIGURES order

    @property
    def day(self) -> date:
        return self.hour.date()

    @property
    def key(self) -> tuple[UUID, datetime]:
        return (self.line_id, self.hour)

    def figure(self, name: str) -> int:
        return self.figures[FIGURES.index(name)]


def hour_problems(hour: datetime, *, now: datetime) -> list[str]:
    """Why `hour` cannot name an hour of usage (empty when it can)."""
    if hour.tzinfo is None or hour.utcoffset() is None:
        return ["hour must carry a time zone (e.g. 2026-01-03T10:00:00Z)"]
    out_of_range = year_problem(hour, "hour")
    if out_of_range is not None:  # first: comparing year 1 or 9999 at an offset overflows
        return [out_of_range]
    if (hour.minute, hour.second, hour.microsecond) != (0, 0, 0):
        return ["hour must be a whole hour (minutes and seconds zero)"]
    if hour > now:
        return [f"hour is in the future (the service clock stands at "
                f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ})"]
    return []


def figure_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, why) for every figure that is not a whole number from 0 to MAX_FIGURE, and
    for responded conversations outnumbering new ones (a response answers a conversation
    of the same hour, so the response rate never exceeds 100%)."""
    problems = []
    for name in FIGURES:
        value = values.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append((name, "must be a whole number"))
        elif value < 0:
            problems.append((name, "must not be negative"))
        elif value > MAX_FIGURE:
            problems.append((name, f"must be at most {MAX_FIGURE} an hour"))
    if not problems and values["responded_conversations"] > values["new_conversations"]:
        problems.append(("responded_conversations", "must not exceed new_conversations"))
    return problems


def _figures_fit(figures: tuple[int, ...]) -> bool:
    """The bounds of `figure_problems` for figures already known to be ints, in FIGURES
    order (the fast path of `check_batch` and `record`)."""
    return min(figures) >= 0 and max(figures) <= MAX_FIGURE and figures[3] <= figures[2]


def _parse_line_id(value: Any) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None


def check_batch(rows: Sequence[Mapping[str, Any]], *, now: datetime,
                lines: Mapping[str, str]) -> list[UsageRow]:
    """The batch as `UsageRow`s, or InvalidUsage naming every bad row.

    `lines` maps the partner's line ids (text) to their status: a line missing from it is
    unknown (or another partner's, which looks the same), and a deleted line takes no
    usage. A (line, hour) may appear once in a batch.
    """
    if not rows:
        raise InvalidUsage("a usage batch needs at least one row", [])
    if len(rows) > MAX_BATCH:
        raise InvalidUsage(f"a usage batch holds at most {MAX_BATCH} rows, not {len(rows)}",
                           [])
    errors: list[dict[str, Any]] = []
    parsed: list[UsageRow] = []
    seen: dict[tuple[str, datetime], int] = {}
    # A batch names each of its lines many times (a line's hours): parse each id once.
    line_ids: dict[str, UUID] = {}

    def bad(index: int, field: str, reason: str) -> None:
        errors.append({"index": index, "field": field, "reason": reason})

    for index, row in enumerate(rows):
        line_text, hour = row.get("line_id"), row.get("hour")
        status = lines.get(line_text) if isinstance(line_text, str) else None
        try:
            figures = _figures_of(row)
        except KeyError:
            figures = ()
        # The fast path, written for speed (10,000 rows a batch): the same checks as the
        # slow path below, for the common spelling of a good row.
        good = (status is not None and status != DELETED and isinstance(hour, datetime)
                and hour.utcoffset() is not None and MIN_YEAR <= hour.year <= MAX_YEAR
                and hour.minute == 0 and hour.second == 0 and hour.microsecond == 0
                and hour <= now and tuple(map(type, figures)) == _INTS
                and _figures_fit(figures))
        if not good:  # the slow path: say what is wrong, or accept another spelling
            before = len(errors)
            line_id = _parse_line_id(line_text)
            status = lines.get(str(line_id)) if line_id is not None else None
            if status is None:
                bad(index, "line_id", "no such line of this partner")
            elif status == DELETED:
                bad(index, "line_id", "the line is deleted")
            if not isinstance(hour, datetime):
                bad(index, "hour", "hour must be an ISO-8601 time")
            else:
                for reason in hour_problems(hour, now=now):
                    bad(index, "hour", reason)
            for field, reason in figure_problems(row):
                bad(index, field, reason)
            if len(errors) > before:
                continue
            line_text = str(line_id)
            figures = tuple(row[name] for name in FIGURES)
        assert isinstance(hour, datetime) and isinstance(line_text, str)
        utc_hour = hour.astimezone(UTC)
        key = (line_text, utc_hour)
        if key in seen:
            bad(index, "hour", f"repeats row {seen[key]} (same line and hour)")
            continue
        seen[key] = index
        line_id = line_ids.get(line_text)
        if line_id is None:
            line_id = line_ids[line_text] = UUID(line_text)
        parsed.append(UsageRow(line_id=line_id, hour=utc_hour, figures=figures))
    if errors:
        indexes = sorted({e["index"] for e in errors})
        raise InvalidUsage(f"{len(indexes)} of {len(rows)} rows are not valid; nothing was "
                           "recorded", errors)
    return parsed


def decode_rows(day: str, rows: Sequence[Sequence[Any]]) -> list[UsageRow]:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return [UsageRow(line_id=UUID(r[0]), hour=start + timedelta(hours=int(r[1])),
                     figures=tuple(int(v) for v in r[2:])) for r in rows]


# What a ledger keys its figures by: (line id as text, hour of day), the two first items of
# an encoded row, so that applying an event builds keys without formatting text.
Key = tuple[str, int]


@dataclass(frozen=True)
class Recording:
    """What one `record` did with its rows."""

    recorded: int = 0
    corrected: int = 0
    unchanged: int = 0

    def __add__(self, other: Recording) -> Recording:
        return Recording(self.recorded + other.recorded, self.corrected + other.corrected,
                         self.unchanged + other.unchanged)


class UsageLedger(LedgerAggregate):
    """One partner's usage figures for one UTC day."""

    class Started(LedgerAggregate.Created):
        partner_id: UUID
        day: str

    class UsageRecorded(LedgerAggregate.Event):
        """Figures for (line, hour) pairs the ledger had not seen."""

        partner_id: UUID
        day: str
        rows: list[list[Any]]

        def apply(self, ledger: UsageLedger) -> None:
            ledger.figures.update(((row[0], row[1]), tuple(row[2:])) for row in self.rows)

    class UsageCorrected(LedgerAggregate.Event):
        """New figures for pairs seen before; `previous[i]` holds what `rows[i]` replaces."""

        partner_id: UUID
        day: str
        rows: list[list[Any]]
        previous: list[list[int]]

        def apply(self, ledger: UsageLedger) -> None:
            ledger.figures.update(((row[0], row[1]), tuple(row[2:])) for row in self.rows)

    class AutoFlagRaised(LedgerAggregate.Event):
        """The auto-flag policy flagged `line_id` for the figures of one hour (once)."""

        line_id: UUID
        hour: int
        reason: str

        def apply(self, ledger: UsageLedger) -> None:
            ledger.auto_flagged.add((str(self.line_id), self.hour))

    def __init__(self, partner_id: UUID, day: str) -> None:
        self.partner_id = partner_id
        self.day = day
        # Only immutable keys and values, so that a copy needs no deep copy (`__deepcopy__`).
        self.figures: dict[Key, tuple[int, ...]] = {}
        self.auto_flagged: set[Key] = set()

    def __deepcopy__(self, memo: dict[int, Any]) -> UsageLedger:
        """The repository deep-copies a cached aggregate for every command; a day's ledger
        holds up to 24 figures per line (24,000 tuples for 1,000 lines), and copying each
        took longer than recording a batch. Its figures and flags are immutable, so new
        containers holding the same items are a copy no command can corrupt the cache
        through."""
        copied = object.__new__(type(self))
        memo[id(self)] = copied
        state = vars(copied)
        for name, value in vars(self).items():
            if name == "figures":
                state[name] = dict(value)
            elif name == "auto_flagged":
                state[name] = set(value)
            else:
                state[name] = deepcopy(value, memo)
        return copied

    @staticmethod
    def id_for(*, partner_id: UUID, day: date) -> UUID:
        return stable_id("usage", partner_id, day.isoformat())

    @classmethod
    def start(cls, *, partner_id: UUID, day: date, actor: Actor, at: datetime) -> UsageLedger:
        return cls._start(cls.Started, id=cls.id_for(partner_id=partner_id, day=day),
                          actor=actor, at=at, partner_id=partner_id, day=day.isoformat())

    def held(self, line_id: UUID, hour: datetime) -> tuple[int, ...] | None:
        return self.figures.get((str(line_id), hour.hour))

    def record(self, *, rows: Sequence[UsageRow], actor: Actor, at: datetime) -> Recording:
        """Keeps the rows' figures; rows equal to what it holds change nothing."""
        problems: list[dict[str, Any]] = []
        # Rows share a few hours: judge each hour once. Keyed with the offset, as equal
        # instants at other offsets differ in their local fields (minutes, date).
        hour_reasons: dict[tuple[datetime, timedelta | None], list[str]] = {}
        for index, row in enumerate(rows):
            hour_key = (row.hour, row.hour.utcoffset())
            reasons = hour_reasons.get(hour_key)
            if reasons is None:
                reasons = hour_problems(row.hour, now=at)
                if row.hour.date().isoformat() != self.day:
                    reasons.append(f"hour is not on {self.day}")
                hour_reasons[hour_key] = reasons
            if len(row.figures) != len(FIGURES) or not _figures_fit(row.figures):
                reasons = [*reasons, f"figures must be whole numbers from 0 to {MAX_FIGURE}, "
                                     "responded conversations at most the new ones"]
            if reasons:
                problems.extend({"index": index, "field": "row", "reason": r} for r in reasons)
        if problems:
            raise InvalidUsage("usage rows are not valid; nothing was recorded", problems)
        new: list[list[Any]] = []
        changed: list[list[Any]] = []
        previous: list[list[int]] = []
        unchanged = 0
        texts: dict[UUID, str] = {}  # each line's id as text, formatted once
        for row in rows:
            line = texts.get(row.line_id)
            if line is None:
                line = texts[row.line_id] = str(row.line_id)
            hour_of_day = row.hour.hour
            held = self.figures.get((line, hour_of_day))
            if held is None:
                new.append([line, hour_of_day, *row.figures])
            elif held != row.figures:
                changed.append([line, hour_of_day, *row.figures])
                previous.append(list(held))
            else:
                unchanged += 1
        if new:
            self._trigger(self.UsageRecorded, actor=actor, at=at, partner_id=self.partner_id,
                          day=self.day, rows=new)
        if changed:
            self._trigger(self.UsageCorrected, actor=actor, at=at, partner_id=self.partner_id,
                          day=self.day, rows=changed, previous=previous)
        return Recording(recorded=len(new), corrected=len(changed), unchanged=unchanged)

    def was_auto_flagged(self, *, line_id: UUID, hour: datetime) -> bool:
        return (str(line_id), hour.hour) in self.auto_flagged

    def note_auto_flag(self, *, line_id: UUID, hour: datetime, reason: str, actor: Actor,
                       at: datetime) -> bool:
        """Remembers that the policy flagged the line for this hour; False if it had."""
        if self.was_auto_flagged(line_id=line_id, hour=hour):
            return False
        self._trigger(self.AutoFlagRaised, actor=actor, at=at, line_id=line_id,
                      hour=hour.hour, reason=reason)
        return True


def _percent(part: int, whole: int) -> str:
    value = Decimal(part * 100) / Decimal(whole)
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN)}%"


@dataclass(frozen=True)
class FlagThresholds:
    """When the auto-flag policy flags a line, judged on one (line, hour) of usage."""

    volume_limit_hits: int = 10
    min_conversations: int = 20
    min_response_rate_percent: Decimal = Decimal(5)

    def may_flag(self, figures: Sequence[int]) -> bool:
        """A cheap first look at figures in FIGURES order: False means `reason` is None."""
        return figures[4] >= self.volume_limit_hits or figures[2] >= self.min_conversations

    def reason(self, row: UsageRow) -> str | None:
        """Why the row's figures make its line suspect, naming them; None when they don't."""
        when = f"{row.hour:%Y-%m-%dT%H:00Z}"
        hits = row.figure("volume_limit_hits")
        if hits >= self.volume_limit_hits:
            return (f"auto-flag: {hits} volume-limit hits in the hour {when} "
                    f"(threshold {self.volume_limit_hits})")
        new = row.figure("new_conversations")
        responded = row.figure("responded_conversations")
        if new >= self.min_conversations and \
                Fraction(responded * 100, new) < Fraction(self.min_response_rate_percent):
            return (f"auto-flag: response rate {_percent(responded, new)} ({responded} of {new} "
                    f"new conversations) in the hour {when} is below "
                    f"{self.min_response_rate_percent}% (judged from "
                    f"{self.min_conversations} new conversations)")
        return None
