"""The auditor's proof: every issued invoice re-derives from the log to the cent, the
views hold what the log says, and the stored log is unchanged since it was chained.

First the hash chain is walked over the raw stored bytes: it decodes nothing, so it names
the first changed position even when that event no longer reads. Then one pass over the
stored log, independent of the views: partners are rebuilt by their own events, line
placements are collected per partner, and at each `Invoice.Issued` the billing engine
computes what the invoice should say from the log alone. The log is what is being
checked, so none of it is trusted: an event that no longer decodes, or decodes but no
longer makes sense (a renamed field, a figure of the wrong type), is reported at its
position and the pass goes on; the rest of that aggregate's events are left out, since
they build on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from aggregates.errors import DomainError
from aggregates.invoice import Invoice
from aggregates.invoice_draft import draft_invoice
from aggregates.invoice_figures import MONEY
from aggregates.invoice_numbers import credit_note_number, invoice_number
from aggregates.line import Line
from aggregates.line_days import Placement, day_counts
from aggregates.partner import Partner
from aggregates.sub_account import SubAccount
from policies.partner_isolation import describe
from projections import aggregate_states, hash_chain
from projections.billing import billing_terms
from projections.hash_chain import Break
from service.runtime.bootstrap import Ledger

BATCH = 1000
ITEM_FIELDS = ("sub_account_id", "line_days", "amount")


@dataclass(frozen=True)
class Mismatch:
    invoice_id: str
    number: str
    where: str  # "log" (re-derived from events) or "view" (what the read model holds)
    field: str
    expected: Any
    found: Any

    def __str__(self) -> str:
        return (f"invoice {self.number} ({self.invoice_id}) {self.where} {self.field}: "
                f"expected {self.expected!r}, found {self.found!r}")


@dataclass(frozen=True)
class EventFault:
    """A stored event the proof could not use: it does not decode, or does not make sense."""

    position: int
    originator_id: str
    topic: str
    problem: str
    # Which event store the position is in, when there are several.
    partition: int | None = None

    def __str__(self) -> str:
        where = "" if self.partition is None else f" of partition {self.partition}"
        return (f"position {self.position}{where}: {self.topic.rpartition(':')[2]} of "
                f"{self.originator_id} {self.problem}")


@dataclass
class Report:
    events_checked: int = 0
    invoices_checked: int = 0
    credit_notes_checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    faults: list[EventFault] = field(default_factory=list)
    chain_break: Break | None = None
    # Which event store the break is in, when there are several (positions are per store).
    chain_partition: int | None = None

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.faults and self.chain_break is None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "invoices_checked": self.invoices_checked,
            "credit_notes_checked": self.credit_notes_checked,
            "mismatches": [vars(m) | {"message": str(m)} for m in self.mismatches],
            "events": [{k: v for k, v in vars(f).items() if v is not None}
                       | {"message": str(f)} for f in self.faults],
            "chain": None if self.chain_break is None else {
                "position": self.chain_break.position, "problem": self.chain_break.problem,
                **({} if self.chain_partition is None else {"partition": self.chain_partition})},
        }

    def include(self, other: Report, *, partition: int) -> None:
        """Adds another partition's report to this one (the first chain break stays)."""
        self.events_checked += other.events_checked
        self.invoices_checked += other.invoices_checked
        self.credit_notes_checked += other.credit_notes_checked
        self.mismatches += other.mismatches
        self.faults += [replace(fault, partition=partition) for fault in other.faults]
        if self.chain_break is None and other.chain_break is not None:
            self.chain_break, self.chain_partition = other.chain_break, partition


@dataclass
class _LogState:
    partners: dict[str, Partner] = field(default_factory=dict)
    names: dict[str | None, str] = field(default_factory=dict)
    lines: dict[str, dict[str, tuple[list[Placement], datetime | None]]] = field(
        default_factory=dict)
    line_partner: dict[str, str] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    # Aggregates with a faulty event: their later events are left out (they build on it).
    faulty: set[str] = field(default_factory=set)

    def place(self, line_id: str, at: datetime, bucket: Any) -> None:
        placements, _ = self.lines[self.line_partner[line_id]][line_id]
        placements.append(Placement(at=at, bucket=str(bucket) if bucket else None))

    def follow(self, event: Any) -> None:
        match event:
            case Partner.Created():
                self.partners[str(event.originator_id)] = cast(Partner, event.mutate(None))
            case Partner.Event():
                self.partners[str(event.originator_id)] = cast(Partner, event.mutate(
                    self.partners[str(event.originator_id)]))
            case SubAccount.Created() | SubAccount.Renamed():
                self.names[str(event.originator_id)] = event.name
            case Line.Provisioned():
                line_id, pid = str(event.originator_id), str(event.partner_id)
                self.line_partner[line_id] = pid
                self.lines.setdefault(pid, {})[line_id] = ([], None)
                self.place(line_id, event.timestamp, event.sub_account_id)
            case Line.Assigned():
                self.place(str(event.originator_id), event.timestamp, event.sub_account_id)
            case Line.Unassigned():
                self.place(str(event.originator_id), event.timestamp, None)
            case Line.MoveApproved() | Line.Moved():
                self.place(str(event.originator_id), event.timestamp, event.to_sub_account_id)
            case Line.DeleteApproved():
                line_id = str(event.originator_id)
                pid = self.line_partner[line_id]
                self.lines[pid][line_id] = (self.lines[pid][line_id][0], event.timestamp)
            case Invoice.Issued():
                self.invoices[str(event.originator_id)] = cast(Invoice, event.mutate(None))
            case Invoice.Event():
                event.mutate(self.invoices[str(event.originator_id)])


def _rederive(state: _LogState, issued: Any) -> list[Mismatch]:
    pid = str(issued.partner_id)
    partner = state.partners[pid]
    start, end = issued.period_start, issued.period_end
    counts = day_counts(state.lines.get(pid, {}).values(), period_start=start.date(),
                        period_end=end.date())
    draft = draft_invoice(counts=counts, days_in_period=(end - start).days,
                          pricing=partner.pricing_at(start), names=state.names,
                          discounts=partner.active_discounts(),
                          credit_balance=partner.credit_balance,
                          **billing_terms(partner, start))
    found: list[Mismatch] = []

    def differ(name: str, expected: Any, actual: Any) -> None:
        if expected != actual:
            found.append(Mismatch(str(issued.originator_id), issued.number, "log", name,
                                  expected, actual))

    for name in MONEY:
        differ(name, getattr(draft, name), getattr(issued, name))
    # Tax re-derived too: the terms, each item's taxable amount and tax, and their sum.
    differ("tax", draft.tax, getattr(issued, "tax", None))
    differ("item count", len(draft.items), len(issued.items))
    for index, (mine, theirs) in enumerate(zip(draft.items, issued.items, strict=False)):
        for name in ITEM_FIELDS:
            differ(f"items[{index}].{name}", mine[name], theirs[name])
    return found


def _numbered(state: _LogState, issued: Any) -> list[Mismatch]:
    """An invoice numbered in the partner's series carries the next number of it (those
    issued before the series existed carry their old numbers and are left as they are)."""
    partner = state.partners[str(issued.partner_id)]
    if not issued.number.startswith(f"{partner.prefix}-"):
        return []
    expected = invoice_number(partner.prefix, partner.invoices_numbered + 1)
    if issued.number == expected:
        return []
    return [Mismatch(str(issued.originator_id), issued.number, "log", "number", expected,
                     issued.number)]


def _rederive_credit_note(state: _LogState, event: Any) -> list[Mismatch]:
    """The credit note again from the invoice and partner as the log had them just
    before: it was allowed, went where the rules send it, and took the next number."""
    invoice = state.invoices[str(event.originator_id)]
    if str(invoice.partner_id) in state.faulty:
        return []
    partner = state.partners[str(invoice.partner_id)]
    where = f"credit note {event.number}"

    def mismatch(name: str, expected: Any, found: Any) -> Mismatch:
        return Mismatch(str(invoice.id), invoice.number, "log", f"{where} {name}", expected,
                        found)

    try:
        amount, _, allocation = invoice.plan_credit_note(
            amount=event.amount, items=event.items or None, refund=event.refund)
    except DomainError as refusal:
        return [mismatch("allowed", "allowed", refusal.detail)]
    found = [mismatch(name, expected, getattr(event, name))
             for name, expected in (("amount", amount), *allocation.as_dict().items())
             if expected != getattr(event, name)]
    number = credit_note_number(partner.prefix, partner.credit_notes_numbered + 1)
    if event.number != number:
        found.append(mismatch("number", number, event.number))
    return found


def _credit_counted(state: _LogState, event: Any) -> list[Mismatch]:
    """The partner's balance took exactly the part of the credit note that the invoice's
    note says went to it."""
    invoice = state.invoices.get(str(event.invoice_id))
    note = next((n for n in invoice.credit_notes if n["id"] == event.credit_note_id),
                None) if invoice is not None else None
    if invoice is None or note is None:
        return [Mismatch(str(event.invoice_id), "?", "log",
                         f"credit note {event.credit_note_id}", "issued on its invoice",
                         "missing")]
    if note["credit_balance_added"] == event.credit_balance_added:
        return []
    return [Mismatch(str(invoice.id), invoice.number, "log",
                     f"credit note {note['number']} credit_balance_added",
                     note["credit_balance_added"], event.credit_balance_added)]


def _view_mismatches(ledger: Ledger, state: _LogState) -> list[Mismatch]:
    found = []
    with ledger.read_model.reading() as sql:
        rows = {r["id"]: r for r in sql.all(
            "SELECT s.id, s.state, i.amount_due, i.status FROM v_states s "
            "LEFT JOIN v_invoices i ON i.id = s.id WHERE s.kind = 'Invoice'")}
    for invoice_id, invoice in state.invoices.items():
        if invoice_id in state.faulty:  # named already; the log's copy is incomplete
            continue
        row = rows.get(invoice_id)
        if row is None:
            found.append(Mismatch(invoice_id, invoice.number, "view", "presence", "present",
                                  "missing"))
            continue
        try:
            held = aggregate_states.decode(Invoice, row["state"])
        except Exception as error:  # the view's copy may be changed in any way too
            found.append(Mismatch(invoice_id, invoice.number, "view", "state", "decodable",
                                  describe(error)))
            continue
        pairs = [(name, getattr(invoice, name), getattr(held, name))
                 for name in (*MONEY, "items", "status", "amount_paid", "amount_refunded",
                              "credit_notes")]
        pairs += [("v_invoices.amount_due", invoice.amount_due, row["amount_due"]),
                  ("v_invoices.status", invoice.status, row["status"])]
        found += [Mismatch(invoice_id, invoice.number, "view", name, expected, actual)
                  for name, expected, actual in pairs if expected != actual]
    return found


def _chained(ledger: Ledger) -> Iterator[tuple[int, str]]:
    after = 0
    while True:
        with ledger.read_model.reading() as sql:
            rows = sql.all("SELECT position, link FROM v_chain WHERE position > ? "
                           "ORDER BY position LIMIT ?", after, BATCH)
        if not rows:
            return
        for row in rows:
            yield row["position"], row["link"]
        after = rows[-1]["position"]


def verify(ledger: Ledger, *, progress: Callable[[int, int], None] | None = None) -> Report:
    """Checks the chain, then re-derives every invoice from the log; `progress(done,
    total)` is called after each batch of events (each pass counts for half)."""
    ledger.caught_up()
    report = Report()
    total = ledger.app.recorder.max_notification_id() or 0

    def half(offset: int) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, _: progress((offset + done) // 2, total)

    report.chain_break = hash_chain.first_break(
        _stored_log(ledger, progress=half(0), total=total), _chained(ledger))
    state = _LogState()
    for notification in _stored_log(ledger, progress=half(total), total=total):
        report.events_checked += 1
        originator = str(notification.originator_id)
        if originator in state.faulty:
            continue
        problem = _check_event(ledger, state, notification, report)
        if problem is not None:
            state.faulty.add(originator)
            report.faults.append(EventFault(notification.id, originator, notification.topic,
                                            problem))
    report.mismatches += _view_mismatches(ledger, state)
    return report


def _check_event(ledger: Ledger, state: _LogState, notification: Any,
                 report: Report) -> str | None:
    """Decodes and follows one stored event (re-deriving an issued invoice); what went
    wrong, or None. Every failure is caught: the stored bytes may say anything."""
    try:
        event = ledger.app.mapper.to_domain_event(notification)
    except Exception as error:  # a changed event may fail in any way while decoding
        return f"does not decode ({_cause(error)})"
    try:
        if isinstance(event, Invoice.Issued):
            report.invoices_checked += 1
            # A partner with a faulty event is already named; its terms are unknown.
            if str(event.partner_id) not in state.faulty:
                report.mismatches += _rederive(state, event)
                report.mismatches += _numbered(state, event)
        elif isinstance(event, Invoice.CreditNoteIssued):
            report.credit_notes_checked += 1
            report.mismatches += _rederive_credit_note(state, event)
        elif isinstance(event, Partner.CreditNoteNumbered):
            report.mismatches += _credit_counted(state, event)
        state.follow(event)
    except Exception as error:  # ... or while it is read as the domain's event
        return f"decodes but does not make sense ({describe(error)})"
    return None


def _cause(error: BaseException) -> str:
    """The decoding error itself (the library wraps it in a long message)."""
    return describe(error.__cause__ or error)


def verify_all(ledgers: Sequence[Ledger], *,
               progress: Callable[[int, int], None] | None = None) -> Report:
    """`verify` over every partition; with one partition, exactly `verify`."""
    if len(ledgers) == 1:
        return verify(ledgers[0], progress=progress)
    report = Report()
    done = 0
    totals = [ledger.app.recorder.max_notification_id() or 0 for ledger in ledgers]

    def overall(reached: int, _: int) -> None:
        if progress:
            progress(done + reached, sum(totals))

    for index, ledger in enumerate(ledgers):
        report.include(verify(ledger, progress=overall), partition=index)
        done += totals[index]
    return report


def _stored_log(ledger: Ledger, *, progress: Callable[[int, int], None] | None = None,
                total: int = 0) -> Iterator[Any]:
    after = 0
    while batch := ledger.app.recorder.select_notifications(
            start=after, limit=BATCH, inclusive_of_start=False):
        yield from batch
        after = batch[-1].id
        if progress:
            progress(after, total)
