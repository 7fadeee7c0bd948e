"""The eventsourcing `Application`: every command of the lifecycle, as one method each.

Each command loads its aggregates, lets them guard and record, and saves them together
in one transaction. A save that loses a race (another writer got the same version
first) is retried on fresh state, so the aggregates' guards decide again, after a short
random wait that doubles with each lost race; only after many lost races does the
command answer `version_conflict`.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder

from aggregates.api_key import ApiKey, format_token, new_secret, parse_token
from aggregates.base import Actor, LedgerAggregate
from aggregates.charges import billing_period
from aggregates.claim import Claim
from aggregates.errors import (
    DuplicateName,
    DuplicatePhoneNumber,
    InvalidTransition,
    NotFound,
    VersionConflict,
)
from aggregates.line import Line
from aggregates.partner import Partner
from aggregates.sub_account import ACTIVE, SubAccount, normalise_name
from policies import auto_pause
from projections.transcoding import EXTRA_TRANSCODINGS
from service.clock import Clock
from service.group_commit import GroupCommit
from service.phone_numbers import candidate_number, to_e164

P = ParamSpec("P")
R = TypeVar("R")
A = TypeVar("A", bound=LedgerAggregate)
# Lost version races a command survives. Twelve writers on one aggregate at once lose
# up to eleven races in a row without the waits below; with them, far fewer.
MAX_ATTEMPTS = 16
# The wait after the n-th lost race is uniform in [0, min(CAP, BASE * 2**n)] seconds
# ("full jitter"): racers that collided spread out instead of colliding again in step.
BACKOFF_BASE_SECONDS = 0.004
BACKOFF_CAP_SECONDS = 0.25
PHONE = "phone_number"
NAME = "sub_account_name"


def backoff(lost: int) -> None:
    """Waits after the `lost`-th lost race (0 for the first)."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** lost)
    time.sleep(random.uniform(0, ceiling))


def with_retries(step: Callable[[int], R]) -> R:
    """Runs `step(tries)` (tries: races lost so far) until it saves without losing a
    version race. The step must have no effect outside the ledger (a card charge, a
    webhook): it may run many times. After MAX_ATTEMPTS lost races, `version_conflict`."""
    for tries in range(MAX_ATTEMPTS):
        try:
            return step(tries)
        except IntegrityError:
            if tries + 1 < MAX_ATTEMPTS:
                backoff(tries)
    raise VersionConflict("the resource changed while the command ran; try again")


def retried(command: Callable[P, R]) -> Callable[P, R]:
    """A command retried on lost version races (see `with_retries`): never use it on a
    command with an outside effect."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return with_retries(lambda _: command(*args, **kwargs))

    return run


class LedgerApplication(Application[UUID]):
    name = "ledger"
    snapshotting_intervals = {SubAccount: 200, Partner: 200}  # noqa: RUF012

    def __init__(self, *, env: dict[str, str], clock: Clock, group_commit: bool = False) -> None:
        super().__init__(env=env)
        self.clock = clock
        self.group_commit = GroupCommit(self.save_alone) if group_commit else None

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Saves in one transaction; concurrent commands share theirs (group commit)."""
        if self.group_commit is not None and not kwargs:
            return self.group_commit.save(*objs)
        return super().save(*objs, **kwargs)

    def save_alone(self, *objs: Any) -> Any:
        return super().save(*objs)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in EXTRA_TRANSCODINGS:
            transcoder.register(transcoding())

    # -- loading ---------------------------------------------------------------------------

    def load(self, cls: type[A], aggregate_id: UUID, *, partner_id: UUID | None = None) -> A:
        """The aggregate, or NotFound when it is missing, of another kind or another partner."""
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"no {cls.__name__} {aggregate_id}") from None
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

    def _target_sub_account(self, partner_id: UUID, sub_account_id: UUID) -> SubAccount:
        try:
            return self.sub_account(partner_id, sub_account_id)
        except NotFound:
            raise NotFound(f"no sub-account {sub_account_id}") from None

    def _claim(self, *, kind: str, partner_id: UUID, value: str, holder_id: UUID,
               refusal: type[DuplicatePhoneNumber | DuplicateName], actor: Actor) -> Claim:
        claim_id = Claim.id_for(kind=kind, partner_id=partner_id, value=value)
        now = self.clock.now()
        try:
            claim = self.load(Claim, claim_id)
        except NotFound:
            return Claim.make(kind=kind, partner_id=partner_id, value=value, holder_id=holder_id,
                              actor=actor, at=now)
        claim.renew(holder_id=holder_id, refusal=refusal, actor=actor, at=now)
        return claim

    def _release(self, *, kind: str, partner_id: UUID, value: str, holder_id: UUID,
                 actor: Actor) -> Claim:
        claim = self.load(Claim, Claim.id_for(kind=kind, partner_id=partner_id, value=value))
        claim.release(holder_id=holder_id, actor=actor, at=self.clock.now())
        return claim

    # -- partners and keys -----------------------------------------------------------------

    def create_partner(self, *, name: str, currency: str, billing_anchor_day: int,
                       pricing: dict[str, Any], actor: Actor,
                       partner_id: UUID | None = None) -> Partner:
        partner = Partner.create(id=partner_id or uuid4(), name=name, currency=currency,
                                 billing_anchor_day=billing_anchor_day, pricing=pricing,
                                 actor=actor, at=self.clock.now())
        self.save(partner)
        return partner

    @retried
    def change_pricing(self, *, partner_id: UUID, pricing: dict[str, Any],
                       actor: Actor) -> Partner:
        """A new plan takes effect at the start of the next billing period."""
        partner = self.partner(partner_id)
        now = self.clock.now()
        _, next_start = billing_period(anchor_day=partner.billing_anchor_day, containing=now)
        partner.change_pricing(pricing=pricing, effective_from=next_start, actor=actor, at=now)
        self.save(partner)
        return partner

    def issue_key(self, *, partner_id: UUID | None, role: str, name: str,
                  actor: Actor) -> tuple[ApiKey, str]:
        if partner_id is not None:
            self.partner(partner_id)
        secret = new_secret()
        key = ApiKey.issue(id=uuid4(), partner_id=partner_id, role=role, name=name,
                           secret=secret, actor=actor, at=self.clock.now())
        self.save(key)
        return key, format_token(key.id, secret)

    @retried
    def revoke_key(self, *, partner_id: UUID | None, key_id: UUID, actor: Actor) -> None:
        """Revokes one of the partner's keys, or (`partner_id` None) a platform key; a key
        of anyone else is not found."""
        key = self.load(ApiKey, key_id, partner_id=partner_id)
        if partner_id is None and key.partner_id is not None:
            raise NotFound(f"no platform key {key_id}")
        key.revoke(actor=actor, at=self.clock.now())
        self.save(key)

    def authenticate(self, token: str) -> ApiKey | None:
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        try:
            key = self.load(ApiKey, key_id)
        except NotFound:
            return None
        return key if key.matches(secret) else None

    # -- sub-accounts ----------------------------------------------------------------------

    @retried
    def create_sub_account(self, *, partner_id: UUID, name: str, actor: Actor) -> SubAccount:
        self.partner(partner_id)
        sub = SubAccount.create(id=uuid4(), partner_id=partner_id, name=name, actor=actor,
                                at=self.clock.now())
        claim = self._claim(kind=NAME, partner_id=partner_id, value=normalise_name(sub.name),
                            holder_id=sub.id, refusal=DuplicateName, actor=actor)
        self.save(sub, claim)
        return sub

    @retried
    def rename_sub_account(self, *, partner_id: UUID, sub_account_id: UUID, name: str,
                           actor: Actor) -> SubAccount:
        sub = self.sub_account(partner_id, sub_account_id)
        old = normalise_name(sub.name)
        sub.rename(name=name, actor=actor, at=self.clock.now())
        new = normalise_name(sub.name)
        if new == old:
            self.save(sub)
            return sub
        claim = self._claim(kind=NAME, partner_id=partner_id, value=new, holder_id=sub.id,
                            refusal=DuplicateName, actor=actor)
        released = self._release(kind=NAME, partner_id=partner_id, value=old, holder_id=sub.id,
                                 actor=actor)
        self.save(sub, claim, released)
        return sub

    @retried
    def start_campaign(self, *, partner_id: UUID, sub_account_id: UUID, name: str,
                       actor: Actor) -> tuple[SubAccount, UUID]:
        sub = self.sub_account(partner_id, sub_account_id)
        campaign_id = uuid4()
        sub.start_campaign(campaign_id=campaign_id, name=name, actor=actor, at=self.clock.now())
        self.save(sub)
        return sub, campaign_id

    @retried
    def end_campaign(self, *, partner_id: UUID, sub_account_id: UUID, campaign_id: UUID,
                     actor: Actor) -> SubAccount:
        sub = self.sub_account(partner_id, sub_account_id)
        sub.end_campaign(campaign_id=campaign_id, actor=actor, at=self.clock.now())
        self.save(sub)
        return sub

    @retried
    def request_merge(self, *, partner_id: UUID, sub_account_id: UUID, primary_id: UUID,
                      actor: Actor) -> SubAccount:
        sub = self.sub_account(partner_id, sub_account_id)
        primary = self._target_sub_account(partner_id, primary_id)
        sub.request_merge(primary=primary, actor=actor, at=self.clock.now())
        self.save(sub)
        return sub

    @retried
    def approve_merge(self, *, partner_id: UUID, sub_account_id: UUID,
                      actor: Actor) -> SubAccount:
        sub = self.sub_account(partner_id, sub_account_id)
        if sub.requested_primary_id is None:
            raise InvalidTransition(f"cannot approve a merge of a sub-account that is {sub.status}")
        primary = self.sub_account(partner_id, sub.requested_primary_id)
        now = self.clock.now()
        line_ids = sub.approve_merge(primary=primary, actor=actor, at=now)
        lines = [self.line(partner_id, line_id) for line_id in line_ids]
        for line in lines:
            line.move_by_merge(to_sub_account_id=primary.id, cause=f"merge:{sub.id}",
                               actor=actor, at=now)
        released = self._release(kind=NAME, partner_id=partner_id,
                                 value=normalise_name(sub.name), holder_id=sub.id, actor=actor)
        self.save(sub, primary, released, *lines)
        return sub

    @retried
    def sub_account_step(self, *, partner_id: UUID, sub_account_id: UUID, step: str,
                         actor: Actor, reason: str | None = None) -> SubAccount:
        """reject/cancel a merge; request/approve/reject/cancel a delete. A sub-account
        that ends (deleted) frees its name in the same transaction."""
        sub = self.sub_account(partner_id, sub_account_id)
        kwargs: dict[str, Any] = {"reason": reason} if step.startswith("reject") else {}
        getattr(sub, step)(actor=actor, at=self.clock.now(), **kwargs)
        touched: list[LedgerAggregate] = [sub]
        if sub.is_terminal:
            touched.append(self._release(kind=NAME, partner_id=partner_id,
                                         value=normalise_name(sub.name), holder_id=sub.id,
                                         actor=actor))
        self.save(*touched)
        return sub

    # -- lines -----------------------------------------------------------------------------

    def provision_line(self, *, partner_id: UUID, phone_number: str | None,
                       sub_account_id: UUID | None, actor: Actor) -> Line:
        self.partner(partner_id)
        if phone_number is not None:
            return self._provision(partner_id=partner_id, number=to_e164(phone_number),
                                   sub_account_id=sub_account_id, actor=actor)
        for _ in range(20):
            try:
                return self._provision(partner_id=partner_id, number=candidate_number(),
                                       sub_account_id=sub_account_id, actor=actor)
            except DuplicatePhoneNumber:
                continue
        raise DuplicatePhoneNumber("could not allocate a free phone number; pass one instead")

    @retried
    def _provision(self, *, partner_id: UUID, number: str, sub_account_id: UUID | None,
                   actor: Actor) -> Line:
        now = self.clock.now()
        line = Line.provision(id=uuid4(), partner_id=partner_id, phone_number=number,
                              sub_account_id=sub_account_id, actor=actor, at=now)
        claim = self._claim(kind=PHONE, partner_id=partner_id, value=number, holder_id=line.id,
                            refusal=DuplicatePhoneNumber, actor=actor)
        touched: list[LedgerAggregate] = [line, claim]
        if sub_account_id is not None:
            sub = self._target_sub_account(partner_id, sub_account_id)
            sub.attach_line(line_id=line.id, actor=actor, at=now)
            touched.append(sub)
        self.save(*touched)
        return line

    @retried
    def assign_line(self, *, partner_id: UUID, line_id: UUID, sub_account_id: UUID,
                    actor: Actor) -> Line:
        line = self.line(partner_id, line_id)
        sub = self._target_sub_account(partner_id, sub_account_id)
        now = self.clock.now()
        line.assign(sub_account_id=sub.id, actor=actor, at=now)
        sub.attach_line(line_id=line.id, actor=actor, at=now)
        self.save(line, sub)
        return line

    @retried
    def unassign_line(self, *, partner_id: UUID, line_id: UUID, actor: Actor) -> Line:
        line = self.line(partner_id, line_id)
        previous = line.sub_account_id
        now = self.clock.now()
        line.unassign(actor=actor, at=now)
        touched: list[LedgerAggregate] = [line]
        if previous is not None:
            sub = self.sub_account(partner_id, previous)
            sub.detach_line(line_id=line.id, actor=actor, at=now)
            touched.append(sub)
        self.save(*touched)
        return line

    @retried
    def request_line_move(self, *, partner_id: UUID, line_id: UUID, sub_account_id: UUID,
                          actor: Actor) -> Line:
        line = self.line(partner_id, line_id)
        target = self._target_sub_account(partner_id, sub_account_id)
        if target.status != ACTIVE:
            raise InvalidTransition(f"cannot move a line into a sub-account that is "
                                    f"{target.status}")
        line.request_move(sub_account_id=target.id, actor=actor, at=self.clock.now())
        self.save(line)
        return line

    @retried
    def approve_line_move(self, *, partner_id: UUID, line_id: UUID, actor: Actor) -> Line:
        line = self.line(partner_id, line_id)
        if line.requested_sub_account_id is None:
            raise InvalidTransition(f"cannot approve a move of a line that is {line.status}")
        now = self.clock.now()
        target = self.sub_account(partner_id, line.requested_sub_account_id)
        touched: list[LedgerAggregate] = [line, target]
        if line.sub_account_id is not None:
            source = self.sub_account(partner_id, line.sub_account_id)
            source.detach_line(line_id=line.id, actor=actor, at=now)
            touched.append(source)
        target.attach_line(line_id=line.id, actor=actor, at=now)
        line.approve_move(actor=actor, at=now)
        self.save(*touched)
        return line

    @retried
    def approve_line_delete(self, *, partner_id: UUID, line_id: UUID, actor: Actor) -> Line:
        line = self.line(partner_id, line_id)
        now = self.clock.now()
        line.approve_delete(actor=actor, at=now)
        touched: list[LedgerAggregate] = [line]
        if line.sub_account_id is not None:
            sub = self.sub_account(partner_id, line.sub_account_id)
            sub.detach_line(line_id=line.id, actor=actor, at=now)
            touched.append(sub)
        touched.append(self._release(kind=PHONE, partner_id=partner_id,
                                     value=line.phone_number, holder_id=line.id, actor=actor))
        self.save(*touched)
        return line

    @retried
    def pause_flagged_line(self, *, line_id: UUID, flag_version: int) -> None:
        line = self.load(Line, line_id)
        if line.pause_for_flag(flag_version=flag_version, actor=auto_pause.ACTOR,
                               at=self.clock.now()):
            self.save(line)

    @retried
    def line_step(self, *, partner_id: UUID, line_id: UUID, step: str, actor: Actor,
                  **kwargs: Any) -> Line:
        """A command that touches the line alone: flag, unflag, pause, resume, requests,
        rejections and cancellations."""
        line = self.line(partner_id, line_id)
        getattr(line, step)(actor=actor, at=self.clock.now(), **kwargs)
        self.save(line)
        return line
