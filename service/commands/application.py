"""The eventsourcing `Application`: loading aggregates, saving them together, and the
commands that create (partners, keys, sub-accounts, lines).

The commands themselves are values in `service/commands/`, each run by its one handler
through `service.commands.execute`, which reads the clock, retries lost version races and
catches up; the methods here take the handler's `at` and never retry on their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, LRUCache
from eventsourcing.persistence import JSONTranscoder

from aggregates.api_key import ApiKey, format_token, new_secret
from aggregates.base import Actor, LedgerAggregate
from aggregates.claim import Claim
from aggregates.errors import (
    DomainError,
    DuplicateName,
    DuplicatePhoneNumber,
    NotFound,
)
from aggregates.line import Line
from aggregates.partner import Partner
from aggregates.sub_account import SubAccount, normalise_name
from projections.transcoding import EXTRA_TRANSCODINGS
from service.commands.aggregate_copies import copy_aggregate
from service.commands.committed import note_saved, unsaved
from service.commands.group_commit import GroupCommit
from service.commands.invoice_numbers import claim_prefix
from service.commands.own_writes import OwnWrites
from service.commands.phone_numbers import candidate_number, to_e164
from service.commands.principals import KeyCache
from service.runtime.clock import Clock

A = TypeVar("A", bound=LedgerAggregate)
PHONE = "phone_number"
NAME = "sub_account_name"


class LedgerApplication(Application[UUID]):
    name = "ledger"
    snapshotting_intervals = {SubAccount: 200, Partner: 200}  # noqa: RUF012

    def __init__(self, *, env: dict[str, str], clock: Clock, group_commit: bool = False) -> None:
        super().__init__(env=env)
        self.clock = clock
        self.group_commit = GroupCommit(self.save_alone) if group_commit else None
        # This store's index in a partitioned deployment (set by bootstrap); new tokens
        # name it, so a key is looked up in one partition.
        self.partition: int | None = None
        # Keys as this process knows them: one indexed select a request, exact on
        # revocation from any process (service/commands/principals.py).
        self.keys = KeyCache(self.recorder, lambda key_id: self.load(ApiKey, key_id))
        # What this process saved last: a command loads it without the fast-forward select
        # (service/commands/own_writes.py).
        self.own_writes = OwnWrites(size=self.repository.cache.maxsize
                                    if isinstance(self.repository.cache, LRUCache) else 0,
                                    newer_exists=self._newer_exists)

    def _newer_exists(self, aggregate_id: UUID, version: int) -> bool:
        return bool(self.recorder.select_events(aggregate_id, gt=version, limit=1))

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Saves in one transaction; concurrent commands share theirs (group commit).
        A save that returns has committed: the request's commit log notes it."""
        touched = unsaved(objs)
        aggregates = [obj for obj in objs if isinstance(obj, LedgerAggregate)]
        self.own_writes.before_save(a.id for a in aggregates)
        try:
            if self.group_commit is not None and not kwargs:
                saved = self.group_commit.save(*objs)
            else:
                saved = super().save(*objs, **kwargs)
        except BaseException:
            self.own_writes.failed(a.id for a in aggregates)
            raise
        self.own_writes.saved(aggregates, saved)
        note_saved(touched)
        return saved

    def save_alone(self, *objs: Any) -> Any:
        return super().save(*objs)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in EXTRA_TRANSCODINGS:
            transcoder.register(transcoding())

    # -- loading ---------------------------------------------------------------------------

    def load(self, cls: type[A], aggregate_id: UUID, *, partner_id: UUID | None = None) -> A:
        """The aggregate, or NotFound when it is missing, of another kind or another partner."""
        aggregate: object = self.own_writes.load(aggregate_id)
        if aggregate is None:
            repository = self.repository
            # A cached aggregate is copied for the caller, as the library would, but by
            # `copy_aggregate` (the same copy, a tenth of `deepcopy`'s cost).
            copies = repository.cache is not None and repository.deepcopy_from_cache
            try:
                aggregate = repository.get(aggregate_id, deepcopy_from_cache=False)
            except AggregateNotFoundError:
                raise NotFound(f"no {cls.__name__} {aggregate_id}") from None
            if copies:
                aggregate = copy_aggregate(aggregate)
        if not isinstance(aggregate, cls):
            raise NotFound(f"no {cls.__name__} {aggregate_id}")
        if partner_id is not None and getattr(aggregate, "partner_id", None) != partner_id:
            raise NotFound(f"no {cls.__name__} {aggregate_id}")
        return aggregate

    def partner(self, partner_id: UUID) -> Partner:
        return self.load(Partner, partner_id)

    def line(self, partner_id: UUID, line_id: UUID) -> Line:
        return self.load(Line, line_id, partner_id=partner_id)

    def sub_account(self, partner_id: UUID, sub_account_id: UUID) -> SubAccount:
        return self.load(SubAccount, sub_account_id, partner_id=partner_id)

    def target_sub_account(self, partner_id: UUID, sub_account_id: UUID) -> SubAccount:
        """A sub-account a command names as its target (404 names it as a sub-account)."""
        try:
            return self.sub_account(partner_id, sub_account_id)
        except NotFound:
            raise NotFound(f"no sub-account {sub_account_id}") from None

    def claim(self, *, kind: str, partner_id: UUID, value: str, holder_id: UUID,
              refusal: type[DomainError], actor: Actor,
              at: datetime) -> Claim:
        """The claim on a unique value (a phone number, a sub-account name), taken for
        `holder_id`; refused when someone else holds it. Saved by the caller."""
        claim_id = Claim.id_for(kind=kind, partner_id=partner_id, value=value)
        try:
            claim = self.load(Claim, claim_id)
        except NotFound:
            return Claim.make(kind=kind, partner_id=partner_id, value=value, holder_id=holder_id,
                              actor=actor, at=at)
        claim.renew(holder_id=holder_id, refusal=refusal, actor=actor, at=at)
        return claim

    def release(self, *, kind: str, partner_id: UUID, value: str, holder_id: UUID,
                actor: Actor, at: datetime) -> Claim:
        claim = self.load(Claim, Claim.id_for(kind=kind, partner_id=partner_id, value=value))
        claim.release(holder_id=holder_id, actor=actor, at=at)
        return claim

    # -- the creating commands (their handlers are in service/commands/) -------------------
    # `at` defaults to the service clock for a direct, single-threaded caller (a test's
    # set-up); every other caller goes through `execute`, which hands its `now`.

    def create_partner(self, *, name: str, currency: str, billing_anchor_day: int,
                       pricing: dict[str, Any], actor: Actor,
                       partner_id: UUID | None = None, at: datetime | None = None,
                       invoice_prefix: str | None = None) -> Partner:
        """`invoice_prefix` None: derived from the name; either way claimed with the
        partner (service/commands/invoice_numbers.py), so it is unique."""
        at = at or self.clock.now()
        partner_id = partner_id or uuid4()
        prefix, claim = claim_prefix(self, partner_id=partner_id, name=name,
                                     requested=invoice_prefix, actor=actor, at=at)
        partner = Partner.create(id=partner_id, name=name, currency=currency,
                                 billing_anchor_day=billing_anchor_day, pricing=pricing,
                                 actor=actor, at=at, invoice_prefix=prefix)
        self.save(partner, claim)
        return partner

    def issue_key(self, *, partner_id: UUID | None, role: str, name: str,
                  actor: Actor, at: datetime | None = None) -> tuple[ApiKey, str]:
        if partner_id is not None:
            self.partner(partner_id)
        secret = new_secret()
        key = ApiKey.issue(id=uuid4(), partner_id=partner_id, role=role, name=name,
                           secret=secret, actor=actor, at=at or self.clock.now())
        self.save(key)
        return key, format_token(key.id, secret, self.partition)

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key `token` names; the returned key is shared, never to be changed."""
        return self.keys.authenticate(token)

    def create_sub_account(self, *, partner_id: UUID, name: str, actor: Actor,
                           at: datetime | None = None) -> SubAccount:
        at = at or self.clock.now()
        self.partner(partner_id)
        sub = SubAccount.create(id=uuid4(), partner_id=partner_id, name=name, actor=actor,
                                at=at)
        claim = self.claim(kind=NAME, partner_id=partner_id, value=normalise_name(sub.name),
                           holder_id=sub.id, refusal=DuplicateName, actor=actor, at=at)
        self.save(sub, claim)
        return sub

    def provision_line(self, *, partner_id: UUID, phone_number: str | None,
                       sub_account_id: UUID | None, actor: Actor,
                       at: datetime | None = None) -> Line:
        at = at or self.clock.now()
        self.partner(partner_id)
        if phone_number is not None:
            return self._provision(partner_id=partner_id, number=to_e164(phone_number),
                                   sub_account_id=sub_account_id, actor=actor, at=at)
        for _ in range(20):
            try:
                return self._provision(partner_id=partner_id, number=candidate_number(),
                                       sub_account_id=sub_account_id, actor=actor, at=at)
            except DuplicatePhoneNumber:
                continue
        raise DuplicatePhoneNumber("could not allocate a free phone number; pass one instead")

    def _provision(self, *, partner_id: UUID, number: str, sub_account_id: UUID | None,
                   actor: Actor, at: datetime) -> Line:
        line = Line.provision(id=uuid4(), partner_id=partner_id, phone_number=number,
                              sub_account_id=sub_account_id, actor=actor, at=at)
        claim = self.claim(kind=PHONE, partner_id=partner_id, value=number, holder_id=line.id,
                           refusal=DuplicatePhoneNumber, actor=actor, at=at)
        touched: list[LedgerAggregate] = [line, claim]
        if sub_account_id is not None:
            sub = self.target_sub_account(partner_id, sub_account_id)
            sub.attach_line(line_id=line.id, actor=actor, at=at)
            touched.append(sub)
        self.save(*touched)
        return line
