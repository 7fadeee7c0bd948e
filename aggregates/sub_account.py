"""The `SubAccount` aggregate: one client or use case of a partner, holding lines.

It keeps the ids of the lines it holds and its live campaigns, so the delete guard and
the "only an active sub-account takes lines" rule are checked on the aggregate itself,
inside the same transaction as the line's own event.
"""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate
from aggregates.errors import InvalidTransition, SubAccountNotEmpty
from aggregates.requests import RequestCancelled, RequestKind, RequestRejected, RequestWorkflow
from aggregates.text import clean_name

ACTIVE = "active"
MERGE_REQUESTED = "merge_requested"
DELETE_REQUESTED = "delete_requested"
MERGED = "merged"
DELETED = "deleted"
TERMINAL = (MERGED, DELETED)

_CONVENTION = re.compile(r"^\S.*\s[–—-]\s\S.*$")


def normalise_name(name: str) -> str:
    """The form under which names are compared for uniqueness: case and spacing ignored."""
    return " ".join(name.split()).casefold()


def naming_hint(name: str) -> str | None:
    """A suggestion when the name does not follow "Client – Purpose"; never a refusal."""
    if _CONVENTION.match(name):
        return None
    return (
        f"Consider the convention \"Client – Purpose\" (for example \"{name} – Sales\"): "
        "it makes billing and analytics easier to read."
    )


class SubAccount(LedgerAggregate, RequestWorkflow):
    NOUN = "sub-account"  # no annotation: the library makes an annotated aggregate a dataclass

    class Created(LedgerAggregate.Created):
        partner_id: UUID
        name: str

    class Renamed(LedgerAggregate.Event):
        name: str

        def apply(self, sub: SubAccount) -> None:
            sub.name = self.name

    class LineAttached(LedgerAggregate.Event):
        line_id: UUID

        def apply(self, sub: SubAccount) -> None:
            sub.line_ids.add(str(self.line_id))

    class LineDetached(LedgerAggregate.Event):
        line_id: UUID

        def apply(self, sub: SubAccount) -> None:
            sub.line_ids.discard(str(self.line_id))

    class CampaignStarted(LedgerAggregate.Event):
        campaign_id: UUID
        name: str

        def apply(self, sub: SubAccount) -> None:
            sub.campaigns[str(self.campaign_id)] = self.name

    class CampaignEnded(LedgerAggregate.Event):
        campaign_id: UUID

        def apply(self, sub: SubAccount) -> None:
            sub.campaigns.pop(str(self.campaign_id), None)

    class MergeRequested(LedgerAggregate.Event):
        primary_id: UUID

        def apply(self, sub: SubAccount) -> None:
            sub.status = MERGE_REQUESTED
            sub.requested_primary_id = self.primary_id

    class MergeApproved(LedgerAggregate.Event):
        primary_id: UUID
        line_ids: list[UUID]

        def apply(self, sub: SubAccount) -> None:
            sub.status = MERGED
            sub.merged_into = self.primary_id
            sub.requested_primary_id = None
            sub.line_ids.clear()

    class MergeAbsorbed(LedgerAggregate.Event):
        """The primary's side of a merge: it now holds the secondary's lines."""

        secondary_id: UUID
        line_ids: list[UUID]

        def apply(self, sub: SubAccount) -> None:
            sub.line_ids.update(str(line_id) for line_id in self.line_ids)

    class MergeRejected(RequestRejected):
        pass  # stored with its `reason`

    class MergeCancelled(RequestCancelled):
        pass

    class DeleteRequested(LedgerAggregate.Event):
        def apply(self, sub: SubAccount) -> None:
            sub.status = DELETE_REQUESTED

    class DeleteApproved(LedgerAggregate.Event):
        def apply(self, sub: SubAccount) -> None:
            sub.status = DELETED

    class DeleteRejected(RequestRejected):
        pass  # stored with its `reason`

    class DeleteCancelled(RequestCancelled):
        pass

    def __init__(self, partner_id: UUID, name: str) -> None:
        self.partner_id = partner_id
        self.name = name
        self.status = ACTIVE
        # Strings, not UUIDs: the repository deep-copies cached aggregates on every load,
        # and a set of strings copies far faster than one of UUID objects.
        self.line_ids: set[str] = set()
        self.campaigns: dict[str, str] = {}  # keyed by str(id): snapshots are JSON
        self.requested_primary_id: UUID | None = None
        self.merged_into: UUID | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def end_request(self) -> None:
        """A merge or delete request rejected or cancelled: back to active (the only status
        a request is asked from)."""
        self.status = ACTIVE
        self.requested_primary_id = None

    @classmethod
    def create(cls, *, id: UUID, partner_id: UUID, name: str, actor: Actor,
               at: datetime) -> SubAccount:
        return cls._start(cls.Created, id=id, actor=actor, at=at, partner_id=partner_id,
                          name=clean_name(name))

    def rename(self, *, name: str, actor: Actor, at: datetime) -> None:
        self._require([ACTIVE, MERGE_REQUESTED, DELETE_REQUESTED], "rename")
        self._trigger(self.Renamed, actor=actor, at=at, name=clean_name(name))

    def attach_line(self, *, line_id: UUID, actor: Actor, at: datetime) -> None:
        self._require([ACTIVE], "add a line to")
        self._trigger(self.LineAttached, actor=actor, at=at, line_id=line_id)

    def detach_line(self, *, line_id: UUID, actor: Actor, at: datetime) -> None:
        if str(line_id) in self.line_ids:
            self._trigger(self.LineDetached, actor=actor, at=at, line_id=line_id)

    def start_campaign(self, *, campaign_id: UUID, name: str, actor: Actor, at: datetime) -> None:
        self._require([ACTIVE], "start a campaign on")
        self._trigger(self.CampaignStarted, actor=actor, at=at, campaign_id=campaign_id,
                      name=clean_name(name))

    def end_campaign(self, *, campaign_id: UUID, actor: Actor, at: datetime) -> None:
        if str(campaign_id) not in self.campaigns:
            raise InvalidTransition("that campaign is not live")
        self._trigger(self.CampaignEnded, actor=actor, at=at, campaign_id=campaign_id)

    def request_merge(self, *, primary: SubAccount, actor: Actor, at: datetime) -> None:
        self._require(MERGE.may_request, f"request {MERGE.what}")
        if primary.id == self.id:
            raise InvalidTransition("a sub-account cannot be merged into itself")
        primary.require_merge_target(self)
        self.request(MERGE, actor=actor, at=at, primary_id=primary.id)

    def require_merge_target(self, secondary: SubAccount) -> None:
        if self.partner_id != secondary.partner_id or self.status != ACTIVE:
            raise InvalidTransition("the primary must be an active sub-account of the same partner")

    def approve_merge(self, *, primary: SubAccount, actor: Actor, at: datetime) -> list[UUID]:
        """Marks this sub-account merged and the primary holding its lines; returns the lines."""
        self._require([MERGE.requested], f"approve {MERGE.what}")
        if primary.id != self.requested_primary_id:
            raise InvalidTransition("that is not the requested primary")
        primary.require_merge_target(self)
        line_ids = [UUID(line_id) for line_id in sorted(self.line_ids)]
        self.approve(MERGE, actor=actor, at=at, primary_id=primary.id, line_ids=line_ids)
        primary._trigger(primary.MergeAbsorbed, actor=actor, at=at, secondary_id=self.id,
                         line_ids=line_ids)
        return line_ids

    def request_delete(self, *, actor: Actor, at: datetime) -> None:
        self._require(DELETE.may_request, f"request {DELETE.what}")
        if self.line_ids:
            raise SubAccountNotEmpty(
                f"the sub-account still holds {len(self.line_ids)} line(s); "
                "move or retire them first"
            )
        if self.campaigns:
            raise SubAccountNotEmpty(
                f"the sub-account has {len(self.campaigns)} live campaign(s); end them first"
            )
        self.request(DELETE, actor=actor, at=at)


MERGE = RequestKind(what="a merge of", may_request=(ACTIVE,), requested=MERGE_REQUESTED,
                    requested_event=SubAccount.MergeRequested,
                    approved_event=SubAccount.MergeApproved,
                    rejected_event=SubAccount.MergeRejected,
                    cancelled_event=SubAccount.MergeCancelled)
DELETE = RequestKind(what="deletion of", may_request=(ACTIVE,), requested=DELETE_REQUESTED,
                     requested_event=SubAccount.DeleteRequested,
                     approved_event=SubAccount.DeleteApproved,
                     rejected_event=SubAccount.DeleteRejected,
                     cancelled_event=SubAccount.DeleteCancelled)
