"""The auditor's proof: every issued invoice re-derives from the log to the cent, the
views hold what the log says, and the stored log is unchanged since it was chained.

One pass over the stored log, independent of the views: partners are rebuilt by their
own events, line placements are collected per partner, and at each `Invoice.Issued` the
billing engine computes what the invoice should say from the log alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aggregates.invoice import Invoice
from aggregates.invoice_draft import draft_invoice
from aggregates.line import Line
from aggregates.line_days import Placement, day_counts
from aggregates.partner import Partner
from aggregates.sub_account import SubAccount
from projections import aggregate_states, hash_chain
from projections.hash_chain import Break
from service.bootstrap import Ledger

BATCH = 1000
FIGURES = ("subtotal", "discount", "credit_applied", "total", "amount_due")
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


@dataclass
class Report:
    events_checked: int = 0
    invoices_checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    chain_break: Break | None = None
    # Which event store the break is in, when there are several (positions are per store).
    chain_partition: int | None = None

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.chain_break is None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "invoices_checked": self.invoices_checked,
            "mismatches": [vars(m) | {"message": str(m)} for m in self.mismatches],
            "chain": None if self.chain_break is None else {
                "position": self.chain_break.position, "problem": self.chain_break.problem,
                **({} if self.chain_partition is None else {"partition": self.chain_partition})},
        }

    def include(self, other: Report, *, partition: int) -> None:
        """Adds another partition's report to this one (the first chain break stays)."""
        self.events_checked += other.events_checked
        self.invoices_checked += other.invoices_checked
        self.mismatches += other.mismatches
        if self.chain_break is None and other.chain_break is not None:
            self.chain_break, self.chain_partition = other.chain_break, partition


@dataclass
class _LogState:
    partners: dict[str, Partner] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    lines: dict[str, dict[str, tuple[list[Placement], datetime | None]]] = field(
        default_factory=dict)
    line_partner: dict[str, str] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)

    def place(self, line_id: str, at: datetime, bucket: Any) -> None:
        placements, _ = self.lines[self.line_partner[line_id]][line_id]
        placements.append(Placement(at=at, bucket=str(bucket) if bucket else None))

    def follow(self, event: Any) -> None:
        match event:
            case Partner.Created():
                self.partners[str(event.originator_id)] = event.mutate(None)
            case Partner.Event():
                self.partners[str(event.originator_id)] = event.mutate(
                    self.partners[str(event.originator_id)])
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
                self.invoices[str(event.originator_id)] = event.mutate(None)
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
                          credit_balance=partner.credit_balance)
    found: list[Mismatch] = []

    def differ(name: str, expected: Any, actual: Any) -> None:
        if expected != actual:
            found.append(Mismatch(str(issued.originator_id), issued.number, "log", name,
                                  expected, actual))

    for name in FIGURES:
        differ(name, getattr(draft, name), getattr(issued, name))
    differ("item count", len(draft.items), len(issued.items))
    for index, (mine, theirs) in enumerate(zip(draft.items, issued.items, strict=False)):
        for name in ITEM_FIELDS:
            differ(f"items[{index}].{name}", mine[name], theirs[name])
    return found


def _view_mismatches(ledger: Ledger, state: _LogState) -> list[Mismatch]:
    found = []
    with ledger.read_model.reading() as sql:
        rows = {r["id"]: r for r in sql.all(
            "SELECT s.id, s.state, i.amount_due, i.status FROM v_states s "
            "LEFT JOIN v_invoices i ON i.id = s.id WHERE s.kind = 'Invoice'")}
    for invoice_id, invoice in state.invoices.items():
        row = rows.get(invoice_id)
        if row is None:
            found.append(Mismatch(invoice_id, invoice.number, "view", "presence", "present",
                                  "missing"))
            continue
        held = aggregate_states.decode(Invoice, row["state"])
        pairs = [(name, getattr(invoice, name), getattr(held, name))
                 for name in (*FIGURES, "items", "status", "amount_paid", "amount_refunded")]
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
    """Re-derives every invoice from the log and checks the chain; `progress(done, total)`
    is called after each batch of events."""
    ledger.caught_up()
    report = Report()
    state = _LogState()
    total = ledger.app.recorder.max_notification_id() or 0
    for notification in _stored_log(ledger, progress=progress, total=total):
        event = ledger.app.mapper.to_domain_event(notification)
        report.events_checked += 1
        if isinstance(event, Invoice.Issued):
            report.invoices_checked += 1
            report.mismatches += _rederive(state, event)
        state.follow(event)
    report.mismatches += _view_mismatches(ledger, state)
    report.chain_break = hash_chain.first_break(_stored_log(ledger), _chained(ledger))
    return report


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
